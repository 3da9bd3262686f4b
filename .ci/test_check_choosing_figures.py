"""The figures check (.ci/check-choosing-figures.py): the real choosing.md
passes against the real latest.md; a figure planted in a copy of the page
that the latest run did not measure fails and is named; small made-up
files pin down what is read and how it matches. `just test` runs this
file."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "check-choosing-figures.py")
REPO = os.path.dirname(HERE)
PAGE = "docs/patterns/choosing.md"
RESULTS = "bench/results/latest.md"

LATEST = """
    Measured on 2 cores.

    | figure | measured |
    |---|---|
    | 3. gRPC | 12217 vs 12714 calls/s (×0.96) |
    | 6. event latency | p50 3.3 ms, p99 10.115 ms |

    | broker | pattern | p50 ms | throughput |
    |---|---|---:|---:|
    | rabbitmq | rest | 0.11 | 25809/s |
"""

CHOOSING = """
    # Choosing

    Prose is not read: 99.9 ms, 123456/s.

    <!-- figures: bench/results/latest.md -->
    | what (figure 3, 16 in flight) | p50 | throughput |
    |---|---:|---:|
    | REST, 1 in flight | 0.11 ms | 25809/s |
    | gRPC, figure 3 | p50 3.3 ms | 12217 calls/s vs 12714 calls/s, ×0.96 |
    <!-- /figures -->
"""


class CheckChoosingFigures(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.TemporaryDirectory(prefix="check-choosing-figures-")
        self.addCleanup(self.root.cleanup)
        for path in (PAGE, RESULTS):
            os.makedirs(os.path.dirname(os.path.join(self.root.name, path)), exist_ok=True)

    def write(self, path, text):
        with open(os.path.join(self.root.name, path), "w", encoding="utf-8") as f:
            f.write(textwrap.dedent(text))

    def read(self, path):
        with open(os.path.join(self.root.name, path), encoding="utf-8") as f:
            return f.read()

    def made_up(self, page=CHOOSING, latest=LATEST):
        self.write(PAGE, page)
        self.write(RESULTS, latest)
        return self.check()

    def check(self, root=None):
        return subprocess.run([sys.executable, SCRIPT, root or self.root.name], capture_output=True, text=True)

    def assertFailsWith(self, result, *texts):
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        for text in texts:
            self.assertIn(text, result.stdout)

    def test_the_real_page_passes_against_the_real_results(self):
        result = self.check(REPO)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("check-choosing-figures: ok", result.stdout)

    def test_a_figure_planted_in_the_real_page_and_not_measured_fails(self):
        for path in (PAGE, RESULTS):
            shutil.copy(os.path.join(REPO, path), os.path.join(self.root.name, path))
        page = self.read(PAGE)
        # The first REST row's throughput, whatever the latest run measured.
        planted, n = re.subn(r"^(\| REST \|[^\n]*\| )\d+/s \|$", r"\g<1>31337/s |", page, count=1, flags=re.M)
        self.assertEqual(n, 1, "the page has a REST row ending in a throughput")
        self.assertNotIn("31337", self.read(RESULTS), "the planted figure was not measured")
        self.write(PAGE, planted)
        result = self.check()
        self.assertFailsWith(result, "the figure `31337/s` is not in bench/results/latest.md")
        self.assertEqual(len(result.stdout.splitlines()), 1, "only the planted figure is missing")

    def test_figures_with_their_units_are_found_and_labels_and_prose_are_not_read(self):
        result = self.made_up()
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("ok (6 figures in 1 marked table of", result.stdout)

    def test_a_number_inside_a_longer_one_is_not_found(self):
        result = self.made_up(CHOOSING.replace("p50 3.3 ms", "p50 0.115 ms"))
        self.assertFailsWith(result, "the figure `0.115 ms` is not in", "no number 0.115")

    def test_a_ratio_must_be_a_ratio_there_too(self):
        result = self.made_up(CHOOSING.replace("×0.96", "×0.11"))
        self.assertFailsWith(result, "the figure `×0.11` is not in", "no ×0.11")

    def test_a_number_without_a_unit_or_with_separators_fails(self):
        result = self.made_up(CHOOSING.replace("12217 calls/s vs", "12217 vs").replace("25809/s", "25,809/s"))
        self.assertFailsWith(result, "`12217` has no unit", "`25,809/s`: write it as bench/results/latest.md does")

    def test_a_page_without_a_closed_region_fails(self):
        self.assertFailsWith(self.made_up(CHOOSING.replace("<!-- /figures -->", "")), "never closed")
        self.assertFailsWith(self.made_up("# Choosing\n\n| a | 0.11 ms |\n"), "no <!-- figures:")

    def test_only_tables_may_sit_in_a_region(self):
        page = CHOOSING.replace("    <!-- /figures -->", "    The REST row took 0.11 ms.\n    <!-- /figures -->")
        self.assertFailsWith(self.made_up(page), "only tables may sit between the figures markers")


if __name__ == "__main__":
    unittest.main()

"""The README check (.ci/check-readme-test.py): the real justfile and README
pass; a step planted in a copy of the recipe, or removed from a copy of the
README, fails and is named; small made-up files pin down what counts as a
mention. `just test` runs this file."""
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "check-readme-test.py")
REPO = os.path.dirname(HERE)

JUSTFILE = """
    set shell := ["bash", "-c"]

    # Build, then test.
    test:
        deploy/build.sh dev all
        # a comment is not a step
        cargo test --workspace --locked

    check:
        cargo fmt --all -- --check
"""

README = """
    # project

    ## Run

    `cargo test --workspace --locked` is mentioned here, outside the section.

    ## Test

    ```sh
    # a shell comment, not a heading
    $ deploy/build.sh dev all   # the binaries
    ```

    then `cargo test
    --workspace --locked`, split over two lines.

    ### Needs

    PostgreSQL.

    ## Status

    Fine.
"""


class CheckReadmeTest(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.TemporaryDirectory(prefix="check-readme-test-")
        self.addCleanup(self.root.cleanup)

    def write(self, name, text):
        with open(os.path.join(self.root.name, name), "w", encoding="utf-8") as f:
            f.write(textwrap.dedent(text))

    def read(self, name):
        with open(os.path.join(self.root.name, name), encoding="utf-8") as f:
            return f.read()

    def copy_real_files(self):
        for name in ("justfile", "README.md"):
            shutil.copy(os.path.join(REPO, name), os.path.join(self.root.name, name))

    def check(self, root=None):
        return subprocess.run([sys.executable, SCRIPT, root or self.root.name], capture_output=True, text=True)

    def assertFailsNaming(self, result, step):
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        self.assertIn(f"does not mention the step `{step}`", result.stdout)

    def test_the_real_justfile_and_readme_pass(self):
        result = self.check(REPO)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("check-readme-test: ok", result.stdout)

    def test_a_step_added_to_the_real_recipe_and_not_to_the_readme_fails(self):
        self.copy_real_files()
        justfile = self.read("justfile")
        step = "    tools/python/run -m unittest discover --start-directory .ci --quiet\n"
        self.assertIn(step, justfile)
        self.write("justfile", justfile.replace(step, step + "    tools/python/run deploy/new-step.py --all\n"))
        result = self.check()
        self.assertFailsNaming(result, "tools/python/run deploy/new-step.py --all")
        self.assertEqual(len(result.stdout.splitlines()), 1, "only the planted step is missing")

    def test_a_step_dropped_from_the_real_readme_fails(self):
        self.copy_real_files()
        readme = self.read("README.md")
        mention = "`tools/python/run -m unittest discover --start-directory bench --quiet`"
        self.assertIn(mention, readme)
        self.write("README.md", readme.replace(mention, "the benchmark suite's unit tests"))
        self.assertFailsNaming(self.check(), "tools/python/run -m unittest discover --start-directory bench --quiet")

    def test_code_spans_across_lines_and_lines_of_code_blocks_count(self):
        self.write("justfile", JUSTFILE)
        self.write("README.md", README)
        result = self.check()
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("names all 2 steps", result.stdout)

    def test_a_mention_only_in_prose_or_only_in_another_section_does_not_count(self):
        self.write("justfile", JUSTFILE)
        self.write("README.md", README.replace("then `cargo test\n    --workspace --locked`", "then cargo test --workspace --locked"))
        self.assertFailsNaming(self.check(), "cargo test --workspace --locked")

    def test_part_of_a_command_does_not_count(self):
        self.write("justfile", JUSTFILE)
        self.write("README.md", README.replace("--workspace --locked`, split", "--workspace`, split"))
        self.assertFailsNaming(self.check(), "cargo test --workspace --locked")

    def test_dependencies_and_continued_lines_are_steps(self):
        self.write("README.md", README)
        self.write("justfile", JUSTFILE.replace("test:\n", "test: build\n").replace(
            "cargo test --workspace --locked", "cargo test \\\n            --workspace --locked"))
        result = self.check()
        self.assertFailsNaming(result, "just build")
        self.assertNotIn("cargo test", result.stdout)

    def test_a_readme_without_the_section_or_a_justfile_without_the_recipe_fails(self):
        self.write("justfile", JUSTFILE)
        self.write("README.md", README.replace("## Test", "## Testing"))
        result = self.check()
        self.assertEqual(result.returncode, 1)
        self.assertIn('no section headed "Test"', result.stdout)
        self.write("README.md", README)
        self.write("justfile", JUSTFILE.replace("test:", "tests:"))
        result = self.check()
        self.assertEqual(result.returncode, 1)
        self.assertIn("no `test:` recipe", result.stdout)


if __name__ == "__main__":
    unittest.main()

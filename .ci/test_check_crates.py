"""`just check-crates` on fixture crates made here: cargo-deny, with the
project's deny.toml, refuses a crate under a licence it does not allow
and passes the same crate under MIT; cargo-machete finds a declared
dependency no source uses and passes once one does. Without the two
tools the tests are skipped, unless CI is set (`.ci/run` installs
them). `just test` runs this file."""
import os
import shutil
import subprocess
import tempfile
import textwrap
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOLS = ("cargo-deny", "cargo-machete")
MISSING = [tool for tool in TOOLS if not shutil.which(tool)]


@unittest.skipIf(MISSING and not os.environ.get("CI"), f"not installed: {', '.join(MISSING)}")
class CheckCrates(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="switchyard-crates-")

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def crate(self, licence="MIT", dependencies="", lib=""):
        """A crate of its own workspace (the empty [workspace] table), so
        nothing of the project's leaks in."""
        with open(os.path.join(self.tmp, "Cargo.toml"), "w") as f:
            f.write(textwrap.dedent(f"""\
                [package]
                name = "fixture"
                version = "0.1.0"
                edition = "2024"
                license = "{licence}"

                [dependencies]
                {dependencies}

                [workspace]
                """))
        os.makedirs(os.path.join(self.tmp, "src"), exist_ok=True)
        with open(os.path.join(self.tmp, "src", "lib.rs"), "w") as f:
            f.write(lib)

    def deny(self):
        # --offline: a crate without dependencies resolves without the index.
        return subprocess.run(
            ["cargo", "deny", "--offline", "--manifest-path", os.path.join(self.tmp, "Cargo.toml"),
             "--config", os.path.join(ROOT, "deny.toml"), "check", "licenses"],
            capture_output=True, text=True, timeout=120)

    def machete(self):
        return subprocess.run(["cargo", "machete", self.tmp], capture_output=True, text=True, timeout=120)

    def test_a_crate_under_a_licence_deny_toml_does_not_allow_fails_the_licence_check(self):
        self.crate(licence="GPL-3.0-only")
        result = self.deny()
        self.assertNotEqual(result.returncode, 0, result.stderr)
        self.assertIn("GPL-3.0-only", result.stderr)
        self.assertIn("rejected: license is not explicitly allowed", result.stderr)

    def test_the_same_crate_under_mit_passes_it(self):
        self.crate(licence="MIT")
        result = self.deny()
        self.assertEqual(result.returncode, 0, result.stderr)

    def test_a_dependency_no_source_uses_fails_the_unused_check_naming_it(self):
        self.crate(dependencies='serde = "1"', lib="pub fn nothing() {}\n")
        result = self.machete()
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        self.assertIn("serde", result.stdout)

    def test_the_same_dependency_once_used_passes_it(self):
        self.crate(dependencies='serde = "1"', lib="pub use serde::Serialize;\n")
        result = self.machete()
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)


if __name__ == "__main__":
    unittest.main()

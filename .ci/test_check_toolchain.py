"""The toolchain check (.ci/check-toolchain) on a copy of the files it
reads: as they are it passes; a toolchain rustup does not list, or a
Dockerfile, workspace or README naming another version, fails it. And
.ci/run calls it before its first cargo command. `just test` runs this
file."""
import os
import re
import shutil
import subprocess
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHECK = os.path.join(ROOT, ".ci", "check-toolchain")
FILES = ["rust-toolchain.toml", "Cargo.toml", "deploy/Dockerfile", "README.md"]


class Toolchain(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="switchyard-toolchain-")
        self.addCleanup(shutil.rmtree, self.root)
        for path in FILES:
            os.makedirs(os.path.dirname(os.path.join(self.root, path)), exist_ok=True)
            shutil.copy(os.path.join(ROOT, path), os.path.join(self.root, path))

    def check(self, rustup_lists=None):
        env = dict(os.environ)
        if rustup_lists is not None:
            # A rustup first on PATH that lists only these toolchains.
            bin_dir = os.path.join(self.root, "bin")
            os.makedirs(bin_dir, exist_ok=True)
            with open(os.path.join(bin_dir, "rustup"), "w") as f:
                f.write("#!/bin/sh\nprintf '%s\\n' " + " ".join(f"'{t}'" for t in rustup_lists) + "\n")
            os.chmod(os.path.join(bin_dir, "rustup"), 0o755)
            env["PATH"] = bin_dir + os.pathsep + env["PATH"]
        return subprocess.run([CHECK, self.root], capture_output=True, text=True, env=env)

    def edit(self, path, old, new):
        full = os.path.join(self.root, path)
        with open(full) as f:
            text = f.read()
        changed = re.sub(old, new, text, count=1, flags=re.M)
        self.assertNotEqual(changed, text, f"{old!r} not in {path}")
        with open(full, "w") as f:
            f.write(changed)

    def test_as_they_are_the_files_pass(self):
        result = self.check()
        self.assertEqual(result.returncode, 0, result.stderr)

    def test_a_toolchain_rustup_does_not_list_fails(self):
        result = self.check(["stable-x86_64-unknown-linux-gnu (default)", "1.94.0-x86_64-unknown-linux-gnu"])
        self.assertEqual(result.returncode, 1)
        self.assertIn("does not show", result.stderr)

    def test_another_version_in_the_dockerfile_the_workspace_or_the_readme_fails(self):
        for path, old, new, named in [
            ("deploy/Dockerfile", r"^ARG RUST_VERSION=.*$", "ARG RUST_VERSION=1.96.0", "Dockerfile"),
            ("Cargo.toml", r'^rust-version = ".*"$', 'rust-version = "1.94"', "rust-version"),
            ("README.md", r"\bRust 1\.\d+\b", "Rust 1.80", "README"),
        ]:
            with self.subTest(path):
                self.setUp()
                self.edit(path, old, new)
                result = self.check()
                self.assertEqual(result.returncode, 1, result.stdout)
                self.assertIn(named, result.stderr)

    def test_ci_checks_the_toolchain_before_any_cargo_command(self):
        with open(os.path.join(ROOT, ".ci", "run")) as f:
            lines = [line.strip() for line in f if line.strip() and not line.lstrip().startswith("#")]
        check = next(i for i, line in enumerate(lines) if line.startswith(".ci/check-toolchain"))
        builds = [i for i, line in enumerate(lines)
                  if re.search(r"(^|\s)(cargo|just) [a-z-]|broker\.sh|\.ci/one-version", line)]
        self.assertTrue(builds)
        self.assertLess(check, min(builds), "the toolchain is checked before anything builds")


if __name__ == "__main__":
    unittest.main()

"""The structure check (.ci/check-structure.py) on tiny workspaces made for
each test: a clean one passes; a planted cycle or a service depending on a
service fails. `just test` runs this file."""
import os
import subprocess
import sys
import tempfile
import textwrap
import unittest

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "check-structure.py")

WORKSPACE = """
[workspace]
members = ["libs/shared", "services/one", "services/two"]

[workspace.dependencies]
shared = { path = "libs/shared" }
one = { path = "services/one" }
"""

# A crate that is clean but uses everything the check has to see through:
# a parent declaring and re-exporting its children, children importing
# their parent and a sibling, the root imported from everywhere, unit tests
# importing their parent, and crate paths in comments and strings.
CLEAN = {
    "src/lib.rs": """
        pub mod domain;
        pub mod http;
        pub mod startup;
        pub use startup::AppState;
    """,
    "src/startup.rs": """
        use crate::http;
        pub struct AppState;
        pub fn build() { let _ = http::router(); }
    """,
    "src/state.rs": "",
    "src/http/mod.rs": """
        mod handlers;
        pub use handlers::router;
        pub struct Page;
    """,
    "src/http/handlers.rs": """
        use super::{Page, super::domain::{self, Sku as Code}};
        use crate::AppState; // through the root: `crate::startup::AppState` is an import
        pub fn router() -> &'static str { let c = 'x'; "crate::startup::build()" }
        #[cfg(test)]
        mod tests {
            use crate::startup::build;
            use super::*;
        }
    """,
    "src/domain/mod.rs": """
        mod sku;
        pub use sku::Sku;
        #[cfg(test)]
        mod tests;
    """,
    "src/domain/sku.rs": "pub struct Sku;",
    "src/domain/tests.rs": "use crate::http::router;",
}


class CheckStructure(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.TemporaryDirectory(prefix="check-structure-")
        self.addCleanup(self.root.cleanup)
        self.write("Cargo.toml", WORKSPACE)
        for member, deps in [("libs/shared", ""), ("services/one", "shared.workspace = true"),
                             ("services/two", "shared = { workspace = true }")]:
            name = os.path.basename(member)
            self.write(f"{member}/Cargo.toml", f"[package]\nname = \"{name}\"\n\n[dependencies]\n{deps}\n")
            self.write(f"{member}/src/lib.rs", "")
        for path, text in CLEAN.items():
            self.write(f"services/one/{path}", text)

    def write(self, path, text):
        path = os.path.join(self.root.name, path)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(textwrap.dedent(text))

    def check(self):
        return subprocess.run([sys.executable, SCRIPT, self.root.name], capture_output=True, text=True)

    def test_a_clean_workspace_passes_with_one_line(self):
        result = self.check()
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertEqual(len(result.stdout.splitlines()), 1)
        # handlers -> http/mod.rs and domain/mod.rs, startup -> http/mod.rs; nothing else
        # counts (the root, children by bare name, tests, comments, strings).
        self.assertIn("check-structure: ok (3 crates, 10 files, 3 imports between files;", result.stdout)

    def test_two_files_importing_each_other_fail_and_the_cycle_is_named(self):
        # The shape the services have today: the state lives with the wiring,
        # and what the wiring starts imports it back.
        self.write("services/one/src/http/mod.rs", """
            mod handlers;
            pub use handlers::router;
            use crate::startup::AppState;
        """)
        result = self.check()
        self.assertEqual(result.returncode, 1)
        self.assertIn("services/one: cycle between 2 files: http/mod.rs, startup.rs", result.stdout)
        self.assertIn("http/mod.rs (crate::startup::AppState) -> startup.rs (crate::http) -> http/mod.rs",
                      result.stdout)

    def test_a_call_by_full_path_counts_as_an_import(self):
        self.write("services/one/src/domain/sku.rs", "pub fn f() { crate::startup::build() }")
        self.write("services/one/src/startup.rs", "pub fn build() { crate :: domain :: sku :: f() }")
        result = self.check()
        self.assertEqual(result.returncode, 1)
        self.assertIn("cycle between 2 files: domain/sku.rs, startup.rs", result.stdout)

    def test_a_service_depending_on_another_service_fails(self):
        for dependency in ['one = { path = "../one" }', "one.workspace = true",
                           'renamed = { path = "../one", package = "one" }']:
            with self.subTest(dependency):
                self.write("services/two/Cargo.toml",
                           f'[package]\nname = "two"\n\n[dev-dependencies]\n{dependency}\n')
                result = self.check()
                self.assertEqual(result.returncode, 1)
                self.assertIn("services/two/Cargo.toml: [dev-dependencies]", result.stdout)
                self.assertIn("a service depends on another service", result.stdout)


if __name__ == "__main__":
    unittest.main()

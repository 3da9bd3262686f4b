"""The generator (deploy/new_service.py, `just new-service`) on a copy of the
repository: each refusal exits non-zero, names the problem and changes no
file; a generated service, with every option and with none, is in every
place the service list's check compares. (CI's last section builds, tests
and runs what it generates.) `just test` runs this file."""
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GENERATOR = os.path.join(ROOT, "deploy", "new_service.py")
CHECK = os.path.join(ROOT, "deploy", "services.py")
IGNORED = shutil.ignore_patterns("target", ".venv", ".git", "__pycache__", "node_modules")


class Generator(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.base = tempfile.mkdtemp(prefix="switchyard-new-service-")
        shutil.copytree(ROOT, os.path.join(cls.base, "repo"), ignore=IGNORED)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.base)

    def setUp(self):
        # A fresh copy per test, committed, so `git status` shows any change.
        self.root = tempfile.mkdtemp(prefix="repo-", dir=self.base)
        shutil.rmtree(self.root)
        shutil.copytree(os.path.join(self.base, "repo"), self.root)
        for command in (["init", "-q"], ["add", "-A"],
                        ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base"]):
            subprocess.run(["git", *command], cwd=self.root, check=True)

    def generate(self, *args):
        return subprocess.run([sys.executable, GENERATOR, *args, "--root", self.root, "--no-cargo"],
                              capture_output=True, text=True)

    def status(self):
        return subprocess.run(["git", "status", "--porcelain"], cwd=self.root, capture_output=True, text=True,
                              check=True).stdout

    def assert_refused(self, args, problem):
        result = self.generate(*args)
        self.assertNotEqual(result.returncode, 0, result.stdout)
        self.assertIn(problem, result.stderr)
        self.assertIn("nothing was changed", result.stderr)
        self.assertEqual(self.status(), "", "a refusal changed files")

    def test_each_refusal_names_the_problem_and_changes_nothing(self):
        cases = [
            (["Shipping"], "'Shipping' is not a valid service name"),
            (["ship-it"], "'ship-it' is not a valid service name"),
            (["2fast"], "'2fast' is not a valid service name"),
            (["match"], "'match' is a Rust keyword"),
            (["all"], "'all' is reserved"),
            (["comms"], "'comms' is reserved"),
            (["order"], "'order' exists: it is in deploy/services.toml"),
            (["loadgen"], "'loadgen' exists: a crate or directory"),
            (["shipping", "--consumes", "parcel.lost"], "cannot consume 'parcel.lost': no such event type"),
            (["shipping", "--publishes", "order.shipped"], "cannot publish 'order.shipped': a service publishes only"),
            (["shipping", "--publishes", "shipping.Sent"], "cannot publish 'shipping.Sent'"),
            (["shipping", "--publishes", "shipping.sent", "shipping.sent"], "given twice"),
        ]
        for args, problem in cases:
            with self.subTest(args=args):
                self.assert_refused(args, problem)

    def test_publishing_a_type_already_defined_is_refused(self):
        self.assertEqual(self.generate("shipping", "--publishes", "shipping.sent").returncode, 0)
        subprocess.run(["git", "add", "-A"], cwd=self.root, check=True)
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "shipping"],
                       cwd=self.root, check=True)
        self.assert_refused(["shipping"], "'shipping' exists")
        # A second service cannot take the first one's namespace either.
        self.assert_refused(["parcels", "--publishes", "shipping.sent"], "a service publishes only")

    def assert_every_place_agrees(self):
        result = subprocess.run([sys.executable, CHECK, "check", self.root], capture_output=True, text=True)
        self.assertEqual(result.returncode, 0, result.stderr)

    def test_a_service_with_every_option_is_in_every_place(self):
        result = self.generate("shipping", "--grpc", "--publishes", "shipping.parcel_sent", "shipping.parcel_lost",
                               "--consumes", "user.registered", "order.placed")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assert_every_place_agrees()
        crate = os.path.join(self.root, "services", "shipping")
        with open(os.path.join(crate, "src", "consumer.rs")) as f:
            consumer = f.read()
        self.assertIn(".on(record::<UserRegistered>)", consumer)
        self.assertIn(".on(record::<OrderPlaced>)", consumer)
        self.assertTrue(os.path.exists(os.path.join(crate, "src", "grpc.rs")))
        self.assertTrue(os.path.exists(os.path.join(self.root, "proto", "shipping", "v1", "shipping.proto")))
        with open(os.path.join(self.root, "services", "analytics", "src", "consumer.rs")) as f:
            self.assertIn(".on(record::<events::ParcelLost>)", f.read())
        generated = subprocess.run(["grep", "-rIl", "-e", "template", "-e", "Template", "-e", "new-service:", crate],
                                   capture_output=True, text=True).stdout
        self.assertEqual(generated, "", "the template's name or markers left in the copy")

    def test_its_kubernetes_manifests_render_and_validate_in_every_overlay(self):
        self.assertEqual(self.generate("shipping", "--grpc", "--consumes", "user.registered").returncode, 0)
        sys.path.insert(0, os.path.join(ROOT, "deploy"))
        spec = importlib.util.spec_from_file_location("check_k8s", os.path.join(ROOT, "deploy", "check-k8s.py"))
        check_k8s = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(check_k8s)
        services = check_k8s.service_list.load(self.root)
        for overlay in ("dev", "production"):
            objects, error = check_k8s.render(self.root, f"deploy/k8s/overlays/{overlay}")
            self.assertIsNone(error)
            problems = (check_k8s.schema_problems(objects, check_k8s.kubectl_version())
                        + check_k8s.inventory_problems(objects, services))
            self.assertEqual(problems, [], overlay)
            deployment = next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "shipping")
            image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
            self.assertRegex(image, r"switchyard[-/]shipping:", f"{overlay} pins the new service's image")
            self.assertTrue(any(o["kind"] == "Secret" and o["metadata"]["name"].startswith("shipping-secrets-")
                                for o in objects), f"{overlay} has its Secret")

    def test_a_service_with_no_option_drops_what_they_add(self):
        result = self.generate("ledger")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assert_every_place_agrees()
        crate = os.path.join(self.root, "services", "ledger")
        for dropped in ("src/grpc.rs", "src/consumer.rs", "tests/api/grpc.rs", "tests/api/consumer.rs"):
            self.assertFalse(os.path.exists(os.path.join(crate, dropped)), dropped)
        with open(os.path.join(crate, "src", "lib.rs")) as f:
            lib = f.read()
        self.assertNotIn(".messaging(", lib, "no broker at all")
        self.assertRegex(lib, r"\.ports\(\d+, None, \d+\)", "no gRPC port")
        self.assertFalse(os.path.exists(os.path.join(self.root, "proto", "ledger")))


if __name__ == "__main__":
    unittest.main()

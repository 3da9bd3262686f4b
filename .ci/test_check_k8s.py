"""The Kubernetes check (deploy/check-k8s.py) on the dev overlay as
rendered, and on copies each broken in one way: a kind without a schema, an
unknown field, a variable no binary reads, a probe on a path or port the
service does not serve, a listed service without a Deployment, a grace
period shorter than the shutdown, a metrics port in a Service, and secret
material tracked by git. Each fails, naming what broke; the overlay as it
is passes. `just test` runs this file (after building the binaries whose
settings keys it compares)."""
import copy
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "deploy"))
spec = importlib.util.spec_from_file_location("check_k8s", os.path.join(ROOT, "deploy", "check-k8s.py"))
check_k8s = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_k8s)
import services as service_list  # noqa: E402  (deploy/, on the path above)

DEV = "deploy/k8s/overlays/dev"


class Rendered(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.services = service_list.load(ROOT)
        cls.version = check_k8s.kubectl_version()
        cls.paths = check_k8s.health_paths(ROOT)
        cls.keys = check_k8s.settings_keys(os.path.join(ROOT, "target", "debug"), cls.services)
        cls.peaks = check_k8s.memory_peaks(ROOT)
        cls.objects, error = check_k8s.render(ROOT, DEV)
        assert error is None, error

    def problems(self, objects):
        return check_k8s.check(objects, self.services, self.keys, self.paths, self.version, self.peaks)

    def broken(self, kind, name):
        """A copy of the objects and, in it, the object to break."""
        objects = copy.deepcopy(self.objects)
        return objects, next(o for o in objects if o["kind"] == kind and o["metadata"]["name"].startswith(name))

    def container(self, deployment):
        return deployment["spec"]["template"]["spec"]["containers"][0]

    def assertFails(self, objects, *words):
        problems = self.problems(objects)
        self.assertTrue(any(all(w in p for w in words) for p in problems),
                        f"no problem naming {words}; got {problems}")

    def test_the_overlay_as_it_is_passes(self):
        self.assertEqual(self.problems(self.objects), [])
        kinds = {o["kind"] for o in self.objects}
        self.assertLessEqual({"Deployment", "Service", "Secret", "ConfigMap", "Ingress", "Namespace"}, kinds)

    def test_a_kind_without_a_schema_fails(self):
        objects = copy.deepcopy(self.objects)
        objects.append({"apiVersion": "gateway.example.com/v1", "kind": "Route", "metadata": {"name": "api"},
                        "spec": {"host": "api.example.com"}})
        self.assertFails(objects, "Route/api", "no schema")

    def test_an_unknown_field_fails_strict_validation(self):
        objects, deployment = self.broken("Deployment", "order")
        self.container(deployment)["readinesProbe"] = {"httpGet": {"path": "/health/ready", "port": "http"}}
        self.assertFails(objects, "Deployment/order", "invalid")

    def test_a_variable_the_binary_does_not_read_fails(self):
        objects, deployment = self.broken("Deployment", "inventory")
        self.container(deployment)["env"].append({"name": "INVENTORY_DATABSE_URL", "value": "postgres://x"})
        self.assertFails(objects, "inventory", "INVENTORY_DATABSE_URL", "does not read")

    def test_a_probe_on_a_path_the_service_does_not_serve_fails(self):
        objects, deployment = self.broken("Deployment", "user")
        self.container(deployment)["livenessProbe"]["httpGet"]["path"] = "/healthz"
        self.assertFails(objects, "user", "livenessProbe", "/healthz")

    def test_a_probe_on_another_port_fails(self):
        objects, deployment = self.broken("Deployment", "analytics")
        self.container(deployment)["readinessProbe"]["httpGet"]["port"] = "metrics"
        self.assertFails(objects, "analytics", "readinessProbe", "not its HTTP port")

    def test_a_service_of_the_list_without_a_deployment_fails(self):
        objects = [o for o in self.objects if not (o["kind"] == "Deployment" and o["metadata"]["name"] == "order")]
        self.assertFails(objects, "order has no Deployment")

    def test_a_grace_period_shorter_than_the_shutdown_fails(self):
        objects, deployment = self.broken("Deployment", "notification")
        deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = 30
        self.assertFails(objects, "notification", "terminationGracePeriodSeconds is 30")

    def test_a_longer_drain_needs_a_longer_grace_period(self):
        objects, deployment = self.broken("Deployment", "order")
        self.container(deployment)["env"].append({"name": "ORDER_SHUTDOWN_GRACE_SECS", "value": "60"})
        self.assertFails(objects, "order", "terminationGracePeriodSeconds")

    def test_a_metrics_port_in_a_service_fails(self):
        objects, svc = self.broken("Service", "gateway")
        svc["spec"]["ports"].append({"name": "metrics", "port": 7080, "targetPort": "metrics"})
        self.assertFails(objects, "Service/gateway", "metrics")

    def test_a_memory_limit_below_the_measured_peak_fails(self):
        self.assertGreater(self.peaks.get("user", 0), 100, "the bench measured user's hashing peak")
        objects, deployment = self.broken("Deployment", "user")
        self.container(deployment)["resources"]["limits"]["memory"] = "128Mi"
        self.assertFails(objects, "user", "memory limit 128Mi", "peak")

    def test_a_writable_root_filesystem_fails(self):
        objects, deployment = self.broken("Deployment", "gateway")
        self.container(deployment)["securityContext"]["readOnlyRootFilesystem"] = False
        self.assertFails(objects, "gateway", "readOnlyRootFilesystem")


class TrackedSecrets(unittest.TestCase):
    """On a copy of the repository's k8s folder in a repository of its own."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp()
        shutil.copytree(os.path.join(ROOT, "deploy", "k8s"), os.path.join(self.tmp, "deploy", "k8s"),
                        ignore=shutil.ignore_patterns("secrets"))
        shutil.copy(os.path.join(ROOT, ".gitignore"), self.tmp)
        self.git("init", "-q")
        self.git("add", ".")

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def git(self, *args):
        subprocess.run(["git", "-C", self.tmp, *args], check=True, capture_output=True)

    def write(self, path, text):
        os.makedirs(os.path.dirname(os.path.join(self.tmp, path)), exist_ok=True)
        with open(os.path.join(self.tmp, path), "w") as f:
            f.write(text)

    def test_the_folder_as_it_is_passes(self):
        self.assertEqual(check_k8s.tracked_secret_problems(self.tmp), [])

    def test_a_secret_file_forced_into_git_fails(self):
        self.write(f"{DEV}/secrets/user/db-password", "not-a-real-one\n")
        self.git("add", "-f", f"{DEV}/secrets/user/db-password")
        problems = check_k8s.tracked_secret_problems(self.tmp)
        self.assertTrue(any("secrets/user/db-password" in p and "tracked" in p for p in problems), problems)

    def test_a_secret_with_data_in_a_tracked_manifest_fails(self):
        self.write("deploy/k8s/base/keys.yaml",
                   "apiVersion: v1\nkind: Secret\nmetadata: {name: keys}\nstringData: {password: hunter2}\n")
        self.git("add", "deploy/k8s/base/keys.yaml")
        problems = check_k8s.tracked_secret_problems(self.tmp)
        self.assertTrue(any("keys.yaml" in p and "Secret" in p for p in problems), problems)

    def test_secrets_folders_not_ignored_fail(self):
        os.remove(os.path.join(self.tmp, ".gitignore"))
        problems = check_k8s.tracked_secret_problems(self.tmp)
        self.assertTrue(any("not ignored" in p for p in problems), problems)


if __name__ == "__main__":
    unittest.main()

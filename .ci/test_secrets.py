"""deploy/secrets.sh, the per-installation secrets: each run into a new
directory makes a different password and keys, each service its own key,
listed by its public half; a second run into the same directory changes
nothing, the files are the owner's alone, and the keys are Ed25519 private
keys openssl can read. `just test` runs this file."""
import base64
import json
import os
import re
import shutil
import stat
import subprocess
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "deploy", "secrets.sh")
with open(os.path.join(ROOT, "deploy", "services.toml")) as f:
    SERVICES = re.findall(r'^name = "([a-z0-9]+)"$', f.read(), re.M)


@unittest.skipUnless(shutil.which("openssl"), "deploy/secrets.sh needs openssl")
class Secrets(unittest.TestCase):
    def make(self):
        directory = tempfile.mkdtemp(prefix="switchyard-secrets-")
        self.addCleanup(shutil.rmtree, directory)
        target = os.path.join(directory, "secrets")
        subprocess.run([SCRIPT, target], check=True, capture_output=True)
        return target

    def read(self, directory, name):
        with open(os.path.join(directory, name)) as f:
            return f.read()

    def test_two_installations_get_different_passwords_and_keys(self):
        first, second = self.make(), self.make()
        for name in ["user/admin-password", "user/jwt-ed25519.pem", "order/identity.pem", "public/service-keys.json",
                     "inventory/db-password", "postgres.env"]:
            self.assertNotEqual(self.read(first, name), self.read(second, name), name)
        password = self.read(first, "user/admin-password").strip()
        self.assertGreaterEqual(len(password), 24)
        self.assertRegex(password, r"^[A-Za-z0-9_-]+$")
        superuser = dict(line.split("=", 1) for line in self.read(first, "postgres.env").split())
        self.assertEqual(superuser["POSTGRES_PASSWORD"], superuser["PGPASSWORD"])
        self.assertGreaterEqual(len(superuser["PGPASSWORD"]), 32)

    def test_each_service_has_its_own_key_and_the_public_list_has_them_all(self):
        target = self.make()
        listed = json.loads(self.read(target, "public/service-keys.json"))
        self.assertEqual(sorted(listed), sorted(SERVICES))
        keys = {name: self.read(target, f"{name}/identity.pem") for name in SERVICES}
        self.assertEqual(len(set(keys.values())), len(SERVICES), "no two services share a key")
        for name in SERVICES:
            der = subprocess.run(["openssl", "pkey", "-in", os.path.join(target, name, "identity.pem"), "-pubout",
                                  "-outform", "DER"], check=True, capture_output=True).stdout
            x = base64.urlsafe_b64encode(der[-32:]).decode().rstrip("=")
            self.assertEqual(listed[name], [{"kty": "OKP", "crv": "Ed25519", "x": x}], name)
            self.assertNotIn("d", listed[name][0], "public halves only")

    def test_a_second_run_changes_nothing(self):
        target = self.make()
        before = {name: self.read(target, name)
                  for name in ["user/admin-password", "user/jwt-ed25519.pem", "gateway/identity.pem", "public/service-keys.json"]}
        result = subprocess.run([SCRIPT, target], check=True, capture_output=True, text=True)
        self.assertEqual(result.stdout, "", "nothing was written")
        self.assertEqual(before, {name: self.read(target, name) for name in before})

    def test_only_the_owner_can_read_them(self):
        target = self.make()
        for name in ["", "user", "user/admin-password", "user/jwt-ed25519.pem", "order", "order/identity.pem"]:
            mode = stat.S_IMODE(os.stat(os.path.join(target, name)).st_mode)
            self.assertEqual(mode & 0o077, 0, f"{name or 'the directory'}: {oct(mode)}")

    def test_the_key_is_an_ed25519_private_key(self):
        target = self.make()
        text = subprocess.run(["openssl", "pkey", "-in", os.path.join(target, "user/jwt-ed25519.pem"), "-noout",
                               "-text"], check=True, capture_output=True, text=True).stdout
        self.assertIn("ED25519 Private-Key", text)


if __name__ == "__main__":
    unittest.main()

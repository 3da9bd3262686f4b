"""The secrets check (.ci/check-no-secrets.py): in a scratch git repository
it finds a planted PEM private key, a planted private JWK and a retired
password, by
content whatever the file is called, only once they are tracked, and passes
what merely names the formats: public keys, prose, its own patterns. A real
key made by openssl is found too. `just test` runs this file."""
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "check-no-secrets.py")
DASHES = "-" * 5


def pem(label, body_bytes=48):
    body = base64.b64encode(os.urandom(body_bytes)).decode()
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return "\n".join([f"{DASHES}BEGIN {label}{DASHES}", *lines, f"{DASHES}END {label}{DASHES}", ""])


def b64url(length):
    return base64.urlsafe_b64encode(os.urandom(length)).decode().rstrip("=")


class PrivateKeyCheck(unittest.TestCase):
    def setUp(self):
        self.repo = tempfile.mkdtemp(prefix="switchyard-keys-")
        self.addCleanup(shutil.rmtree, self.repo)
        subprocess.run(["git", "init", "-q", self.repo], check=True)
        # Harmless look-alikes, tracked in every case: the check passes them.
        self.write("docs/keys.md", f"Never commit a `{DASHES}BEGIN PRIVATE KEY{DASHES}` block.\n")
        self.write("public.pem", pem("PUBLIC KEY"))
        self.write("jwks.json", json.dumps({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": b64url(32)}]}))
        self.write("code.rs", 'assert!(as_json.get("d").is_none());\nlet x = json!({"d": 1});\n')
        self.write("check.py", open(SCRIPT).read())

    def write(self, name, text, track=True):
        path = os.path.join(self.repo, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        if track:
            subprocess.run(["git", "-C", self.repo, "add", name], check=True)

    def check(self):
        result = subprocess.run([sys.executable, SCRIPT, self.repo], capture_output=True, text=True)
        return result.returncode, result.stdout

    def test_look_alikes_pass(self):
        status, output = self.check()
        self.assertEqual(status, 0, output)

    def test_a_pem_private_key_fails_whatever_the_file_is_called(self):
        self.write("services/x/tests/fixture.txt", "before\n" + pem("PRIVATE KEY") + "after\n")
        status, output = self.check()
        self.assertEqual(status, 1, output)
        self.assertIn("services/x/tests/fixture.txt: a PEM PRIVATE KEY block", output)

    def test_other_pem_private_key_kinds_fail(self):
        for label in ["RSA PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY", "ENCRYPTED PRIVATE KEY"]:
            with self.subTest(label):
                self.write("key.txt", pem(label, 96))
                status, output = self.check()
                self.assertEqual(status, 1, output)
                self.assertIn(label, output)

    def test_a_private_jwk_fails_in_json_and_inside_code(self):
        jwk = {"kty": "OKP", "crv": "Ed25519", "kid": "planted", "x": b64url(32), "d": b64url(32)}
        self.write("deploy/keys.json", json.dumps({"keys": [jwk]}, indent=2))
        self.write("src/lib.rs", f"const KEY: &str = r#'{json.dumps(jwk)}'#;\n".replace("'", '"'))
        status, output = self.check()
        self.assertEqual(status, 1, output)
        self.assertIn('deploy/keys.json: a JWK with its private member "d" (planted)', output)
        self.assertIn('src/lib.rs: a JWK with its private member "d" (planted)', output)

    def test_an_untracked_key_is_not_reported(self):
        self.write(".secrets/user/jwt-ed25519.pem", pem("PRIVATE KEY"), track=False)
        status, output = self.check()
        self.assertEqual(status, 0, output)

    def test_the_seed_admins_retired_password_fails(self):
        self.write("README.md", "log in with " + "switchyard" + "-admin\n")
        status, output = self.check()
        self.assertEqual(status, 1, output)
        self.assertIn("README.md: a retired password", output)

    @unittest.skipUnless(shutil.which("openssl"), "openssl makes the real key")
    def test_a_key_made_by_openssl_fails(self):
        key = subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519"], check=True, capture_output=True,
                             text=True).stdout
        self.write("deploy/dev.pem", key)
        status, output = self.check()
        self.assertEqual(status, 1, output)
        self.assertIn("deploy/dev.pem: a PEM PRIVATE KEY block", output)


if __name__ == "__main__":
    unittest.main()

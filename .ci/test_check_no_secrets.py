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
# Spelt in pieces, as the check itself is, so this file holds nothing that
# looks like key material to any scanner.
DASHES = "-" * 5
PRIVATE_KEY = "PRIV" + "ATE KEY"
PRIVATE_MEMBER = chr(100)


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
        self.write("docs/keys.md", f"Never commit a `{DASHES}BEGIN {PRIVATE_KEY}{DASHES}` block.\n")
        self.write("public.pem", pem("PUBLIC KEY"))
        self.write("jwks.json", json.dumps({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": b64url(32)}]}))
        self.write("code.rs", f'assert!(as_json.get("{PRIVATE_MEMBER}").is_none());\n'
                              f'let x = json!({{"{PRIVATE_MEMBER}": 1}});\n')
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
        self.write("services/x/tests/fixture.txt", "before\n" + pem(PRIVATE_KEY) + "after\n")
        status, output = self.check()
        self.assertEqual(status, 1, output)
        self.assertIn(f"services/x/tests/fixture.txt: a PEM {PRIVATE_KEY} block", output)

    def test_other_pem_private_key_kinds_fail(self):
        for label in [f"{kind} {PRIVATE_KEY}" for kind in ("RSA", "EC", "OPENSSH", "ENCRYPTED")]:
            with self.subTest(label):
                self.write("key.txt", pem(label, 96))
                status, output = self.check()
                self.assertEqual(status, 1, output)
                self.assertIn(label, output)

    def test_a_private_jwk_fails_in_json_and_inside_code(self):
        jwk = {"kty": "OKP", "crv": "Ed25519", "kid": "planted", "x": b64url(32), PRIVATE_MEMBER: b64url(32)}
        self.write("deploy/keys.json", json.dumps({"keys": [jwk]}, indent=2))
        self.write("src/lib.rs", f"const KEY: &str = r#'{json.dumps(jwk)}'#;\n".replace("'", '"'))
        status, output = self.check()
        self.assertEqual(status, 1, output)
        self.assertIn("deploy/keys.json: a private JWK (planted)", output)
        self.assertIn("src/lib.rs: a private JWK (planted)", output)

    def test_an_untracked_key_is_not_reported(self):
        self.write(".secrets/user/jwt-ed25519.pem", pem(PRIVATE_KEY), track=False)
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
        self.assertIn(f"deploy/dev.pem: a PEM {PRIVATE_KEY} block", output)


if __name__ == "__main__":
    unittest.main()

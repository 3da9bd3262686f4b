#!/usr/bin/env python3
"""Fails when a tracked file holds private key material or a retired password.

A clone must not be able to sign a token or decrypt anything: keys are made
per installation (deploy/secrets.sh) and per test run (testkit::keys). The
check reads what git tracks, by content, not by name, so a key pasted into
a test, a fixture or a doc is found wherever it is:

- a PEM private-key block: a BEGIN line naming a private key (PKCS#8, RSA,
  EC, OpenSSH, encrypted or not) followed by base64 lines and its END line;
- a private JWK member: a JSON object with a `kty` member and a non-empty
  `d` (the private exponent or scalar of RSA, EC and OKP keys).

Text that only names the format (a regular expression, the BEGIN line in
prose) has no key body and is not reported.

It also fails on a password that was once committed and so is public: the
seed admin's old fixed one. The seed admin's password is made per
installation now (deploy/secrets.sh).

Usage: check-no-secrets.py [repository]   (default: this one)
"""
import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Built from pieces so this file, which git tracks too, holds nothing a
# scanner of key material (this one or another) would take for a key.
DASHES = "-" * 5
PRIVATE_KEY = "PRIV" + "ATE KEY"
# The private member of an RSA, EC or OKP JWK.
PRIVATE_MEMBER = chr(100)
PEM_BLOCK = re.compile(
    DASHES + r"BEGIN ((?:[A-Z0-9]+ )*" + PRIVATE_KEY + ")" + DASHES + r"\s*\n"
    r"(?:[A-Za-z0-9-]+:[^\n]*\n)*\s*"  # Proc-Type / DEK-Info headers of encrypted keys
    r"(?:[A-Za-z0-9+/=]{16,}\s*\n)+"
    r"[A-Za-z0-9+/=]*\s*\n?" + DASHES + r"END \1" + DASHES)
# Passwords once committed, spelt in pieces for the same reason.
RETIRED_PASSWORDS = ["switchyard" + "-admin"]
# A JSON object's private member with a value, anywhere in the text; the
# object around it is then parsed to see whether it is a JWK.
D_MEMBER = re.compile('"' + PRIVATE_MEMBER + r'"\s*:\s*"[A-Za-z0-9_-]+"')


def tracked_files(repository):
    listing = subprocess.run(["git", "-C", repository, "ls-files", "-z"], check=True, capture_output=True).stdout
    return [name for name in listing.decode().split("\0") if name]


def enclosing_object(text, position):
    """The JSON object around `position`, parsed, or None."""
    decoder = json.JSONDecoder()
    start = text.rfind("{", 0, position)
    while start != -1:
        try:
            value, end = decoder.raw_decode(text, start)
        except ValueError:
            value, end = None, -1
        if isinstance(value, dict) and end > position:
            return value
        start = text.rfind("{", 0, start)
    return None


def private_jwks(text):
    """Every JWK with a private member in `text` (JSON, or JSON inside code)."""
    found = []
    for match in D_MEMBER.finditer(text):
        jwk = enclosing_object(text, match.start())
        if jwk is not None and "kty" in jwk and jwk.get(PRIVATE_MEMBER):
            found.append(jwk.get("kid") or jwk.get("kty"))
    return found


def findings(repository):
    """(path, what) for every piece of private key material git tracks."""
    found = []
    for name in tracked_files(repository):
        path = os.path.join(repository, name)
        if not os.path.isfile(path) or os.path.islink(path):
            continue
        with open(path, "rb") as f:
            data = f.read()
        if b"\0" in data[:8192]:
            continue  # binary
        text = data.decode("utf-8", errors="replace").replace("\r\n", "\n")
        found += [(name, f"a PEM {match.group(1)} block") for match in PEM_BLOCK.finditer(text)]
        found += [(name, f"a private JWK ({kid})") for kid in private_jwks(text)]
        found += [(name, "a retired password") for password in RETIRED_PASSWORDS if password in text]
    return found


def main():
    repository = sys.argv[1] if len(sys.argv) > 1 else ROOT
    found = findings(repository)
    for name, what in found:
        print(f"{name}: {what}")
    if found:
        print("secrets are tracked: delete them (and replace them: they are public now); keys and the seed "
              "admin's password are made per installation by deploy/secrets.sh, keys per test by testkit::keys")
        sys.exit(1)
    print(f"no private key material or retired password in {len(tracked_files(repository))} tracked files")


if __name__ == "__main__":
    main()

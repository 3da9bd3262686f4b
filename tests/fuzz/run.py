#!/usr/bin/env python3
"""`just fuzz`: the public API fuzzed through the gateway from its own OpenAPI
document (schemathesis), with the services behind it, once as a customer and
once as an admin. Fails on any 5xx, and on any operation that never got an
answer other than 401/403/429 across both runs (an operation the fuzzer
could not reach proves nothing).

Needs a running system (`just dev` or `just up`). The SSE stream is left out:
a stream that stays open is correct, and the fuzzer would wait on it until
its timeout; the notification service's own tests cover it.

Usage: tools/python/run tests/fuzz/run.py [gateway-url] [max-examples]
       (`just fuzz`: schemathesis comes from the project's .venv)
"""
import collections
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import urllib.request
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "deploy"))
import seed_admin  # noqa: E402 (deploy/seed_admin.py)

BASE = (sys.argv[1] if len(sys.argv) > 1 else "http://localhost:8080").rstrip("/")
EXAMPLES = sys.argv[2] if len(sys.argv) > 2 else "15"
EXCLUDED = r".*/stream$"


def post(path, body):
    request = urllib.request.Request(BASE + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def tokens():
    email, password = seed_admin.credentials()
    admin = post("/api/auth/login", {"email": email, "password": password})
    email = f"fuzz-{uuid.uuid4().hex[:8]}@example.com"
    post("/api/auth/register", {"email": email, "name": "Fuzz Customer", "password": "fuzzing password"})
    customer = post("/api/auth/login", {"email": email, "password": "fuzzing password"})
    return {"customer": customer["access_token"], "admin": admin["access_token"]}


def schemathesis():
    """The fuzzer's command line, from the Python running this script: the
    project's .venv, where tools/python/requirements.txt pins it."""
    if importlib.util.find_spec("schemathesis") is None:
        sys.exit("schemathesis is not installed for this Python: run `just fuzz` or "
                 "`tools/python/run tests/fuzz/run.py`, which use the project's .venv "
                 "(tools/python/requirements.txt)")
    return [sys.executable, "-m", "schemathesis.cli"]


def run(fuzzer, role, token, report_dir):
    command = fuzzer + [
        "run", f"{BASE}/api/openapi.json",
        "--url", BASE,
        "-H", f"Authorization: Bearer {token}",
        "--checks", "not_a_server_error",
        "--exclude-path-regex", EXCLUDED,
        "--max-examples", EXAMPLES,
        "--phases", "examples,coverage,fuzzing",
        "--workers", "1",
        # Below the gateway's per-client limit (20/s): 429s would hide answers.
        "--rate-limit", "15/s",
        "--request-timeout", "10",
        "--seed", "7",
        "--report", "ndjson",
        "--report-ndjson-path", os.path.join(report_dir, f"{role}.ndjson"),
    ]
    print(f"== fuzzing as {role}", flush=True)
    return subprocess.run(command).returncode


def statuses(path):
    """Per operation, every status code the run saw."""
    seen = collections.defaultdict(set)
    with open(path) as events:
        for line in events:
            find_interactions(json.loads(line), seen)
    return seen


def find_interactions(node, seen):
    if isinstance(node, dict):
        if "request" in node and "response" in node and isinstance(node.get("response"), dict):
            request, response = node["request"], node["response"]
            if "status_code" in response and "method" in request:
                seen[(request["method"], normalise(request.get("uri", "")))].add(response["status_code"])
        for value in node.values():
            find_interactions(value, seen)
    elif isinstance(node, list):
        for value in node:
            find_interactions(value, seen)


def normalise(uri):
    return uri.split("?")[0].replace(BASE, "")


def main():
    # Checked first: a missing fuzzer should not cost a registered user.
    fuzzer = schemathesis()
    with urllib.request.urlopen(f"{BASE}/api/openapi.json", timeout=10) as response:
        document = json.loads(response.read())
    operations = [(method.upper(), path) for path, item in document["paths"].items() for method in item
                  if method in ("get", "post", "put", "patch", "delete") and not path.endswith("/stream")]
    print(f"{len(operations)} operations in the public document")
    print(f"fuzz: this deletes users (the seed admin too) and changes data at {BASE}; "
          "run it only against a system whose data you can lose (docs/running.md)")

    report_dir = tempfile.mkdtemp(prefix="switchyard-fuzz-")
    failed = False
    seen = collections.defaultdict(set)
    for role, token in tokens().items():
        failed |= run(fuzzer, role, token, report_dir) != 0
        for key, codes in statuses(os.path.join(report_dir, f"{role}.ndjson")).items():
            seen[key] |= codes

    server_errors = {k: sorted(c) for k, c in seen.items() if any(code >= 500 for code in c)}
    unreached = []
    for method, template in operations:
        codes = set()
        for (m, uri), c in seen.items():
            if m == method and matches(template, uri):
                codes |= c
        if not codes - {401, 403, 429}:
            unreached.append((method, template, sorted(codes)))
        else:
            print(f"   {method:6} {template:40} {sorted(codes)}")
    if server_errors:
        print(f"5xx answers: {server_errors}")
    for method, template, codes in unreached:
        print(f"never answered beyond 401/403/429: {method} {template} {codes}")
    if failed or server_errors or unreached:
        sys.exit(1)
    print("fuzzing passed: no 5xx, every operation answered as customer or admin")


def matches(template, uri):
    parts, actual = template.strip("/").split("/"), uri.strip("/").split("/")
    if len(parts) != len(actual):
        return False
    return all(p.startswith("{") or p == a for p, a in zip(parts, actual))


if __name__ == "__main__":
    main()

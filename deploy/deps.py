#!/usr/bin/env python3
"""`just deps` (and the first step of `just test`): finds PostgreSQL,
RabbitMQ and a Kafka-protocol broker where the tests look for them, and
starts from deploy/compose/deps.yml only those it cannot reach, when a
Docker engine answers. It never stops anything.

Where it looks (host:port), each overridable:
  PostgreSQL   DEPS_POSTGRES, else TEST_DATABASE_URL's host and port, else 127.0.0.1:5432
  RabbitMQ     DEPS_RABBITMQ, else 127.0.0.1:5672
  Kafka        DEPS_KAFKA, else KAFKA_BROKERS' first address, else 127.0.0.1:19092

PostgreSQL and RabbitMQ are required: without them and without an engine
it exits 1 naming what to install. Kafka is optional (its tests skip) and
required only with CI set, as the tests themselves treat it.

Usage: deploy/deps.py       (standard library only; no .venv needed)
"""
import os
import socket
import subprocess
import sys
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEPS_FILE = "deploy/compose/deps.yml"
# How long a started container may take to answer on its port.
START_TIMEOUT_SECS = 120


class Dependency:
    def __init__(self, service, title, address, required, install):
        self.service, self.title, self.address, self.required, self.install = (
            service, title, address, required, install)

    @property
    def host_port(self):
        host, _, port = self.address.rpartition(":")
        return host.strip("[]"), int(port)


def dependencies(env):
    database = urllib.parse.urlsplit(env.get("TEST_DATABASE_URL") or "postgres://postgres@127.0.0.1:5432")
    kafka = (env.get("KAFKA_BROKERS") or "127.0.0.1:19092").split(",")[0].strip()
    return [
        Dependency("postgres", "PostgreSQL",
                   env.get("DEPS_POSTGRES") or f"{database.hostname or '127.0.0.1'}:{database.port or 5432}", True,
                   "PostgreSQL, with a `postgres` role the machine trusts on 127.0.0.1"),
        Dependency("rabbitmq", "RabbitMQ", env.get("DEPS_RABBITMQ") or "127.0.0.1:5672", True,
                   "RabbitMQ, with its `guest` user and `rabbitmqctl`"),
        Dependency("kafka", "a Kafka-protocol broker", env.get("DEPS_KAFKA") or kafka, bool(env.get("CI")),
                   "a Kafka-protocol broker: `just kafka` installs and starts tansu"),
    ]


def reachable(dependency, timeout=1.0):
    try:
        with socket.create_connection(dependency.host_port, timeout=timeout):
            return True
    except OSError:
        return False


def engine(env):
    """Whether `docker info` answers: a Docker engine this user may use."""
    try:
        return subprocess.run(["docker", "info"], capture_output=True, env=env, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def start(missing, env):
    """`docker compose up --wait` for the missing ones, published on the
    ports they were looked for at."""
    compose_env = dict(env)
    for dependency in missing:
        compose_env[f"DEPS_{dependency.service.upper()}_PORT"] = str(dependency.host_port[1])
    services = [d.service for d in missing]
    if any(d.service == "postgres" for d in missing):
        services.append("db-init")
    command = ["docker", "compose", "-f", os.path.join(ROOT, DEPS_FILE), "up", "-d", "--wait", *services]
    print("deps: $ " + " ".join(["docker", "compose", "-f", DEPS_FILE] + command[4:]))
    return subprocess.run(command, env=compose_env).returncode == 0


def wait_for(dependencies_, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(reachable(d) for d in dependencies_):
            return True
        time.sleep(1)
    return False


def main(env=os.environ):
    found = dependencies(env)
    missing = [d for d in found if not reachable(d)]
    for d in found:
        print(f"deps: {d.title} at {d.address}: " + ("not reachable" if d in missing else "reachable"))
    if not missing:
        return 0
    if engine(env):
        if not start(missing, env) or not wait_for(missing, START_TIMEOUT_SECS):
            print(f"deps: {DEPS_FILE} did not bring up " + ", ".join(d.title for d in missing), file=sys.stderr)
            return 1
        print("deps: started from " + DEPS_FILE + ": " + ", ".join(d.title for d in missing)
              + " (stop them with `docker compose -f " + DEPS_FILE + " down`)")
        return 0
    required = [d for d in missing if d.required]
    optional = [d for d in missing if not d.required]
    for d in optional:
        print(f"deps: {d.title} is optional: its tests skip without it ({d.install})")
    if not required:
        return 0
    print("deps: cannot run the tests: " + ", ".join(f"{d.title} at {d.address}" for d in required)
          + " not reachable, and no Docker engine answers `docker info` to start them from " + DEPS_FILE + ".\n"
          + "Install either Docker Engine with Compose v2 (then `just deps` starts them), or natively:\n"
          + "\n".join(f"  - {d.install}" for d in required), file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())

"""`just deps` (deploy/deps.py) with the ports it probes pointed at closed
ports on this machine (the shared PostgreSQL and RabbitMQ are never
stopped) and a fake `docker` first on PATH that records its arguments:
exactly the missing services are started from deploy/compose/deps.yml;
without a working engine it exits 1 naming what to install; with
everything reachable it never calls docker. `just test` runs this file."""
import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "deploy", "deps.py")

# Records each call; `info` answers as FAKE_DOCKER_INFO says; `compose up`
# listens, for a while, on each port deps.py asked it to publish, as the
# started containers would.
FAKE_DOCKER = textwrap.dedent("""\
    #!/bin/sh
    echo "$*" >>"$DOCKER_LOG"
    case "$1" in
      info) exit "${FAKE_DOCKER_INFO:-0}" ;;
      compose)
        for port in "$DEPS_POSTGRES_PORT" "$DEPS_RABBITMQ_PORT" "$DEPS_KAFKA_PORT"; do
          [ -n "$port" ] || continue
          python3 -c 'import socket, sys, time
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8); time.sleep(15)' "$port" >/dev/null 2>&1 &
        done
        exit 0 ;;
    esac
    exit 1
    """)


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Deps(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="switchyard-deps-")
        self.log = os.path.join(self.tmp, "docker.log")
        bin_dir = os.path.join(self.tmp, "bin")
        os.mkdir(bin_dir)
        with open(os.path.join(bin_dir, "docker"), "w") as f:
            f.write(FAKE_DOCKER)
        os.chmod(os.path.join(bin_dir, "docker"), 0o755)
        self.path = bin_dir + os.pathsep + os.environ["PATH"]
        self.listeners = []
        self.ports = {name: closed_port() for name in ("POSTGRES", "RABBITMQ", "KAFKA")}

    def tearDown(self):
        for listener in self.listeners:
            listener.close()
        subprocess.run(["rm", "-rf", self.tmp])

    def listen(self, name):
        """Something answering where NAME is looked for."""
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.ports[name]))
        s.listen(8)
        self.listeners.append(s)

    def deps(self, **extra):
        env = {k: v for k, v in os.environ.items() if k not in ("CI", "TEST_DATABASE_URL", "KAFKA_BROKERS")}
        env.update(PATH=self.path, DOCKER_LOG=self.log, **extra)
        env.update({f"DEPS_{name}": f"127.0.0.1:{port}" for name, port in self.ports.items()})
        return subprocess.run([sys.executable, SCRIPT], capture_output=True, text=True, env=env, timeout=120)

    def docker_calls(self):
        if not os.path.exists(self.log):
            return []
        with open(self.log) as f:
            return f.read().splitlines()

    def test_only_the_missing_services_are_started_from_the_deps_file(self):
        self.listen("KAFKA")
        result = self.deps()
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        calls = self.docker_calls()
        self.assertEqual(calls[0], "info")
        self.assertEqual(len(calls), 2, calls)
        words = calls[1].split()
        self.assertEqual(words[:3], ["compose", "-f", os.path.join(ROOT, "deploy", "compose", "deps.yml")])
        self.assertEqual(words[3:6], ["up", "-d", "--wait"])
        self.assertEqual(sorted(words[6:]), ["db-init", "postgres", "rabbitmq"], "kafka answered: not started")
        self.assertIn("started from deploy/compose/deps.yml", result.stdout)

    def test_without_a_working_engine_it_fails_naming_what_to_install(self):
        result = self.deps(FAKE_DOCKER_INFO="1")
        self.assertEqual(result.returncode, 1)
        self.assertEqual(self.docker_calls(), ["info"], "no compose call without an engine")
        for words in ("Docker Engine with Compose v2", "PostgreSQL", "RabbitMQ", "just kafka"):
            self.assertIn(words, result.stdout + result.stderr)

    def test_kafka_alone_missing_is_reported_and_fatal_only_with_ci_set(self):
        self.listen("POSTGRES")
        self.listen("RABBITMQ")
        result = self.deps(FAKE_DOCKER_INFO="1")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("optional", result.stdout)
        self.assertEqual(self.deps(FAKE_DOCKER_INFO="1", CI="true").returncode, 1)

    def test_with_everything_reachable_docker_is_never_called(self):
        for name in self.ports:
            self.listen(name)
        result = self.deps()
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(self.docker_calls(), [])
        self.assertEqual(result.stdout.count("reachable"), 3)


if __name__ == "__main__":
    unittest.main()

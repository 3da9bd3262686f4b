#!/usr/bin/env python3
"""`just drill`: the chaos drill against a running `just dev` (its fault
proxy on), as CI runs it after the demo (docs/patterns/breaking-it.md).

Orders are placed continuously through the gateway by customers of the
drill's own, for a product of its own, while it breaks the system with
`just break`'s actions (deploy/faults.py):

1. pauses inventory 3 s: direct calls to it time out, then are served;
2. cuts the broker link 10 s: readiness turns degraded; late in the cut it
   SIGKILLs order, then inventory (orders placed during the cut are still
   PENDING at each kill: counted in order's database once order is dead,
   and the drill fails if none is), and both come back with new pids;
3. slows every call into inventory by 300 ms for a few seconds: the
   gateway's request durations for the product route grow by that much,
   and so do its spans, with `--otlp`, while inventory's own spans stay
   short (the time is lost between them);
4. publishes one poison event with the operator's broker credential.

Then it stops placing orders and checks: every order placed is CONFIRMED,
REJECTED or CANCELLED, none EXPIRED; every order the API acknowledged
exists; stock is conserved (initial = remaining + confirmed quantities); no
customer has a duplicate notification and every settled order has its one;
the poison event waits in inventory's dead-letter queue with its reason; a
RabbitMQ connection opened beside the dev system (not through its proxy)
survived the cut. It prints orders by final state, the time to settle and
what was dead-lettered, and fails past three minutes.

Usage: deploy/drill.py [gateway-url] [--otlp HOST:PORT]
  gateway-url  default http://localhost:8080
  --otlp       receive the services' spans on HOST:PORT (deploy/otlpsink.py;
               start `just dev` with OTEL_EXPORTER_OTLP_ENDPOINT=http://HOST:PORT)
               and check the slowed calls in them
"""
import argparse
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

import faults
import jsoncall
import otlpsink
import seed_admin

BASE = "http://localhost:8080"
LIMIT_SECS = 180
STOCK = 40
SLOW_MS = 300
CUSTOMERS = 4
SETTLED = ("CONFIRMED", "REJECTED", "CANCELLED")
STARTED = time.monotonic()


class DrillFailed(Exception):
    pass


def elapsed():
    return time.monotonic() - STARTED


def say(message):
    print(f"[{elapsed():6.1f} s] {message}", flush=True)


def check(condition, message):
    if not condition:
        raise DrillFailed(message)
    say(f"ok: {message}")


def call(method, path, body=None, token=None, key=None, timeout=10):
    """(status, payload); status 0 when no answer came."""
    return jsoncall.send(BASE + path, method, body, token, {"Idempotency-Key": key} if key else None, timeout)


def expect(method, path, body=None, token=None, ok=(200, 201)):
    status, payload = call(method, path, body, token)
    if status not in ok:
        raise DrillFailed(f"{method} {path} answered {status}: {payload}")
    return payload


def sql(database, query):
    """Rows of QUERY on the dev system's DATABASE, as lists of strings."""
    out = subprocess.run(["psql", "-h", os.environ.get("PGHOST", "127.0.0.1"), "-U", os.environ.get("PGUSER", "postgres"),
                          "-d", database, "-AtF", "\t", "-c", query], check=True, capture_output=True, text=True)
    return [line.split("\t") for line in out.stdout.splitlines() if line]


def id_list(ids):
    return ",".join(f"'{uuid.UUID(i)}'" for i in ids)  # UUIDs only: nothing to quote


class Placer(threading.Thread):
    """Places an order every 0.2 s, round-robin over the customers, until
    stopped; keeps the ids the API acknowledged and the refusals."""

    def __init__(self, customers, sku):
        super().__init__(daemon=True)
        self.customers, self.sku = customers, sku
        self.placed, self.refused = [], {}
        self.stopping = threading.Event()

    def run(self):
        turn = 0
        while not self.stopping.is_set():
            token = self.customers[turn % len(self.customers)]["token"]
            turn += 1
            lines = [{"sku": self.sku, "quantity": random.randint(1, 3)}]
            status, payload = call("POST", "/api/orders", {"lines": lines}, token, key=str(uuid.uuid4()), timeout=5)
            if status in (200, 201):
                self.placed.append((time.monotonic(), payload["id"]))
            else:
                self.refused[status] = self.refused.get(status, 0) + 1
            self.stopping.wait(0.2)

    def stop(self):
        self.stopping.set()
        self.join()


def setup():
    email, password = seed_admin.credentials()
    admin = expect("POST", "/api/auth/login", {"email": email, "password": password})["access_token"]
    sku = f"DRILL-{uuid.uuid4().hex[:8].upper()}"
    expect("POST", "/api/products", {"sku": sku, "name": "Drill anvil", "price": 100, "stock": STOCK}, admin)
    customers = []
    for n in range(CUSTOMERS):
        address = f"drill-{uuid.uuid4().hex[:8]}-{n}@example.com"
        user = expect("POST", "/api/auth/register", {"email": address, "name": f"Drill {n}", "password": "drill-password"})
        token = expect("POST", "/api/auth/login", {"email": address, "password": "drill-password"})["access_token"]
        customers.append({"id": user["id"], "token": token})
    say(f"product {sku} with {STOCK} in stock; {CUSTOMERS} customers")
    return sku, customers


def bystander():
    """A broker connection of its own, straight to RabbitMQ: the cut must
    spare it."""
    import pika

    parameters = faults.operator_parameters()
    parameters.heartbeat = 0  # idle through the drill without pumping heartbeats
    connection = pika.BlockingConnection(parameters)
    return connection, connection.channel()


def direct_probe(name, timeout):
    """Whether NAME's /health/live answered within TIMEOUT, called directly."""
    port = faults.listed()[name]["http_port"]
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/live", timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def pause_inventory():
    pauser = threading.Thread(target=faults.pause, args=("inventory", 3), daemon=True)
    pauser.start()
    time.sleep(0.5)
    check(not direct_probe("inventory", 1.0), "a call into the paused inventory timed out")
    pauser.join()
    check(direct_probe("inventory", 2.0), "inventory answered again after SIGCONT")


def pending(customers):
    return int(sql("orders", f"SELECT count(*) FROM orders WHERE status = 'PENDING' "
                             f"AND customer_id IN ({id_list(c['id'] for c in customers)})")[0][0])


def readiness(name):
    port = faults.listed()[name]["http_port"]
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=2) as response:
            return json.loads(response.read()).get("status")
    except (urllib.error.URLError, OSError, ValueError):
        return None


def restart(name, back):
    """faults.kill, its outcome (or why it failed) appended to BACK."""
    try:
        back.append(faults.kill(name))
    except faults.Refused as refused:
        back.append(str(refused))


def cut_and_kill(customers):
    """Cuts the broker link, and kills order and inventory while it is cut."""
    faults.cut_broker(10)
    cut_at = time.monotonic()
    deadline = cut_at + 5
    while readiness("order") != "degraded" and time.monotonic() < deadline:
        time.sleep(0.2)
    check(readiness("order") == "degraded", "order's /health/ready answered 200 \"degraded\" during the cut")
    # Late in the cut: a service starting while RabbitMQ is unreachable
    # gives up after 10 s (comms' RabbitBroker::connect), so each must
    # restart with the link back within that.
    waiters, back = [], []
    for name, at in (("order", 5), ("inventory", 7)):
        time.sleep(max(0.0, cut_at + at - time.monotonic()))
        old = faults.pid_of(name)
        waiter = threading.Thread(target=restart, args=(name, back), daemon=True)
        waiter.start()
        waiters.append(waiter)
        time.sleep(0.3)
        # Counted once order is dead: only order settles an order, so the
        # count is what was in flight at the kill (placed during the cut,
        # its order.placed still in order's outbox).
        in_flight = pending(customers)
        say(f"SIGKILLed {name} (pid {old}) with {in_flight} order(s) PENDING")
        check(in_flight > 0, f"at least one order was PENDING when {name} was killed")
    for waiter in waiters:
        waiter.join(faults.READY_SECS + 5)
    check(len(back) == 2 and all(isinstance(b, tuple) and b[0] != b[1] for b in back),
          "order and inventory came back with new pids and answer ready: "
          + ", ".join(b if isinstance(b, str) else "%d -> %d in %.1f s" % b for b in back))
    return cut_at, cut_at + 10


def settled_in_time(placer, cut):
    """Waits until every order placed during the cut has settled, and says
    how long after the link came back that took."""
    during = [i for at, i in placer.placed if cut[0] <= at < cut[1]]
    check(during, f"{len(during)} orders were placed during the cut")
    while True:
        waiting = int(sql("orders", f"SELECT count(*) FROM orders WHERE status = 'PENDING' AND id IN ({id_list(during)})")[0][0])
        if waiting == 0:
            break
        if elapsed() > LIMIT_SECS:
            raise DrillFailed(f"{waiting} order(s) placed during the cut still PENDING at {LIMIT_SECS} s")
        time.sleep(0.2)
    say(f"ok: the orders placed during the cut settled {time.monotonic() - cut[1]:.1f} s after the link came back")


def product_latency(sku, samples=5):
    took = []
    for _ in range(samples):
        started = time.monotonic()
        expect("GET", f"/api/products/{sku}")
        took.append(time.monotonic() - started)
    return sorted(took)[samples // 2]


def gateway_product_durations():
    """(sum, count) of the gateway's own http_server_request_duration_seconds
    for GET /api/products/{*rest} answered 200, from its metrics port."""
    port = faults.listed()["gateway"]["metrics_port"]
    totals = {"sum": 0.0, "count": 0.0}
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        for line in response.read().decode().splitlines():
            for kind in totals:
                if (line.startswith(f"http_server_request_duration_seconds_{kind}{{")
                        and 'method="GET"' in line and 'route="/api/products/{*rest}"' in line and 'status="200"' in line):
                    totals[kind] += float(line.rsplit(" ", 1)[1])
    return totals["sum"], totals["count"]


def slow_inventory(sku, sink):
    started = time.time_ns()
    before = product_latency(sku)
    faults.slow("inventory", SLOW_MS)
    try:
        slowed = time.time_ns()
        sum_before, count_before = gateway_product_durations()
        during = product_latency(sku)
        sum_after, count_after = gateway_product_durations()
        ended = time.time_ns()
    finally:
        faults.slow("inventory", 0)
    measured = (sum_after - sum_before) / max(count_after - count_before, 1)
    say(f"GET /api/products/{{sku}} through the gateway: median {before * 1000:.0f} ms, "
        f"{during * 1000:.0f} ms while inventory was slowed by {SLOW_MS} ms; "
        f"the gateway measured {measured * 1000:.0f} ms on average")
    check(during - before >= SLOW_MS / 1000 * 0.8, "the added latency showed in the client's request durations")
    check(measured >= SLOW_MS / 1000 * 0.8, "and in the gateway's (the caller's) http_server_request_duration_seconds")
    if sink is None:
        say("traces not checked: run with --otlp for that")
        return
    traced_slowdown(sink, (started, slowed), (slowed, ended))


def traced_slowdown(sink, before, during):
    """The gateway's spans of the product route, before and while inventory
    was slowed, and inventory's spans under the slowed ones."""
    def gateway_spans(window):
        return sink.matching(lambda s: s.service == "gateway" and s.name == "GET /api/products/{*rest}"
                             and window[0] <= s.start_ns < window[1])
    deadline = time.monotonic() + 10  # spans leave in batches, every 2 s
    while len(gateway_spans(during)) < 5 and time.monotonic() < deadline:
        time.sleep(0.5)
    quick, slowed = gateway_spans(before), gateway_spans(during)
    check(len(quick) >= 5 and len(slowed) >= 5,
          f"the gateway's spans reached the OTLP receiver ({len(quick)} before, {len(slowed)} slowed)")
    ids = {s.span_id for s in slowed}
    children = sink.matching(lambda s: s.service == "inventory" and s.parent_id in ids)
    median = sorted(s.seconds for s in slowed)[len(slowed) // 2]
    inside = max((s.seconds for s in children), default=0.0)
    say(f"traces: the gateway's span of the route {sorted(s.seconds for s in quick)[len(quick) // 2] * 1000:.0f} ms "
        f"before, {median * 1000:.0f} ms slowed; inventory's own spans under them at most {inside * 1000:.0f} ms")
    check(median >= SLOW_MS / 1000 * 0.8, "the added latency showed in the gateway's spans")
    check(children and inside < SLOW_MS / 1000 / 2,
          "while inventory's spans in the same traces stayed short: the time was lost on the link")


def settle(customers):
    """Waits until no order of the drill's customers is PENDING; returns the
    seconds it took."""
    started = time.monotonic()
    while pending(customers) > 0:
        if elapsed() > LIMIT_SECS:
            raise DrillFailed(f"{pending(customers)} order(s) still PENDING at {LIMIT_SECS} s")
        time.sleep(0.5)
    return time.monotonic() - started


def verify(sku, customers, placed):
    ids = id_list(c["id"] for c in customers)
    states = dict((s, int(n)) for s, n in sql("orders", f"SELECT status, count(*) FROM orders WHERE customer_id IN ({ids}) GROUP BY status"))
    say("orders by final state: " + ", ".join(f"{s} {n}" for s, n in sorted(states.items())))
    check(set(states) <= set(SETTLED), "every order is CONFIRMED, REJECTED or CANCELLED (none PENDING or EXPIRED)")
    known = {row[0] for row in sql("orders", f"SELECT id FROM orders WHERE customer_id IN ({ids})")}
    check(set(placed) <= known, f"all {len(placed)} orders the API acknowledged exist")
    confirmed = int(sql("orders", "SELECT coalesce(sum(l.quantity), 0) FROM order_lines l JOIN orders o ON o.id = l.order_id "
                                  f"WHERE o.status = 'CONFIRMED' AND l.sku = '{sku}'")[0][0])
    remaining = expect("GET", f"/api/products/{sku}")["stock"]
    check(STOCK == remaining + confirmed, f"stock conserved: {STOCK} = {remaining} remaining + {confirmed} confirmed")

    settled = sum(states.values())
    deadline = time.monotonic() + 30

    def notes():
        return sql("notifications", "SELECT user_id, event_type, subject, count(*) FROM notifications "
                                    f"WHERE user_id IN ({ids}) AND event_type LIKE 'order.%' GROUP BY 1, 2, 3")
    while sum(int(n) for *_, n in notes()) < settled and time.monotonic() < deadline:
        time.sleep(0.5)
    rows = notes()
    duplicates = [row for row in rows if int(row[3]) > 1]
    check(not duplicates, f"no customer has a duplicate notification ({duplicates[:3]})")
    check(len(rows) == settled, f"one notification per settled order ({len(rows)} for {settled})")
    return states


def overdue(_signal, _frame):
    raise DrillFailed(f"still running at {LIMIT_SECS} s")


def main():
    global BASE
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", nargs="?", default=BASE)
    parser.add_argument("--otlp", metavar="HOST:PORT")
    args = parser.parse_args()
    BASE = args.url.rstrip("/")
    sink = otlpsink.Sink(args.otlp) if args.otlp else None
    # Stops itself: a drill that hangs fails at the limit instead of
    # holding CI until its own timeout.
    signal.signal(signal.SIGALRM, overdue)
    signal.alarm(LIMIT_SECS)
    say(f"chaos drill against {BASE}" + (f", spans received on {args.otlp}" if sink else ""))
    faults.proxy("/", method="GET")  # refuses clearly without `just dev`'s fault proxy
    sku, customers = setup()
    connection, channel = bystander()
    placer = Placer(customers, sku)
    placer.start()
    time.sleep(3)

    say("1. pause inventory 3 s")
    pause_inventory()
    say("2. cut the broker link 10 s; SIGKILL order, then inventory, during it")
    cut = cut_and_kill(customers)
    settled_in_time(placer, cut)
    say("3. slow inventory by 300 ms")
    slow_inventory(sku, sink)
    say("4. a poison event")
    poison = faults.poison()
    time.sleep(3)
    placer.stop()
    say(f"placed {len(placer.placed)} orders; refusals by status: {placer.refused or 'none'}")

    took = settle(customers)
    say(f"every order settled {took:.1f} s after the last was placed")
    verify(sku, customers, [i for _, i in placer.placed])

    deadline = time.monotonic() + 20
    letters = []
    while time.monotonic() < deadline and not any(letter["id"] == poison for letter in letters):
        letters = faults.dead_letters("inventory")
        time.sleep(0.5)
    found = [letter for letter in letters if letter["id"] == poison]
    check(found and found[0]["reason"], f"the poison event is in inventory's dead-letter queue: {found[0]['reason'] if found else '-'}")
    say(f"dead-lettered: {len(letters)} message(s) wait in inventory's dead-letter queue "
        "(`just dlq list`; `just dlq purge inventory` drops them)")

    channel.queue_declare(queue="", exclusive=True)
    check(connection.is_open, "the RabbitMQ connection beside the dev system survived the cut")
    connection.close()
    check(elapsed() <= LIMIT_SECS, f"the drill finished within {LIMIT_SECS} s")
    say("drill passed")


if __name__ == "__main__":
    try:
        main()
    except (DrillFailed, faults.Refused) as failure:
        print(f"\nDRILL FAILED at {elapsed():.1f} s: {failure}", file=sys.stderr)
        sys.exit(1)

#!/usr/bin/env python3
"""Against `just dev` running a service that `just new-service NAME --grpc
--publishes NAME.item_created --consumes user.registered` wrote, through
the gateway and the service's own gRPC port, the four things CI checks:

  (a) a POST to its resource with a customer token writes a row, and its
      event leaves the outbox as published;
  (b) after a registration through the gateway, its consumer has recorded
      that user.registered exactly once;
  (c) analytics counts the new event type;
  (d) its gRPC method answers, found through server reflection alone;
  (e) its metrics port (from the service list) serves /metrics, and its
      public HTTP port answers /metrics with 404;
  (f) the operator's tools know it from the service list: a poison event
      sent to its queue (`just break poison --to NAME`) is dead-lettered,
      `just dlq list NAME` shows it with its reason and its
      dead_letters_waiting gauge counts it; `just break kill NAME#2` (CI
      starts it as `just dev NAME=2`: the generator makes it scalable) gets
      a new process for its second instance, on that instance's own port,
      ready again.

Usage: tools/python/run .ci/check-generated-service.py NAME GRPC_PORT [gateway-url]
"""
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import grpc
from google.protobuf import descriptor_pool, message_factory
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "deploy"))
import faults  # noqa: E402 (deploy/faults.py, `just break`)
import seed_admin  # noqa: E402 (deploy/seed_admin.py)
import services  # noqa: E402 (deploy/services.py, the service list)

NAME, GRPC_PORT = sys.argv[1], int(sys.argv[2])
BASE = (sys.argv[3] if len(sys.argv) > 3 else "http://localhost:8080").rstrip("/")
DEADLINE = 30


def call(method, path, body=None, token=None, expect=(200, 201)):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(BASE + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, text, headers = response.status, response.read().decode(), response.headers
    except urllib.error.HTTPError as error:
        status, text, headers = error.code, error.read().decode(), error.headers
    if status not in expect:
        sys.exit(f"{method} {path} answered {status}: {text}")
    return json.loads(text) if text else None, headers


def sql(query):
    """One value from the service's own database."""
    return subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", NAME, "-Atc", query],
                          capture_output=True, text=True, check=True).stdout.strip()


def eventually(what, probe, timeout=DEADLINE):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.3)
    sys.exit(f"timed out after {timeout} s waiting until {what}")


def register():
    email = f"generated-{uuid.uuid4().hex[:12]}@example.com"
    user, _ = call("POST", "/api/auth/register", {"email": email, "name": "Generated Check", "password": "check-password"})
    token = call("POST", "/api/auth/login", {"email": email, "password": "check-password"})[0]["access_token"]
    return user["id"], token


def main():
    user_id, token = register()

    # (a) The row, then its event published by the relay.
    item, headers = call("POST", f"/api/{NAME}/items", {"name": "first item"}, token=token, expect=(201,))
    if sql(f"SELECT count(*) FROM items WHERE id = '{item['id']}'") != "1":
        sys.exit(f"(a) no row for item {item['id']} in the {NAME} database")
    eventually(f"(a) the outbox has published {NAME}.item_created for {item['id']}", lambda: sql(
        f"SELECT count(*) FROM comms_outbox WHERE event_type = '{NAME}.item_created' "
        f"AND envelope->'data'->>'item_id' = '{item['id']}' AND published_at IS NOT NULL") == "1")
    print(f"(a) POST {headers['Location']}: a row, and {NAME}.item_created published from the outbox")

    # (b) Exactly once: once recorded, a redelivery would add a second row.
    def recorded():
        return sql(f"SELECT count(*) FROM received WHERE event_type = 'user.registered' AND subject = '{user_id}'")
    eventually(f"(b) {NAME} records user.registered for {user_id}", lambda: recorded() != "0")
    time.sleep(1)
    if recorded() != "1":
        sys.exit(f"(b) user.registered for {user_id} recorded {recorded()} times, not once")
    print(f"(b) its consumer recorded user.registered for {user_id} once")

    # (c) Analytics' per-minute series of the new type.
    email, password = seed_admin.credentials()
    admin = call("POST", "/api/auth/login", {"email": email, "password": password})[0]["access_token"]

    def counted():
        series, _ = call("GET", f"/api/analytics/series?metric={NAME}.item_created&minutes=10", token=admin)
        return sum(point["events"] for point in series["points"]) >= 1
    eventually(f"(c) analytics counts {NAME}.item_created", counted)
    print(f"(c) analytics counts {NAME}.item_created")

    # (d) Nothing compiled in: the service and its messages come from reflection.
    channel = grpc.insecure_channel(f"127.0.0.1:{GRPC_PORT}")
    pool = descriptor_pool.DescriptorPool(ProtoReflectionDescriptorDatabase(channel))
    service = pool.FindServiceByName(f"{NAME}.v1.{NAME.capitalize()}Service")
    method = service.FindMethodByName("GetItem")
    request_type = message_factory.GetMessageClass(method.input_type)
    response_type = message_factory.GetMessageClass(method.output_type)
    get_item = channel.unary_unary(f"/{service.full_name}/{method.name}",
                                   request_serializer=request_type.SerializeToString,
                                   response_deserializer=response_type.FromString)
    # Reflection is open; the method is not: without a token it is refused,
    # with an admin's (its access table's choice) it answers.
    try:
        get_item(request_type(id=item["id"]), timeout=10)
        sys.exit("(d) GetItem answered a call without a token")
    except grpc.RpcError as refused:
        if refused.code() != grpc.StatusCode.UNAUTHENTICATED:
            sys.exit(f"(d) GetItem without a token: {refused.code()}, not UNAUTHENTICATED")
    answer = get_item(request_type(id=item["id"]), timeout=10, metadata=[("authorization", f"Bearer {admin}")])
    if answer.id != item["id"] or answer.name != "first item":
        sys.exit(f"(d) GetItem answered {answer}")
    print(f"(d) {service.full_name}/GetItem, found through reflection, refused without a token, "
          f"answered {answer.id} to an admin")

    # (e) The generator gave it a metrics port; only that port serves them.
    entry = next(s for s in services.load() if s["name"] == NAME)
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{entry['http_port']}/metrics", timeout=10)
        sys.exit(f"(e) /metrics answered on the public port {entry['http_port']}")
    except urllib.error.HTTPError as error:
        if error.code != 404:
            sys.exit(f"(e) /metrics on the public port answered {error.code}, not 404")
    with urllib.request.urlopen(f"http://127.0.0.1:{entry['metrics_port']}/metrics", timeout=10) as response:
        if b"# TYPE" not in response.read():
            sys.exit(f"(e) port {entry['metrics_port']} serves no Prometheus metrics")
    print(f"(e) /metrics on its metrics port {entry['metrics_port']}, 404 on its public port")

    # (f) Dead letters and `just break`, from the service list alone.
    poison = faults.poison("user.registered", to=NAME)
    eventually(f"(f) `dlq list {NAME}` shows the poison event {poison} with a reason", lambda: any(
        letter["id"] == poison and letter["reason"] for letter in faults.dead_letters(NAME)))

    def gauge():
        with urllib.request.urlopen(f"http://127.0.0.1:{entry['metrics_port']}/metrics", timeout=10) as response:
            for line in response.read().decode().splitlines():
                if line.startswith("dead_letters_waiting{") and f'subscription="{NAME}"' in line:
                    return float(line.rsplit(" ", 1)[1])
        return 0.0
    # The gauge is refreshed every BROKER_DEAD_LETTER_CHECK_SECS (15 s by default).
    eventually("(f) its dead_letters_waiting gauge counts the poison event", lambda: gauge() >= 1, timeout=40)
    old, new, took = faults.kill(f"{NAME}#2")
    print(f"(f) poison dead-lettered and listed by `dlq list {NAME}`, counted by its gauge; "
          f"`just break kill {NAME}#2`: pid {old} -> {new}, ready in {took:.1f} s")


if __name__ == "__main__":
    main()

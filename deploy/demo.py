#!/usr/bin/env python3
"""`just demo`: a scripted walk through the main flow against a running system
(`just dev` or `just up`), through the gateway only, printing each step.

Register a customer, log in as the seeded admin, create a product, place an
order and watch it go CONFIRMED, read the customer's notifications and the
analytics summary, place an order that must be REJECTED, cancel one and watch
the stock come back. Exits non-zero at the first step that goes wrong.

Usage: deploy/demo.py [gateway-url]   (default http://localhost:8080)
"""
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import jsoncall
import seed_admin

BASE = (sys.argv[1] if len(sys.argv) > 1 else "http://localhost:8080").rstrip("/")
# Where the printed trace link points: compose's Jaeger UI (`just up`).
# Under `just dev`, set JAEGER_UI to the UI of the Jaeger that
# OTEL_EXPORTER_OTLP_ENDPOINT sends the spans to.
JAEGER = os.environ.get("JAEGER_UI", "http://localhost:16686").rstrip("/")


def call(method, path, body=None, token=None, headers=None, expect=(200, 201)):
    status, payload = jsoncall.send(BASE + path, method, body, token, headers)
    if status == 0:
        fail(f"{method} {path}: {payload}")
    if status not in expect:
        fail(f"{method} {path} answered {status}: {json.dumps(payload) if isinstance(payload, (dict, list)) else payload}")
    return payload


def step(title):
    print(f"\n== {title}")


def show(label, value):
    print(f"   {label}: {json.dumps(value, sort_keys=True)}")


class DemoFailed(Exception):
    pass


def fail(message):
    raise DemoFailed(message)


def wait_until(what, probe, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value is not None:
            return value
        time.sleep(0.3)
    fail(f"timed out waiting for {what}")


def wait_for_gateway():
    def ready():
        try:
            with urllib.request.urlopen(BASE + "/health/ready", timeout=2) as response:
                return True if response.status == 200 else None
        except (urllib.error.URLError, OSError):
            return None

    wait_until("the gateway", ready, timeout=120)

    def answering():
        # A login that cannot succeed: 401 is the user service answering,
        # 502/503 the gateway still without it.
        try:
            call("GET", "/api/products")
            call("POST", "/api/auth/login", {"email": "nobody@example.com", "password": "not-a-password"},
                 expect=(401,))
            return True
        except DemoFailed:
            return None

    # The gateway may be up before the services behind it (the user service
    # hashes the seed admin's password before it listens).
    wait_until("the services behind the gateway", answering, timeout=120)


def order_status(order_id, token, wanted):
    order = call("GET", f"/api/orders/{order_id}", token=token)
    return order if order["status"] == wanted else None


def place(token, lines, request_id=None):
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    if request_id:
        headers["X-Request-ID"] = request_id
    return call("POST", "/api/orders", {"lines": lines}, token=token, headers=headers)


def jaeger_search(request_id):
    """Jaeger's search for the gateway span carrying REQUEST_ID: the
    gateway starts the trace itself (a client cannot choose its id), and
    records the request id on its span."""
    tags = urllib.parse.quote(json.dumps({"request_id": request_id}, separators=(",", ":")))
    return f"{JAEGER}/search?service=gateway&operation=POST%20%2Fapi%2Forders&lookback=1h&tags={tags}"


def main():
    print(f"switchyard demo against {BASE}")
    wait_for_gateway()

    step("1. register a customer (public route)")
    email = f"demo-{uuid.uuid4().hex[:8]}@example.com"
    user = call("POST", "/api/auth/register", {"email": email, "name": "Demo Customer", "password": "demo-password"})
    show("user", user)

    step("2. log in: the user service signs a JWT; the gateway verifies it on every call")
    customer = wait_until("the customer's login", lambda: call(
        "POST", "/api/auth/login", {"email": email, "password": "demo-password"}))["access_token"]
    # Read now, not at start: `just dev` writes the password as it starts.
    email, password = seed_admin.credentials()
    admin = call("POST", "/api/auth/login", {"email": email, "password": password})["access_token"]
    print("   customer and admin tokens issued")

    step("3. the admin creates a product (admin-only route)")
    sku = f"DEMO-{uuid.uuid4().hex[:6].upper()}"
    product = call("POST", "/api/products", {"sku": sku, "name": "Demo kettle", "price": 2500, "stock": 3},
                   token=admin)
    show("product", product)

    step("4. the customer orders 2: order -> user (gRPC) + inventory (gRPC) -> outbox -> broker")
    request_id = f"demo-{uuid.uuid4()}"
    order = place(customer, [{"sku": sku, "quantity": 2}], request_id)
    show("placed", {"id": order["id"], "status": order["status"], "total": order["total"]})
    confirmed = wait_until("CONFIRMED", lambda: order_status(order["id"], customer, "CONFIRMED"))
    show("after inventory reserved the stock", {"status": confirmed["status"]})
    print(f"   its trace, across all six services (request id {request_id}):\n   {jaeger_search(request_id)}")
    show("stock now", call("GET", f"/api/products/{sku}", token=customer)["stock"])

    step("5. the customer's notifications (notification service, fed by events)")
    notes = wait_until("a notification", lambda: (lambda n: n if n else None)(
        items(call("GET", "/api/notifications", token=customer))))
    for note in notes[:3]:
        show("notification", {k: note.get(k) for k in ("event_type", "subject", "status")})

    step("6. analytics summary (admin only; built from the same events)")
    show("summary", call("GET", "/api/analytics/summary", token=admin))

    step("7. an order for more than the stock is REJECTED, and the stock is untouched")
    too_many = place(customer, [{"sku": sku, "quantity": 5}])
    rejected = wait_until("REJECTED", lambda: order_status(too_many["id"], customer, "REJECTED"))
    show("rejected", {"status": rejected["status"], "reason": rejected.get("reason")})
    show("stock still", call("GET", f"/api/products/{sku}", token=customer)["stock"])

    step("8. cancelling the confirmed order releases its stock (the saga's compensation)")
    call("POST", f"/api/orders/{order['id']}/cancel", token=customer)
    back = wait_until("the stock to come back", lambda: (lambda p: p if p["stock"] == 3 else None)(
        call("GET", f"/api/products/{sku}", token=customer)))
    show("stock after cancel", back["stock"])

    print("\ndemo complete: every step answered as expected")


def items(page):
    if isinstance(page, list):
        return page
    for key in ("items", "notifications", "data"):
        if isinstance(page, dict) and isinstance(page.get(key), list):
            return page[key]
    return []


if __name__ == "__main__":
    try:
        main()
    except DemoFailed as failure:
        print(f"\nDEMO FAILED: {failure}", file=sys.stderr)
        sys.exit(1)

#!/usr/bin/env python3
"""Fails unless every service port of a running `just dev` is closed to
strangers: bound to loopback, and refusing a call without a token.

CI runs this while `just dev` is up. For each service of
deploy/services.toml:

- **Loopback only** (`just dev` binds each service to 127.0.0.1,
  deploy/services.py's dev_env: a development system is for this machine,
  not for every host on its network). Every HTTP, gRPC and metrics port
  must have a listener, and every listener on it must be on 127.0.0.0/8 or ::1; a port
  nothing listens on fails too, so a service that moved to another port
  cannot pass by being absent. Read from `ss -ltnH`.
- **No token, no answer** (docs/patterns/identity.md), but for the gateway:
  every operation of the service's own OpenAPI document, called with
  spoofed `X-User-ID` / `X-User-Roles` (admin) headers and no token, must
  answer 401 with a problem+json body, except the operations open by design
  (OPEN); every method of every gRPC service its reflection lists (health
  and reflection themselves are open), called with an empty message and no
  metadata, must end UNAUTHENTICATED.
- **Metrics inside only**: `/metrics` answers 404 on every HTTP port, the
  gateway's included, and serves the Prometheus text on the service's
  metrics port.

Usage: check-dev-ports.py
"""
import ipaddress
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
import uuid

import grpc
from google.protobuf import descriptor_pool
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "deploy"))
import services  # noqa: E402 (deploy/services.py, the service list)

# Open by design: the public keys that verify every token.
OPEN = {("GET", "/.well-known/jwks.json")}
# Open on every gRPC port: probes and stock tooling.
OPEN_GRPC = ("grpc.health.", "grpc.reflection.")


def listeners(ss_output):
    """{port: [host, ...]} from `ss -ltnH` lines."""
    found = {}
    for line in ss_output.splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        host, _, port = fields[3].rpartition(":")
        found.setdefault(int(port), []).append(host.strip("[]").split("%")[0])
    return found


def loopback(host):
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # `*` and names: every interface, or not ours to judge


def listener_problems(expected, found):
    """What is wrong with `found` ({port: hosts}) for `expected` ([(name, port)])."""
    wrong = []
    for name, port in expected:
        hosts = found.get(port, [])
        if not hosts:
            wrong.append(f"{name}: nothing listens on port {port}")
        wrong += [f"{name}: port {port} listens on {host}, not loopback only" for host in hosts if not loopback(host)]
    return wrong


def status_of(method, url):
    body = b"{}" if method in ("POST", "PUT", "PATCH") else None
    request = urllib.request.Request(url, data=body, method=method, headers={
        "Content-Type": "application/json", "X-User-ID": str(uuid.uuid4()), "X-User-Roles": "customer,admin"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", "")


def http_problems(name, port):
    base = f"http://127.0.0.1:{port}"
    with urllib.request.urlopen(f"{base}/openapi.json", timeout=10) as response:
        document = json.load(response)
    problems, count = [], 0
    for path, item in document["paths"].items():
        for method in (m.upper() for m in item if m in ("get", "post", "put", "patch", "delete")):
            if (method, path) in OPEN:
                continue
            concrete = "/".join(str(uuid.uuid4()) if s.startswith("{") else s for s in path.split("/"))
            status, content_type = status_of(method, base + concrete)
            count += 1
            if status != 401 or "application/problem+json" not in content_type:
                problems.append(f"{name}: {method} {path} with no token answered {status} {content_type}")
    return problems, count


def grpc_problems(name, port):
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    database = ProtoReflectionDescriptorDatabase(channel)
    pool = descriptor_pool.DescriptorPool(database)
    problems, count = [], 0
    for service_name in database.get_services():
        if service_name.startswith(OPEN_GRPC):
            continue
        for method in pool.FindServiceByName(service_name).methods:
            path = f"/{service_name}/{method.name}"
            kind = {(False, False): channel.unary_unary, (False, True): channel.unary_stream,
                    (True, False): channel.stream_unary, (True, True): channel.stream_stream}
            call = kind[(method.client_streaming, method.server_streaming)](path)
            request = iter([b""]) if method.client_streaming else b""
            count += 1
            try:
                answer = call(request, timeout=10)
                if method.server_streaming:
                    next(iter(answer))
                problems.append(f"{name}: {path} with no token answered")
            except grpc.RpcError as refused:
                if refused.code() != grpc.StatusCode.UNAUTHENTICATED:
                    problems.append(f"{name}: {path} with no token ended {refused.code()}")
    channel.close()
    return problems, count


def metrics_problems(service_list):
    """Where `/metrics` is public, or missing from its internal listener."""
    problems = []
    for service in service_list:
        name = service["name"]
        public, _ = status_of("GET", f"http://127.0.0.1:{service['http_port']}/metrics")
        if public != 404:
            problems.append(f"{name}: GET /metrics on its public port {service['http_port']} answered {public}")
        url = f"http://127.0.0.1:{service['metrics_port']}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            if b"# TYPE" not in response.read():
                problems.append(f"{name}: {url} serves no Prometheus metrics")
    return problems


def refusal_problems(service_list):
    """What a caller with no token got that it should not have, and how
    many calls were made."""
    problems, calls = [], 0
    for service in service_list:
        if service["name"] == services.GATEWAY:
            continue
        found, count = http_problems(service["name"], service["http_port"])
        problems, calls = problems + found, calls + count
        if "grpc_port" in service:
            found, count = grpc_problems(service["name"], service["grpc_port"])
            problems, calls = problems + found, calls + count
    return problems, calls


def main():
    service_list = services.load()
    expected = [(s["name"], port) for s in service_list
                for port in (s["http_port"], s.get("grpc_port"), s["metrics_port"]) if port]
    output = subprocess.run(["ss", "-ltnH"], check=True, capture_output=True, text=True).stdout
    wrong = listener_problems(expected, listeners(output))
    refused, calls = refusal_problems(service_list)
    metrics = metrics_problems(service_list)
    if wrong or refused or metrics:
        print("\n".join(wrong + refused + metrics))
        sys.exit(1)
    print(f"{len(expected)} ports of just dev listen on loopback only; {calls} direct calls without a token "
          "to the services' HTTP and gRPC ports were every one refused; /metrics answers 404 on every public "
          "port and serves on every metrics port")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Fails unless every service of a running `just dev` refuses a caller with
no token, on its HTTP port and on its gRPC port, as a stranger reaching past
the gateway would call it.

For each service of deploy/services.toml but the gateway:

- every operation of its own OpenAPI document, called with spoofed
  `X-User-ID` / `X-User-Roles` (admin) headers and no token, must answer
  401 with a problem+json body; only the operations that are open by design
  (OPEN) may answer otherwise;
- every method of every gRPC service its reflection lists (health and
  reflection themselves are open), called with an empty message and no
  metadata, must end UNAUTHENTICATED.

CI runs this while `just dev` is up (docs/patterns/identity.md).

Usage: check-dev-refusals.py
"""
import json
import os
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


def main():
    problems, calls = [], 0
    for service in services.load():
        if service["name"] == services.GATEWAY:
            continue
        found, count = http_problems(service["name"], service["http_port"])
        problems, calls = problems + found, calls + count
        if "grpc_port" in service:
            found, count = grpc_problems(service["name"], service["grpc_port"])
            problems, calls = problems + found, calls + count
    if problems:
        print("\n".join(problems))
        sys.exit(1)
    print(f"{calls} direct calls without a token to the services' HTTP and gRPC ports: every one refused")


if __name__ == "__main__":
    main()

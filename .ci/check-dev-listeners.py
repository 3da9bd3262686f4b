#!/usr/bin/env python3
"""Fails unless every port of a running `just dev` listens on loopback only.

`just dev` binds each service to 127.0.0.1 (deploy/services.py, dev_env): a
development system is for this machine, not for every host on its network.
CI runs this while `just dev` is up. Every HTTP and gRPC port of
deploy/services.toml must have a listener, and every listener on it must be
on 127.0.0.0/8 or ::1; a port nothing listens on fails too, so a service
that moved to another port cannot pass by being absent.

Usage: check-dev-listeners.py   (reads `ss -ltnH`)
"""
import ipaddress
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "deploy"))
import services  # noqa: E402 (deploy/services.py, the service list)


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


def problems(expected, found):
    """What is wrong with `found` ({port: hosts}) for `expected` ([(name, port)])."""
    wrong = []
    for name, port in expected:
        hosts = found.get(port, [])
        if not hosts:
            wrong.append(f"{name}: nothing listens on port {port}")
        wrong += [f"{name}: port {port} listens on {host}, not loopback only" for host in hosts if not loopback(host)]
    return wrong


def main():
    expected = [(s["name"], port) for s in services.load() for port in (s["http_port"], s.get("grpc_port")) if port]
    output = subprocess.run(["ss", "-ltnH"], check=True, capture_output=True, text=True).stdout
    wrong = problems(expected, listeners(output))
    if wrong:
        print("\n".join(wrong))
        sys.exit(1)
    print(f"{len(expected)} ports of just dev listen on loopback only")


if __name__ == "__main__":
    main()

"""A TCP fault proxy for the running dev system: `just dev` can put it in
front of RabbitMQ and of each service's ports, and `just break` tells it
what to break.

    deploy/faultproxy.py --control 127.0.0.1:17000 \
        --route broker=127.0.0.1:15672:127.0.0.1:5672 \
        --route order=127.0.0.1:18083:127.0.0.1:8083

Each route listens on its first address and forwards to its second. The
control listener answers, on loopback only:

    GET  /                     every route's state, as JSON
    POST /ROUTE/cut?secs=N     close every connection through ROUTE and
                               refuse new ones for N seconds
    POST /ROUTE/slow?ms=N      hold every chunk N ms before forwarding it
                               (0: no delay)
    POST /ROUTE/restore        undo both at once

Only connections through the proxy are affected: a client that talks to
RabbitMQ directly (a `cargo test` beside the dev system) never notices.
"""

import argparse
import asyncio
import contextlib
import json
import socket
import time
from urllib.parse import parse_qs, urlsplit


class Route:
    """One listening address, its upstream, and what is broken on it.

    Bytes are moved between plain sockets, one direction at a time, and a
    direction that fails ends alone: a server that answers early and closes
    while its client still sends (a 415 before the body was read) resets
    the sending direction, and its answer, already on its way back, must
    still reach the client. Streams would drop it with the connection."""

    def __init__(self, name, listen, upstream):
        self.name = name
        self.listen = listen
        self.upstream = upstream
        self.cut_until = 0.0
        self.delay_ms = 0
        # Both sockets of every connection through it.
        self.connections = set()
        self.tasks = set()

    def state(self):
        remaining = max(0.0, self.cut_until - time.monotonic())
        return {
            "listen": "%s:%d" % self.listen,
            "upstream": "%s:%d" % self.upstream,
            "cut_for_secs": round(remaining, 1),
            "delay_ms": self.delay_ms,
            "connections": len(self.connections),
        }

    def cut(self, secs):
        self.cut_until = time.monotonic() + secs
        for sock in list(self.connections):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    async def accept(self, listener):
        loop = asyncio.get_running_loop()
        while True:
            client, _ = await loop.sock_accept(listener)
            task = asyncio.create_task(self.serve(client))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def serve(self, client):
        loop = asyncio.get_running_loop()
        client.setblocking(False)
        if time.monotonic() < self.cut_until:
            client.close()
            return
        upstream = socket.socket(socket.AF_INET6 if ":" in self.upstream[0] else socket.AF_INET, socket.SOCK_STREAM)
        upstream.setblocking(False)
        try:
            await loop.sock_connect(upstream, self.upstream)
        except OSError:
            client.close()
            upstream.close()
            return
        self.connections.update((client, upstream))
        try:
            await asyncio.gather(self.pipe(client, upstream), self.pipe(upstream, client))
        finally:
            for sock in (client, upstream):
                self.connections.discard(sock)
                sock.close()

    async def pipe(self, source, target):
        loop = asyncio.get_running_loop()
        try:
            while chunk := await loop.sock_recv(source, 65536):
                if self.delay_ms:
                    await asyncio.sleep(self.delay_ms / 1000)
                await loop.sock_sendall(target, chunk)
        except OSError:
            pass  # this direction is over; the other carries on to its end
        finally:
            with contextlib.suppress(OSError):
                target.shutdown(socket.SHUT_WR)


class Listener:
    """A route's listening socket and its accept loop, shaped like the
    servers asyncio.start_server returns (`sockets`, `close`,
    `serve_forever`)."""

    def __init__(self, route):
        self.sockets = [socket.create_server(route.listen)]
        self.sockets[0].setblocking(False)
        self.task = asyncio.create_task(route.accept(self.sockets[0]))

    def close(self):
        self.task.cancel()
        self.sockets[0].close()

    async def serve_forever(self):
        await self.task


class Control:
    """The HTTP control listener: a request line, headers, no body."""

    def __init__(self, routes):
        self.routes = {route.name: route for route in routes}

    async def serve(self, reader, writer):
        try:
            request = (await reader.readline()).decode("latin-1").split()
            while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                pass
            status, body = self.answer(*request[:2]) if len(request) >= 2 else (400, {"error": "bad request"})
        except (ConnectionError, UnicodeDecodeError):
            writer.close()
            return
        payload = json.dumps(body).encode()
        writer.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n"
            % (status, b"OK" if status == 200 else b"Error", len(payload))
            + payload
        )
        await writer.drain()
        writer.close()

    def answer(self, method, target):
        url = urlsplit(target)
        parts = [p for p in url.path.split("/") if p]
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if method == "GET" and not parts:
            return 200, {name: route.state() for name, route in self.routes.items()}
        if method != "POST" or len(parts) != 2:
            return 404, {"error": "GET / or POST /ROUTE/cut|slow|restore"}
        route = self.routes.get(parts[0])
        if route is None:
            return 404, {"error": "no route %s (routes: %s)" % (parts[0], ", ".join(self.routes))}
        try:
            if parts[1] == "cut":
                route.cut(float(query.get("secs", "10")))
            elif parts[1] == "slow":
                route.delay_ms = int(query.get("ms", "0"))
            elif parts[1] == "restore":
                route.cut_until, route.delay_ms = 0.0, 0
            else:
                return 404, {"error": "unknown action %s" % parts[1]}
        except ValueError as error:
            return 400, {"error": str(error)}
        return 200, {route.name: route.state()}


def address(text):
    host, _, port = text.rpartition(":")
    return host, int(port)


def parse_route(text):
    """NAME=LISTEN_HOST:PORT:UPSTREAM_HOST:PORT"""
    name, _, rest = text.partition("=")
    listen_host, listen_port, up_host, up_port = rest.split(":")
    return Route(name, (listen_host, int(listen_port)), (up_host, int(up_port)))


async def start(control_address, routes):
    """Starts every route and the control listener; returns the servers."""
    if control_address[0] not in ("127.0.0.1", "::1", "localhost"):
        raise SystemExit("faultproxy: the control listener is for loopback only, not %s" % control_address[0])
    servers = [Listener(route) for route in routes]
    servers.append(await asyncio.start_server(Control(routes).serve, *control_address))
    return servers


async def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--control", type=address, required=True)
    parser.add_argument("--route", type=parse_route, action="append", default=[])
    args = parser.parse_args()
    servers = await start(args.control, args.route)
    print("faultproxy: control on %s:%d; %s" % (*args.control, ", ".join(r.name for r in args.route)), flush=True)
    await asyncio.gather(*(server.serve_forever() for server in servers))


if __name__ == "__main__":
    asyncio.run(main())

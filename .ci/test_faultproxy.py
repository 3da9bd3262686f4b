"""deploy/faultproxy.py, the fault proxy `just break` drives: it forwards
both ways; a cut closes the connections through it and refuses new ones
until it ends or is restored, while a connection that bypasses it is
untouched; a delay is reported and data still flows; unknown routes and
actions are refused; the control listener is for loopback only. `just
test` runs this file."""
import asyncio
import contextlib
import importlib.util
import json
import os
import socket
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
spec = importlib.util.spec_from_file_location("faultproxy", os.path.join(ROOT, "deploy", "faultproxy.py"))
faultproxy = importlib.util.module_from_spec(spec)
spec.loader.exec_module(faultproxy)


async def echo(reader, writer):
    while data := await reader.read(1024):
        writer.write(data)
        await writer.drain()
    writer.close()


async def control(port, method, path):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(("%s %s HTTP/1.1\r\nhost: x\r\n\r\n" % (method, path)).encode())
    await writer.drain()
    response = await reader.read()
    writer.close()
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


async def round_trip(port, text=b"ping"):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(text)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(len(text)), 5)
    return reader, writer, answer


class FaultProxy(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        self.upstream = await asyncio.start_server(echo, "127.0.0.1", 0)
        upstream_port = self.upstream.sockets[0].getsockname()[1]
        route = faultproxy.Route("broker", ("127.0.0.1", 0), ("127.0.0.1", upstream_port))
        self.servers = await faultproxy.start(("127.0.0.1", 0), [route])
        self.proxy_port = self.servers[0].sockets[0].getsockname()[1]
        self.control_port = self.servers[1].sockets[0].getsockname()[1]
        self.upstream_port = upstream_port

    async def asyncTearDown(self):
        for server in [*self.servers, self.upstream]:
            server.close()

    async def test_it_forwards_both_ways(self):
        _, writer, answer = await round_trip(self.proxy_port)
        self.assertEqual(answer, b"ping")
        status, state = await control(self.control_port, "GET", "/")
        self.assertEqual((status, state["broker"]["connections"]), (200, 2))
        writer.close()

    async def test_a_cut_closes_what_goes_through_it_refuses_new_ones_and_spares_the_rest(self):
        through, _, _ = await round_trip(self.proxy_port)
        beside_reader, beside_writer, _ = await round_trip(self.upstream_port)
        status, state = await control(self.control_port, "POST", "/broker/cut?secs=30")
        self.assertEqual(status, 200)
        self.assertGreater(state["broker"]["cut_for_secs"], 0)
        self.assertEqual(await asyncio.wait_for(through.read(), 5), b"", "the connection through it is closed")
        reader, writer = await asyncio.open_connection("127.0.0.1", self.proxy_port)
        self.assertEqual(await asyncio.wait_for(reader.read(), 5), b"", "a new one is refused during the cut")
        beside_writer.write(b"still")
        self.assertEqual(await asyncio.wait_for(beside_reader.read(5), 5), b"still", "a direct connection is untouched")
        status, _ = await control(self.control_port, "POST", "/broker/restore")
        self.assertEqual(status, 200)
        _, writer, answer = await round_trip(self.proxy_port, b"back")
        self.assertEqual(answer, b"back")
        writer.close()
        beside_writer.close()

    async def test_a_delay_is_reported_and_data_still_flows(self):
        status, state = await control(self.control_port, "POST", "/broker/slow?ms=50")
        self.assertEqual((status, state["broker"]["delay_ms"]), (200, 50))
        _, writer, answer = await round_trip(self.proxy_port, b"slowly")
        self.assertEqual(answer, b"slowly")
        writer.close()

    async def test_an_answer_sent_before_the_request_was_read_reaches_the_client(self):
        # As a service that refuses a request by its headers: it answers and
        # closes with the body unread, which resets the connection under
        # the rest of the body. The answer is already on its way back.
        async def early(reader, writer):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 415 Unsupported Media Type\r\ncontent-length: 0\r\n\r\n")
            await writer.drain()
            writer.close()
        refusing = await asyncio.start_server(early, "127.0.0.1", 0)
        route = faultproxy.Route("user", ("127.0.0.1", 0), ("127.0.0.1", refusing.sockets[0].getsockname()[1]))
        servers = await faultproxy.start(("127.0.0.1", 0), [route])
        try:
            loop = asyncio.get_running_loop()
            for _ in range(50):
                # Plain sockets, as a client's HTTP stack: a failed send
                # must not hide what was received (asyncio's streams would).
                client = socket.create_connection(("127.0.0.1", servers[0].sockets[0].getsockname()[1]))
                client.setblocking(False)
                await loop.sock_sendall(client, b"POST /auth/register HTTP/1.1\r\ncontent-length: 4000000\r\n\r\n")
                with contextlib.suppress(OSError):  # the proxy gave up on the body: expected
                    for _ in range(40):
                        await loop.sock_sendall(client, b"x" * 100_000)
                answer = b""
                with contextlib.suppress(OSError):
                    while chunk := await asyncio.wait_for(loop.sock_recv(client, 65536), 5):
                        answer += chunk
                client.close()
                self.assertTrue(answer.startswith(b"HTTP/1.1 415"), answer[:80])
        finally:
            for server in [*servers, refusing]:
                server.close()

    async def test_unknown_routes_actions_and_values_are_refused(self):
        self.assertEqual((await control(self.control_port, "POST", "/order/cut"))[0], 404)
        self.assertEqual((await control(self.control_port, "POST", "/broker/melt"))[0], 404)
        self.assertEqual((await control(self.control_port, "POST", "/broker/slow?ms=lots"))[0], 400)
        self.assertEqual((await control(self.control_port, "DELETE", "/"))[0], 404)

    async def test_the_control_listener_is_for_loopback_only(self):
        with self.assertRaises(SystemExit):
            await faultproxy.start(("0.0.0.0", 0), [])


if __name__ == "__main__":
    unittest.main()

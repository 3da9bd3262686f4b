"""Tests of deploy/otlpsink.py, the drill's OTLP receiver: a request encoded
here, field by field, sent over gRPC as an exporter sends it."""
import os
import sys
import unittest

import grpc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "deploy"))
import otlpsink  # noqa: E402


def varint(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field(number, value):
    """A length-delimited field, or a fixed64 one for ('fixed64', n)."""
    if isinstance(value, tuple):
        return varint(number << 3 | 1) + value[1].to_bytes(8, "little")
    if isinstance(value, int):
        return varint(number << 3) + varint(value)
    return varint(number << 3 | 2) + varint(len(value)) + value


def span(name, trace, span_id, parent, start, end):
    return (field(1, trace) + field(2, span_id) + field(4, parent) + field(5, name.encode()) + field(6, 2)
            + field(7, ("fixed64", start)) + field(8, ("fixed64", end))
            # An attribute the sink does not read, to be skipped.
            + field(9, field(1, b"http.route") + field(2, field(1, b"/api/products/{*rest}"))))


def request(service, *spans):
    resource = field(1, field(1, b"service.name") + field(2, field(1, service.encode())))
    scope_spans = field(1, field(1, b"comms")) + b"".join(field(2, s) for s in spans)
    return field(1, field(1, resource) + field(2, scope_spans))


class OtlpSink(unittest.TestCase):
    def setUp(self):
        self.sink = otlpsink.Sink("127.0.0.1:0")
        self.addCleanup(self.sink.stop)
        channel = grpc.insecure_channel(f"127.0.0.1:{self.sink.port}")
        self.addCleanup(channel.close)
        self.export = channel.unary_unary(f"/{otlpsink.SERVICE}/Export")

    def test_spans_are_kept_with_their_service_names_and_durations(self):
        trace = bytes(range(16))
        answer = self.export(request("gateway", span("GET /api/products/{*rest}", trace, b"\x01" * 8, b"",
                                                     1_000_000_000, 1_612_000_000)), timeout=5)
        self.assertEqual(answer, b"")
        self.export(request("inventory", span("GET /products/{sku}", trace, b"\x02" * 8, b"\x01" * 8,
                                              1_300_000_000, 1_304_000_000)), timeout=5)
        gateway, = self.sink.matching(lambda s: s.service == "gateway")
        inventory, = self.sink.matching(lambda s: s.service == "inventory")
        self.assertEqual(gateway.name, "GET /api/products/{*rest}")
        self.assertAlmostEqual(gateway.seconds, 0.612)
        self.assertEqual((inventory.trace_id, inventory.parent_id), (trace.hex(), gateway.span_id))
        self.assertAlmostEqual(inventory.seconds, 0.004)

    def test_another_method_is_unimplemented(self):
        channel = grpc.insecure_channel(f"127.0.0.1:{self.sink.port}")
        self.addCleanup(channel.close)
        with self.assertRaises(grpc.RpcError) as refused:
            channel.unary_unary(f"/{otlpsink.SERVICE}/Other")(b"", timeout=5)
        self.assertEqual(refused.exception.code(), grpc.StatusCode.UNIMPLEMENTED)


if __name__ == "__main__":
    unittest.main()

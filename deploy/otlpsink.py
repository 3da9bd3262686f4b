"""A stand-in for Jaeger's OTLP/gRPC receiver, for `just drill --otlp`: it
keeps the spans the services export, so the drill can read them where CI
runs no Jaeger.

It serves `opentelemetry.proto.collector.trace.v1.TraceService/Export` and
reads the request's protobuf by hand, field numbers from the OTLP
specification, keeping only what the drill reads: each span's service,
name, trace, parent and times. That needs nothing beyond grpcio, already in
the project's virtual environment.
"""
import threading
from concurrent import futures

import grpc

SERVICE = "opentelemetry.proto.collector.trace.v1.TraceService"


class Span:
    def __init__(self, service, name, trace_id, span_id, parent_id, start_ns, end_ns):
        self.service, self.name = service, name
        self.trace_id, self.span_id, self.parent_id = trace_id, span_id, parent_id
        self.start_ns, self.end_ns = start_ns, end_ns

    @property
    def seconds(self):
        return (self.end_ns - self.start_ns) / 1e9

    def __repr__(self):
        return f"Span({self.service}: {self.name}, {self.seconds * 1000:.0f} ms)"


def varint(buf, i):
    value = shift = 0
    while True:
        byte = buf[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, i
        shift += 7


def fields(buf):
    """(field number, value) of each field of one protobuf message: ints for
    varints and fixed widths, bytes for length-delimited ones."""
    i = 0
    while i < len(buf):
        key, i = varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = varint(buf, i)
        elif wire == 1:
            value, i = int.from_bytes(buf[i:i + 8], "little"), i + 8
        elif wire == 2:
            size, i = varint(buf, i)
            value, i = bytes(buf[i:i + size]), i + size
        elif wire == 5:
            value, i = int.from_bytes(buf[i:i + 4], "little"), i + 4
        else:
            raise ValueError(f"wire type {wire} in field {number}")
        yield number, value


def service_name(resource):
    """Resource.attributes (1) is KeyValue: key (1), value (2) an AnyValue
    whose string_value is field 1."""
    for number, attribute in fields(resource):
        if number != 1:
            continue
        parts = dict(fields(attribute))
        if parts.get(1) == b"service.name":
            return dict(fields(parts.get(2, b""))).get(1, b"").decode()
    return ""


def spans_of(request):
    """The spans of one ExportTraceServiceRequest: resource_spans (1) hold a
    resource (1) and scope_spans (2), which hold spans (2)."""
    found = []
    for number, resource_spans in fields(request):
        if number != 1:
            continue
        parts = list(fields(resource_spans))
        service = next((service_name(v) for n, v in parts if n == 1), "")
        for scope_spans in (v for n, v in parts if n == 2):
            for span in (v for n, v in fields(scope_spans) if n == 2):
                s = dict(fields(span))
                found.append(Span(service, s.get(5, b"").decode(), s.get(1, b"").hex(), s.get(2, b"").hex(),
                                  s.get(4, b"").hex(), s.get(7, 0), s.get(8, 0)))
    return found


class Sink:
    """Listens on ADDRESS until stopped; `spans` grows as exports arrive."""

    def __init__(self, address):
        self.spans = []
        self.lock = threading.Lock()
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        handler = grpc.unary_unary_rpc_method_handler(self.export)  # raw bytes in and out
        self.server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, {"Export": handler}),))
        self.port = self.server.add_insecure_port(address)
        self.server.start()

    def export(self, request, context):
        spans = spans_of(request)
        with self.lock:
            self.spans.extend(spans)
        return b""  # an empty ExportTraceServiceResponse: everything accepted

    def matching(self, predicate):
        with self.lock:
            return [span for span in self.spans if predicate(span)]

    def stop(self):
        self.server.stop(grace=None)

//! W3C trace context (`traceparent`, `tracestate`) in and out of carriers:
//! HTTP headers, gRPC metadata, and plain string maps (message headers).
//!
//! Injecting takes the context of the current `tracing` span; extracting
//! returns a context to hand to `span.set_parent(..)` before the span is
//! entered.

use http::HeaderMap;
use http::header::{HeaderName, HeaderValue};
use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::{Context, global};
use tonic::metadata::{KeyRef, MetadataKey, MetadataMap, MetadataValue};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Writes the current span's trace context into HTTP headers.
pub fn inject_http(headers: &mut HeaderMap) {
    let cx = tracing::Span::current().context();
    global::get_text_map_propagator(|p| p.inject_context(&cx, &mut HeaderCarrier(headers)));
}

/// Reads a trace context from HTTP headers (an empty context if none).
pub fn extract_http(headers: &HeaderMap) -> Context {
    global::get_text_map_propagator(|p| p.extract(&HeaderReader(headers)))
}

/// Writes the current span's trace context into gRPC request metadata.
pub fn inject_grpc(metadata: &mut MetadataMap) {
    let cx = tracing::Span::current().context();
    global::get_text_map_propagator(|p| p.inject_context(&cx, &mut MetadataCarrier(metadata)));
}

/// Reads a trace context from gRPC metadata.
pub fn extract_grpc(metadata: &MetadataMap) -> Context {
    global::get_text_map_propagator(|p| p.extract(&MetadataReader(metadata)))
}

/// Writes the current span's trace context into a string map (message
/// headers, an outbox row).
pub fn inject_map(map: &mut std::collections::HashMap<String, String>) {
    let cx = tracing::Span::current().context();
    inject_context_map(&cx, map);
}

/// Writes a given context into a string map.
pub fn inject_context_map(cx: &Context, map: &mut std::collections::HashMap<String, String>) {
    global::get_text_map_propagator(|p| p.inject_context(cx, map));
}

/// Reads a trace context from a string map.
pub fn extract_map(map: &std::collections::HashMap<String, String>) -> Context {
    global::get_text_map_propagator(|p| p.extract(map))
}

struct HeaderCarrier<'a>(&'a mut HeaderMap);

impl Injector for HeaderCarrier<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(key.as_bytes()), HeaderValue::from_str(&value)) {
            self.0.insert(name, value);
        }
    }
}

struct HeaderReader<'a>(&'a HeaderMap);

impl Extractor for HeaderReader<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}

struct MetadataCarrier<'a>(&'a mut MetadataMap);

impl Injector for MetadataCarrier<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(key), Ok(value)) = (MetadataKey::from_bytes(key.as_bytes()), MetadataValue::try_from(value.as_str()))
        {
            self.0.insert(key, value);
        }
    }
}

struct MetadataReader<'a>(&'a MetadataMap);

impl Extractor for MetadataReader<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0
            .keys()
            .map(|k| match k {
                KeyRef::Ascii(k) => k.as_str(),
                KeyRef::Binary(k) => k.as_str(),
            })
            .collect()
    }
}

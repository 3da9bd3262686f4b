//! Producer and consumer spans, named and attributed after the
//! OpenTelemetry messaging semantic conventions, so a trace runs from the
//! request that wrote an outbox row through the broker into every consumer.

use std::collections::HashMap;

use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The span of publishing one message, child of `parent` (the context
/// stored with the outbox row).
pub fn producer(
    system: &'static str,
    destination: &str,
    event_type: &str,
    message_id: &str,
    parent: opentelemetry::Context,
) -> Span {
    let span = tracing::info_span!(
        "publish",
        otel.name = %format!("publish {destination}"),
        otel.kind = "producer",
        messaging.system = system,
        messaging.operation.type = "send",
        messaging.destination.name = %destination,
        messaging.message.id = %message_id,
        messaging.message.type = %event_type,
    );
    let _ = span.set_parent(parent);
    span
}

/// The span of processing one delivery, continuing the producer's trace
/// from the message headers.
pub fn consumer(system: &'static str, destination: &str, headers: &HashMap<String, String>, attempt: u32) -> Span {
    let span = tracing::info_span!(
        "process",
        otel.name = %format!("process {destination}"),
        otel.kind = "consumer",
        messaging.system = system,
        messaging.operation.type = "process",
        messaging.destination.name = %destination,
        messaging.message.id = tracing::field::Empty,
        messaging.message.type = tracing::field::Empty,
        messaging.attempt = attempt,
    );
    let _ = span.set_parent(crate::telemetry::extract_map(headers));
    span
}

/// The headers carrying `span`'s context onward.
pub fn context_headers(span: &Span) -> HashMap<String, String> {
    let mut headers = HashMap::new();
    crate::telemetry::inject_context_map(&span.context(), &mut headers);
    headers
}

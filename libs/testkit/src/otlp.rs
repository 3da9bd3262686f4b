//! An OTLP/gRPC trace receiver that records every span it is sent, and the
//! test process's telemetry, exporting to it.
//!
//! The tracer is global per process, so there is one receiver per test
//! process; tests find their own spans by trace id. Both run on a runtime of
//! their own: a `#[tokio::test]` runtime ends with its test, and the
//! exporter's connection must outlive every test.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};

/// One span as the receiver got it.
#[derive(Clone, Debug)]
pub struct RecordedSpan {
    pub service_name: Option<String>,
    /// The resource's `service.instance.id`: which copy of the service.
    pub instance_id: Option<String>,
    pub name: String,
    pub trace_id: String,
    pub span_id: String,
    /// Empty for a root span.
    pub parent_span_id: String,
    pub attributes: Vec<(String, String)>,
    /// The trace id of each span this one links to.
    pub linked_traces: Vec<String>,
}

impl RecordedSpan {
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

#[derive(Clone, Default)]
struct Recorder {
    spans: Arc<Mutex<Vec<RecordedSpan>>>,
}

#[tonic::async_trait]
impl TraceService for Recorder {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut recorded = self.spans.lock().expect("recorder lock");
        for resource_spans in request.into_inner().resource_spans {
            let service_name =
                resource_spans.resource.as_ref().and_then(|r| string_attr(&r.attributes, "service.name"));
            let instance_id =
                resource_spans.resource.as_ref().and_then(|r| string_attr(&r.attributes, "service.instance.id"));
            for span in resource_spans.scope_spans.into_iter().flat_map(|s| s.spans) {
                recorded.push(RecordedSpan {
                    service_name: service_name.clone(),
                    instance_id: instance_id.clone(),
                    name: span.name,
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent_span_id: hex(&span.parent_span_id),
                    attributes: span.attributes.iter().map(|kv| (kv.key.clone(), display_value(kv))).collect(),
                    linked_traces: span.links.iter().map(|link| hex(&link.trace_id)).collect(),
                });
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

fn string_attr(attributes: &[KeyValue], key: &str) -> Option<String> {
    attributes.iter().find(|kv| kv.key == key).map(display_value)
}

fn display_value(kv: &KeyValue) -> String {
    match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        other => format!("{other:?}"),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The process's receiver and telemetry.
pub struct Otlp {
    endpoint: String,
    recorder: Recorder,
    telemetry: comms::telemetry::Telemetry,
}

static OTLP: OnceLock<Otlp> = OnceLock::new();

/// Starts the receiver and this process's telemetry (once), exporting to it.
pub fn otlp() -> &'static Otlp {
    OTLP.get_or_init(|| {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("testkit-otlp".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .enable_all()
                    .build()
                    .expect("otlp runtime");
                rt.block_on(async move {
                    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind otlp receiver");
                    let endpoint = format!("http://{}", listener.local_addr().expect("address"));
                    let recorder = Recorder::default();
                    let server = tonic::transport::Server::builder()
                        .add_service(TraceServiceServer::new(recorder.clone()))
                        .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener));
                    let telemetry = comms::telemetry::init_with(comms::telemetry::TelemetryConfig {
                        service_name: "tests".into(),
                        instance_id: None,
                        otlp_endpoint: Some(endpoint.clone()),
                        export_delay: Duration::from_millis(100),
                        test_writer: true,
                    })
                    .expect("init telemetry");
                    ready_tx.send(Otlp { endpoint, recorder, telemetry }).expect("hand over receiver");
                    let _ = server.await;
                });
            })
            .expect("spawn otlp thread");
        ready_rx.recv().expect("otlp receiver started")
    })
}

impl Otlp {
    /// Where a separate service process should export (`OTEL_EXPORTER_OTLP_ENDPOINT`).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Every span recorded so far.
    pub fn all_spans(&self) -> Vec<RecordedSpan> {
        self.recorder.spans.lock().expect("recorder lock").clone()
    }

    /// Every span recorded so far with this trace id.
    pub fn spans(&self, trace_id: &str) -> Vec<RecordedSpan> {
        let spans = self.recorder.spans.lock().expect("recorder lock");
        spans.iter().filter(|s| s.trace_id == trace_id).cloned().collect()
    }

    /// Waits (up to 10 s) until the spans of `trace_id` satisfy `done`, then
    /// returns them; returns what it has if they never do.
    pub async fn wait_for(&self, trace_id: &str, done: impl Fn(&[RecordedSpan]) -> bool) -> Vec<RecordedSpan> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            // Flushing blocks on the exporter; keep it off the async workers.
            let _ = tokio::task::spawn_blocking(|| otlp().telemetry.flush()).await;
            let spans = self.spans(trace_id);
            if done(&spans) || tokio::time::Instant::now() > deadline {
                return spans;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

//! Tracing, logs and trace propagation, set up once per process.
//!
//! Spans always get real W3C ids, even when nothing is exported, so a
//! service without a collector still continues its callers' traces and
//! passes them on. Export over OTLP/gRPC happens only when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set.

mod filter;
mod json_log;
mod propagation;

use std::time::Duration;

use opentelemetry::global;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::JsonFields;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

pub use propagation::{
    extract_grpc, extract_http, extract_map, inject_context_map, inject_grpc, inject_http, inject_map,
};

/// Libraries that log every frame at debug; quiet unless asked for.
const DEFAULT_FILTER: &str =
    "info,h2=warn,hyper=warn,hyper_util=warn,tower=warn,tonic=warn,sqlx=warn,opentelemetry=warn";

#[derive(Clone, Debug)]
pub struct TelemetryConfig {
    /// `service.name` on every exported span.
    pub service_name: String,
    /// `service.instance.id` on every exported span: which copy of the
    /// service ([`crate::instance::InstanceId`]).
    pub instance_id: Option<String>,
    /// OTLP/gRPC collector, e.g. `http://jaeger:4317`; `None` exports nothing.
    pub otlp_endpoint: Option<String>,
    /// How long finished spans wait before export. Short in tests.
    pub export_delay: Duration,
    /// Write logs through the test harness's capture instead of stdout.
    pub test_writer: bool,
}

impl TelemetryConfig {
    /// The configuration a service binary uses: the endpoint from
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`, if set.
    pub fn from_env(service_name: &str) -> Self {
        Self {
            service_name: service_name.to_owned(),
            instance_id: Some(crate::instance::InstanceId::of_process(service_name).to_string()),
            otlp_endpoint: std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").ok().filter(|e| !e.is_empty()),
            export_delay: Duration::from_secs(2),
            test_writer: false,
        }
    }
}

/// Keeps the tracer provider alive; flushes and shuts it down on request.
pub struct Telemetry {
    provider: SdkTracerProvider,
}

impl Telemetry {
    /// Exports every finished span now (blocking; call from a blocking
    /// context or a multi-threaded runtime).
    pub fn flush(&self) {
        let _ = self.provider.force_flush();
    }

    /// Flushes and stops the exporter. The last step of a graceful shutdown.
    pub fn shutdown(self) {
        let _ = self.provider.shutdown_with_timeout(Duration::from_secs(5));
    }
}

/// Sets up tracing for a service binary. Call inside the Tokio runtime:
/// the gRPC exporter's connection lives on it.
pub fn init(service_name: &str) -> anyhow::Result<Telemetry> {
    init_with(TelemetryConfig::from_env(service_name))
}

pub fn init_with(config: TelemetryConfig) -> anyhow::Result<Telemetry> {
    let mut resource = Resource::builder().with_service_name(config.service_name.clone());
    if let Some(instance) = &config.instance_id {
        resource = resource.with_attribute(opentelemetry::KeyValue::new("service.instance.id", instance.clone()));
    }
    let resource = resource.build();
    let mut provider = SdkTracerProvider::builder().with_resource(resource);
    if let Some(endpoint) = &config.otlp_endpoint {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint)
            .with_timeout(Duration::from_secs(5))
            .build()?;
        let batch = BatchSpanProcessor::builder(exporter)
            .with_batch_config(BatchConfigBuilder::default().with_scheduled_delay(config.export_delay).build())
            .build();
        provider = provider.with_span_processor(batch);
    }
    let provider = provider.build();

    global::set_text_map_propagator(TraceContextPropagator::new());
    global::set_tracer_provider(provider.clone());

    // `RUST_LOG` decides what is logged, never what is traced: a service
    // logging at `warn` still records its info spans (`filter.rs`).
    let log_filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let filter = filter::TelemetryFilter::new(log_filter, EnvFilter::new(DEFAULT_FILTER));
    // Busy/idle times and thread names would be recorded on every span, at
    // a clock read per enter and exit and two attributes per span, for
    // figures no one here reads; every request pays for them.
    let otel = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer(config.service_name))
        .with_tracked_inactivity(false)
        .with_threads(false);
    let logs = tracing_subscriber::fmt::layer().fmt_fields(JsonFields::new()).event_format(json_log::JsonWithTrace);
    let registry = tracing_subscriber::registry().with(filter).with(otel);
    if config.test_writer {
        registry.with(logs.with_test_writer()).try_init()?;
    } else {
        registry.with(logs).try_init()?;
    }
    Ok(Telemetry { provider })
}

/// The span for one incoming gRPC call, continuing the caller's trace.
/// Used as tonic's `trace_fn`.
pub fn grpc_server_span(request: &http::Request<()>) -> tracing::Span {
    let path = request.uri().path().trim_start_matches('/');
    let (service, method) = path.split_once('/').unwrap_or((path, ""));
    let span = tracing::info_span!(
        "grpc request",
        otel.name = %path,
        otel.kind = "server",
        rpc.system = "grpc",
        rpc.service = %service,
        rpc.method = %method,
    );
    // Must happen before the span is first entered.
    let _ = span.set_parent(extract_http(request.headers()));
    span
}

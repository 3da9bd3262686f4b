//! What gets recorded: events as `RUST_LOG` says, spans at least as the
//! default says, whatever `RUST_LOG` is.
//!
//! One filter for the whole subscriber, not one per layer: per-layer
//! filters dropped target directives (`warn,inventory=info` logged nothing
//! of inventory) once librdkafka's log records came through the `log`
//! bridge, while a single global filter does not.

use tracing::level_filters::LevelFilter;
use tracing::subscriber::Interest;
use tracing::{Metadata, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::{Context, Layer};

pub struct TelemetryFilter {
    /// `RUST_LOG`, or the default: what is logged.
    logs: EnvFilter,
    /// The default: spans below it would leave holes in traces.
    spans: EnvFilter,
}

impl TelemetryFilter {
    pub fn new(logs: EnvFilter, spans: EnvFilter) -> Self {
        Self { logs, spans }
    }
}

impl<S: Subscriber> Layer<S> for TelemetryFilter {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        let logs = Layer::<S>::register_callsite(&self.logs, metadata);
        let spans =
            if metadata.is_span() { Layer::<S>::register_callsite(&self.spans, metadata) } else { Interest::never() };
        if logs.is_always() || spans.is_always() {
            Interest::always()
        } else if logs.is_never() && spans.is_never() {
            Interest::never()
        } else {
            Interest::sometimes()
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>, ctx: Context<'_, S>) -> bool {
        Layer::<S>::enabled(&self.logs, metadata, ctx.clone())
            || (metadata.is_span() && Layer::<S>::enabled(&self.spans, metadata, ctx))
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        let logs = Layer::<S>::max_level_hint(&self.logs)?;
        let spans = Layer::<S>::max_level_hint(&self.spans)?;
        Some(logs.max(spans))
    }
}

//! gRPC plumbing shared by every service: one server set-up (health,
//! reflection, tracing, metrics), trace propagation for clients, and the
//! error mapping into `tonic::Status`.

mod metrics;
mod server;
mod status;

pub use metrics::GrpcMetricsLayer;
pub use server::{GrpcServices, READINESS_EVERY, serve};
pub use status::{internal, invalid_argument, status, status_of};
#[doc(hidden)]
pub use tonic as __tonic;

/// A moment as protobuf's well-known `Timestamp`.
pub fn timestamp(at: chrono::DateTime<chrono::Utc>) -> prost_types::Timestamp {
    // Sub-second nanos are below 2e9, so they fit; the fallback is unreachable.
    prost_types::Timestamp { seconds: at.timestamp(), nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or(0) }
} // for `service_error!` in crates that name no tonic

/// The type of [`inject_trace`] as a function pointer, for naming the type
/// of an intercepted client.
pub type TraceInterceptor = fn(tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status>;

/// A tonic interceptor for clients: puts the caller's trace context into the
/// request metadata so the server's span continues the caller's trace.
///
/// `UserServiceClient::with_interceptor(channel, comms::grpc::inject_trace)`
#[allow(clippy::result_large_err)] // the signature tonic's Interceptor requires
pub fn inject_trace(mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
    crate::telemetry::inject_grpc(request.metadata_mut());
    Ok(request)
}

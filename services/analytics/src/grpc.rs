//! The gRPC API: StreamMetrics, a live feed of the summary for dashboards
//! that want updates pushed rather than polled.

use comms::long_streams::OpenStreams;
use contracts::analytics::v1 as pb;
use futures::stream::{self, BoxStream};
use tokio::sync::watch;
use tonic::{Request, Response, Status};

use crate::domain::Summary;
use crate::error::AnalyticsError;

pub struct AnalyticsGrpc {
    summaries: watch::Receiver<Summary>,
    streams: OpenStreams,
}

impl AnalyticsGrpc {
    pub fn new(summaries: watch::Receiver<Summary>, streams: OpenStreams) -> Self {
        Self { summaries, streams }
    }
}

#[tonic::async_trait]
impl pb::analytics_service_server::AnalyticsService for AnalyticsGrpc {
    type StreamMetricsStream = BoxStream<'static, Result<pb::MetricsSnapshot, Status>>;

    #[tracing::instrument(skip_all)]
    async fn stream_metrics(
        &self,
        request: Request<pb::StreamMetricsRequest>,
    ) -> Result<Response<Self::StreamMetricsStream>, Status> {
        // Endless: it counts against the caller's cap, and ends OK at its
        // lifetime (the client calls again).
        let slot = self.streams.open_for(&request)?;
        let mut summaries = self.summaries.clone();
        if summaries.has_changed().is_err() {
            return Err(AnalyticsError::ShuttingDown.into()); // the feed has stopped
        }
        // The current summary counts as unseen, so it goes out first.
        summaries.mark_changed();
        // Each poll takes whatever is latest: summaries published while the
        // client was not reading are skipped, never queued. The stream ends
        // when the feed stops (shutdown).
        let snapshots = stream::unfold(summaries, |mut summaries| async move {
            summaries.changed().await.ok()?;
            let snapshot = to_proto(&summaries.borrow_and_update());
            Some((Ok(snapshot), summaries))
        });
        Ok(Response::new(Box::pin(slot.bound(snapshots))))
    }
}

fn to_proto(summary: &Summary) -> pb::MetricsSnapshot {
    pb::MetricsSnapshot {
        registrations: summary.registrations,
        orders_by_status: summary
            .orders_by_status
            .counts()
            .into_iter()
            .map(|(status, count)| pb::StatusCount { status: status.to_owned(), count })
            .collect(),
        revenue: summary.revenue,
        top_skus: summary
            .top_skus
            .iter()
            .map(|s| pb::SkuSales { sku: s.sku.clone(), units: s.units, revenue: s.revenue })
            .collect(),
        events_applied: summary.events_applied,
        at: Some(comms::grpc::timestamp(summary.at)),
    }
}

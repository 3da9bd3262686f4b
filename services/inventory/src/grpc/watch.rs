//! One `WatchStock` stream: the snapshot, then every change to a watched
//! sku from the stock feed, until the client goes, the server stops, or
//! the reader falls too far behind.
//!
//! A reader that cannot keep up is dropped with RESOURCE_EXHAUSTED rather
//! than slowing anyone: the broadcast channel keeps a bounded backlog per
//! reader, and a reader past it has missed changes, so the honest answer is
//! to end the stream and let the client watch again from a fresh snapshot.

use std::collections::HashSet;

use comms::Shutdown;
use contracts::inventory::v1 as pb;
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc::Sender;
use tonic::Status;

use comms::db::Notice;

use crate::stock_feed::{Seen, StockChange};

pub async fn forward(
    snapshot: Vec<StockChange>,
    seen: Seen,
    mut changes: Receiver<Notice>,
    watched: Option<HashSet<String>>,
    out: Sender<Result<pb::StockChange, Status>>,
    shutdown: Shutdown,
) {
    for change in &snapshot {
        if out.send(Ok(to_proto(change))).await.is_err() {
            return;
        }
    }
    loop {
        let event = tokio::select! {
            event = changes.recv() => event,
            () = out.closed() => return,
            () = shutdown.clone().wait() => {
                let _ = out.send(Err(Status::unavailable("the server is shutting down; watch again"))).await;
                return;
            }
        };
        let item = match event {
            Ok(Notice::Change(payload)) => match serde_json::from_str::<StockChange>(&payload) {
                Ok(change) if change.xid.is_some_and(|xid| seen.includes(xid)) => continue,
                Ok(change) if watched.as_ref().is_none_or(|w| w.contains(&change.sku)) => Ok(to_proto(&change)),
                Ok(_) => continue,
                Err(error) => {
                    tracing::warn!(%error, "unreadable stock notification");
                    continue;
                }
            },
            Ok(Notice::Interrupted) | Err(RecvError::Closed) => {
                Err(Status::unavailable("the stock feed was interrupted; watch again for a fresh snapshot"))
            }
            Err(RecvError::Lagged(missed)) => Err(Status::resource_exhausted(format!(
                "the reader fell {missed} changes behind; watch again for a fresh snapshot"
            ))),
        };
        let last = item.is_err();
        if out.send(item).await.is_err() || last {
            return;
        }
    }
}

fn to_proto(change: &StockChange) -> pb::StockChange {
    pb::StockChange {
        sku: change.sku.clone(),
        stock: change.stock,
        reason: change.reason.as_str().to_owned(),
        at: Some(comms::grpc::timestamp(change.at)),
    }
}

#[cfg(test)]
mod tests {
    use tokio::sync::{broadcast, mpsc};
    use tonic::Code;

    use super::*;
    use crate::stock_feed::Reason;

    fn change(sku: &str, stock: i64) -> Notice {
        committed_by(sku, stock, None)
    }

    fn committed_by(sku: &str, stock: i64, xid: Option<u64>) -> Notice {
        let change = StockChange { xid, ..StockChange::new(sku, stock, Reason::Restocked) };
        Notice::Change(serde_json::to_string(&change).unwrap())
    }

    /// Runs `forward` to its end and collects what it sent.
    async fn collect(
        snapshot: Vec<StockChange>,
        seen: Seen,
        changes: Receiver<Notice>,
        watched: Option<&[&str]>,
        shutdown: Shutdown,
    ) -> Vec<Result<(String, i64, String), Code>> {
        let (tx, mut rx) = mpsc::channel(100);
        let watched = watched.map(|w| w.iter().map(|s| (*s).to_owned()).collect());
        forward(snapshot, seen, changes, watched, tx, shutdown).await;
        let mut items = Vec::new();
        while let Some(item) = rx.recv().await {
            items.push(item.map(|c| (c.sku, c.stock, c.reason)).map_err(|s| s.code()));
        }
        items
    }

    #[tokio::test]
    async fn the_snapshot_comes_first_then_only_watched_changes() {
        let (feed, changes) = broadcast::channel(16);
        for event in [change("A", 4), change("B", 9), change("A", 5), Notice::Interrupted] {
            feed.send(event).unwrap();
        }
        let snapshot = vec![StockChange::new("A", 3, Reason::Snapshot)];
        let items = collect(snapshot, Seen::default(), changes, Some(&["A"]), Shutdown::new()).await;
        assert_eq!(
            items,
            [
                Ok(("A".into(), 3, "snapshot".into())),
                Ok(("A".into(), 4, "restocked".into())),
                Ok(("A".into(), 5, "restocked".into())),
                Err(Code::Unavailable),
            ]
        );
    }

    #[tokio::test]
    async fn a_change_the_snapshot_already_holds_is_not_sent_again() {
        let (feed, changes) = broadcast::channel(16);
        // Transaction 41 committed before the snapshot (its notification
        // came late); 43 was still running when the snapshot was taken.
        for event in [committed_by("A", 3, Some(41)), committed_by("A", 5, Some(43)), Notice::Interrupted] {
            feed.send(event).unwrap();
        }
        let seen = Seen::parse("42:44:43").unwrap();
        let snapshot = vec![StockChange::new("A", 3, Reason::Snapshot)];
        let items = collect(snapshot, seen, changes, None, Shutdown::new()).await;
        assert_eq!(
            items,
            [Ok(("A".into(), 3, "snapshot".into())), Ok(("A".into(), 5, "restocked".into())), Err(Code::Unavailable)]
        );
    }

    #[tokio::test]
    async fn a_reader_that_fell_behind_is_dropped_with_resource_exhausted() {
        let (feed, changes) = broadcast::channel(4);
        for stock in 0..10 {
            feed.send(change("A", stock)).unwrap();
        }
        let items = collect(Vec::new(), Seen::default(), changes, None, Shutdown::new()).await;
        assert_eq!(items, [Err(Code::ResourceExhausted)], "no change is passed on once some were missed");
    }

    #[tokio::test]
    async fn shutdown_ends_the_stream_with_unavailable() {
        let (_feed, changes) = broadcast::channel::<Notice>(4);
        let shutdown = Shutdown::new();
        shutdown.trigger();
        let items = collect(Vec::new(), Seen::default(), changes, None, shutdown).await;
        assert_eq!(items, [Err(Code::Unavailable)]);
    }
}

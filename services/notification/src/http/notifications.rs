//! A user's notifications: a page at a time, or live as they are stored.
//! The gateway has authenticated the caller; here we decide whose
//! notifications they may read.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use comms::auth::Principal;
use comms::error::FieldViolation;
use comms::http::responses::{Forbidden, InvalidInput, QueryRefused, SignInRequired, TooManyStreams};
use comms::http::{ApiQuery, Caller, PageSize, Problem};
use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast::error::RecvError;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::db;
use crate::domain::{Notification, Status};
use crate::error::NotificationError;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::new().routes(routes!(list_notifications)).routes(routes!(stream_notifications))
}

/// A notification as its recipient sees it.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct NotificationView {
    id: Uuid,
    /// The domain event it is about.
    event_id: Uuid,
    event_type: String,
    /// The address it is delivered to.
    recipient: String,
    subject: String,
    body: String,
    status: DeliveryStatus,
    /// Delivery attempts so far.
    attempts: i32,
    created_at: chrono::DateTime<chrono::Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sent_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// `pending` until delivered (`sent`) or given up on (`failed`).
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    Pending,
    Sent,
    Failed,
}

impl From<&Notification> for NotificationView {
    fn from(n: &Notification) -> Self {
        let status = match n.status {
            Status::Pending => DeliveryStatus::Pending,
            Status::Sent => DeliveryStatus::Sent,
            Status::Failed => DeliveryStatus::Failed,
        };
        Self {
            id: n.id,
            event_id: n.event_id,
            event_type: n.event_type.clone(),
            recipient: n.recipient.clone(),
            subject: n.subject.clone(),
            body: n.body.clone(),
            status,
            attempts: n.attempts,
            created_at: n.created_at,
            sent_at: n.sent_at,
        }
    }
}

/// Taken as text and parsed here, so each bad value is a 422 naming its
/// field rather than a 400 about the query string as a whole.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Page size, 1 to 100 (default 20).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    limit: Option<String>,
    /// The `next_cursor` of the previous page.
    #[param(value_type = Option<Uuid>)]
    cursor: Option<String>,
    /// Whose notifications: only an admin may name someone else (default:
    /// the caller).
    #[param(value_type = Option<Uuid>)]
    recipient: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct NotificationPage {
    items: Vec<NotificationView>,
    /// Pass as `cursor` to get the next (older) page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<Uuid>,
}

/// A page request whose every field has been checked.
struct PageRequest {
    recipient: Option<Uuid>,
    cursor: Option<Uuid>,
    size: PageSize,
}

impl PageRequest {
    fn parse(params: &ListParams) -> Result<Self, NotificationError> {
        let mut violations = Vec::new();
        let size = PageSize::parse_text(params.limit.as_deref()).map_err(|v| violations.push(v)).ok();
        let mut uuid = |field: &str, raw: Option<&str>| match raw.map(Uuid::parse_str) {
            None => None,
            Some(Ok(id)) => Some(id),
            Some(Err(_)) => {
                violations.push(FieldViolation::new(field, "must be a UUID"));
                None
            }
        };
        let cursor = uuid("cursor", params.cursor.as_deref());
        let recipient = uuid("recipient", params.recipient.as_deref());
        match size {
            Some(size) if violations.is_empty() => Ok(Self { recipient, cursor, size }),
            _ => Err(NotificationError::from(violations)),
        }
    }
}

/// The caller's notifications, newest first (an admin may read anyone's).
#[utoipa::path(get, path = "/notifications", tag = "notifications", params(ListParams),
    responses(
        (status = 200, body = NotificationPage),
        QueryRefused, SignInRequired, Forbidden, InvalidInput,
    ))]
#[tracing::instrument(skip_all)]
async fn list_notifications(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<NotificationPage>, NotificationError> {
    let request = PageRequest::parse(&params)?;
    let owner = request.recipient.unwrap_or(caller.user_id);
    if !caller.may_act_for(owner) {
        return Err(NotificationError::Forbidden);
    }
    let rows = db::list_for(&state.db, owner, request.cursor, request.size.rows_to_fetch()).await?;
    let (items, next_cursor) = request.size.page(rows, |n| n.id);
    Ok(Json(NotificationPage { items: items.iter().map(Into::into).collect(), next_cursor }))
}

/// The caller's new notifications, live, as Server-Sent Events: one
/// `notification` event (its `data` a notification as JSON, its `id` the
/// notification's) per notification stored after the stream opened, and a
/// comment line when the stream is idle, to keep it open through proxies.
/// A user may hold only a few streams open, and each ends after its
/// lifetime (or when the service stops) with an `end` event: the client
/// reconnects, and lists what it missed.
#[utoipa::path(get, path = "/notifications/stream", tag = "notifications",
    responses(
        (status = 200, content_type = "text/event-stream", body = String,
            description = "`event: notification` messages whose `data` is a NotificationView, until a last `event: end` (the stream's lifetime is over: reconnect)"),
        SignInRequired,
        TooManyStreams,
    ))]
#[tracing::instrument(skip_all, fields(user_id = %caller.user_id))]
async fn stream_notifications(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, Problem> {
    let user = caller.user_id;
    let slot = state.streams.open(&Principal::User(caller)).map_err(|refused| Problem::of(&refused))?;
    // Subscribed before the response goes out: whatever is stored once the
    // client sees the headers reaches it.
    let receiver = state.live.subscribe();
    let events = futures::stream::unfold(receiver, move |mut receiver| async move {
        loop {
            let event = match receiver.recv().await {
                Ok(notification) if notification.user_id == Some(user) => Event::default()
                    .event("notification")
                    .id(notification.id.to_string())
                    .data(serde_json::to_string(&NotificationView::from(notification.as_ref())).ok()?),
                Ok(_) => continue,
                // Some may have been the caller's: say so, and carry on.
                Err(RecvError::Lagged(_)) => Event::default().comment("the stream fell behind; list to catch up"),
                Err(RecvError::Closed) => return None,
            };
            return Some((Ok(event), receiver));
        }
    });
    let end = Event::default().event("end").data("this stream's lifetime is over: reconnect");
    let events = slot.bound(events.take_until(state.live.closed())).chain(futures::stream::once(async { Ok(end) }));
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(state.keep_alive)))
}

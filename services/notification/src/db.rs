//! The notifications table. Functions take an executor so the caller
//! decides the transaction; outcomes the caller must handle are `Option`s.

use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use crate::domain::{Draft, Notification, Status};

#[derive(sqlx::FromRow)]
struct NotificationRow {
    id: Uuid,
    event_id: Uuid,
    event_type: String,
    user_id: Option<Uuid>,
    recipient: String,
    subject: String,
    body: String,
    status: String,
    attempts: i32,
    last_error: Option<String>,
    created_at: chrono::DateTime<chrono::Utc>,
    sent_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<NotificationRow> for Notification {
    fn from(r: NotificationRow) -> Self {
        Self {
            id: r.id,
            event_id: r.event_id,
            event_type: r.event_type,
            user_id: r.user_id,
            recipient: r.recipient,
            subject: r.subject,
            body: r.body,
            // The CHECK constraint allows nothing else.
            status: Status::parse(&r.status).unwrap_or(Status::Pending),
            attempts: r.attempts,
            last_error: r.last_error,
            created_at: r.created_at,
            sent_at: r.sent_at,
        }
    }
}

/// Stores `draft` for the event, or returns `None` if this recipient
/// already has a notification for it.
#[tracing::instrument(skip_all, fields(%event_id))]
pub async fn insert(
    conn: &mut PgConnection,
    event_id: Uuid,
    event_type: &str,
    draft: &Draft,
) -> sqlx::Result<Option<Notification>> {
    // ON CONFLICT keeps a duplicate from aborting the caller's transaction.
    let row = sqlx::query_as::<_, NotificationRow>(
        "INSERT INTO notifications (id, event_id, event_type, user_id, recipient, subject, body)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT ON CONSTRAINT notifications_event_recipient_key DO NOTHING
         RETURNING id, event_id, event_type, user_id, recipient, subject, body, status, attempts, last_error,
                   created_at, sent_at",
    )
    .bind(Uuid::now_v7())
    .bind(event_id)
    .bind(event_type)
    .bind(draft.recipient.user_id)
    .bind(draft.recipient.address.as_str())
    .bind(&draft.message.subject)
    .bind(&draft.message.body)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(Into::into))
}

#[tracing::instrument(skip(executor))]
pub async fn find(executor: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<Notification>> {
    sqlx::query_as::<_, NotificationRow>(
        "SELECT id, event_id, event_type, user_id, recipient, subject, body, status, attempts, last_error,
                created_at, sent_at
         FROM notifications WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(executor)
    .await
    .map(|row| row.map(Into::into))
}

/// One page of a user's notifications, newest first, older than `before`
/// (keyset pagination on the time-ordered id: stable while new ones
/// arrive at the top).
#[tracing::instrument(skip(executor))]
pub async fn list_for(
    executor: impl PgExecutor<'_>,
    user_id: Uuid,
    before: Option<Uuid>,
    limit: i64,
) -> sqlx::Result<Vec<Notification>> {
    sqlx::query_as::<_, NotificationRow>(
        "SELECT id, event_id, event_type, user_id, recipient, subject, body, status, attempts, last_error,
                created_at, sent_at
         FROM notifications
         WHERE user_id = $1 AND ($2::uuid IS NULL OR id < $2)
         ORDER BY id DESC LIMIT $3",
    )
    .bind(user_id)
    .bind(before)
    .bind(limit)
    .fetch_all(executor)
    .await
    .map(|rows| rows.into_iter().map(Into::into).collect())
}

#[tracing::instrument(skip(executor))]
pub async fn record_sent(executor: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE notifications SET status = 'sent', sent_at = now(), attempts = attempts + 1, last_error = NULL
         WHERE id = $1",
    )
    .bind(id)
    .execute(executor)
    .await
    .map(|_| ())
}

/// Counts a failed attempt; `gave_up` marks the notification failed for good.
#[tracing::instrument(skip(executor, error))]
pub async fn record_failure(executor: impl PgExecutor<'_>, id: Uuid, error: &str, gave_up: bool) -> sqlx::Result<()> {
    let status = if gave_up { Status::Failed } else { Status::Pending };
    sqlx::query("UPDATE notifications SET status = $2, attempts = attempts + 1, last_error = $3 WHERE id = $1")
        .bind(id)
        .bind(status.as_str())
        .bind(error)
        .execute(executor)
        .await
        .map(|_| ())
}

//! The users table. Functions take an executor so the caller decides the
//! transaction; outcomes the caller must handle are enums, not errors.

use futures::Stream;
use sqlx::{PgConnection, PgExecutor, Postgres};
use uuid::Uuid;

use crate::domain::{Email, PasswordHash, Role, User, UserName};

#[derive(sqlx::FromRow)]
struct UserRow {
    id: Uuid,
    email: String,
    name: String,
    roles: Vec<String>,
    created_at: chrono::DateTime<chrono::Utc>,
}

impl From<UserRow> for User {
    fn from(r: UserRow) -> Self {
        Self { id: r.id, email: r.email, name: r.name, roles: r.roles, created_at: r.created_at }
    }
}

/// The schema's name for "one account per email" (the migration that
/// creates `users` names it), so a violation is told apart from any other.
const EMAIL_UNIQUE: &str = "users_email_key";

pub enum Inserted {
    Created(User),
    EmailTaken,
}

#[tracing::instrument(skip_all)]
pub async fn insert_user(
    conn: &mut PgConnection,
    email: &Email,
    name: &UserName,
    hash: &PasswordHash,
    roles: &[&str],
) -> sqlx::Result<Inserted> {
    // ON CONFLICT keeps a duplicate from aborting the caller's transaction,
    // and answers the race between two registrations of one email exactly.
    let row = sqlx::query_as::<_, UserRow>(
        "INSERT INTO users (id, email, name, password_hash, roles) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT ON CONSTRAINT users_email_key DO NOTHING
         RETURNING id, email, name, roles, created_at",
    )
    .bind(Uuid::now_v7())
    .bind(email.as_str())
    .bind(name.as_str())
    .bind(&hash.0)
    .bind(roles)
    .fetch_optional(conn)
    .await?;
    Ok(row.map_or(Inserted::EmailTaken, |r| Inserted::Created(r.into())))
}

/// Whether start-up seeded `name` at some earlier start.
#[tracing::instrument(skip(executor))]
pub async fn seeded(executor: impl PgExecutor<'_>, name: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM seeds WHERE name = $1)").bind(name).fetch_one(executor).await
}

/// Records that `name` is seeded; false if it already was (another replica,
/// starting at the same moment, got there first).
#[tracing::instrument(skip(conn))]
pub async fn mark_seeded(conn: &mut PgConnection, name: &str) -> sqlx::Result<bool> {
    let done =
        sqlx::query("INSERT INTO seeds (name) VALUES ($1) ON CONFLICT DO NOTHING").bind(name).execute(conn).await?;
    Ok(done.rows_affected() == 1)
}

#[tracing::instrument(skip(executor))]
pub async fn find_user(executor: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<User>> {
    sqlx::query_as::<_, UserRow>("SELECT id, email, name, roles, created_at FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(executor)
        .await
        .map(|row| row.map(Into::into))
}

/// The user and their stored hash, for login.
#[tracing::instrument(skip_all)]
pub async fn find_credentials(
    executor: impl PgExecutor<'_>,
    email: &Email,
) -> sqlx::Result<Option<(User, PasswordHash)>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        user: UserRow,
        password_hash: String,
    }
    let row = sqlx::query_as::<_, Row>(
        "SELECT id, email, name, roles, created_at, password_hash FROM users WHERE email = $1",
    )
    .bind(email.as_str())
    .fetch_optional(executor)
    .await?;
    Ok(row.map(|r| (r.user.into(), PasswordHash(r.password_hash))))
}

/// One page in id order, after `after` (keyset pagination: stable under
/// inserts, and as fast on page 1,000 as on page 1).
#[tracing::instrument(skip(executor))]
pub async fn list_users(executor: impl PgExecutor<'_>, after: Option<Uuid>, limit: i64) -> sqlx::Result<Vec<User>> {
    sqlx::query_as::<_, UserRow>(
        "SELECT id, email, name, roles, created_at FROM users
         WHERE $1::uuid IS NULL OR id > $1 ORDER BY id LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(executor)
    .await
    .map(|rows| rows.into_iter().map(Into::into).collect())
}

/// Which users a stream sends; the default is every user.
#[derive(Debug, Default)]
pub struct UserFilter {
    pub limit: Option<i64>,
    /// Text the email or the name contains, ignoring case.
    pub contains: Option<String>,
    pub role: Option<Role>,
}

/// The users `filter` selects, in id order, as rows arrive from the server.
/// The filter runs in SQL, so only matching rows cross the wire; nothing is
/// buffered here: when the consumer stops pulling, the query stops too.
pub fn stream_users<'c>(
    executor: impl PgExecutor<'c> + 'c,
    filter: UserFilter,
) -> impl Stream<Item = sqlx::Result<User>> + Send + 'c {
    use futures::StreamExt;
    // strpos, not LIKE: the client's text is matched as text, so a `%` or
    // `_` in it means itself rather than a wildcard.
    sqlx::query_as::<Postgres, UserRow>(
        "SELECT id, email, name, roles, created_at FROM users
         WHERE ($2::text IS NULL OR strpos(lower(email), lower($2)) > 0 OR strpos(lower(name), lower($2)) > 0)
           AND ($3::text IS NULL OR $3 = ANY(roles))
         ORDER BY id LIMIT $1",
    )
    .bind(filter.limit)
    .bind(filter.contains)
    .bind(filter.role.map(Role::as_str))
    .fetch(executor)
    .map(|row| row.map(Into::into))
}

/// What became of an update.
pub enum Update {
    Done(User),
    NotFound,
    EmailTaken,
}

#[tracing::instrument(skip_all, fields(%id))]
pub async fn update_user(
    conn: &mut PgConnection,
    id: Uuid,
    name: Option<&UserName>,
    email: Option<&Email>,
) -> sqlx::Result<Update> {
    let taken = match email {
        Some(email) => {
            sqlx::query_scalar::<_, bool>("SELECT EXISTS (SELECT 1 FROM users WHERE email = $1 AND id <> $2)")
                .bind(email.as_str())
                .bind(id)
                .fetch_one(&mut *conn)
                .await?
        }
        None => false,
    };
    if taken {
        return Ok(Update::EmailTaken);
    }
    let row = sqlx::query_as::<_, UserRow>(
        "UPDATE users SET name = COALESCE($2, name), email = COALESCE($3, email), updated_at = now()
         WHERE id = $1 RETURNING id, email, name, roles, created_at",
    )
    .bind(id)
    .bind(name.map(UserName::as_str))
    .bind(email.map(Email::as_str))
    .fetch_optional(&mut *conn)
    .await;
    match row {
        Ok(Some(row)) => Ok(Update::Done(row.into())),
        Ok(None) => Ok(Update::NotFound),
        // Another request took the email between our check and the update.
        Err(e) if comms::db::broken_constraint(&e) == Some(EMAIL_UNIQUE) => Ok(Update::EmailTaken),
        Err(e) => Err(e),
    }
}

#[tracing::instrument(skip(executor))]
pub async fn delete_user(executor: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<bool> {
    let result = sqlx::query("DELETE FROM users WHERE id = $1").bind(id).execute(executor).await?;
    Ok(result.rows_affected() == 1)
}

//! What a database error means for the work that hit it: try again later,
//! or never. Written once, so every consumer retries (and dead-letters) the
//! same failures the same way.
//!
//! | error | SQLSTATE | meaning |
//! |---|---|---|
//! | connection lost, I/O, TLS, protocol | `08…` | transient: the server or the path to it is back soon |
//! | pool timed out or closed | – | transient: load or shutdown, not the message |
//! | serialization failure, deadlock | `40…` | transient: the same transaction succeeds when retried |
//! | too many connections, out of resources | `53…` | transient |
//! | admin shutdown, crash, cannot connect now | `57P…` | transient |
//! | data exception (bad value, NUL in text) | `22…` | permanent: the same input fails the same way |
//! | integrity constraint (unique, check, foreign key) | `23…` | permanent |
//! | a row or column that is not there, a value that cannot be decoded | – | permanent |
//! | anything else the server refuses (`42…` undefined table, …) | | transient: a deployment in progress looks like this; retries, then the dead letter keep it |

use crate::error::ErrorKind;
use crate::messaging::HandlerError;

/// Whether retrying the same work later may succeed.
pub fn is_transient(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            !(code.starts_with("22") || code.starts_with("23"))
        }
        sqlx::Error::RowNotFound
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::ColumnIndexOutOfBounds { .. }
        | sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::Encode(_)
        | sqlx::Error::TypeNotFound { .. } => false,
        _ => true,
    }
}

/// How a request that hit this error is answered. Out of reach or
/// overloaded (lost connection, pool exhausted or closed, too many
/// connections, shutting down, a serialization failure) is 503: the client
/// may retry. Anything else is a bug in our SQL or data and a 500, logged.
pub fn answer_kind(error: &sqlx::Error) -> ErrorKind {
    let unavailable = match error {
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            ["08", "40", "53", "57P"].iter().any(|class| code.starts_with(class))
        }
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => true,
        _ => false,
    };
    if unavailable { ErrorKind::Unavailable } else { ErrorKind::Internal }
}

/// The name of the integrity constraint (unique, check, foreign key) this
/// error broke, if that is what it is: the schema's own check, which a
/// service turns into the answer the offending field deserves.
pub fn broken_constraint(error: &sqlx::Error) -> Option<&str> {
    match error {
        sqlx::Error::Database(db) if db.code().is_some_and(|code| code.starts_with("23")) => db.constraint(),
        _ => None,
    }
}

impl From<sqlx::Error> for HandlerError {
    fn from(error: sqlx::Error) -> Self {
        let reason = format!("database: {error}");
        if is_transient(&error) { Self::Transient(reason) } else { Self::Permanent(reason) }
    }
}

#[cfg(test)]
mod tests {
    use super::{answer_kind, is_transient};
    use crate::error::ErrorKind;

    #[test]
    fn lost_connections_and_timeouts_are_transient_missing_rows_are_not() {
        assert!(is_transient(&sqlx::Error::PoolTimedOut));
        assert!(is_transient(&sqlx::Error::PoolClosed));
        assert!(is_transient(&sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionReset))));
        assert!(!is_transient(&sqlx::Error::RowNotFound));
        assert!(!is_transient(&sqlx::Error::ColumnNotFound("x".into())));
    }

    #[test]
    fn an_exhausted_pool_is_answered_unavailable_a_missing_column_internal() {
        assert_eq!(answer_kind(&sqlx::Error::PoolTimedOut), ErrorKind::Unavailable);
        assert_eq!(answer_kind(&sqlx::Error::Io(std::io::ErrorKind::ConnectionReset.into())), ErrorKind::Unavailable);
        assert_eq!(answer_kind(&sqlx::Error::ColumnNotFound("x".into())), ErrorKind::Internal);
        assert_eq!(answer_kind(&sqlx::Error::RowNotFound), ErrorKind::Internal);
    }
}

//! A per-minute series of one event type: what may be asked for, and the
//! answer.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

/// An event type the series can count: one of `events::ALL_TYPES`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Metric(&'static str);

impl Metric {
    pub fn parse(raw: &str) -> Result<Self, String> {
        events::ALL_TYPES
            .iter()
            .copied()
            .find(|t| *t == raw)
            .map(Self)
            .ok_or_else(|| format!("must be one of {}", events::ALL_TYPES.join(", ")))
    }

    pub fn as_str(self) -> &'static str {
        self.0
    }
}

/// In OpenAPI, a metric is a string with the event types as its values.
impl utoipa::PartialSchema for Metric {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new().schema_type(Type::String).enum_values(Some(events::ALL_TYPES.iter().copied())).into()
    }
}

impl utoipa::ToSchema for Metric {}

/// How many minutes a series covers, ending with the current one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window(u16);

impl Window {
    pub const DEFAULT: Self = Self(60);
    /// A day: the most a dashboard plots per minute.
    pub const MAX: u16 = 1440;

    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw.parse::<u16>() {
            Ok(minutes) if (1..=Self::MAX).contains(&minutes) => Ok(Self(minutes)),
            _ => Err(format!("must be a whole number of minutes from 1 to {}", Self::MAX)),
        }
    }

    pub fn minutes(self) -> u16 {
        self.0
    }
}

/// Events of one type per minute, oldest minute first, every minute of
/// the window present (0 when nothing happened).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct Series {
    #[schema(example = "order.placed")]
    pub metric: String,
    pub minutes: u16,
    pub points: Vec<Point>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema, sqlx::FromRow)]
pub struct Point {
    /// The start of the minute.
    pub minute: DateTime<Utc>,
    /// Events whose own time falls in this minute.
    pub events: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_type_is_a_metric_and_nothing_else_is() {
        for t in events::ALL_TYPES {
            assert_eq!(Metric::parse(t).unwrap().as_str(), *t);
        }
        for bad in ["", "order", "ORDER.PLACED", "order.placed ", "order.placed\0"] {
            assert!(Metric::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_window_is_1_to_1440_minutes() {
        assert_eq!(Window::parse("1").unwrap().minutes(), 1);
        assert_eq!(Window::parse("1440").unwrap().minutes(), 1440);
        for bad in ["0", "1441", "-5", "1.5", "", "sixty", "99999999999999999999"] {
            assert!(Window::parse(bad).is_err(), "{bad:?}");
        }
    }
}

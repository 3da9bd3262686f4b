//! The analytics domain: what each event says (its [`Fact`]), the
//! parameters a reader may ask for, and the aggregates it reads back.

mod fact;
mod series;
mod summary;

pub use fact::{Fact, OrderFact, Stage};
pub use series::{Metric, Point, Series, Window};
pub use summary::{OrdersByStatus, SkuSales, Summary, TOP_SKUS};

//! Keyset pagination's shared half: the page size a client asks for, and
//! cutting fetched rows into a page plus the cursor of the next one. What a
//! cursor is (an id, a sku) stays with each endpoint.

use crate::error::FieldViolation;

/// `?limit=&after=`, the query of a list paged by the last id seen.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Page size, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub after: Option<uuid::Uuid>,
}

/// A page size from `?limit=`: 1 to 100, 20 when absent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageSize(u8);

impl PageSize {
    pub const DEFAULT: Self = Self(20);
    pub const MAX: u8 = 100;

    /// The size a client asked for, or the violation naming `limit`.
    pub fn parse(limit: Option<i64>) -> Result<Self, FieldViolation> {
        match limit {
            None => Ok(Self::DEFAULT),
            Some(n) => {
                u8::try_from(n).ok().filter(|n| (1..=Self::MAX).contains(n)).map(Self).ok_or_else(|| {
                    FieldViolation::new("limit", format!("must be an integer between 1 and {}", Self::MAX))
                })
            }
        }
    }

    /// The same from the raw text, for an endpoint that takes its query as
    /// strings so that `limit=abc` is a 422 naming the field.
    pub fn parse_text(limit: Option<&str>) -> Result<Self, FieldViolation> {
        match limit.map(str::parse::<i64>) {
            None => Ok(Self::DEFAULT),
            Some(Ok(n)) => Self::parse(Some(n)),
            Some(Err(_)) => Self::parse(Some(0)),
        }
    }

    /// How many rows to fetch: one more than a page, which tells whether
    /// another page follows without a COUNT.
    pub fn rows_to_fetch(self) -> i64 {
        i64::from(self.0) + 1
    }

    /// The page within `rows` (fetched with [`rows_to_fetch`](Self::rows_to_fetch)),
    /// and the next page's cursor, taken from the page's last item, when
    /// another page follows.
    pub fn page<T, C>(self, mut rows: Vec<T>, cursor: impl FnOnce(&T) -> C) -> (Vec<T>, Option<C>) {
        if rows.len() <= usize::from(self.0) {
            return (rows, None);
        }
        rows.truncate(usize::from(self.0));
        let next = rows.last().map(cursor);
        (rows, next)
    }
}

#[cfg(test)]
mod tests {
    use super::PageSize;

    #[test]
    fn limits_outside_one_to_a_hundred_name_the_field() {
        assert_eq!(PageSize::parse(None), Ok(PageSize::DEFAULT));
        assert_eq!(PageSize::parse(Some(100)).map(PageSize::rows_to_fetch), Ok(101));
        for bad in [0, -1, 101, 256, i64::MAX] {
            assert_eq!(PageSize::parse(Some(bad)).unwrap_err().field, "limit", "{bad}");
        }
        assert_eq!(PageSize::parse_text(Some("7")).map(PageSize::rows_to_fetch), Ok(8));
        assert!(PageSize::parse_text(Some("seven")).is_err());
    }

    #[test]
    fn a_full_fetch_is_cut_to_the_page_with_the_last_items_cursor() {
        let size = PageSize::parse(Some(2)).unwrap();
        assert_eq!(size.page(vec![1, 2, 3], |n| n * 10), (vec![1, 2], Some(20)));
        assert_eq!(size.page(vec![1, 2], |n| n * 10), (vec![1, 2], None), "the last page has no cursor");
        assert_eq!(size.page(Vec::<i32>::new(), |n| n * 10), (vec![], None));
    }
}

use std::collections::HashMap;

use comms::error::FieldViolation;

use super::{Line, Quantity, Sku, field};
use crate::error::OrderError;

/// What a customer asks for, checked: 1 to 50 lines, one per sku, kept in
/// sku order. The order of lines in a request carries no meaning, so
/// sorting makes two requests for the same things look the same.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderRequest {
    lines: Vec<RequestedLine>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct RequestedLine {
    sku: Sku,
    quantity: Quantity,
}

/// The request's lines with inventory's prices, and their total.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Priced {
    pub lines: Vec<Line>,
    pub total: i64,
}

impl OrderRequest {
    pub const MAX_LINES: usize = 50;

    /// Checks `(sku, quantity)` pairs as sent. A sku sent twice is refused
    /// rather than merged: a cart never sends one, so it is a client bug,
    /// and merging would have to re-check the summed quantity anyway.
    pub fn parse<'a>(lines: impl IntoIterator<Item = (&'a str, i64)>) -> Result<Self, OrderError> {
        let mut violations = Vec::new();
        let mut parsed: Vec<(usize, RequestedLine)> = Vec::new();
        let mut count = 0;
        for (i, (sku, quantity)) in lines.into_iter().enumerate() {
            count += 1;
            let sku = field(&format!("lines[{i}].sku"), Sku::parse(sku), &mut violations);
            let quantity = field(&format!("lines[{i}].quantity"), Quantity::parse(quantity), &mut violations);
            if let (Some(sku), Some(quantity)) = (sku, quantity) {
                match parsed.iter().find(|(_, line)| line.sku == sku) {
                    Some((first, _)) => violations.push(FieldViolation::new(
                        format!("lines[{i}].sku"),
                        format!("the same sku as lines[{first}]: send each sku once"),
                    )),
                    None => parsed.push((i, RequestedLine { sku, quantity })),
                }
            }
        }
        if !(1..=Self::MAX_LINES).contains(&count) {
            violations.push(FieldViolation::new("lines", format!("must have 1 to {} lines", Self::MAX_LINES)));
        }
        if !violations.is_empty() {
            return Err(OrderError::from(violations));
        }
        let mut lines: Vec<RequestedLine> = parsed.into_iter().map(|(_, line)| line).collect();
        lines.sort_by(|a, b| a.sku.cmp(&b.sku));
        Ok(Self { lines })
    }

    pub fn skus(&self) -> Vec<String> {
        self.lines.iter().map(|l| l.sku.as_str().to_owned()).collect()
    }

    /// The request in one canonical text (sorted lines, fixed field order,
    /// no whitespace): what an idempotency record's fingerprint hashes, so
    /// the same order sent with its lines or fields reordered still counts
    /// as the same request.
    pub fn canonical(&self) -> String {
        let lines: Vec<serde_json::Value> =
            self.lines.iter().map(|l| serde_json::json!([l.sku.as_str(), l.quantity.get()])).collect();
        serde_json::Value::Array(lines).to_string()
    }

    /// Prices every line from `prices` (sku → minor units). Fails naming
    /// the skus that have no price.
    pub fn price(&self, prices: &HashMap<String, i64>) -> Result<Priced, OrderError> {
        let unknown: Vec<String> = self
            .lines
            .iter()
            .map(|l| l.sku.as_str())
            .filter(|sku| !prices.contains_key(*sku))
            .map(Into::into)
            .collect();
        if !unknown.is_empty() {
            return Err(OrderError::UnknownProducts { skus: unknown });
        }
        let lines: Vec<Line> = self
            .lines
            .iter()
            .map(|l| Line {
                sku: l.sku.as_str().to_owned(),
                quantity: l.quantity.get(),
                unit_price: prices[l.sku.as_str()],
            })
            .collect();
        // Quantities are bounded, prices are not: an absurd price must not
        // wrap around into a small total.
        let total = lines
            .iter()
            .try_fold(0i64, |sum, l| l.quantity.checked_mul(l.unit_price).and_then(|amount| sum.checked_add(amount)))
            .ok_or_else(|| OrderError::invalid("lines", "the order total is too large"))?;
        Ok(Priced { lines, total })
    }
}

#[cfg(test)]
mod tests {
    use comms::error::Failure;

    use super::*;

    fn violated(result: Result<OrderRequest, OrderError>) -> Vec<String> {
        match result {
            Err(OrderError::Failed(Failure::Invalid(violations))) => violations.into_iter().map(|v| v.field).collect(),
            other => panic!("expected violations, got {other:?}"),
        }
    }

    #[test]
    fn the_canonical_form_ignores_the_order_of_lines() {
        let a = OrderRequest::parse([("B", 2), ("A", 1)]).unwrap();
        let b = OrderRequest::parse([("A", 1), ("B", 2)]).unwrap();
        assert_eq!(a.canonical(), b.canonical());
        assert_eq!(a.canonical(), r#"[["A",1],["B",2]]"#);
        assert_ne!(a.canonical(), OrderRequest::parse([("A", 1), ("B", 3)]).unwrap().canonical());
    }

    #[test]
    fn every_bad_line_is_named() {
        assert_eq!(violated(OrderRequest::parse([])), ["lines"]);
        assert_eq!(
            violated(OrderRequest::parse([("", 1), ("A", 0), ("B", 1), ("B", 2), ("C\0", 1001)])),
            ["lines[0].sku", "lines[1].quantity", "lines[3].sku", "lines[4].sku", "lines[4].quantity"]
        );
        let many: Vec<(String, i64)> = (0..51).map(|i| (format!("S{i}"), 1)).collect();
        assert_eq!(violated(OrderRequest::parse(many.iter().map(|(s, q)| (s.as_str(), *q)))), ["lines"]);
    }

    #[test]
    fn pricing_names_unknown_skus_and_refuses_overflow() {
        let request = OrderRequest::parse([("A", 2), ("B", 1), ("C", 1)]).unwrap();
        let prices = HashMap::from([("A".to_owned(), 250), ("B".to_owned(), 100)]);
        assert!(matches!(request.price(&prices), Err(OrderError::UnknownProducts { skus }) if skus == ["C"]));

        let request = OrderRequest::parse([("A", 2), ("B", 1)]).unwrap();
        let priced = request.price(&prices).unwrap();
        assert_eq!(priced.total, 600);
        assert_eq!(priced.lines[0], Line { sku: "A".into(), quantity: 2, unit_price: 250 });

        let huge = HashMap::from([("A".to_owned(), i64::MAX / 2 + 1), ("B".to_owned(), 1)]);
        assert!(matches!(request.price(&huge), Err(OrderError::Failed(Failure::Invalid(_)))));
    }
}

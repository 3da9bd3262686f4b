//! One template per kind of event: a subject line and a plain-text body.
//!
//! Plain functions rather than a template engine: five short messages do
//! not need one, and the compiler checks every field they use.
//!
//! Event fields are interpolated through [`clean`]: a name or a sku comes
//! from another service, and a control character in it must neither break
//! a mail header nor reach PostgreSQL (which refuses NUL in text).

use events::{LowStock, OrderCancelled, OrderConfirmed, OrderExpired, OrderLine, OrderRejected};

use super::Message;

pub fn welcome(name: &str) -> Message {
    let name = clean(name);
    Message {
        subject: format!("Welcome to switchyard, {name}"),
        body: format!(
            "Hello {name},\n\nyour account is ready. You will hear from us here when your orders move.\n\n\
             The switchyard team\n"
        ),
    }
}

pub fn order_confirmed(name: &str, order: &OrderConfirmed) -> Message {
    Message {
        subject: format!("Your order {} is confirmed", order.order_id),
        body: format!(
            "Hello {},\n\nwe have reserved everything you ordered:\n\n{}\nTotal: {}\n\nThe switchyard team\n",
            clean(name),
            lines(&order.lines),
            money(order.total)
        ),
    }
}

pub fn order_rejected(name: &str, order: &OrderRejected) -> Message {
    not_fulfilled(name, order.order_id, &order.reason)
}

/// The saga's deadline passed with no answer from inventory: to the
/// customer, the same as a rejection, with its own reason.
pub fn order_expired(name: &str, order: &OrderExpired) -> Message {
    not_fulfilled(name, order.order_id, &order.reason)
}

fn not_fulfilled(name: &str, order_id: uuid::Uuid, reason: &str) -> Message {
    Message {
        subject: format!("Your order {order_id} could not be fulfilled"),
        body: format!(
            "Hello {},\n\nwe could not fulfil your order {order_id}: {}.\nYou have not been charged.\n\nThe switchyard team\n",
            clean(name),
            clean(reason)
        ),
    }
}

pub fn order_cancelled(name: &str, order: &OrderCancelled) -> Message {
    Message {
        subject: format!("Your order {} is cancelled", order.order_id),
        body: format!(
            "Hello {},\n\nyour order {} is cancelled, as asked. It contained:\n\n{}\nTotal: {}\n\n\
             The switchyard team\n",
            clean(name),
            order.order_id,
            lines(&order.lines),
            money(order.total)
        ),
    }
}

pub fn low_stock(event: &LowStock) -> Message {
    let sku = clean(&event.sku);
    Message {
        subject: format!("Low stock: {sku}"),
        body: format!(
            "{} ({sku}) is down to {} in stock; the threshold is {}.\nTime to restock.\n",
            clean(&event.name),
            event.stock,
            event.threshold
        ),
    }
}

/// One line per order line: `2 x SKU-1 at 12.50`.
fn lines(lines: &[OrderLine]) -> String {
    lines.iter().map(|l| format!("  {} x {} at {}\n", l.quantity, clean(&l.sku), money(l.unit_price))).collect()
}

/// Minor units as a decimal amount: 1250 → `12.50`.
fn money(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// Control characters (NUL, CR, LF, ...) removed.
fn clean(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_shown_in_major_units() {
        assert_eq!(money(1250), "12.50");
        assert_eq!(money(5), "0.05");
        assert_eq!(money(-199), "-1.99");
        assert_eq!(money(i64::MIN), "-92233720368547758.08");
    }

    #[test]
    fn interpolated_fields_lose_their_control_characters() {
        let message = welcome("Ada\r\nBcc: evil@example.com\0");
        assert_eq!(message.subject, "Welcome to switchyard, AdaBcc: evil@example.com");
        assert!(!message.body.contains('\0'));
    }

    #[test]
    fn a_confirmation_lists_every_line_and_the_total() {
        let order = OrderConfirmed {
            order_id: uuid::Uuid::nil(),
            customer_id: uuid::Uuid::nil(),
            lines: vec![OrderLine { sku: "SKU-1".into(), quantity: 2, unit_price: 1250 }],
            total: 2500,
        };
        let message = order_confirmed("Ada", &order);
        assert!(message.body.contains("2 x SKU-1 at 12.50"));
        assert!(message.body.contains("Total: 25.00"));
    }
}

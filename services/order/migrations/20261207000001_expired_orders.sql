-- The saga's deadline: a PENDING order that inventory never answered is
-- closed as EXPIRED (`expiry.rs`).
ALTER TABLE orders DROP CONSTRAINT orders_status_check;
ALTER TABLE orders ADD CONSTRAINT orders_status_check
    CHECK (status IN ('PENDING', 'CONFIRMED', 'REJECTED', 'CANCELLED', 'EXPIRED'));

-- What the sweep looks for: the oldest PENDING orders, without a scan of
-- every settled one.
CREATE INDEX orders_pending_oldest ON orders (created_at) WHERE status = 'PENDING';

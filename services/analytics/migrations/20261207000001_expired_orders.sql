-- Orders the order service expired at the saga's deadline (order.expired).
ALTER TABLE order_facts ADD COLUMN expired_at timestamptz;

-- A generated column's expression cannot be changed in place: the status
-- is dropped and made again with EXPIRED after the answers inventory gives
-- (an order expires only while no answer has come).
DROP INDEX order_facts_status;
ALTER TABLE order_facts DROP COLUMN status;
ALTER TABLE order_facts ADD COLUMN status text NOT NULL GENERATED ALWAYS AS (
    CASE
        WHEN cancelled_at IS NOT NULL THEN 'CANCELLED'
        WHEN confirmed_at IS NOT NULL THEN 'CONFIRMED'
        WHEN rejected_at IS NOT NULL THEN 'REJECTED'
        WHEN expired_at IS NOT NULL THEN 'EXPIRED'
        ELSE 'PENDING'
    END
) STORED;
CREATE INDEX order_facts_status ON order_facts (status);

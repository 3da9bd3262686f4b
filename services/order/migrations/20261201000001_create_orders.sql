-- Orders, their lines, and the idempotency records of POST /orders.

CREATE TABLE orders (
    id          uuid PRIMARY KEY,
    customer_id uuid NOT NULL,
    status      text NOT NULL
        CONSTRAINT orders_status_check CHECK (status IN ('PENDING', 'CONFIRMED', 'REJECTED', 'CANCELLED')),
    -- Minor units; the sum of the lines, fixed when the order was placed.
    total       bigint NOT NULL CHECK (total >= 0),
    -- Why inventory rejected it; NULL otherwise.
    reason      text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- "My orders, newest first": ids are UUIDv7, so id order is creation order.
CREATE INDEX orders_customer_newest ON orders (customer_id, id DESC);

CREATE TABLE order_lines (
    order_id   uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    sku        text NOT NULL,
    quantity   bigint NOT NULL CHECK (quantity > 0),
    -- Minor units, as inventory priced it when the order was placed.
    unit_price bigint NOT NULL CHECK (unit_price >= 0),
    PRIMARY KEY (order_id, sku)
);

-- The first answer to each (customer, Idempotency-Key), replayed to every
-- retry of the same request. Only successful placements are recorded: a
-- failure leaves no row, so a retry with the same key runs again.
CREATE TABLE idempotency_keys (
    customer_id     uuid NOT NULL,
    key             text NOT NULL,
    -- sha256 of the canonical request body: the same key with another body
    -- is a client bug, answered 422 rather than with the wrong order.
    fingerprint     bytea NOT NULL,
    order_id        uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    response_status smallint NOT NULL,
    -- The exact bytes sent the first time, so a replay is byte-identical.
    response_body   text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (customer_id, key)
);

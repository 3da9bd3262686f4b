-- Products and their stock. The CHECK is the last line of defence against
-- overselling: whatever the code does, no committed state has negative stock.
CREATE TABLE products (
    sku        text PRIMARY KEY,
    name       text NOT NULL,
    price      bigint NOT NULL CONSTRAINT products_price_check CHECK (price >= 0),
    stock      bigint NOT NULL CONSTRAINT products_stock_check CHECK (stock >= 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- What inventory decided for each order it has heard of, one row per order.
-- The row is the guard that makes effects happen once per ORDER, whatever
-- the event ids: a second order.placed finds it and reserves nothing, and a
-- release moves it from 'reserved' to 'released' exactly once.
--   reserved   stock is held for the order's lines
--   rejected   some line was short; nothing is held
--   released   the order was cancelled and its stock went back
--   cancelled  the cancel arrived before the order.placed; a late
--              order.placed reserves nothing
CREATE TABLE reservations (
    order_id    uuid PRIMARY KEY,
    status      text NOT NULL CONSTRAINT reservations_status_check
                CHECK (status IN ('reserved', 'rejected', 'released', 'cancelled')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    released_at timestamptz
);

-- The lines of a reserved order as the order listed them (so the release
-- event can repeat them); stock moves by their sum per sku.
CREATE TABLE reservation_lines (
    order_id   uuid NOT NULL REFERENCES reservations (order_id),
    line_no    integer NOT NULL,
    sku        text NOT NULL REFERENCES products (sku),
    quantity   bigint NOT NULL CHECK (quantity > 0),
    unit_price bigint NOT NULL,
    PRIMARY KEY (order_id, line_no)
);

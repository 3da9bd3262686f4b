-- The facts analytics keeps. Every aggregate is a query over these tables,
-- so an event applied once (the inbox sees to that) is counted once, in
-- whatever order events arrive.

-- One row per order, filled in by whichever of its events arrives. Each
-- timestamp is the envelope's time of the event that set it; the earliest
-- wins, so a redelivered or reordered event cannot move it.
CREATE TABLE order_facts (
    order_id     uuid PRIMARY KEY,
    customer_id  uuid NOT NULL,
    -- Minor units; unknown until an event that carries it arrives (an
    -- order.rejected alone does not).
    total        bigint,
    -- [{"sku", "quantity", "unit_price"}], as priced when placed.
    lines        jsonb,
    placed_at    timestamptz,
    confirmed_at timestamptz,
    rejected_at  timestamptz,
    cancelled_at timestamptz,
    -- The order's status by precedence, not by arrival: a cancellation
    -- ends it whatever came before; a confirmation (or rejection) outranks
    -- the placement it answers, even when it arrives first.
    status       text NOT NULL GENERATED ALWAYS AS (
        CASE
            WHEN cancelled_at IS NOT NULL THEN 'CANCELLED'
            WHEN confirmed_at IS NOT NULL THEN 'CONFIRMED'
            WHEN rejected_at IS NOT NULL THEN 'REJECTED'
            ELSE 'PENDING'
        END
    ) STORED
);
CREATE INDEX order_facts_status ON order_facts (status);

-- One row per registered user: a second registered event for one user
-- (a replay with a new envelope id) is still one registration.
CREATE TABLE registrations (
    user_id       uuid PRIMARY KEY,
    registered_at timestamptz NOT NULL
);

-- Events applied per type per minute of the envelope's time: a late event
-- is counted in the minute it happened, not the minute it arrived. A
-- counter, incremented in the transaction that records the event in the
-- inbox, so it moves exactly once per event.
CREATE TABLE event_minutes (
    event_type text NOT NULL,
    minute     timestamptz NOT NULL,
    events     bigint NOT NULL,
    PRIMARY KEY (event_type, minute)
);

-- Sums over bigint are numeric in PostgreSQL. Reading one past the range of
-- a Rust i64 as the nearest i64 keeps every summary readable, where a cast
-- error would fail them all from then on.
CREATE FUNCTION saturate(n numeric) RETURNS bigint
    LANGUAGE sql IMMUTABLE STRICT
    RETURN LEAST(GREATEST(n, -9223372036854775808), 9223372036854775807)::bigint;

-- Each event the consumer received, one row per event. No unique key on
-- event_id, on purpose: the inbox (comms_inbox, in the same transaction) is
-- what keeps a redelivery from adding a second row, and the tests check
-- that it does.
CREATE TABLE received (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id    uuid NOT NULL,
    event_type  text NOT NULL,
    -- What the event is about (`Event::subject`: a user id, an order id).
    subject     text NOT NULL,
    received_at timestamptz NOT NULL
);

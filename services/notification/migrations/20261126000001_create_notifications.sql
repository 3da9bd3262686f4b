-- One message per event and recipient. The unique key makes storing it
-- idempotent even without the inbox (two deliveries of one event racing).
CREATE TABLE notifications (
    id          uuid PRIMARY KEY,
    event_id    uuid NOT NULL,
    event_type  text NOT NULL,
    -- The user who may read it over REST; NULL for an operator address.
    user_id     uuid,
    -- The address it is delivered to.
    recipient   text NOT NULL,
    subject     text NOT NULL,
    body        text NOT NULL,
    status      text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts    integer NOT NULL DEFAULT 0,
    last_error  text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    sent_at     timestamptz,
    CONSTRAINT notifications_event_recipient_key UNIQUE (event_id, recipient)
);

-- A user's notifications, newest first (ids are UUIDv7: time-ordered).
CREATE INDEX notifications_user_newest ON notifications (user_id, id DESC) WHERE user_id IS NOT NULL;

-- The service's items. The rules for a name (at most 100 characters, no
-- control characters, stored trimmed) are checked on the way in; the CHECK
-- keeps a writer that skips them from storing what no reader expects.
CREATE TABLE items (
    id         uuid PRIMARY KEY,
    -- The user who created it: only they, or an admin, may read it.
    owner_id   uuid NOT NULL,
    name       text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Failed sign-ins, counted per account, per account and address, and per
-- address (`login_throttle.rs`). In the database, not in memory, so every
-- replica counts against the same rows.
CREATE TABLE login_failures (
    key          text PRIMARY KEY,        -- 'account:…', 'pair:…', 'address:…'
    failures     integer NOT NULL,
    last_failure timestamptz NOT NULL,
    retry_at     timestamptz              -- NULL: no wait is owed
);
CREATE INDEX login_failures_last_failure ON login_failures (last_failure);

-- Addresses (IPv6 by /64) each account signed in from: they keep getting
-- in while someone else guesses the account's password from elsewhere.
CREATE TABLE sign_in_addresses (
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    address      text NOT NULL,
    last_sign_in timestamptz NOT NULL,
    PRIMARY KEY (user_id, address)
);
CREATE INDEX sign_in_addresses_last_sign_in ON sign_in_addresses (last_sign_in);

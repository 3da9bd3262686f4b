-- What start-up has seeded into this database, once ever. A seed admin
-- deleted later is not created again at the next start: its row stays.
CREATE TABLE seeds (
    name      text PRIMARY KEY,
    seeded_at timestamptz NOT NULL DEFAULT now()
);

-- A database that already holds an admin was seeded before this table.
INSERT INTO seeds (name)
SELECT 'admin' WHERE EXISTS (SELECT 1 FROM users WHERE 'admin' = ANY (roles));

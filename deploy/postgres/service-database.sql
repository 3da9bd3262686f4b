-- One service's role and database, with nothing more than it needs.
-- init.sql includes it once per service with :role and :database set;
-- :secrets names the directory of per-installation passwords
-- (SECRETS/ROLE, as compose mounts them), empty where the server trusts
-- local connections (`just dev`, CI).
--
-- Idempotent: it creates what is missing and corrects what differs, so a
-- second run changes nothing. It touches no role but :role.

SET switchyard.role = :'role';

-- The role: may log in, and nothing else. No superuser (no `COPY ... TO
-- PROGRAM`, no reading other databases' files), no creating roles or
-- databases, no replication, row security applies.
DO $$
DECLARE
  me text := current_setting('switchyard.role');
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = me) THEN
    EXECUTE format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS', me);
  ELSIF EXISTS (SELECT FROM pg_roles WHERE rolname = me AND (rolsuper OR rolcreatedb OR rolcreaterole
                OR rolreplication OR rolbypassrls OR NOT rolcanlogin)) THEN
    EXECUTE format('ALTER ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS', me);
  END IF;
END $$;

-- Its password, where the installation made one, set once: a later run
-- leaves it (and its hash) as it is.
\set password_file :secrets '/' :role
\set password `cat :'password_file' 2>/dev/null || true`
SET switchyard.password = :'password';
DO $$
DECLARE
  me text := current_setting('switchyard.role');
  password text := current_setting('switchyard.password');
BEGIN
  IF password <> '' AND (SELECT rolpassword IS NULL FROM pg_authid WHERE rolname = me) THEN
    EXECUTE format('ALTER ROLE %I PASSWORD %L', me, password);
  END IF;
END $$;

-- The database, owned by the role.
SELECT format('CREATE DATABASE %I OWNER %I', :'database', :'role')
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'database') \gexec
SELECT format('ALTER DATABASE %I OWNER TO %I', :'database', :'role')
  FROM pg_database WHERE datname = :'database' AND pg_get_userbyid(datdba) <> :'role' \gexec

-- No other role may connect: local connections are trusted, so this, not a
-- password, is what keeps one service out of another's database.
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'database')
  FROM pg_database WHERE datname = :'database'
  AND (datacl IS NULL OR EXISTS (SELECT FROM aclexplode(datacl) WHERE grantee = 0)) \gexec

-- Tables, sequences, views and functions made before the role existed (a database from an
-- earlier version, migrated as postgres) pass to it, so its migrations can
-- alter them.
\connect :database
SELECT format('ALTER TABLE %I.%I OWNER TO %I', schemaname, tablename, :'role')
  FROM pg_tables WHERE schemaname = 'public' AND tableowner <> :'role' \gexec
SELECT format('ALTER SEQUENCE %I.%I OWNER TO %I', schemaname, sequencename, :'role')
  FROM pg_sequences WHERE schemaname = 'public' AND sequenceowner <> :'role' \gexec
SELECT format('ALTER VIEW %I.%I OWNER TO %I', schemaname, viewname, :'role')
  FROM pg_views WHERE schemaname = 'public' AND viewowner <> :'role' \gexec
SELECT format('ALTER FUNCTION %s OWNER TO %I', oid::regprocedure, :'role')
  FROM pg_proc WHERE pronamespace = 'public'::regnamespace AND pg_get_userbyid(proowner) <> :'role' \gexec
\connect postgres

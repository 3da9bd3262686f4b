#!/usr/bin/env sh
# Every service's PostgreSQL role and database (init.sql, generated from
# deploy/services.toml; service-database.sql says what each gets).
#
#   deploy/postgres/init.sh [SECRETS_DIR]
#
# Connects as a superuser with libpq's variables (PGHOST, PGUSER,
# PGPASSWORD...); `just dev` and CI give 127.0.0.1 and postgres, compose's
# db-init job the postgres container. SECRETS_DIR holds one password file
# per role, named after it; without one, roles get no password (for a
# server that trusts local connections). Idempotent: run it before every
# start; a second run changes nothing.
set -eu
here=$(dirname "$0")
exec psql -X -q -v ON_ERROR_STOP=1 -v secrets="${1:-}" -d postgres -f "$here/init.sql"

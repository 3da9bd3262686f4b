-- Generated from deploy/services.toml by `deploy/services.py generate`; edit the list, not this file.
-- One role and one database per service (service-database.sql says what
-- each gets). Run by deploy/postgres/init.sh: compose's db-init, `just dev`
-- before every start, and CI; a second run changes nothing.
\set ON_ERROR_STOP on
\set role users
\set database users
\ir service-database.sql
\set role inventory
\set database inventory
\ir service-database.sql
\set role orders
\set database orders
\ir service-database.sql
\set role notifications
\set database notifications
\ir service-database.sql
\set role analytics
\set database analytics
\ir service-database.sql

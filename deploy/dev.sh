#!/usr/bin/env bash
# `just dev`: every service of deploy/services.toml as local processes against PostgreSQL and
# RabbitMQ on localhost. Static discovery (each service is told where its
# upstreams are) unless CONSUL_URL is set; traces exported only if
# OTEL_EXPORTER_OTLP_ENDPOINT is set. Ctrl-C (or SIGTERM) stops them all.
#
# Every service uses the local broker's guest user here (compose gives each
# its own). Where rabbitmqctl works (it needs root), the broker users are
# made as compose makes them, for the operator's tools (`just dlq`).
#
# The services, their ports, databases and the variables each gets come
# from deploy/services.toml. Seed: admin@switchyard.local (its password is in
# .secrets/user/admin-password, made with the signing key on first run by
# deploy/secrets.sh) and a few demo products.
set -euo pipefail
cd "$(dirname "$0")/.."
PG="${PGHOST:-127.0.0.1}"
list() { tools/python/run deploy/services.py "$@"; }
names=$(list names)

# Each service's role and database, with the script compose's db-init runs:
# it creates what is missing and changes nothing else. Local connections
# are trusted, so the roles need no password here.
PGHOST="$PG" PGUSER="${PGUSER:-postgres}" deploy/postgres/init.sh
deploy/secrets.sh
if rabbitmqctl -q status >/dev/null 2>&1; then
  UPDATE_PASSWORDS=true deploy/rabbitmq/init.sh .secrets
else
  echo "rabbitmqctl unavailable: no operator user; use AMQP_URL=amqp://guest:guest@127.0.0.1:5672/%2f just dlq"
fi
deploy/build.sh dev all

export RUST_LOG="${RUST_LOG:-info}"
logs="${DEV_LOG_DIR:-target/dev-logs}"
mkdir -p "$logs"

trap 'kill $(jobs -p) 2>/dev/null; wait' EXIT INT TERM

for service in $names; do
  # Into a variable first: a process substitution would be one more child
  # for `wait -n` below.
  env=$(PGHOST="$PG" CONSUL_URL="${CONSUL_URL:-}" list dev-env "$service")
  mapfile -t vars <<<"$env"
  env "${vars[@]}" "target/debug/$service" >"$logs/$service.log" 2>&1 &
done

echo "logs: $logs/<service>.log"
# Each binary checks its own readiness on its default port.
for service in $names; do
  for _ in $(seq 120); do
    env -i target/debug/$service healthcheck 2>/dev/null && break
    sleep 0.5
  done
  env -i target/debug/$service healthcheck 2>/dev/null || { echo "$service did not become ready; see $logs/$service.log"; exit 1; }
done
echo "all services ready; gateway: http://localhost:8080/docs (Ctrl-C stops everything)"
wait -n
echo "a service exited; stopping the rest (see $logs)"
exit 1

#!/usr/bin/env bash
# `just dev`: the six services as local processes against PostgreSQL and
# RabbitMQ on localhost. Static discovery (each service is told where its
# upstreams are) unless CONSUL_URL is set; traces exported only if
# OTEL_EXPORTER_OTLP_ENDPOINT is set. Ctrl-C (or SIGTERM) stops them all.
#
# Ports: gateway 8080; user 8081/9081; order 8082/9082; inventory 8083/9083;
# notification 8084; analytics 8085/9085. Seed: admin@switchyard.local /
# switchyard-admin, and a few demo products.
set -euo pipefail
cd "$(dirname "$0")/.."
PG="${PGHOST:-127.0.0.1}"
for db in users orders inventory notifications analytics; do
  psql -h "$PG" -U postgres -Atc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1 \
    || psql -h "$PG" -U postgres -qc "CREATE DATABASE $db"
done
deploy/build.sh dev all

consul="${CONSUL_URL:-}"
db() { echo "postgres://postgres@$PG:5432/$1"; }
export RUST_LOG="${RUST_LOG:-info}"
logs="${DEV_LOG_DIR:-target/dev-logs}"
mkdir -p "$logs"

trap 'kill $(jobs -p) 2>/dev/null; wait' EXIT INT TERM

USER_DATABASE_URL=$(db users) USER_CONSUL_URL="$consul" \
  USER_JWT__PRIVATE_KEY_FILE=deploy/dev-keys/jwt-ed25519.pem \
  USER_SEED_ADMIN__EMAIL=admin@switchyard.local USER_SEED_ADMIN__PASSWORD=switchyard-admin \
  target/debug/user >"$logs/user.log" 2>&1 &
INVENTORY_DATABASE_URL=$(db inventory) INVENTORY_CONSUL_URL="$consul" INVENTORY_SEED_DEMO_PRODUCTS=true \
  target/debug/inventory >"$logs/inventory.log" 2>&1 &
ORDER_DATABASE_URL=$(db orders) ORDER_CONSUL_URL="$consul" \
  ORDER_UPSTREAMS='user-grpc=127.0.0.1:9081;inventory-grpc=127.0.0.1:9083' \
  target/debug/order >"$logs/order.log" 2>&1 &
NOTIFICATION_DATABASE_URL=$(db notifications) NOTIFICATION_CONSUL_URL="$consul" \
  NOTIFICATION_UPSTREAMS='user=127.0.0.1:8081' \
  target/debug/notification >"$logs/notification.log" 2>&1 &
ANALYTICS_DATABASE_URL=$(db analytics) ANALYTICS_CONSUL_URL="$consul" \
  target/debug/analytics >"$logs/analytics.log" 2>&1 &
GATEWAY_CONSUL_URL="$consul" \
  GATEWAY_UPSTREAMS='user=127.0.0.1:8081;order=127.0.0.1:8082;inventory=127.0.0.1:8083;notification=127.0.0.1:8084;analytics=127.0.0.1:8085' \
  target/debug/gateway >"$logs/gateway.log" 2>&1 &

echo "logs: $logs/<service>.log"
# Each binary checks its own readiness on its default port.
for service in user inventory order notification analytics gateway; do
  for _ in $(seq 120); do
    env -i target/debug/$service healthcheck 2>/dev/null && break
    sleep 0.5
  done
  env -i target/debug/$service healthcheck 2>/dev/null || { echo "$service did not become ready; see $logs/$service.log"; exit 1; }
done
echo "all six services ready; gateway: http://localhost:8080/docs (Ctrl-C stops everything)"
wait -n
echo "a service exited; stopping the rest (see $logs)"
exit 1

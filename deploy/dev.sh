#!/usr/bin/env bash
# `just dev`: every service of deploy/services.toml as local processes against PostgreSQL and
# RabbitMQ on localhost. Static discovery (each service is told where its
# upstreams are) unless CONSUL_URL is set; traces exported only if
# OTEL_EXPORTER_OTLP_ENDPOINT is set. Ctrl-C (or SIGTERM) stops them all.
#
# The fault proxy (deploy/faultproxy.py) sits between the services and in
# front of RabbitMQ, so `just break` can slow or cut those links; its ports
# are deploy/services.py's dev_proxy_routes. DEV_FAULT_PROXY=off leaves it
# out. A service that exits stops everything, unless `just break kill` asked
# for its restart first (a file in the run directory): then it is started
# again and the rest keep running. The run directory (DEV_RUN_DIR, default
# target/dev-run) holds each service's pid for `just break`.
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

logs="${DEV_LOG_DIR:-target/dev-logs}"
run="${DEV_RUN_DIR:-target/dev-run}"
proxied=
case "${DEV_FAULT_PROXY:-on}" in
  on) proxied=--proxied ;;
  off) ;;
  *) echo "DEV_FAULT_PROXY must be on or off, not ${DEV_FAULT_PROXY}" >&2; exit 2 ;;
esac
mkdir -p "$logs"
rm -rf "$run" && mkdir -p "$run/restart"

trap 'kill $(jobs -p) 2>/dev/null; wait' EXIT INT TERM

declare -A service_of=()  # pid -> service
start() {
  local service=$1 env vars
  # Into a variable first: a process substitution would be one more child.
  env=$(PGHOST="$PG" CONSUL_URL="${CONSUL_URL:-}" list dev-env "$service" $proxied)
  mapfile -t vars <<<"$env"
  env "${vars[@]}" "target/debug/$service" >>"$logs/$service.log" 2>&1 &
  service_of[$!]=$service
  echo $! >"$run/$service.pid"
}
# Each binary checks its own readiness on its default port.
ready() {
  local service=$1
  for _ in $(seq 120); do
    env -i "target/debug/$service" healthcheck 2>/dev/null && return 0
    sleep 0.5
  done
  echo "$service did not become ready; see $logs/$service.log"
  return 1
}

if [ -n "$proxied" ]; then
  mapfile -t proxy_args < <(list dev-proxy)
  tools/python/run deploy/faultproxy.py "${proxy_args[@]}" >"$logs/faultproxy.log" 2>&1 &
  service_of[$!]=faultproxy
  echo $! >"$run/faultproxy.pid"
  # Listening before the services start: their first connections go through it.
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/${proxy_args[1]##*:}) 2>/dev/null && break; sleep 0.1; done
fi
for service in $names; do
  : >"$logs/$service.log"
  start "$service"
done

echo "logs: $logs/<service>.log"
for service in $names; do ready "$service" || exit 1; done
[ -z "$proxied" ] || echo "fault proxy: ${proxy_args[1]} (just break)"
echo "all services ready; gateway: http://localhost:8080/docs (Ctrl-C stops everything)"

# Polled rather than `wait -n`: a service that exits while another is being
# restarted is reported by bash then and there, and `wait -n` would never
# see it.
while sleep 0.5; do
  for pid in "${!service_of[@]}"; do
    kill -0 "$pid" 2>/dev/null && continue
    service=${service_of[$pid]}
    unset "service_of[$pid]"
    if [ -e "$run/restart/$service" ]; then
      rm -f "$run/restart/$service"
      echo "$service (pid $pid) exited as asked; starting it again"
      start "$service"
      ready "$service" || exit 1
      echo "$service restarted: pid $(cat "$run/$service.pid"), ready"
      continue
    fi
    echo "$service (pid $pid) exited; stopping the rest (see $logs)"
    exit 1
  done
done

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
# Arguments: NAME=N for each service to run as N instances (`just dev
# order=2 inventory=2`); instance K listens on its ports plus (K-1) * 100.
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
# `just dev order=2 inventory=2`: instances of a service the list marks
# `scale = true`, each on its own ports (deploy/services.py's
# instance_ports), every caller told about all of them.
instances=$(list dev-instances "$@") || exit 2
export DEV_REPLICAS="$*"

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

declare -A service_of=()  # pid -> instance (`order`, `order#2`)
declare -A port_of=()     # instance -> its HTTP port variable, for the healthcheck
start() {
  local instance=$1 env vars
  # Into a variable first: a process substitution would be one more child.
  env=$(PGHOST="$PG" CONSUL_URL="${CONSUL_URL:-}" list dev-env "$instance" $proxied)
  mapfile -t vars <<<"$env"
  port_of[$instance]=$(grep -E '^[A-Z_]+_HTTP_PORT=' <<<"$env" || true)
  env "${vars[@]}" "target/debug/${instance%%#*}" >>"$logs/$instance.log" 2>&1 &
  service_of[$!]=$instance
  echo $! >"$run/$instance.pid"
}
# Each binary checks its own readiness, on its own port.
ready() {
  local instance=$1
  for _ in $(seq 120); do
    env -i ${port_of[$instance]} "target/debug/${instance%%#*}" healthcheck 2>/dev/null && return 0
    sleep 0.5
  done
  echo "$instance did not become ready; see $logs/$instance.log"
  return 1
}

# Waits (up to 10 s) until something listens on 127.0.0.1:PORT: what the
# services connect to at start should be there first (if it is not, their
# own errors say so).
listening() {
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return; sleep 0.1; done
}

# Discovery: static (every caller given every instance's address) unless
# CONSUL_URL is set, or DEV_DISCOVERY=consul-double runs the test kit's
# Consul double here and points every service at it. Calls between services
# then go to the addresses the double lists, not through the fault proxy.
case "${DEV_DISCOVERY:-static}" in
  static) ;;
  consul-double)
    target/debug/consul-double 127.0.0.1:8500 >"$logs/consul-double.log" 2>&1 &
    service_of[$!]=consul-double
    listening 8500
    export CONSUL_URL=http://127.0.0.1:8500
    echo "discovery: the test kit's Consul double on $CONSUL_URL (a stand-in, not Consul)"
    ;;
  *) echo "DEV_DISCOVERY must be static or consul-double, not ${DEV_DISCOVERY}" >&2; exit 2 ;;
esac

if [ -n "$proxied" ]; then
  mapfile -t proxy_args < <(list dev-proxy)
  tools/python/run deploy/faultproxy.py "${proxy_args[@]}" >"$logs/faultproxy.log" 2>&1 &
  service_of[$!]=faultproxy
  echo $! >"$run/faultproxy.pid"
  # Listening before the services start: their first connections go through it.
  listening "${proxy_args[1]##*:}"
fi
for instance in $instances; do
  : >"$logs/$instance.log"
  start "$instance"
done

echo "logs: $logs/<service>.log (<service>#<n>.log for further instances)"
for instance in $instances; do ready "$instance" || exit 1; done
[ -z "$proxied" ] || echo "fault proxy: ${proxy_args[1]} (just break)"
echo "all services ready; gateway: http://localhost:8080/docs (Ctrl-C stops everything)"

# Polled rather than `wait -n`: a service that exits while another is being
# restarted is reported by bash then and there, and `wait -n` would never
# see it.
while sleep 0.5; do
  for pid in "${!service_of[@]}"; do
    kill -0 "$pid" 2>/dev/null && continue
    instance=${service_of[$pid]}
    unset "service_of[$pid]"
    if [ -e "$run/restart/$instance" ]; then
      rm -f "$run/restart/$instance"
      echo "$instance (pid $pid) exited as asked; starting it again"
      start "$instance"
      ready "$instance" || exit 1
      echo "$instance restarted: pid $(cat "$run/$instance.pid"), ready"
      continue
    fi
    echo "$instance (pid $pid) exited; stopping the rest (see $logs)"
    exit 1
  done
done

#!/usr/bin/env bash
# A local Kafka-protocol broker for the Kafka MessageBroker's tests and for
# `BROKER=kafka just dev`: tansu, installed once from the Rust registry
# (a debug build: about 8 minutes on 2 cores, and fast enough for tests),
# run in memory on 127.0.0.1:19092. Usage: broker.sh install|start|stop|status
set -euo pipefail
PORT="${KAFKA_PORT:-19092}"
PIDFILE="${TMPDIR:-/tmp}/switchyard-tansu.pid"
LOG="${TMPDIR:-/tmp}/switchyard-tansu.log"
export PATH="$HOME/.cargo/bin:$PATH"

up() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }

case "${1:-start}" in
  install)
    if command -v tansu >/dev/null; then
      echo "tansu: already installed ($(command -v tansu))"
    else
      echo "tansu: installing (once; about 8 minutes)"
      cargo install tansu --version 0.6.0 --locked --debug --features dynostore
    fi
    ;;
  start)
    "$0" install
    if up; then echo "kafka: already listening on 127.0.0.1:$PORT"; exit 0; fi
    nohup tansu broker \
      --listener-url "tcp://127.0.0.1:$PORT" \
      --advertised-listener-url "tcp://127.0.0.1:$PORT" \
      --storage-engine memory://tansu/ >"$LOG" 2>&1 &
    echo $! >"$PIDFILE"
    for _ in $(seq 50); do up && break; sleep 0.2; done
    up || { echo "kafka: tansu did not start; see $LOG"; exit 1; }
    echo "kafka: tansu listening on 127.0.0.1:$PORT (in memory)"
    ;;
  stop)
    [ -f "$PIDFILE" ] && kill "$(cat "$PIDFILE")" 2>/dev/null || true
    rm -f "$PIDFILE"
    ;;
  status)
    up && echo "kafka: up on 127.0.0.1:$PORT" || { echo "kafka: down"; exit 1; }
    ;;
esac

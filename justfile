# switchyard: a reference microservice system in Rust.
# `just` lists the recipes.

set shell := ["bash", "-euo", "pipefail", "-c"]

default:
    @just --list

# Run every test against local PostgreSQL and RabbitMQ (the README's test command).
test:
    cargo test --workspace --locked

# Install (once) and start a Kafka-protocol broker (tansu) on 127.0.0.1:19092, for the Kafka tests.
kafka:
    deploy/kafka/broker.sh start

# Formatting, lints and the one-version check, as CI runs them.
check:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets --locked -- -D warnings
    .ci/one-version

# Static discovery unless CONSUL_URL is set; PostgreSQL on localhost. Ctrl-C stops all.
# Run the services built so far as local processes: user 8081/9081, gateway 8080.
dev:
    psql -h 127.0.0.1 -U postgres -tc "SELECT 1 FROM pg_database WHERE datname = 'users'" | grep -q 1 \
      || psql -h 127.0.0.1 -U postgres -c 'CREATE DATABASE users'
    cargo build -p user -p gateway
    trap 'kill 0' EXIT INT TERM; \
    USER_JWT__PRIVATE_KEY_FILE=deploy/dev-keys/jwt-ed25519.pem USER_ADMIN_EMAILS=admin@switchyard.local \
      USER_CONSUL_URL="${CONSUL_URL:-}" ./target/debug/user & \
    GATEWAY_UPSTREAMS='user=127.0.0.1:8081' GATEWAY_CONSUL_URL="${CONSUL_URL:-}" ./target/debug/gateway & \
    echo "gateway: http://localhost:8080/docs"; wait

# Drop test databases left behind by interrupted test runs.
clean-test-dbs:
    psql -h 127.0.0.1 -U postgres -Atc "SELECT datname FROM pg_database WHERE datname LIKE 'switchyard_test_%'" \
      | while read -r db; do psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE \"$db\" WITH (FORCE)"; done

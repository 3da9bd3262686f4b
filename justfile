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

# Run the user service locally against PostgreSQL on localhost.
dev:
    psql -h 127.0.0.1 -U postgres -tc "SELECT 1 FROM pg_database WHERE datname = 'users'" | grep -q 1 \
      || psql -h 127.0.0.1 -U postgres -c 'CREATE DATABASE users'
    USER_JWT__PRIVATE_KEY_FILE=deploy/dev-keys/jwt-ed25519.pem \
    USER_ADMIN_EMAILS=admin@switchyard.local \
      cargo run -p user

# Drop test databases left behind by interrupted test runs.
clean-test-dbs:
    psql -h 127.0.0.1 -U postgres -Atc "SELECT datname FROM pg_database WHERE datname LIKE 'switchyard_test_%'" \
      | while read -r db; do psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE \"$db\" WITH (FORCE)"; done

# switchyard: a reference microservice system in Rust.
# `just` lists the recipes.

set shell := ["bash", "-euo", "pipefail", "-c"]

default:
    @just --list

# Find PostgreSQL, RabbitMQ and a Kafka-protocol broker where the tests look,
# and start the missing ones from deploy/compose/deps.yml when a Docker
# engine answers; it never stops anything (deploy/deps.py says where it looks).
deps:
    deploy/deps.py

# What the tests need first (`just deps`), then build the service binaries
# (the Docker build's own script, dev profile), then
# run every test against local PostgreSQL and RabbitMQ (the README's test
# command), then, in the project's .venv (tools/python/run), the tests of the
# benchmark suite (bench/test_run.py) and of the checks in .ci/. The README's
# Test section names each step (.ci/check-readme-test.py checks it).
test:
    deploy/deps.py
    deploy/build.sh dev all
    cargo test --workspace --locked
    tools/python/run -m unittest discover --start-directory bench --quiet
    tools/python/run -m unittest discover --start-directory .ci --quiet

# Build and start the whole system with docker compose, then print the URLs.
up:
    deploy/secrets.sh
    SWITCHYARD_UID=$(id -u) docker compose up --build --wait
    @echo "gateway  http://localhost:8080/docs"
    @echo "jaeger   http://localhost:16686"
    @echo "rabbitmq http://localhost:15672  (operator, password in .secrets/operator/broker-password)"
    @echo "consul   http://localhost:8500"
    @echo "mail     http://localhost:8025"
    @echo "admin    admin@switchyard.local, password in .secrets/user/admin-password"

# The same with a Kafka-protocol broker (tansu) instead of RabbitMQ.
up-kafka:
    deploy/secrets.sh
    SWITCHYARD_UID=$(id -u) docker compose -f docker-compose.yml -f deploy/compose/kafka.yml up --build --wait

# Stop and remove the containers (add `-v` to docker compose down to drop the data).
down:
    docker compose down

logs *services:
    docker compose logs -f {{services}}

ps:
    docker compose ps

# All six services as local processes against PostgreSQL and RabbitMQ on
# localhost (static discovery unless CONSUL_URL is set). Ctrl-C stops all.
# NAME=N runs N instances of a scalable service: `just dev order=2 inventory=2`.
dev *replicas:
    deploy/dev.sh {{replicas}}

# A scripted walk through the main flow against a running system (`just dev` or `just up`).
demo url="http://localhost:8080":
    tools/python/run deploy/demo.py {{url}}

# Fuzz the public API through the gateway from its OpenAPI document
# (schemathesis), as a customer and as an admin, against a running system.
# It deletes users (the seed admin too) and changes data: never point it at
# a system whose data you keep (docs/running.md).
fuzz url="http://localhost:8080" examples="15":
    tools/python/run tests/fuzz/run.py {{url}} {{examples}}

# Dead letters of every service: list [SERVICE], show ID, replay ID...|--all,
# purge SERVICE [--yes] (docs/patterns/dead-letters.md), with the broker's
# operator user and .secrets/operator/broker-password (`just up` and
# `just dev` make it); AMQP_URL and AMQP_PASSWORD_FILE override them.
dlq *args:
    #!/usr/bin/env bash
    set -euo pipefail
    if [ -z "${AMQP_URL:-}" ]; then
      export AMQP_URL="amqp://operator@127.0.0.1:5672/%2f" AMQP_PASSWORD_FILE=.secrets/operator/broker-password
    fi
    cargo run -q -p dlq -- {{args}}

# The benchmark suite (release builds; nginx, wrk and pgbench are installed
# if missing): writes bench/results/latest.md and latest.json.
bench *args:
    tools/python/run bench/run.py {{args}}

# Validate docker-compose.yml (no engine needed) and compare its variables
# with the settings each binary reads.
check-compose:
    tools/python/run deploy/check-compose.py

# Render every Kubernetes overlay (deploy/k8s) with kubectl kustomize and
# validate it offline: schemas of kubectl's version, each container's
# variables against its binary's settings keys, probes, grace periods, and
# no secret tracked (docs/kubernetes.md).
check-k8s:
    tools/python/run deploy/check-k8s.py

# The dependency graph against deny.toml (licences, banned and duplicate
# crates, sources; advisories need GitHub, see deny.toml), then unused
# dependencies. Needs cargo-deny and cargo-machete (`.ci/run` installs them).
check-crates:
    cargo deny --locked check --deny warnings bans licenses sources
    cargo machete

# Fail on a cycle between a crate's files, or a service depending on a service.
check-structure:
    tools/python/run .ci/check-structure.py

# Install (once) and start a Kafka-protocol broker (tansu) on 127.0.0.1:19092, for the Kafka tests.
kafka:
    deploy/kafka/broker.sh start

# Add a service: the template crate (template/) copied as NAME and added to
# every place that names the services. Options: --grpc, --publishes TYPE...,
# --consumes TYPE... (docs/adding-a-service.md).
new-service name *options:
    tools/python/run deploy/new_service.py {{name}} {{options}}

# Formatting, lints, the one-version check, the structure check, the service
# list's check (deploy/services.toml against every place naming the services)
# and the two docs checks (README's Test section, choosing.md's figures), as CI
# runs them; CI also runs `just check-crates`, which needs two tools installed.
check:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets --locked -- -D warnings
    .ci/one-version
    tools/python/run .ci/check-structure.py
    tools/python/run deploy/services.py check
    tools/python/run .ci/check-readme-test.py
    tools/python/run .ci/check-choosing-figures.py

# Drop test databases, their roles and the tests' broker users left behind
# by interrupted test runs (never while tests run: theirs would go too).
# rabbitmqctl is found as the tests find it (deploy/rabbitmq/ctl.sh).
clean-test-dbs:
    psql -h 127.0.0.1 -U postgres -Atc "SELECT datname FROM pg_database WHERE datname LIKE 'switchyard_test_%'" \
      | while read -r db; do psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE \"$db\" WITH (FORCE)"; done
    psql -h 127.0.0.1 -U postgres -Atc "SELECT rolname FROM pg_roles WHERE rolname LIKE 'switchyard_test_%'" \
      | while read -r role; do psql -h 127.0.0.1 -U postgres -qc "DROP ROLE \"$role\""; done
    if rabbitmq_users=$(deploy/rabbitmq/ctl.sh -q list_users --no-table-headers 2>/dev/null | cut -f1); then \
      for user in $rabbitmq_users; do case "$user" in test-*) deploy/rabbitmq/ctl.sh -q delete_user "$user";; esac; done; \
    fi

# Fail the running `just dev` system on purpose: kill SERVICE, pause SERVICE
# SECS, slow SERVICE MS [SECS], cut-broker SECS, poison [TYPE], restore,
# status. Each prints what to watch (docs/patterns/breaking-it.md). Under
# `just up`, kill SERVICE works too: it kills and restarts the container.
break *args:
    @tools/python/run deploy/faults.py {{args}}

# The chaos drill against a running `just dev` (CI runs it after the demo):
# orders placed throughout while it pauses inventory, cuts the broker link,
# SIGKILLs order and inventory, slows inventory and publishes a poison event;
# then checks that nothing was lost or doubled (docs/patterns/breaking-it.md).
# Arguments: [gateway-url] [--otlp HOST:PORT] (receive the spans there too,
# with `just dev` started with OTEL_EXPORTER_OTLP_ENDPOINT=http://HOST:PORT).
drill *args:
    tools/python/run deploy/drill.py {{args}}

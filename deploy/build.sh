#!/usr/bin/env bash
# Builds service binaries: the Dockerfile's build step, and (in the dev
# profile) the first step of `just test`, so a change that would break the
# image build fails here too, where no Docker engine runs.
#
#   deploy/build.sh [dev|release] [service|all] [out-dir]
#
# --locked: the lock file is the only source of versions. SQLX_OFFLINE: no
# database is needed at build time (the services use runtime-checked
# queries; this keeps it that way).
set -euo pipefail
cd "$(dirname "$0")/.."
profile="${1:-dev}"
service="${2:-all}"
out="${3:-}"
# Every service of the list (deploy/services.toml). Read without Python,
# which the image's build stage does not have: each entry's first key is
# `name = "..."` (deploy/services.py check reads it the same way).
mapfile -t services < <(sed -n 's/^name = "\([a-z0-9_]*\)"$/\1/p' deploy/services.toml)
[ "$service" = all ] || services=("$service")

args=()
for s in "${services[@]}"; do args+=(--bin "$s"); done
# The dead-letter tool and the Consul double beside the services for `just
# dev` and the e2e tests (an image needs neither: both run on the host).
if [ "$service" = all ] && [ "$profile" = dev ]; then args+=(--bin dlq --bin consul-double); fi
SQLX_OFFLINE=true cargo build --locked --profile "$profile" "${args[@]}"

if [ -n "$out" ]; then
  dir=$([ "$profile" = dev ] && echo debug || echo "$profile")
  mkdir -p "$out"
  for s in "${services[@]}"; do install -m 0755 "target/$dir/$s" "$out/$s"; done
fi

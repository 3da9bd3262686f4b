#!/bin/sh
# rabbitmqctl for the local broker, wherever it runs: $RABBITMQCTL if set
# (split into words), else the rabbitmqctl on PATH (a native install, or
# the broker's own image), else the one in the container `just deps`
# starts (deploy/compose/deps.yml). The test kit, init.sh and `just
# clean-test-dbs` all call it, so they find the same broker.
if [ -n "${RABBITMQCTL:-}" ]; then exec $RABBITMQCTL "$@"; fi
if command -v rabbitmqctl >/dev/null 2>&1; then exec rabbitmqctl "$@"; fi
exec docker exec -i switchyard-deps-rabbitmq-1 rabbitmqctl "$@"

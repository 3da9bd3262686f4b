#!/usr/bin/env sh
# Every service's RabbitMQ user, confined to its own names, the operator's,
# and the domain-events exchange; with rabbitmqctl (the management plugin
# is off), in one definitions import.
#
#   deploy/rabbitmq/init.sh SECRETS_DIR
#
# SECRETS_DIR/NAME/broker-password is the password of each user of
# deploy/rabbitmq/users (generated from deploy/services.toml), and
# SECRETS_DIR/operator/broker-password the operator's (deploy/secrets.sh
# makes them). Each service's user may:
#
#   configure   its own queues and exchanges (`NAME.`), nothing else: it
#               cannot delete the events exchange or anyone's queue;
#   write       to its own queues and exchanges, and publish to the events
#               exchange only with the routing keys deploy/rabbitmq/users
#               lists for it (topic permissions: order publishes order.*);
#   read        its own queues, and bind them to the events exchange only
#               with the types it consumes.
#
# Not the default exchange: it reaches every queue by name (comms routes
# retries, dead letters and tasks through each subscription's own direct
# exchange instead). The operator may do everything in the namespace, for
# the dead-letter tool and the drills.
#
# Users that exist keep their password (a second run changes nothing), unless
# UPDATE_PASSWORDS=true (`just dev`: the shared local broker takes this
# clone's passwords); no other user is touched, guest included.
#
#   RABBITMQ_VHOST         the virtual host (default /)
#   BROKER_NAMESPACE       prefixes every name, users' included, as the
#                          services' BROKER_NAMESPACE does (tests: one per run)
#   EXCHANGE_AUTO_DELETE   true: the events exchange goes with its last
#                          binding (tests)
#   RABBITMQCTL            how to call rabbitmqctl (read by ctl.sh beside this
#                          script, which otherwise finds it)
set -eu
secrets=${1:?usage: deploy/rabbitmq/init.sh SECRETS_DIR}
here=$(dirname "$0")
vhost=${RABBITMQ_VHOST:-/}
ns=${BROKER_NAMESPACE:-}
ctl="$here/ctl.sh"
# The namespace as a regex: its dots match only dots.
ns_re=$(printf '%s' "$ns" | sed 's/\./[.]/g')

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

password_of() {
  file="$secrets/$1/broker-password"
  [ -s "$file" ] || { echo "rabbitmq init: no password in $file (deploy/secrets.sh makes it)" >&2; exit 1; }
  tr -d '\n' <"$file"
}

# RabbitMQ's stored form: base64(salt || sha256(salt || password)), with a
# 4-byte random salt.
password_hash() {
  openssl rand 4 >"$work/salt"
  { cat "$work/salt"; printf '%s' "$1"; } | openssl dgst -sha256 -binary >"$work/digest"
  cat "$work/salt" "$work/digest" | base64 | tr -d '\n'
}

existing=$($ctl -q list_users --no-table-headers | cut -f1)
exists() { printf '%s\n' "$existing" | grep -qx "$1"; }

users='' permissions='' topics=''
add_user() { # NAME PASSWORD
  exists "$1" && [ "${UPDATE_PASSWORDS:-false}" != true ] && return 0
  users="$users${users:+,}{\"name\": \"$1\", \"password_hash\": \"$(password_hash "$2")\", \"hashing_algorithm\": \"rabbit_password_hashing_sha256\", \"tags\": []}"
}
permit() { # USER CONFIGURE WRITE READ
  permissions="$permissions${permissions:+,}{\"user\": \"$1\", \"vhost\": \"$vhost\", \"configure\": \"$2\", \"write\": \"$3\", \"read\": \"$4\"}"
}

exchange="${ns}domain-events"
grep -v '^#' "$here/users" >"$work/users"
while read -r name publishes consumes; do
  user="$ns$name"
  password=$(password_of "$name")
  add_user "$user" "$password"
  own="^$ns_re$name[.]"
  permit "$user" "$own" "^($ns_re$name[.].*|$ns_re""domain-events)\$" "^($ns_re$name[.].*|$ns_re""domain-events)\$"
  topics="$topics${topics:+,}{\"user\": \"$user\", \"vhost\": \"$vhost\", \"exchange\": \"$exchange\", \"write\": \"$publishes\", \"read\": \"$consumes\"}"
done <"$work/users"

password=$(password_of operator)
add_user "${ns}operator" "$password"
permit "${ns}operator" "^$ns_re.*" "^$ns_re.*" "^$ns_re.*"

auto_delete=${EXCHANGE_AUTO_DELETE:-false}
cat >"$work/definitions.json" <<EOF
{
  "users": [$users],
  "permissions": [$permissions],
  "topic_permissions": [$topics],
  "exchanges": [{"name": "$exchange", "vhost": "$vhost", "type": "topic", "durable": true,
                 "auto_delete": $auto_delete, "internal": false, "arguments": {}}]
}
EOF
# On standard input, not as a path: rabbitmqctl may run as another user
# (Debian's wrapper switches to rabbitmq) or in a container
# (RABBITMQCTL="docker exec -i ..."), where this file cannot be read.
$ctl -q import_definitions --format json <"$work/definitions.json" >/dev/null
echo "rabbitmq init: $(wc -l <"$work/users") service users and ${ns}operator in $vhost; exchange $exchange"

#!/usr/bin/env sh
# This installation's secrets, made on first use: `just dev` and `just up`
# run it, and so do the bench and CI. Nothing in the repository can sign a
# token or log in; a clone makes its own.
#
#   deploy/secrets.sh [DIR]        (default .secrets, ignored by git)
#
#   DIR/NAME/identity.pem        each service's own key: it signs the tokens
#                                the service sends when it calls another
#   DIR/public/service-keys.json their public halves, which every service
#                                verifies callers with (not secret); during a
#                                change of key (deploy/rotate-key.sh)
#                                the other key of that service too
#   DIR/user/jwt-ed25519.pem     the key the user service signs user tokens with
#   DIR/user/admin-password      the seed admin's password (admin@switchyard.local)
#   DIR/NAME/db-password         the password of the PostgreSQL role of each
#                                service with a database (compose's db-init
#                                job sets it, the service logs in with it)
#   DIR/postgres.env             the PostgreSQL superuser's password, for the
#                                postgres container and the db-init job only
#   DIR/NAME/broker-password     the password of the RabbitMQ user of each
#                                service of deploy/rabbitmq/users
#   DIR/operator/broker-password the RabbitMQ operator's (dead letters,
#                                drills, the management UI); DIR/rabbitmq.env
#                                names it for the rabbitmq container
#
# The services are those of deploy/services.toml. One directory per
# service, so compose mounts each service's own and no other: no secret is
# shared by all. Only what is missing is written: a second run changes
# nothing, and every replica of a service uses the same key. Delete DIR to
# start over (every issued token stops working; the seed admin, once
# created, keeps its old password).
#
# Production takes its keys from a secret store instead (docs/running.md).
set -eu
dir=${1:-.secrets}
services=$(sed -n 's/^name = "\(.*\)"$/\1/p' "$(dirname "$0")/services.toml")
# Readable by the owner only, created that way rather than chmod-ed after.
umask 077
for name in $services public; do mkdir -p "$dir/$name"; done

# Written to a temporary name and moved: an interrupted run leaves no
# half-written key behind for the next run to trust.
make() {
  target=$1
  shift
  [ -s "$target" ] && return 0
  "$@" >"$target.partial"
  mv "$target.partial" "$target"
  echo "secrets: wrote $target"
}

for name in $services; do
  make "$dir/$name/identity.pem" openssl genpkey -algorithm ed25519
done

# The public half of an Ed25519 key as a JWK's `x`: the last 32 bytes of
# its DER SubjectPublicKeyInfo, base64url without padding.
public_x() {
  openssl pkey -in "$1" -pubout -outform DER | tail -c 32 | base64 | tr '+/' '-_' | tr -d '=\n'
}
jwk() {
  printf '{"kty": "OKP", "crv": "Ed25519", "x": "%s"}' "$(public_x "$1")"
}
# Each service's key, and while deploy/rotate-key.sh changes it the
# next or the previous one too: every verifier trusts both meanwhile.
service_keys() {
  separator='{'
  for name in $services; do
    keys=$(jwk "$dir/$name/identity.pem")
    for other in "$dir/$name/identity.next.pem" "$dir/$name/identity.previous.pem"; do
      if [ -s "$other" ]; then keys="$keys, $(jwk "$other")"; fi
    done
    printf '%s\n  "%s": [%s]' "$separator" "$name" "$keys"
    separator=','
  done
  printf '\n}\n'
}
# Derived from the keys, so rewritten only when a key (or the list) changed.
service_keys >"$dir/public/service-keys.json.partial"
if cmp -s "$dir/public/service-keys.json.partial" "$dir/public/service-keys.json"; then
  rm "$dir/public/service-keys.json.partial"
else
  mv "$dir/public/service-keys.json.partial" "$dir/public/service-keys.json"
  echo "secrets: wrote $dir/public/service-keys.json"
fi

# Random passwords, URL-safe so they can be typed into a shell or a form.
password() { openssl rand -base64 "$1" | tr '+/' '-_'; }

# Each service with a database: `name = "..."` then `database = "..."`.
databased=$(awk -F'"' '/^name = /{name=$2} /^database = /{print name}' "$(dirname "$0")/services.toml")
for name in $databased; do
  make "$dir/$name/db-password" password 24
done
# One variable for the server (POSTGRES_PASSWORD), one for psql (PGPASSWORD).
superuser_env() {
  secret=$(password 24)
  printf 'POSTGRES_PASSWORD=%s\nPGPASSWORD=%s\n' "$secret" "$secret"
}
make "$dir/postgres.env" superuser_env

# Each service that uses the broker, as deploy/rabbitmq/init.sh reads them.
brokered=$(grep -v '^#' "$(dirname "$0")/rabbitmq/users" | cut -d' ' -f1)
mkdir -p "$dir/operator"
for name in $brokered operator; do
  make "$dir/$name/broker-password" password 24
done
operator_env() {
  printf 'RABBITMQ_DEFAULT_USER=operator\nRABBITMQ_DEFAULT_PASS=%s\n' "$(tr -d '\n' <"$dir/operator/broker-password")"
}
make "$dir/rabbitmq.env" operator_env

make "$dir/user/jwt-ed25519.pem" openssl genpkey -algorithm ed25519
# 144 random bits.
make "$dir/user/admin-password" password 18

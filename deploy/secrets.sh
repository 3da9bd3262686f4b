#!/usr/bin/env sh
# This installation's secrets, made on first use: `just dev` and `just up`
# run it, and so do the bench and CI. Nothing in the repository can sign a
# token or log in; a clone makes its own.
#
#   deploy/secrets.sh [DIR]        (default .secrets, ignored by git)
#
#   DIR/user/jwt-ed25519.pem     the key the user service signs tokens with
#   DIR/user/admin-password      the seed admin's password (admin@switchyard.local)
#
# One directory per service, so compose mounts each service's own and no
# other. Only what is missing is written: a second run changes nothing, and
# every replica of the user service signs with the same key. Delete DIR to
# start over (every issued token stops working; the seed admin, once
# created, keeps its old password).
#
# Production takes its keys from a secret store instead (docs/running.md).
set -eu
dir=${1:-.secrets}
# Readable by the owner only, created that way rather than chmod-ed after.
umask 077
mkdir -p "$dir/user"

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

make "$dir/user/jwt-ed25519.pem" openssl genpkey -algorithm ed25519
# 144 random bits, URL-safe so it can be typed into a shell or a form.
make "$dir/user/admin-password" sh -c 'openssl rand -base64 18 | tr "+/" "-_"'

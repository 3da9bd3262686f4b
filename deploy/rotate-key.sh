#!/usr/bin/env sh
# Changes a key without failing a request (docs/patterns/identity.md,
# "Changing keys without a failed request"):
#
#   deploy/rotate-key.sh user [STEP]           the key user tokens are signed with
#   deploy/rotate-key.sh service NAME [STEP]   the key service NAME signs its calls with
#
# in SECRETS_DIR (default .secrets), as deploy/secrets.sh made it. The user
# service signs with user/jwt-ed25519.pem and publishes the .previous and
# .next keys beside it while they exist (USER_JWT__PUBLISHED_KEY_FILES);
# a service signs with NAME/identity.pem and every service verifies with
# public/service-keys.json, which deploy/secrets.sh derives from the
# identity keys, listing a service's .next or .previous key beside its
# current one while they exist. Services read these files again every few
# seconds (USER_JWT__RELOAD_SECS, AUTH__KEYS_RELOAD_SECS: 10 s). STEP:
#
#   announce   make the next key: it is published (user) or listed
#              (service), so every verifier trusts it before anything is
#              signed with it
#   activate   the current key becomes the previous one and the next one the
#              current one: signing switches, the old key stays trusted
#   retire     the previous key goes: verifiers refuse it
#   all        (the default) the three in order, waiting PUBLISH_WAIT_SECS
#              after announce and RETIRE_WAIT_SECS after activate. Defaults:
#              user 60 and 960 (the reload, the verifiers' 30 s between
#              fetches, and a margin; the 900 s token lifetime, the reload
#              and a margin), service 30 and 330 (the reload and a margin;
#              the 300 s service-token lifetime and a margin), so no token
#              signed with the old key is still valid when it goes
#
# Each step refuses to run out of order. Keys are written under a temporary
# name and renamed, so a reader never sees half a key.
set -eu
here=$(dirname "$0")
secrets=${SECRETS_DIR:-.secrets}
kind=${1:-}
case "$kind" in
  user)
    base="$secrets/user/jwt-ed25519"
    publish_wait=60 retire_wait=960
    shift
    ;;
  service)
    name=${2:?usage: deploy/rotate-key.sh service NAME [STEP]}
    base="$secrets/$name/identity"
    publish_wait=30 retire_wait=330
    shift 2
    ;;
  *) echo "usage: deploy/rotate-key.sh user [STEP] | service NAME [STEP]" >&2; exit 2 ;;
esac
step=${1:-all}
current="$base.pem" next="$base.next.pem" previous="$base.previous.pem"
umask 077

say() { echo "rotate-key: $*"; }
fail() { echo "rotate-key: $*" >&2; exit 1; }
# A service's keys are also listed, for every verifier, in the service keys.
relist() { [ "$kind" = user ] || "$here/secrets.sh" "$secrets" >/dev/null; }

announce() {
  [ -s "$current" ] || fail "no current key $current (deploy/secrets.sh makes it)"
  [ ! -e "$next" ] || fail "a next key is already announced: $next (activate it, or delete it to start over)"
  [ ! -e "$previous" ] || fail "the previous key is not retired yet: $previous (retire it first)"
  openssl genpkey -algorithm ed25519 >"$next.partial"
  mv "$next.partial" "$next"
  relist
  say "announced $next: trusted everywhere once every service has read it"
}

activate() {
  [ -s "$next" ] || fail "no next key to activate: announce one first"
  [ ! -e "$previous" ] || fail "the previous key is not retired yet: $previous (retire it first)"
  # Previous first, then the rename that switches the signing key: at no
  # moment is a key that signed tokens missing from the trusted ones.
  cp "$current" "$previous.partial"
  mv "$previous.partial" "$previous"
  mv "$next" "$current"
  relist
  say "activated: signing with the new key; the old one stays trusted as $previous"
}

retire() {
  [ -e "$previous" ] || fail "no previous key to retire"
  rm "$previous"
  relist
  say "retired the previous key: verifiers refuse it once they read the keys again"
}

case "$step" in
  announce) announce ;;
  activate) activate ;;
  retire) retire ;;
  all)
    announce
    say "waiting ${PUBLISH_WAIT_SECS:-$publish_wait} s for every service to trust it"
    sleep "${PUBLISH_WAIT_SECS:-$publish_wait}"
    activate
    say "waiting ${RETIRE_WAIT_SECS:-$retire_wait} s for every token signed with the old key to expire"
    sleep "${RETIRE_WAIT_SECS:-$retire_wait}"
    retire
    ;;
  *) fail "unknown step $step: announce, activate, retire or all" ;;
esac

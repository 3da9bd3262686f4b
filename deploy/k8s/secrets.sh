#!/usr/bin/env sh
# The secrets of one overlay's installation, made on first use into
# deploy/k8s/overlays/OVERLAY/secrets/ (ignored by git), and the kustomize
# component that turns them into Secrets and the service-keys ConfigMap.
#
#   deploy/k8s/secrets.sh OVERLAY        (dev or production)
#
# The keys and passwords are deploy/secrets.sh's, the same script `just up`
# and `just dev` run: one directory per service, and a second run changes
# nothing. Each service's Secret, `NAME-secrets`, holds only its own files;
# its pods mount it at /etc/switchyard/secrets. Kustomize appends a hash of
# the contents to each name, so a changed key rolls the pods that use it.
#
# The database roles and broker users on the external PostgreSQL and
# RabbitMQ need the same passwords: `deploy/postgres/init.sh DIR/db` and
# `deploy/rabbitmq/init.sh DIR` make them (docs/kubernetes.md). A
# production cluster takes these from its secret store instead
# (docs/kubernetes.md).
set -eu
overlay=${1:?usage: deploy/k8s/secrets.sh OVERLAY}
here=$(dirname "$0")
[ -d "$here/overlays/$overlay" ] || { echo "secrets.sh: no overlay $here/overlays/$overlay" >&2; exit 2; }
dir="$here/overlays/$overlay/secrets"
"$here/../secrets.sh" "$dir"

# deploy/postgres/init.sh reads one password file per role, named after it:
# db/ links each to its service's.
mkdir -p "$dir/db"
awk -F'"' '/^name = /{name=$2} /^database = /{print name, $2}' "$here/../services.toml" | while read -r name database; do
  ln -sfn "../$name/db-password" "$dir/db/$database"
done

# The files each service's Secret holds, those that exist: a key being
# rotated in (deploy/rotate-key.sh) is published beside the current one.
entry() {
  name=$1
  shift
  printf '  - name: %s-secrets\n    files:\n' "$name"
  for file in "$@"; do
    if [ -s "$dir/$name/$file" ]; then printf '      - %s/%s\n' "$name" "$file"; fi
  done
}
{
  echo "# Written by deploy/k8s/secrets.sh from the files beside it; never committed."
  echo "apiVersion: kustomize.config.k8s.io/v1alpha1"
  echo "kind: Component"
  echo "secretGenerator:"
  for name in $(sed -n 's/^name = "\(.*\)"$/\1/p' "$here/../services.toml"); do
    entry "$name" identity.pem db-password broker-password \
      jwt-ed25519.pem jwt-ed25519.next.pem jwt-ed25519.previous.pem admin-password
  done
  echo "configMapGenerator:"
  echo "  # Public halves, not secret; made with the keys, so kept with them."
  echo "  - name: service-keys"
  echo "    files: [public/service-keys.json]"
} >"$dir/kustomization.yaml.partial"
mv "$dir/kustomization.yaml.partial" "$dir/kustomization.yaml"
echo "secrets: $dir/kustomization.yaml lists them for kustomize"

#!/usr/bin/env bash
# Checks extensions/ee/execution-environment.yml without a container engine:
#   1. ansible-builder accepts the definition and writes a build context holding the tarball;
#   2. the context's galaxy requirements install offline, as the image's galaxy stage does;
#   3. ansible-builder's introspection of the installed collection finds requests and
#      cryptography, as the image's builder stage does.
# Called by tools/test_all.sh; needs ansible-galaxy and ansible-builder on PATH.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/isc-ee.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

VERSION=$(python -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["version"])' "$REPO/galaxy.yml")
TARBALL="sailpoint_isc-passwords-$VERSION.tar.gz"

# The definition expects the tarball next to it: use a copy so the source tree stays clean.
mkdir -p "$WORK/ee"
cp "$REPO/extensions/ee/execution-environment.yml" "$WORK/ee/"
ansible-galaxy collection build --output-path "$WORK/ee" "$REPO" >/dev/null

ansible-builder create -f "$WORK/ee/execution-environment.yml" --context "$WORK/context" \
  --output-filename Containerfile >/dev/null
if [ ! -f "$WORK/context/_build/collections/$TARBALL" ]; then
  echo "build context lacks collections/$TARBALL"; exit 1
fi
if ! grep -q "collections/$TARBALL" "$WORK/context/_build/requirements.yml"; then
  echo "extensions/ee/execution-environment.yml does not install $TARBALL (galaxy.yml says $VERSION)"; exit 1
fi

# Galaxy stage (WORKDIR /build = the context's _build directory).
(cd "$WORK/context/_build" &&
  ANSIBLE_GALAXY_DISABLE_GPG_VERIFY=1 ANSIBLE_COLLECTIONS_PATH="$WORK/installed" ansible-galaxy collection install -r requirements.yml \
    --collections-path "$WORK/installed" >/dev/null)

# Builder stage.
ansible-builder introspect "$WORK/installed" --write-pip "$WORK/pip.txt" >/dev/null
for dep in requests cryptography; do
  if ! grep -q "^$dep" "$WORK/pip.txt"; then
    echo "introspection did not find $dep:"; cat "$WORK/pip.txt"; exit 1
  fi
done
echo "execution environment definition ok: $TARBALL, Python deps: $(cut -d' ' -f1 "$WORK/pip.txt" | tr '\n' ' ')"

#!/usr/bin/env bash
# Packs the publishable packages and uses them as a customer would, with whichever `node` is
# first on PATH (.ci/run calls it once per supported runtime):
#   @sealpost/verify: types checked with @arethetypeswrong/cli (node10, node16 CJS/ESM, bundler),
#   then installed from its tarball into a fresh project (as its README says) and used through
#   require() and import;
#   @sealpost/client: the same, installed beside @sealpost/verify's tarball.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

work=$(mktemp -d "${TMPDIR:-/tmp}/sealpost-packages.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "packages on node $(node --version)"

# prepack builds each package first, so the tarball never holds a stale dist/.
npm pack --silent --workspace @sealpost/verify --pack-destination "$work" >/dev/null
npm pack --silent --workspace @sealpost/client --pack-destination "$work" >/dev/null
verify_tgz=$(ls "$work"/sealpost-verify-*.tgz)
client_tgz=$(ls "$work"/sealpost-client-*.tgz)

echo "--- @sealpost/verify: what the tarball holds"
tar -tzf "$verify_tgz" | sort | tee "$work/verify-files.txt" | sed 's/^/  /'
if grep -qvE '^package/(dist/(esm|cjs)/[a-z0-9-]+\.(js|d\.ts)|dist/cjs/package\.json|LICENSE|README\.md|package\.json)$' "$work/verify-files.txt"; then
  echo "unexpected files in the @sealpost/verify tarball"; exit 1
fi

echo "--- @sealpost/client: what the tarball holds"
tar -tzf "$client_tgz" | sort | tee "$work/client-files.txt" | sed 's/^/  /'
if grep -qvE '^package/(dist/(esm|cjs)/[a-z0-9-]+\.(js|d\.ts)|dist/cjs/package\.json|LICENSE|README\.md|package\.json)$' "$work/client-files.txt"; then
  echo "unexpected files in the @sealpost/client tarball"; exit 1
fi

echo "--- types under every moduleResolution (attw)"
npx --no-install attw --no-color "$verify_tgz"
npx --no-install attw --no-color "$client_tgz"

echo "--- @sealpost/verify: installed from the tarball, required and imported"
mkdir "$work/customer"
cp scripts/packaging/verify-consumer.* scripts/packaging/client-consumer.* "$work/customer/"
(
  cd "$work/customer"
  printf '{ "name": "customer", "version": "1.0.0", "private": true }\n' >package.json
  npm install --offline --no-audit --no-fund --silent "$verify_tgz"
  node verify-consumer.cjs
  node verify-consumer.mjs
  echo "--- @sealpost/client: installed from its tarball beside @sealpost/verify's"
  npm install --offline --no-audit --no-fund --silent "$verify_tgz" "$client_tgz"
  node client-consumer.cjs
  node client-consumer.mjs
)
echo "packages: ok"

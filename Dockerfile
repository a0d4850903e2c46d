# Sealpost container image: Node 24 LTS (the production runtime), the packed `sealpost` package
# installed into /opt/sealpost, running as an unprivileged user. It writes only to its data
# volume, so it runs with a read-only root file system:
#   docker build -t sealpost .
#   docker run --read-only --tmpfs /tmp -v sealpost-data:/var/lib/sealpost -p 8443:8443 -p 25:2525 sealpost
# Roles: append `start --role api|smtp|worker|scheduler` (see docs/deploy.md). Secrets: mount
# them as files and point the `_FILE` settings at them, e.g. SEALPOST_DATABASE_URL_FILE=/run/secrets/database_url.

FROM node:24-slim AS build
# Compilers for the native modules (better-sqlite3, argon2) when no prebuilt binary fits.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
COPY packages/verify/package.json packages/verify/
COPY packages/client/package.json packages/client/
RUN npm ci --no-audit --no-fund
COPY . .
# The image runs exactly what `npm pack` ships (the same tarball CI installs and starts).
RUN npm pack --pack-destination /tmp \
 && npm install --global --prefix /opt/sealpost --omit=dev --no-audit --no-fund /tmp/sealpost-*.tgz

FROM node:24-slim
# The heap limit of npm start and the systemd unit (docs/scaling.md, "Memory"); it bounds the CLI
# commands run in the container too, which hold large data (backup images) in Buffers outside it.
ENV NODE_ENV=production \
    NODE_OPTIONS=--max-old-space-size=512 \
    SEALPOST_DATA_DIR=/var/lib/sealpost \
    SEALPOST_HTTP_PORT=8443 \
    SEALPOST_SMTP_PORT=2525
COPY --from=build /opt/sealpost /opt/sealpost
# A fixed uid/gid, so volume ownership is predictable across image versions.
RUN groupadd --system --gid 10001 sealpost \
 && useradd --system --uid 10001 --gid sealpost --home-dir /var/lib/sealpost --no-create-home --shell /usr/sbin/nologin sealpost \
 && install -d -o sealpost -g sealpost -m 0700 /var/lib/sealpost
USER 10001:10001
WORKDIR /var/lib/sealpost
VOLUME ["/var/lib/sealpost"]
# Unprivileged ports: map 443/25 on the host or the load balancer to these.
EXPOSE 8443 2525
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "/opt/sealpost/lib/node_modules/sealpost/deploy/healthcheck.mjs"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/opt/sealpost/bin/sealpost"]
CMD ["start"]

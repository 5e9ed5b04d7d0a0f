# The downloader-operator image: `node dist/main.js` as user 65532, nothing written outside /tmp,
# so it runs with readOnlyRootFilesystem. Two stages on the same Node.js base: build bundles src/
# and its production dependencies into dist/main.js (`npm run build`, scripts/build.ts), and the
# runtime stage gets only dist/, package.json ("type": "module"), package-lock.json (what was
# bundled, for scanners and people) and crds/. It has no node_modules: the bundle holds what the
# operator runs, and it starts with less memory so (docs/benchmarks.md, "Memory").
#
#   docker build -t downloader-operator .
#   bash test/env/image/check-image.sh    # builds and runs it here, without a registry
#
# The base is pinned by digest: the index digest of node:20.19-bookworm-slim as a public BuildKit
# build log resolved it in January 2026. It was not checked against the registry (none is
# reachable where this was written); refresh it with
# `docker buildx imagetools inspect node:20.19-bookworm-slim` and keep tag and digest together.
# NODE_IMAGE overrides the base (check-image.sh builds against a local stand-in).
ARG NODE_IMAGE=node:20.19-bookworm-slim@sha256:b342de02eb4a57cd6986290a69833d20818508db8078dba0197a024193410aee

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# Only development packages have install scripts, and the build needs none of them (esbuild
# finds its binary in its platform package without its own).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts/build.ts ./scripts/
COPY src ./src
RUN npm run build

FROM ${NODE_IMAGE}
# npm, npx, corepack and yarn are not needed to run the operator and bring CVEs of their own.
# User 65532 gets a passwd entry: without one (and without HOME) os.homedir() throws, and the
# AWS SDK calls it to look for ~/.aws/config. Its home does not exist: nothing is kept there.
RUN rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
      /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack \
      /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn-* \
    && groupadd --system --gid 65532 nonroot \
    && useradd --system --uid 65532 --gid 65532 --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin nonroot
LABEL org.opencontainers.image.title="downloader-operator" \
      org.opencontainers.image.description="Kubernetes operator for the Step Functions Downloader Pattern" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV NODE_ENV=production
# A young generation of 2 MiB semi-spaces instead of V8's 16 MiB: about 30 MiB less resident
# memory for a few more, shorter scavenges. A 192 MiB cap on the old generation, three quarters of
# the chart's 256 MiB memory limit (the chart sets it from its limit): with no cap, V8 on a host
# with gigabytes of memory lets the heap grow up to four times what it holds before it collects,
# and the operator's first pass over 1000 Downloaders reached 200 to 290 MiB resident; with one,
# about 140 (docs/benchmarks.md, "Memory", measures the operator with this environment).
# (--optimize-for-size would save 6 MiB more but is not allowed in NODE_OPTIONS.)
ENV NODE_OPTIONS="--max-semi-space-size=2 --max-old-space-size=192"
# glibc gives each thread that allocates its own malloc arena; Node.js's libuv and V8 threads
# leave memory behind in several; with two, less of it stays resident (docs/benchmarks.md,
# "Memory").
ENV MALLOC_ARENA_MAX="2"
WORKDIR /app
# Owned by root and not writable by the runtime user.
COPY --from=build /src/dist ./dist
COPY package.json package-lock.json ./
COPY crds ./crds
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["node", "dist/main.js"]

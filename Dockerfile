# The downloader-operator image: `node dist/main.js` as user 65532, nothing written outside /tmp,
# so it runs with readOnlyRootFilesystem. Three stages on the same Node.js base: build compiles
# src/ with every dependency, prod-deps installs the production dependencies alone, and the
# runtime stage gets only dist/, those node_modules, package.json ("type": "module") and crds/.
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
# Only development packages have install scripts, and tsc needs none of them.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

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
# memory for a few more, shorter scavenges (docs/benchmarks.md measures the operator this way).
# (--optimize-for-size would save 6 MiB more but is not allowed in NODE_OPTIONS.)
ENV NODE_OPTIONS="--max-semi-space-size=2"
# glibc gives each thread that allocates its own malloc arena; Node.js's libuv and V8 threads
# leave memory behind in several. With two, the operator's peak with 1000 Downloaders was 171 to
# 209 MiB across the benchmark's phases; without, 182 to 301 MiB (docs/benchmarks.md, "Memory").
ENV MALLOC_ARENA_MAX="2"
WORKDIR /app
# Owned by root and not writable by the runtime user.
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json ./
COPY crds ./crds
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["node", "dist/main.js"]

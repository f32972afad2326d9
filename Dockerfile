# syntax=docker/dockerfile:1
# The Modelship operator image: TypeScript built to dist/, production dependencies only, on a
# distroless Node.js 24 base that runs as the non-root user 65532 and has no shell. It also holds
# the modelship command: --entrypoint /nodejs/bin/node IMAGE /app/dist/cli/main.js validate -
#
#   docker build -t REGISTRY/modelship:0.1.0 --build-arg REVISION=$(git rev-parse HEAD) .
#
# Reproducible: exact base image versions, npm ci from package-lock.json, no timestamp in a label.
# Pin the base images by digest too, for the same bytes on every build: the digests are not written
# here because they could not be looked up where this file was written (no container registry
# was reachable). Look them up with `docker buildx imagetools inspect IMAGE` (its "Digest:" line,
# the multi-platform index) and pass them, or write them into the two defaults below:
#   --build-arg NODE_IMAGE=docker.io/library/node:24.21.0-bookworm@sha256:DIGEST
#   --build-arg RUNTIME_IMAGE=gcr.io/distroless/nodejs24-debian12:nonroot@sha256:DIGEST
ARG NODE_IMAGE=docker.io/library/node:24.21.0-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/nodejs24-debian12:nonroot

# Build: every dependency (TypeScript included), then tsc -> dist/ (operator/src/main.ts -> dist/main.js).
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY operator/src ./operator/src
RUN npm run build && test -f dist/main.js && test -f dist/cli/main.js

# Production dependencies only. None of them has an install script, so none is run.
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# Runtime: distroless (glibc of Debian 12, like the build stages), nonroot tag = uid/gid 65532.
FROM ${RUNTIME_IMAGE}
ARG RUNTIME_IMAGE
# The commit and the repository the image is built from, for the labels.
ARG REVISION=""
ARG SOURCE=""
# The Open Container Initiative's annotation keys, which SBOM and scanning tools (syft, trivy,
# docker scout) read. No org.opencontainers.image.created: a timestamp would change every build.
LABEL org.opencontainers.image.title="modelship" \
      org.opencontainers.image.description="Kubernetes operator that serves machine-learning models: one ModelDeployment in, a Deployment, Service, HPA and PDB out." \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.vendor="Modelship" \
      org.opencontainers.image.base.name="${RUNTIME_IMAGE}"
WORKDIR /app
ENV NODE_ENV=production
# The heap limit follows the container's memory limit (cgroup), as production Node services do:
# without it V8 sizes the heap from the host's memory and a busy operator is OOM-killed instead of
# collecting. 75 % leaves room for code, buffers and the rest of the process. Semi-spaces of up to
# 2 MiB instead of the 1 MiB V8 gives a 512Mi container: the watch events and request bodies are
# scavenged half as often (docs/performance.md, "Memory in a container"). npm run bench runs the
# operator with exactly these options.
ENV NODE_OPTIONS="--max-old-space-size-percentage=75 --max-semi-space-size=2"
# package.json makes dist/ an ES module package ("type": "module") and gives the operator its version.
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
USER 65532:65532
# 8080 /metrics, 8081 /healthz and /readyz.
EXPOSE 8080 8081
ENTRYPOINT ["/nodejs/bin/node", "dist/main.js"]

# syntax=docker/dockerfile:1
# The Modelship operator image: TypeScript built to dist/, production dependencies only, on a
# distroless Node.js 24 base that runs as the non-root user 65532 and has no shell.
#
#   docker build -t ghcr.io/modelship/modelship:$(node -p "require('./package.json').version") .

# Build: every dependency (TypeScript included), then tsc -> dist/ (operator/src/main.ts -> dist/main.js).
FROM node:24-bookworm AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY operator/src ./operator/src
RUN npm run build && test -f dist/main.js

# Production dependencies only. None of them has an install script, so none is run.
FROM node:24-bookworm AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# Runtime: distroless (glibc of Debian 12, like the build stages), nonroot tag = uid/gid 65532.
FROM gcr.io/distroless/nodejs24-debian12:nonroot
WORKDIR /app
ENV NODE_ENV=production
# package.json makes dist/ an ES module package ("type": "module") and gives the operator its version.
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
USER 65532:65532
# 8080 /metrics, 8081 /healthz and /readyz.
EXPOSE 8080 8081
ENTRYPOINT ["/nodejs/bin/node", "dist/main.js"]

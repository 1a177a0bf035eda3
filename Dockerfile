# Production image of the leaderboard service: one static binary, server mode
# only (a ClickHouse server and Kafka brokers, see docs/deployment.md).
#
# Base images are pinned by tag. Production should pin them by digest as well
# (FROM image:tag@sha256:...); the digests could not be resolved where this
# file was written (no registry access), so they are left for the release
# pipeline to add.

# ---- build ------------------------------------------------------------------
FROM golang:1.26.8-bookworm AS build

WORKDIR /src

# Never download another Go toolchain; fail if go.mod and go.sum disagree.
ENV CGO_ENABLED=0 \
    GOTOOLCHAIN=local \
    GOFLAGS=-mod=readonly

# Dependencies in their own layer: rebuilt only when go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download && go mod verify

COPY . .

# No `chdb` build tag: the image carries no embedded ClickHouse. Asked for the
# embedded mode (LEADERBOARD_CLICKHOUSE_DSN empty) it exits with a one-line
# error instead. The cache mount only speeds up rebuilds (BuildKit).
RUN --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -ldflags "-s -w" -o /out/leaderboard ./cmd/leaderboard

# ---- run --------------------------------------------------------------------
# distroless/static: no shell, no package manager, CA certificates and
# /etc/passwd with the nonroot user (uid 65532) included.
FROM gcr.io/distroless/static-debian12:nonroot

ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="leaderboard" \
      org.opencontainers.image.description="Real-time leaderboard service (server mode: ClickHouse server, Kafka, Valkey)" \
      org.opencontainers.image.source="https://example.com/leaderboard" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="gcr.io/distroless/static-debian12:nonroot"

COPY --from=build /out/leaderboard /leaderboard

# Numeric, so orchestrators can check runAsNonRoot without /etc/passwd.
USER 65532:65532

EXPOSE 8080

# No HEALTHCHECK: the image has no shell and no HTTP client, and the binary has
# no probe subcommand. Orchestrators probe over HTTP instead:
#   liveness  GET /livez   (200 while the process serves HTTP)
#   readiness GET /readyz  (503 while starting, shutting down, or when neither
#                           Valkey nor ClickHouse can serve reads)
ENTRYPOINT ["/leaderboard"]
CMD ["serve"]

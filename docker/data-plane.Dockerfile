# Gatehouse data plane: multi-stage build, the binary alone on a distroless non-root base
# (which carries the CA certificates the upstream TLS connections verify against).
# Build from the repository root:
#   docker build -f docker/data-plane.Dockerfile -t ghcr.io/gatehouse/data-plane:0.1.0 .
FROM rust:1.95-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends cmake protobuf-compiler \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --profile dist --locked -p data-plane --bin gatehouse-data-plane

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/dist/gatehouse-data-plane /usr/local/bin/gatehouse-data-plane
USER nonroot:nonroot
EXPOSE 8080 9091
# SIGTERM drains: new connections are refused, in-flight streams finish (up to
# GATEHOUSE_SHUTDOWN_GRACE_SECS), then the process exits.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/gatehouse-data-plane"]

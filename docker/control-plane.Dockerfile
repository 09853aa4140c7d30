# Gatehouse control plane: multi-stage build, the binary alone on a distroless non-root base.
# Build from the repository root:
#   docker build -f docker/control-plane.Dockerfile -t ghcr.io/gatehouse/control-plane:0.1.0 .
FROM rust:1.95-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends cmake protobuf-compiler \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --profile dist --locked -p control-plane --bin gatehouse-control-plane

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/dist/gatehouse-control-plane /usr/local/bin/gatehouse-control-plane
USER nonroot:nonroot
EXPOSE 9000
ENTRYPOINT ["/usr/local/bin/gatehouse-control-plane"]

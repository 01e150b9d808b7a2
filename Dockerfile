# syntax=docker/dockerfile:1.7
# Multi-stage build of the `apilink` binary into a distroless, non-root image.
#   docker build -t apilink:0.1.0 .
# The chart runs it with a read-only root file system as UID/GID 65532.

FROM rust:1.95-bookworm AS build
# cmake builds the aws-lc crypto provider used by rustls.
RUN apt-get update \
 && apt-get install -y --no-install-recommends cmake \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p apilink \
 && install -D -m 0755 target/release/apilink /out/apilink

# distroless/cc: glibc, libgcc and CA certificates, no shell, no package manager.
FROM gcr.io/distroless/cc-debian12:nonroot
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="apilink" \
      org.opencontainers.image.description="Keeps Azure API Center in step with Azure API Management" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /out/apilink /usr/local/bin/apilink
USER 65532:65532
# /healthz, /readyz and /metrics of `apilink controller`.
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/apilink"]
CMD ["controller"]

# syntax=docker/dockerfile:1
# morgue: build with the same toolchain as CI, run as a small non-root image.

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*
COPY Cargo.toml Cargo.lock ./
# The dependency cache: every dependency built once against empty stand-ins for our targets, in
# a layer that only a change to Cargo.toml or Cargo.lock invalidates.
RUN mkdir -p src benches/compare tests/it && touch src/lib.rs tests/it/main.rs tests/docker.rs \
    && for f in src/main.rs benches/hot.rs benches/compare/main.rs; do echo 'fn main() {}' > "$f"; done
RUN cargo build --release --locked --bin morgue \
    && rm -rf src benches tests target/release/.fingerprint/morgue-* target/release/deps/morgue-* target/release/deps/libmorgue-*
COPY src ./src
COPY schema ./schema
COPY fixtures ./fixtures
COPY tests ./tests
# Cargo.toml names the harness and benches as targets: the manifest does not load without them.
COPY benches ./benches
RUN touch src/main.rs src/lib.rs && cargo build --release --locked --bin morgue && strip target/release/morgue

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin morgue \
    && mkdir -p /data /app/fixtures && chown morgue:morgue /data
COPY --from=build /src/target/release/morgue /usr/local/bin/morgue
# The fictional Gazette, for a demo only: the image starts empty unless MORGUE_FIXTURES names it.
COPY fixtures/archive.jsonl /app/fixtures/archive.jsonl
COPY fixtures/images /app/fixtures/images
ENV MORGUE_DATA=/data \
    MORGUE_LISTEN=0.0.0.0:8080 \
    MORGUE_FIXTURES=none \
    MORGUE_FIXTURE_IMAGES=/app/fixtures/images/images.json \
    MORGUE_LOG=info
USER morgue
VOLUME /data
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["morgue"]
CMD ["serve"]

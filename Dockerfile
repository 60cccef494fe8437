# Sahel Atlas: the service with the shipped data, its web map and fonts, the store on /data.
#   docker build -t sahel-atlas .
#   docker run -p 8080:8080 -v atlas-data:/data sahel-atlas
# Without a Docker engine, scripts/image.sh builds and runs this file with buildah, making
# its base images with debootstrap and passing them as RUST_IMAGE and RUNTIME_IMAGE.
ARG RUST_IMAGE=rust:1.95-slim-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${RUST_IMAGE} AS build
RUN apt-get update -q \
 && apt-get install -y -q --no-install-recommends gcc libc6-dev pkg-config libfreetype-dev ca-certificates nodejs npm \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Dependencies first, from the lock file, so that a code change does not refetch them.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src benches && echo 'fn main() {}' > src/main.rs && touch src/lib.rs benches/atlas.rs \
 && cargo fetch --locked && rm -rf src benches
COPY src src
COPY benches benches
RUN cargo build --release --locked --bin sahel-atlas
COPY web/package.json web/package-lock.json web/
RUN cd web && npm ci --omit=dev --no-audit --no-fund --loglevel=error
COPY web/index.html web/app.js web/analysis.js web/style.css web/sw.js web/manifest.webmanifest web/icon-32.png web/icon-192.png web/icon-512.png web/

FROM ${RUNTIME_IMAGE}
RUN apt-get update -q \
 && apt-get install -y -q --no-install-recommends fonts-dejavu-core libfreetype6 curl ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data --no-create-home atlas \
 && mkdir -p /data && chown atlas /data
COPY --from=build /src/target/release/sahel-atlas /usr/local/bin/sahel-atlas
COPY --from=build /src/web/index.html /src/web/app.js /src/web/analysis.js /src/web/style.css \
     /src/web/sw.js /src/web/manifest.webmanifest /src/web/icon-32.png /src/web/icon-192.png \
     /src/web/icon-512.png /app/web/
COPY --from=build /src/web/node_modules/maplibre-gl/dist /app/web/node_modules/maplibre-gl/dist
COPY --from=build /src/web/node_modules/pmtiles/dist /app/web/node_modules/pmtiles/dist
COPY geodata /app/geodata
WORKDIR /app
USER atlas
VOLUME /data
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/healthz >/dev/null || exit 1
ENTRYPOINT ["sahel-atlas"]
CMD ["serve", "--addr", "0.0.0.0:8080", "--data", "/app/geodata", "--web", "/app/web", "--store", "/data/atlas.gpkg"]

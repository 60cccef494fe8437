# Sahel Atlas: the service with the shipped data, its web map and label font, the store on
# /data. The runtime image is the binary, the shared libraries it loads and its files:
# no shell, no package manager (the healthcheck is the binary's own).
#   docker build -t sahel-atlas .
#   docker run -p 8080:8080 -v atlas-data:/data sahel-atlas
# Without a Docker engine, scripts/image.sh builds and runs this file with buildah, making
# the build's base image with debootstrap and passing it as RUST_IMAGE.
ARG RUST_IMAGE=rust:1.95-slim-bookworm

FROM ${RUST_IMAGE} AS build
RUN apt-get update -q \
 && apt-get install -y -q --no-install-recommends gcc libc6-dev pkg-config libfreetype-dev \
      ca-certificates nodejs npm fonts-dejavu-core binutils \
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
# The runtime file system: the binary (line tables stripped: 90 -> 16 MB) and every
# shared library it loads (ldd), the label font, a user for the service.
RUN mkdir -p /rootfs/usr/local/bin /rootfs/etc /rootfs/data /rootfs/app \
 && strip --strip-debug -o /rootfs/usr/local/bin/sahel-atlas target/release/sahel-atlas \
 && for lib in $(ldd target/release/sahel-atlas | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'); do \
      cp -L --parents "$lib" /rootfs/; \
    done \
 && cp --parents /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf /rootfs/ \
 && echo 'atlas:x:10001:10001:Sahel Atlas:/data:/nonexistent' > /rootfs/etc/passwd \
 && echo 'atlas:x:10001:' > /rootfs/etc/group \
 && chown 10001:10001 /rootfs/data \
 && /rootfs/usr/local/bin/sahel-atlas --version
COPY web/index.html web/app.js web/analysis.js web/style.css web/sw.js web/manifest.webmanifest web/icon-32.png web/icon-192.png web/icon-512.png web/

FROM scratch
# Ownership as in the build stage: /data belongs to the service's user.
COPY --from=build /rootfs/ /
COPY --from=build /src/web/index.html /src/web/app.js /src/web/analysis.js /src/web/style.css \
     /src/web/sw.js /src/web/manifest.webmanifest /src/web/icon-32.png /src/web/icon-192.png \
     /src/web/icon-512.png /app/web/
COPY --from=build /src/web/node_modules/maplibre-gl/dist /app/web/node_modules/maplibre-gl/dist
COPY --from=build /src/web/node_modules/pmtiles/dist /app/web/node_modules/pmtiles/dist
COPY geodata /app/geodata
WORKDIR /app
USER 10001:10001
VOLUME /data
EXPOSE 8080
# The server stops accepting on SIGTERM and finishes in-flight requests.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD ["sahel-atlas", "healthcheck", "--addr", "127.0.0.1:8080"]
ENTRYPOINT ["sahel-atlas"]
CMD ["serve", "--addr", "0.0.0.0:8080", "--data", "/app/geodata", "--web", "/app/web", "--store", "/data/atlas.gpkg"]

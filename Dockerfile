# econq: multi-stage build on Debian 12; the final image has only runtime libraries.
FROM debian:bookworm-slim AS build
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config \
      libuv1-dev libnng-dev libcjson-dev libcurl4-openssl-dev liblmdb-dev libxlsxwriter-dev \
      check libsubunit-dev libhttp-parser-dev libcsv-dev libgsl-dev libzip-dev libexpat1-dev \
      libfreexl-dev libcairo2-dev libssl-dev libxxhash-dev libpcre2-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release && cmake --build /build -j"$(nproc)" --target econqd

FROM debian:bookworm-slim
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libuv1 libnng1 libcjson1 libcurl4 liblmdb0 libxlsxwriter4 libhttp-parser2.9 libcsv3 \
      libgsl27 libzip4 libexpat1 libfreexl1 libcairo2 libssl3 libxxhash0 libpcre2-8-0 \
      curl ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /var/lib/econq --create-home --shell /usr/sbin/nologin econq
COPY --from=build /build/econqd /usr/local/bin/econqd
USER econq
WORKDIR /var/lib/econq
VOLUME ["/var/lib/econq"]
ENV ECONQ_LISTEN=0.0.0.0:8080 ECONQ_DATA_DIR=/var/lib/econq/data
EXPOSE 8080 7070
HEALTHCHECK --interval=15s --timeout=3s --start-period=5s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/health || exit 1
ENTRYPOINT ["/usr/local/bin/econqd"]
CMD ["serve"]

# weijian's container image: the production binary (no demo, simulator or benchmarks), stripped,
# on Debian slim, running as an unprivileged user with its spool in a volume.
# Built by deploy/compose/docker-compose.yml (context: the repository root).
FROM rust:1.85-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --locked --profile dist -p weijian --no-default-features

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home-dir /var/lib/weijian --shell /usr/sbin/nologin weijian \
    && install -d -o weijian -g weijian -m 0750 /var/lib/weijian /var/lib/weijian/spool
COPY --from=build /src/target/dist/weijian /usr/bin/weijian
COPY config/rules/default.toml /etc/weijian/rules/default.toml
USER weijian
WORKDIR /var/lib/weijian
ENV WEIJIAN_CONFIG=/etc/weijian/weijian.toml
EXPOSE 9464
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/weijian"]
CMD ["run", "--config", "/etc/weijian/weijian.toml"]

# Stands in for the official redis image where no registry is reachable: Debian's redis-server, same command.
ARG BASE_IMAGE=localhost/dnaforca-bookworm
FROM ${BASE_IMAGE}
RUN apt-get update && apt-get install -y --no-install-recommends redis-server \
    && rm -rf /var/lib/apt/lists/* && mkdir -p /data && chown redis:redis /data
WORKDIR /data
# hadolint ignore=DL3066
USER redis
EXPOSE 6379
CMD ["redis-server"]

# Stands in for the official haproxy image where no registry is reachable: Debian's HAProxy, the same
# configuration path and command.
ARG BASE_IMAGE=localhost/dnaforca-bookworm
FROM ${BASE_IMAGE}
RUN apt-get update && apt-get install -y --no-install-recommends haproxy \
    && rm -rf /var/lib/apt/lists/* && mkdir -p /usr/local/etc/haproxy
# hadolint ignore=DL3066
USER haproxy
EXPOSE 8080 8081
CMD ["haproxy", "-W", "-db", "-f", "/usr/local/etc/haproxy/haproxy.cfg"]

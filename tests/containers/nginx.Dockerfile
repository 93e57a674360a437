# Stands in for the official nginx image where no registry is reachable: Debian's nginx, same configuration path.
ARG BASE_IMAGE=localhost/dnaforca-bookworm
FROM ${BASE_IMAGE}
RUN apt-get update && apt-get install -y --no-install-recommends nginx \
    && rm -rf /var/lib/apt/lists/*
EXPOSE 8080 8081
CMD ["nginx", "-g", "daemon off;"]

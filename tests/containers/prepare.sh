#!/usr/bin/env bash
# Everything `make test-containers` needs on a Debian machine without a Docker engine or a registry: podman
# (runc, netavark, aardvark-dns, iptables), a local bookworm base image, and the product's images built from the
# Dockerfile with BASE_IMAGE set to it (without the local chat model: the extractive answerer answers), plus
# stand-ins for the redis and haproxy images that cannot be pulled.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CONTAINERS_CONF=$PWD/tests/containers/containers.conf

missing=()
for tool in podman runc netavark:/usr/lib/podman/netavark aardvark-dns:/usr/lib/podman/aardvark-dns \
            iptables:/usr/sbin/iptables debootstrap:/usr/sbin/debootstrap; do
  name=${tool%%:*}
  path=${tool#*:}
  if [ "$path" = "$tool" ]; then command -v "$name" >/dev/null || missing+=("$name"); else [ -x "$path" ] || missing+=("$name"); fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

base=localhost/dnaforca-bookworm
bash tests/containers/base-image.sh "$base"

build=(podman build --format docker --isolation chroot --network host --pull=never --build-arg "BASE_IMAGE=$base")
if [ -n "${PIP_CERT:-}" ]; then
  build+=(--build-arg "PIP_CERT=$PIP_CERT" -v "$PIP_CERT:$PIP_CERT:ro")
fi
for target in rag worker api; do
  echo "image localhost/dnaforca-$target"
  start=$SECONDS
  "${build[@]}" --quiet --target "$target" -t "localhost/dnaforca-$target" . >/dev/null
  echo "  built in $((SECONDS - start)) s, $(podman image inspect --format '{{.Size}}' "localhost/dnaforca-$target" | numfmt --to=si)B"
done
for stand_in in redis haproxy; do
  "${build[@]}" --quiet -f "tests/containers/$stand_in.Dockerfile" -t "localhost/dnaforca-test-$stand_in" \
    tests/containers >/dev/null
done
podman image prune -f >/dev/null

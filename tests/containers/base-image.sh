#!/usr/bin/env bash
# A Debian bookworm base image with Python 3.11, made locally where no registry is reachable (this project's
# CI machines): debootstrap from the apt mirror the machine already uses, then `podman import`. Cached: an
# existing image is kept.
set -euo pipefail

image=${1:-localhost/dnaforca-bookworm}
if podman image exists "$image"; then
  echo "base image $image: cached"
  exit 0
fi

mirror=$(sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1)
if [ -z "$mirror" ]; then
  mirror=$(awk '$1 == "deb" { print $2; exit }' /etc/apt/sources.list 2>/dev/null || true)
fi
if [ -z "$mirror" ]; then
  echo "no apt mirror found in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list" >&2
  exit 1
fi

root=$(mktemp -d /var/tmp/dnaforca-bookworm.XXXXXX)
trap 'rm -rf "$root"' EXIT
echo "base image $image: debootstrap bookworm from $mirror (about 2 minutes)"
debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
  bookworm "$root" "$mirror" >"$root.log" 2>&1 || { tail -n 20 "$root.log" >&2; exit 1; }
rm -f "$root.log"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | podman import --quiet --change 'CMD ["/bin/bash"]' - "$image" >/dev/null
echo "base image $image: $(podman image inspect --format '{{.Size}}' "$image" | numfmt --to=iec) imported"

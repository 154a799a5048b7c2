#!/usr/bin/env bash
# Makes the local base image the sandbox Containerfile's FROM names, without a registry:
# debootstrap a minimal Debian bookworm and `podman import` it under that exact reference.
# Cached: does nothing when the image already exists.
set -euo pipefail
ref="${LOOPAT_BASE_IMAGE:-docker.io/library/debian:bookworm-slim}"
if podman image exists "$ref"; then
  echo "base-image: $ref present (cached)"
  exit 0
fi
dir="$(mktemp -d /var/tmp/loopat-rootfs.XXXXXX)"
trap 'rm -rf "$dir"' EXIT
echo "base-image: debootstrap bookworm into $dir (about 30 s)"
mirror="${DEBIAN_MIRROR:-$(awk '/^deb / && /debian/ {print $2; exit}' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true)}"
if [ -z "$mirror" ]; then
  mirror=$(grep -h '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1 | awk '{print $2}')
fi
debootstrap --variant=minbase bookworm "$dir" ${mirror:+"$mirror"} >/tmp/loopat-debootstrap.log 2>&1 || {
  tail -20 /tmp/loopat-debootstrap.log >&2; exit 1; }
# Debian's minbase has no apt sources for containers built from it other than the mirror used.
tar -C "$dir" -c . | podman import --change 'CMD ["/bin/bash"]' - "$ref" >/dev/null
echo "base-image: imported $ref"

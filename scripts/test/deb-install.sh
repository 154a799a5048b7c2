#!/usr/bin/env bash
# deb-install.sh DEB OUTDIR [IMAGE]: installs the loopat .deb into a clean container made
# from the local base image (default docker.io/library/debian:bookworm-slim) with
# `apt-get install ./loopat.deb` (Depends come from Debian's mirror over a podman bridge
# network this script creates), then runs `loopat version` and `loopat doctor --json`.
# Results land in OUTDIR: files.txt (dpkg -L), loopat.desktop, version.txt, doctor.json,
# doctor.rc, apt.log. The container and network are removed on exit.
set -euo pipefail
if [[ $# -lt 2 ]]; then
	echo "usage: $0 DEB OUTDIR [IMAGE]" >&2
	exit 2
fi
deb=$(realpath "$1")
mkdir -p "$2"
out=$(realpath "$2")
image=${3:-docker.io/library/debian:bookworm-slim}
podman image exists "$image" || { echo "deb-install: base image $image missing (scripts/test/base-image.sh)" >&2; exit 1; }

name=loopat-debtest-$$-$RANDOM
cleanup() {
	podman rm -f -t 0 "$name" >/dev/null 2>&1 || true
	podman network rm -f "$name" >/dev/null 2>&1 || true
}
trap cleanup EXIT INT TERM
podman network create "$name" >/dev/null

podman run --name "$name" --network "$name" \
	-v "$deb:/tmp/loopat.deb:ro" -v "$out:/out" \
	-e DEBIAN_FRONTEND=noninteractive "$image" sh -euc '
	if ! { apt-get update && apt-get install -y --no-install-recommends /tmp/loopat.deb; } >/out/apt.log 2>&1; then
		tail -40 /out/apt.log >&2
		exit 1
	fi
	dpkg -L loopat >/out/files.txt
	cp /usr/share/applications/loopat.desktop /out/loopat.desktop
	command -v loopat >/out/which.txt
	loopat version >/out/version.txt
	rc=0
	loopat doctor --json >/out/doctor.json 2>/out/doctor.stderr || rc=$?
	echo "$rc" >/out/doctor.rc
'

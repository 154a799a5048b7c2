#!/usr/bin/env bash
# Builds the loopat sandbox base image for the test run if its tag is missing, through the
# app's own Builder (backend/images/cmd/ensure), trusting the host's extra CA certificates.
# Cached by content-hash tag: a second run is a no-op. Cold: about 4 min on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
tags=remote,exclude_graphdriver_btrfs,containers_image_openpgp
export CGO_ENABLED=0
if [ ! -s backend/images/bin/loopat-host ]; then
  # Same command as `make forwarder`, so the tag matches what the test binaries embed.
  go build -buildvcs=false -trimpath -ldflags "-s -w" -o backend/images/bin/loopat-host ./cmd/loopat-host
fi
ca=()
if [ -d /usr/local/share/ca-certificates ] && [ -n "$(ls -A /usr/local/share/ca-certificates)" ]; then
  ca=(-ca /usr/local/share/ca-certificates)
fi
ref=$(go run -tags "$tags" ./backend/images/cmd/ensure -ref "${ca[@]}")
if podman image exists "$ref"; then
  echo "build-sandbox: $ref present (cached)"
  exit 0
fi
echo "build-sandbox: building $ref"
go run -tags "$tags" ./backend/images/cmd/ensure "${ca[@]}"

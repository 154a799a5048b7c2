#!/usr/bin/env bash
# Builds podman 5 (the version go.mod pins for the bindings) from the Go module proxy, once,
# and caches it OUTSIDE the clone so a fresh clone on the same machine (CI) reuses it. Also
# unpacks Debian's netavark and aardvark-dns next to it (not installed system-wide: with
# netavark on PATH, a fresh podman 4 store would switch from CNI to netavark for everyone).
# Prints the path of the podman binary. Test-environment setup, not app behaviour. Run as root.
#   scripts/test/podman5-build.sh            # build if missing, print the binary's path
#   scripts/test/podman5-build.sh --dir      # print the cache dir instead
# Needs: go, gcc, libseccomp-dev, libsqlite3-dev, pkg-config (scripts/install-deps.sh test).
set -euo pipefail
cd "$(dirname "$0")/../.."
version="${LOOPAT_PODMAN5_VERSION:-$(awk '$1=="github.com/containers/podman/v5"{print $2}' go.mod)}"
[ -n "$version" ] || { echo "podman5-build: no github.com/containers/podman/v5 in go.mod" >&2; exit 1; }
dir="${LOOPAT_PODMAN5_CACHE:-/var/cache/loopat-test}/podman5-$version"
# seccomp: containers get the default seccomp profile as with a distribution's podman.
# libsqlite3: the system sqlite instead of compiling the bundled one (minutes on 2 cores).
# No btrfs/devicemapper drivers, no gpgme (signatures through the pure-Go openpgp), no systemd
# (no libsystemd-dev: events and logs go to files, set in podman5-service.sh's config).
tags="grpcnotrace seccomp libsqlite3 exclude_graphdriver_btrfs exclude_graphdriver_devicemapper containers_image_openpgp"
log="/tmp/loopat-podman5-build.log"

if [ "${1:-}" = "--dir" ]; then echo "$dir"; exit 0; fi

mkdir -p "$dir"
tmp=$(mktemp -d "$dir/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

if [ ! -x "$dir/podman" ]; then
  echo "podman5-build: building podman $version (tags: $tags); first build takes several minutes" >&2
  t0=$(date +%s)
  # Built as its own main module (podman's go.mod and go.sum, the exact dependency versions
  # upstream tested), from the module's source: `go install pkg@version` would also ask the
  # proxy for the module's version list to check deprecation, which the proxy here refuses.
  src=$(GOFLAGS=-mod=mod go mod download -json "github.com/containers/podman/v5@$version" | awk -F'"' '$2=="Dir"{print $4}')
  [ -d "$src" ] || { echo "podman5-build: go mod download github.com/containers/podman/v5@$version failed" >&2; exit 1; }
  cp -r "$src" "$tmp/src" && chmod -R u+w "$tmp/src"
  if ! (cd "$tmp/src" && CGO_ENABLED=1 GOFLAGS="-mod=mod -buildvcs=false" nice go build -trimpath -tags "$tags" \
      -o "$tmp/podman" ./cmd/podman) >"$log" 2>&1; then
    tail -30 "$log" >&2
    echo "podman5-build: go build failed (log: $log)" >&2
    exit 1
  fi
  mv "$tmp/podman" "$dir/podman"
  echo "podman5-build: built $dir/podman in $(( $(date +%s) - t0 )) s" >&2
fi

# netavark + aardvark-dns: podman 5 has no CNI backend (Debian's podman 4 uses CNI here).
if [ ! -x "$dir/libexec/netavark" ] || [ ! -x "$dir/libexec/aardvark-dns" ]; then
  (cd "$tmp" && apt-get download netavark aardvark-dns >"$log" 2>&1) || {
    apt-get update -qq >/dev/null && (cd "$tmp" && apt-get download netavark aardvark-dns >"$log" 2>&1); } || {
    cat "$log" >&2; echo "podman5-build: apt-get download netavark aardvark-dns failed" >&2; exit 1; }
  mkdir -p "$dir/libexec"
  for deb in "$tmp"/*.deb; do dpkg-deb -x "$deb" "$tmp/root"; done
  for b in netavark aardvark-dns; do
    install -m 0755 "$tmp/root/usr/lib/podman/$b" "$dir/libexec/$b"
  done
  ls "$tmp"/*.deb | xargs -n1 basename >"$dir/libexec/FROM-DEBS"
  echo "podman5-build: unpacked $(tr '\n' ' ' <"$dir/libexec/FROM-DEBS")into $dir/libexec" >&2
fi
echo "$dir/podman"

#!/usr/bin/env bash
# Installs the system packages loopat desktop needs to build, run and test on Debian 12 / Ubuntu 24.04.
# Idempotent: only missing packages are installed. Usage: scripts/install-deps.sh [run|test]
set -euo pipefail
mode="${1:-run}"
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"

pkgs=(build-essential pkg-config git curl ca-certificates libgtk-3-dev libwebkit2gtk-4.1-dev libsqlite3-dev podman runc catatonit uidmap
      slirp4netns fuse-overlayfs iptables containernetworking-plugins
      dbus dbus-daemon libglib2.0-bin gnome-keyring libsecret-tools xvfb xauth imagemagick)
if [ "$mode" = "test" ]; then
  # libseccomp-dev: the podman 5 test build (scripts/test/podman5-build.sh) links libseccomp.
  pkgs+=(imagemagick xdotool chromium fonts-liberation debootstrap iproute2 libseccomp-dev)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Node >= 20.19 for Vite 7.
if ! command -v node >/dev/null || ! node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a==20&&b>=19)?0:1)'; then
  echo "install-deps: Node >= 20.19 is required (found: $(node --version 2>/dev/null || echo none))" >&2
  echo "install-deps: install it from your distribution or nodesource, then re-run" >&2
  exit 1
fi

#!/usr/bin/env bash
# Host setup for running the integration tests on a Debian 12-like CI machine.
# This is test-environment setup, not app behaviour: crun fails on cgroup-v1 hybrid
# hosts and the hard nofile limit is below podman's default ulimit.
set -euo pipefail
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
conf=/etc/containers/containers.conf.d/50-loopat-test.conf
want='[engine]
runtime = "runc"

[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]'
if [ "$(cat "$conf" 2>/dev/null)" != "$want" ]; then
  $SUDO mkdir -p "$(dirname "$conf")"
  printf '%s\n' "$want" | $SUDO tee "$conf" >/dev/null
  echo "host-setup: wrote $conf"
fi

# Containers and networks of deleted test workspaces (tests killed before their clean-up,
# earlier runs): they keep running and load the machine. See prune-orphans.sh.
$SUDO "$(dirname "$0")/prune-orphans.sh"

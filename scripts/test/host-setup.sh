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

# Each test workspace gets its own network (loopat-<workspace id>); tests that end without
# the app's uninstall leave it behind, and CNI's 10.89.0.0/16 pool holds 256 of them. A
# network no container uses is recreated on demand by the app, so pruning unused ones is
# safe; only networks with the app's label are touched.
$SUDO podman network prune --force --filter label=loopat.workspace >/dev/null 2>&1 || true

#!/usr/bin/env bash
# A private podman 5 (built by podman5-build.sh) beside the machine's podman 4, sharing
# nothing with it: its own store (--root/--runroot come from its own storage.conf), tmp dir,
# sqlite database, network config dir and subnets, containers.conf (CONTAINERS_CONF, so
# none of podman 4's files is read) and API socket. Test-environment setup, not app
# behaviour. Run as root. Idempotent.
#   scripts/test/podman5-service.sh start         # start the API service; prints its unix:// URL
#   scripts/test/podman5-service.sh stop          # stop it
#   scripts/test/podman5-service.sh url           # the URL (whether running or not)
#   scripts/test/podman5-service.sh bindir        # dir whose `podman` is podman 5 on this store:
#                                                 # put it first on PATH for tests that run `podman`
#   scripts/test/podman5-service.sh load-images   # copy the test images from podman 4 (cached)
#   scripts/test/podman5-service.sh versions      # conmon/runc/netavark/... against podman 5's needs
#   scripts/test/podman5-service.sh events-log    # the events file every podman 5 process writes
# The app itself against podman 5: CONTAINER_HOST=$(scripts/test/podman5-service.sh start) loopat serve
set -Eeuo pipefail
trap 'echo "podman5-service: failed at line $LINENO: $BASH_COMMAND" >&2' ERR
cd "$(dirname "$0")/../.."
root="$(pwd)"
[ "$(id -u)" -eq 0 ] || { echo "podman5-service: run as root (the suite runs rootful podman 5)" >&2; exit 1; }

state="${LOOPAT_PODMAN5_STATE:-/var/lib/loopat-test/podman5}"
run="${LOOPAT_PODMAN5_RUN:-/run/loopat-podman5}"
sock="$run/podman.sock"
url="unix://$sock"
pidfile="$run/service.pid"
bindir="$state/bin"

# Writes the configs and the `podman` wrapper (only when their content changed).
setup() {
  local podman5 cache
  podman5="$(scripts/test/podman5-build.sh)"
  cache="$(dirname "$podman5")"
  mkdir -p "$state/storage" "$state/networks" "$bindir" "$run/tmp"
  chmod 0700 "$state" "$run"
  put "$state/storage.conf" "[storage]
driver = \"overlay\"
graphroot = \"$state/storage\"
runroot = \"$run/storage\""
  # Subnets: podman 4 (CNI) takes 10.88.0.0/16 and 10.89.0.0/16 here; podman 5 picks from
  # its own range so a network of one never gets the subnet of a network of the other.
  # Bridge names do not clash: CNI's are cni-podmanN, netavark's podmanN.
  # events_logfile_max_size = 0: never rotated (podman 5 rotates at 1 MB by default, and a
  # rotation during a package made the suite's event count negative); the suite empties it.
  # conmon_env_vars: the `container cleanup` conmon runs when a container exits must read this
  # file too (netavark is only in the cache dir), and conmon passes on only these variables.
  put "$state/containers.conf" "[containers]
default_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]
log_driver = \"k8s-file\"

[engine]
runtime = \"runc\"
cgroup_manager = \"cgroupfs\"
events_logger = \"file\"
events_logfile_path = \"$run/events.log\"
events_logfile_max_size = 0
tmp_dir = \"$run/tmp\"
helper_binaries_dir = [\"$cache/libexec\", \"/usr/libexec/podman\", \"/usr/lib/podman\", \"/usr/bin\"]
conmon_env_vars = [\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\", \"CONTAINERS_CONF=$state/containers.conf\", \"CONTAINERS_STORAGE_CONF=$state/storage.conf\", \"PODMAN_IGNORE_CGROUPSV1_WARNING=1\"]

[network]
network_backend = \"netavark\"
network_config_dir = \"$state/networks\"
default_subnet = \"10.190.0.0/24\"
default_subnet_pools = [{\"base\" = \"10.191.0.0/16\", \"size\" = 24}]"
  # Every `podman` the tests run (CLI calls and the services they start) goes through this.
  # PODMAN_IGNORE_CGROUPSV1_WARNING: this host is on cgroups v1, which podman 5 supports with
  # a warning on every call; tests compare command output, so the warning is silenced.
  put "$bindir/podman" "#!/bin/sh
# podman $(basename "$cache" | sed 's/^podman5-//') on the private store of scripts/test/podman5-service.sh (generated)
export CONTAINERS_CONF=\"$state/containers.conf\" CONTAINERS_STORAGE_CONF=\"$state/storage.conf\" PODMAN_IGNORE_CGROUPSV1_WARNING=1
exec \"$podman5\" \"\$@\""
  chmod 0755 "$bindir/podman"
}

put() { # path content: write when changed
  if [ "$(cat "$1" 2>/dev/null)" != "$2" ]; then printf '%s\n' "$2" >"$1"; fi
}

alive() {
  [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null &&
    curl -fsS --max-time 3 --unix-socket "$sock" http://d/_ping >/dev/null 2>&1
}

start() {
  setup
  if alive; then echo "$url"; return; fi
  stop_service
  rm -f "$sock"
  # Its own session and process group: it outlives this script and stop ends it by its pid.
  # 9>&-: not the suite's lock (podman5-suite.sh), which the service would hold forever.
  setsid "$bindir/podman" system service --time=0 "$url" >"$run/service.log" 2>&1 </dev/null 9>&- &
  echo $! >"$pidfile"
  for _ in $(seq 1 300); do
    if alive; then echo "$url"; return; fi
    kill -0 "$(cat "$pidfile")" 2>/dev/null || break
    sleep 0.1
  done
  echo "podman5-service: the service did not answer at $url:" >&2
  tail -20 "$run/service.log" >&2
  exit 1
}

stop_service() {
  [ -f "$pidfile" ] || return 0
  local pid; pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  fi
  rm -f "$pidfile" "$sock"
}

# The images the integration tests expect, copied from podman 4's store (the refs
# rootless-user.sh copies): the base image, the loop tests' small image, the current sandbox
# image. Older sandbox images in podman 5's store are removed (2 GB each).
load_images() {
  setup
  local p5="$bindir/podman" refs ref sandbox
  refs=("${LOOPAT_BASE_IMAGE:-docker.io/library/debian:bookworm-slim}" localhost/loopat-loops-test:1)
  sandbox="${LOOPAT_SANDBOX_REF:-}"
  if [ -z "$sandbox" ]; then
    local ca=()
    if [ -d /usr/local/share/ca-certificates ] && [ -n "$(ls -A /usr/local/share/ca-certificates)" ]; then
      ca=(-ca /usr/local/share/ca-certificates)
    fi
    sandbox=$(CGO_ENABLED=0 go run -tags remote,exclude_graphdriver_btrfs,containers_image_openpgp ./backend/images/cmd/ensure -ref "${ca[@]}")
  fi
  refs+=("$sandbox")
  for ref in "${refs[@]}"; do
    if "$p5" image exists "$ref"; then continue; fi
    if ! /usr/bin/podman image exists "$ref"; then
      echo "podman5-service: $ref is not in podman 4's store either (make test-setup builds it)" >&2
      continue
    fi
    echo "podman5-service: copying $ref from podman 4" >&2
    /usr/bin/podman save "$ref" 2>/dev/null | "$p5" load >/dev/null 2>"$run/load.log" || { cat "$run/load.log" >&2; exit 1; }
  done
  # By image id, with every tag (tests add ws-* tags): only the current sandbox repo stays.
  local id repo
  "$p5" images --format '{{.ID}} {{.Repository}}' | while read -r id repo; do
    case "$repo" in */loopat-sandbox-*) [ "$repo" = "${sandbox%:*}" ] || "$p5" rmi -f "$id" >/dev/null 2>&1 || true ;; esac
  done
}

# What podman 5 runs with, against what it needs. Minimums from podman 5.8's sources and
# release notes: conmon >= 2.0.24 (libpod checks it); runc 1.1.x works (5.8 fixed runc
# >= 1.3 and >= 1.1.11 cases); netavark/aardvark-dns: podman 5 calls netavark with --config,
# --rootless and --aardvark-binary (netavark >= 1.0); passt/pasta is only used rootless.
versions() {
  local cache; cache="$(dirname "$(scripts/test/podman5-build.sh)")"
  printf 'podman5:      %s\n' "$("$cache/podman" --version)"
  printf 'conmon:       %s\n' "$(conmon --version | head -1)"
  printf 'runc:         %s\n' "$(runc --version | head -1)"
  printf 'crun:         %s\n' "$(crun --version 2>/dev/null | head -1 || echo 'not installed')"
  printf 'netavark:     %s (%s)\n' "$("$cache/libexec/netavark" --version)" "$(tr '\n' ' ' <"$cache/libexec/FROM-DEBS")"
  printf 'aardvark-dns: %s\n' "$("$cache/libexec/aardvark-dns" --version 2>/dev/null)"
  printf 'passt:        %s\n' "$(dpkg-query -W -f='${Version}' passt 2>/dev/null || echo 'not installed')"
  printf 'cgroups:      %s\n' "$(stat -fc %T /sys/fs/cgroup | sed 's/cgroup2fs/v2/;s/tmpfs/v1/')"
}

case "${1:-start}" in
  start) start ;;
  stop) stop_service ;;
  url) echo "$url" ;;
  events-log) echo "$run/events.log" ;;
  bindir) setup; echo "$bindir" ;;
  load-images) load_images ;;
  versions) versions ;;
  *) echo "usage: $0 start|stop|url|bindir|load-images|versions|events-log" >&2; exit 2 ;;
esac

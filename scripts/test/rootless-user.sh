#!/usr/bin/env bash
# Prepares the unprivileged test account that the rootless suite (make test-rootless) runs
# as: a normal user with subuid/subgid ranges, its own XDG_RUNTIME_DIR, the podman settings
# the root tests use, and the sandbox + base images copied from root's storage. Idempotent
# and cached: a second run changes nothing and copies no image that is already there.
# Test-environment setup, not app behaviour. Must run as root.
#   scripts/test/rootless-user.sh            # prepare (prints nothing when all is cached)
#   scripts/test/rootless-user.sh --env      # print the user's environment (KEY=VALUE lines)
set -euo pipefail
trap 'echo "rootless-user: failed at line $LINENO: $BASH_COMMAND" >&2' ERR
user="${LOOPAT_ROOTLESS_USER:-loopattest}"
# A range no distribution hands out by default (useradd starts at 100000).
sub_start="${LOOPAT_ROOTLESS_SUBID_START:-300000}"
sub_count=65536
[ "$(id -u)" -eq 0 ] || { echo "rootless-user: run as root (it creates the account $user)" >&2; exit 1; }
cd "$(dirname "$0")/../.."

if ! id -u "$user" >/dev/null 2>&1; then
  useradd --create-home --shell /bin/bash --comment "loopat rootless tests" "$user"
  echo "rootless-user: created user $user"
fi
uid=$(id -u "$user")
gid=$(id -g "$user")
home=$(getent passwd "$user" | cut -d: -f6)
runtime_dir="/run/user/$uid"

if [ "${1:-}" = "--env" ]; then
  printf 'HOME=%s\nUSER=%s\nLOGNAME=%s\nXDG_RUNTIME_DIR=%s\nGOMODCACHE=%s\nGOCACHE=%s\nGOPROXY=off\nGOFLAGS=-buildvcs=false\n' \
    "$home" "$user" "$user" "$runtime_dir" "$home/go/pkg/mod" "$home/.cache/go-build"
  exit 0
fi

for f in subuid subgid; do
  touch "/etc/$f"
  if ! grep -q "^$user:" "/etc/$f"; then
    echo "$user:$sub_start:$sub_count" >>"/etc/$f"
    echo "rootless-user: /etc/$f $user:$sub_start:$sub_count"
  fi
done

# Rootless networking (slirp4netns/pasta) opens /dev/net/tun and fuse-overlayfs /dev/fuse
# as the user: distributions ship both 0666; some CI sandboxes make them root-only.
for dev in /dev/net/tun /dev/fuse; do
  if [ -c "$dev" ] && [ "$(stat -c %a "$dev")" != 666 ]; then
    chmod 0666 "$dev"
    echo "rootless-user: chmod 0666 $dev (the distribution default)"
  fi
done

# No systemd-logind here: make the runtime dir logind would (0700, the user's), and clear it
# as logind does when the user's last session ends: a runtime dir left by processes that were
# killed (a previous run, a CI stop) names a pause process that no longer exists, and every
# rootless podman call then fails with "invalid internal status".
if [ -d "$runtime_dir" ] && ! pgrep -u "$uid" >/dev/null 2>&1; then
  rm -rf "$runtime_dir"
fi
mkdir -p "$runtime_dir"
chown "$uid:$gid" "$runtime_dir"
chmod 0700 "$runtime_dir"

as_user() {
  runuser -u "$user" -- env -i PATH="$PATH" HOME="$home" USER="$user" LOGNAME="$user" \
    XDG_RUNTIME_DIR="$runtime_dir" "$@"
}

# The same drop-in the root tests get (scripts/test/host-setup.sh), plus what a user without
# systemd needs (cgroupfs, file events), and a storage driver that is not vfs.
conf_dir="$home/.config/containers"
as_user mkdir -p "$conf_dir/containers.conf.d"
write_if_changed() { # path content
  if [ "$(cat "$1" 2>/dev/null)" != "$2" ]; then
    printf '%s\n' "$2" | as_user tee "$1" >/dev/null
    echo "rootless-user: wrote $1"
    return 0
  fi
  return 1
}
write_if_changed "$conf_dir/containers.conf.d/50-loopat-test.conf" '[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"

[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]' || true

# Native rootless overlay needs kernel >= 5.13; older ones use fuse-overlayfs.
kernel=$(uname -r)
kmaj=${kernel%%.*}; rest=${kernel#*.}; kmin=${rest%%.*}
# graphroot/runroot are spelled out: the tests run under with-keyring.sh, whose private
# XDG_DATA_HOME would otherwise give podman a fresh, empty store on every run.
storage="[storage]
driver = \"overlay\"
graphroot = \"$home/.local/share/containers/storage\"
runroot = \"$runtime_dir/containers\""
if [ "$kmaj" -lt 5 ] || { [ "$kmaj" -eq 5 ] && [ "$kmin" -lt 13 ]; }; then
  command -v fuse-overlayfs >/dev/null || { echo "rootless-user: kernel $kernel needs fuse-overlayfs (apt install fuse-overlayfs)" >&2; exit 1; }
  storage="$storage
[storage.options.overlay]
mount_program = \"$(command -v fuse-overlayfs)\""
fi
write_if_changed "$conf_dir/storage.conf" "$storage" || true
driver=$(as_user podman info --format "{{.Store.GraphDriverName}}" 2>/dev/null || true)
if [ "$driver" != overlay ]; then
  # A driver change needs a clean store; only this throwaway test account is reset.
  as_user podman system reset --force >/dev/null 2>&1 || true
  driver=$(as_user podman info --format "{{.Store.GraphDriverName}}" 2>/tmp/loopat-rootless-info.log) ||
    { echo "rootless-user: podman info as $user failed:" >&2; tail -5 /tmp/loopat-rootless-info.log >&2; exit 1; }
fi
# Containers and networks of deleted test workspaces left by earlier runs.
as_user "$(pwd)/scripts/test/prune-orphans.sh"
[ "$driver" = overlay ] || { echo "rootless-user: $user's storage driver is $driver, want overlay" >&2; exit 1; }

# Go: the integration tests build the forwarder with `go build`; root's module cache is
# not readable for the user, so hard-link it (read-only files, no copy) into the user's.
modsrc=$(go env GOMODCACHE)
moddst="$home/go/pkg/mod"
stamp="$home/go/.modcache-from"
want_stamp="$modsrc $(sha256sum go.sum | cut -c1-16)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want_stamp" ]; then
  if [ -d "$moddst" ]; then chmod -R u+w "$moddst" && rm -rf "$moddst"; fi
  mkdir -p "$(dirname "$moddst")"
  cp -al "$modsrc" "$moddst"
  chown "$uid:$gid" "$home/go" "$home/go/pkg"
  echo "$want_stamp" >"$stamp"
  echo "rootless-user: module cache linked into $moddst"
fi

# Images: copy from root's storage only what the user does not have yet: the base image,
# the loop tests' small image and the current sandbox image (the ref the app computes,
# as scripts/test/build-sandbox.sh does; older sandbox images are not copied).
refs=("${LOOPAT_BASE_IMAGE:-docker.io/library/debian:bookworm-slim}" localhost/loopat-loops-test:1)
if [ -z "${LOOPAT_SANDBOX_REF:-}" ]; then
  ca=()
  if [ -d /usr/local/share/ca-certificates ] && [ -n "$(ls -A /usr/local/share/ca-certificates)" ]; then
    ca=(-ca /usr/local/share/ca-certificates)
  fi
  LOOPAT_SANDBOX_REF=$(CGO_ENABLED=0 go run -tags remote,exclude_graphdriver_btrfs,containers_image_openpgp ./backend/images/cmd/ensure -ref "${ca[@]}")
fi
refs+=("$LOOPAT_SANDBOX_REF")
for ref in "${refs[@]}"; do
  podman image exists "$ref" || continue
  if as_user podman image exists "$ref"; then continue; fi
  echo "rootless-user: copying $ref into $user's storage"
  podman save "$ref" 2>/dev/null | as_user podman load >/dev/null 2>/tmp/loopat-rootless-load.log || { cat /tmp/loopat-rootless-load.log >&2; exit 1; }
  # The archive carries the name; tag again in case it did not.
  as_user podman image exists "$ref" || {
    id=$(podman image inspect --format '{{.Id}}' "$ref")
    as_user podman tag "$id" "$ref"
  }
done
# A keeper tag on the sandbox image, as another workspace's ws- tag would be: an uninstall in
# a test (TestWarmLoopRemovedOnCloseAndUninstall) then only drops its own tag, as it does in
# a user's storage shared by several workspaces, and the suites after it still find the image
# instead of building it from scratch in this storage (no layer cache: minutes).
if as_user podman image exists "$LOOPAT_SANDBOX_REF"; then
  as_user podman tag "$LOOPAT_SANDBOX_REF" "${LOOPAT_SANDBOX_REF%:*}:ws-rootless-suite-keep"
fi

#!/usr/bin/env bash
# Runs CMD... as the rootless test account (scripts/test/rootless-user.sh makes it) with
# that account's HOME and XDG_RUNTIME_DIR and its own private Secret Service
# (scripts/test/with-keyring.sh), keeping the rest of the caller's environment (test
# variables such as LOOPAT_HOME, LOOPAT_TEST_CLAUDE_BIN). Test setup only. Run as root.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
user="${LOOPAT_ROOTLESS_USER:-loopattest}"
[ "$#" -gt 0 ] || { echo "usage: $0 CMD [ARGS...]" >&2; exit 2; }
args=()
while IFS= read -r kv; do args+=("$kv"); done < <("$here/rootless-user.sh" --env)
# Root's session bits must not leak: the user gets its own bus and keyring.
exec runuser -u "$user" -- env -u DBUS_SESSION_BUS_ADDRESS -u XDG_DATA_HOME -u GNOME_KEYRING_CONTROL \
  -u LOOPAT_WITH_KEYRING_INNER -u XDG_CONFIG_HOME -u XDG_CACHE_HOME -u GOPATH -u CONTAINER_HOST \
  -u CONTAINERS_CONF -u CONTAINERS_STORAGE_CONF -u REGISTRY_AUTH_FILE \
  "${args[@]}" PATH="$(dirname "$(command -v go)"):$PATH" "$here/with-keyring.sh" "$@"

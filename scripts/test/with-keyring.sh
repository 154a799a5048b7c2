#!/bin/sh
# Runs CMD... against a real, private Secret Service: a fresh D-Bus session bus and a
# gnome-keyring-daemon whose login keyring lives in a throwaway XDG_DATA_HOME, unlocked
# with a test password. Both end with CMD (dbus-run-session stops the bus; the daemon
# exits with it). Test setup only: the app itself never starts a keyring.
#   scripts/test/with-keyring.sh go test -tags integration,... ./backend/vault/...
set -eu
if [ "$#" -eq 0 ]; then
	echo "usage: $0 CMD [ARGS...]" >&2
	exit 2
fi
for tool in dbus-run-session gnome-keyring-daemon; do
	command -v "$tool" >/dev/null 2>&1 || { echo "with-keyring: $tool is missing (apt install dbus gnome-keyring)" >&2; exit 127; }
done
if [ -z "${LOOPAT_WITH_KEYRING_INNER:-}" ]; then
	LOOPAT_WITH_KEYRING_INNER=1 exec dbus-run-session -- "$0" "$@"
fi
unset LOOPAT_WITH_KEYRING_INNER
XDG_DATA_HOME=$(mktemp -d "${TMPDIR:-/tmp}/loopat-keyring.XXXXXX")
export XDG_DATA_HOME
# The password is a test fixture; tests that lock the keyring unlock it again with it.
LOOPAT_TEST_KEYRING_PASSWORD=${LOOPAT_TEST_KEYRING_PASSWORD:-loopat-test-password}
export LOOPAT_TEST_KEYRING_PASSWORD
# --unlock reads the password on stdin and creates/unlocks the login keyring; the daemon
# prints GNOME_KEYRING_CONTROL=... which clients may use.
eval "$(printf '%s' "$LOOPAT_TEST_KEYRING_PASSWORD" | gnome-keyring-daemon --unlock --components=secrets | sed 's/^/export /')"
# The daemon outlives the bus for a moment: stop it by its pid (asked from the bus) and
# remove its control folder.
daemon_pid=$(gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
	--method org.freedesktop.DBus.GetConnectionUnixProcessID org.freedesktop.secrets 2>/dev/null |
	tr -dc '0-9 ' | awk '{print $NF}') || daemon_pid=""
cleanup() {
	[ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null || true
	[ -n "${GNOME_KEYRING_CONTROL:-}" ] && rm -rf "$GNOME_KEYRING_CONTROL"
	rm -rf "$XDG_DATA_HOME"
}
trap cleanup EXIT INT TERM
status=0
"$@" || status=$?
exit "$status"

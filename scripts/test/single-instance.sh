#!/usr/bin/env bash
# single-instance.sh BIN: a second launch of the desktop app focuses the first and exits.
#
# Runs under its own Xvfb display and private session bus (Wails' Linux single-instance
# lock is a D-Bus name), with a throwaway LOOPAT_HOME shared by both launches. The first
# window is unmapped behind the app's back, then the second launch must (1) exit within
# 20 s and (2) make the first instance map and focus its window again; the first keeps
# running.
set -euo pipefail
if [[ $# -ne 1 ]]; then
	echo "usage: $0 BIN" >&2
	exit 2
fi
bin=$(realpath "$1")
for tool in xvfb-run dbus-run-session xdotool; do
	command -v "$tool" >/dev/null || { echo "single-instance: $tool is missing (apt install xvfb dbus xdotool)" >&2; exit 127; }
done
if [[ -z ${LOOPAT_SI_INNER:-} ]]; then
	LOOPAT_SI_INNER=1 exec xvfb-run -a -s "-screen 0 1280x900x24" dbus-run-session -- "$0" "$@"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/loopat-si.XXXXXX")
export LOOPAT_HOME=$work/home
first_pid=""
cleanup() {
	[[ -n $first_pid ]] && kill "$first_pid" 2>/dev/null && wait "$first_pid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
fail() {
	echo "single-instance: FAIL: $*" >&2
	for f in "$work"/first.log "$work"/second.log; do [[ -f $f ]] && { echo "--- $f" >&2; tail -20 "$f" >&2; }; done
	exit 1
}
# find_window: the first instance's visible top-level window, waiting up to $1 seconds.
find_window() {
	local i
	for ((i = 0; i < $1 * 10; i++)); do
		if wid=$(xdotool search --onlyvisible --pid "$first_pid" --name '^loopat' 2>/dev/null | head -1) && [[ -n $wid ]]; then
			echo "$wid"
			return 0
		fi
		sleep 0.1
	done
	return 1
}

"$bin" >"$work/first.log" 2>&1 &
first_pid=$!
start=$(date +%s.%N)
wid=$(find_window 60) || fail "the first instance showed no window within 60 s"
echo "first window $wid up after $(printf '%.1f' "$(echo "$(date +%s.%N) - $start" | bc)") s"

# Let startup finish (domReady shows the window once more), then hide it and make sure
# it stays hidden on its own: only the second launch may bring it back.
sleep 3
xdotool windowunmap --sync "$wid"
sleep 2
xdotool search --onlyvisible --pid "$first_pid" --name '^loopat' >/dev/null 2>&1 && fail "window visible again without a second launch"

start=$(date +%s.%N)
set +e
timeout 20 "$bin" >"$work/second.log" 2>&1
rc=$?
set -e
[[ $rc -eq 124 ]] && fail "the second launch did not exit within 20 s (it opened its own window?)"
took=$(echo "$(date +%s.%N) - $start" | bc)
echo "second launch exited with $rc after $(printf '%.2f' "$took") s"

wid2=$(find_window 10) || fail "the first window was not shown again after the second launch"
[[ $wid2 == "$wid" ]] || fail "a different window appeared ($wid2, first was $wid)"
kill -0 "$first_pid" 2>/dev/null || fail "the first instance is gone"
focus=$(xdotool getwindowfocus 2>/dev/null || true)
echo "focused window: ${focus:-none} (first window $wid)"
count=$(xdotool search --onlyvisible --name '^loopat' 2>/dev/null | wc -l)
[[ $count -eq 1 ]] || fail "$count visible loopat windows, want 1"
echo "single-instance: ok"

#!/usr/bin/env bash
# Launches the real desktop binary under Xvfb, waits for its window, saves a screenshot
# and fails if the window never appears, the screenshot is blank, or the first screen is
# an error screen: a failed call the app logs ("rpc failed") or an uncaught frontend error
# (the window reports those to the log as "ERR | frontend: ...").
# Usage: gui-screenshot.sh BINARY OUT.png
set -euo pipefail
if [ "${1:-}" = "--inner" ]; then
  # Runs inside Xvfb + a private D-Bus session: start the app, wait for its window, capture.
  bin="$2"; out="$3"; home="$4"
  LOOPAT_HOME="$home/ws" "$bin" >"$home/app.log" 2>&1 &
  pid=$!
  trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true' EXIT
  visible() { [ -n "$(xdotool search --onlyvisible --name 'loopat' 2>/dev/null || true)" ]; }
  for _ in $(seq 1 180); do
    if visible; then break; fi
    if ! kill -0 $pid 2>/dev/null; then echo "gui: app exited early:"; cat "$home/app.log"; exit 1; fi
    sleep 0.5
  done
  visible || { echo "gui: no visible window after 90 s"; cat "$home/app.log"; exit 1; }
  # Let the frontend finish its first render (the window is shown on DOM ready).
  sleep 5
  import -window root "$out"
  cp "$home/app.log" "$out.log"
  exit 0
fi
bin="$(realpath "$1")"; out="$2"
mkdir -p "$(dirname "$out")"
out="$(realpath "$out")"
home="$(mktemp -d /tmp/loopat-gui.XXXXXX)"
trap 'rm -rf "$home"' EXIT

xvfb-run -a -s "-screen 0 1280x900x24" dbus-run-session -- "$0" --inner "$bin" "$out" "$home"

# Not blank: a rendered UI has many colours and visible contrast.
colours=$(convert "$out" -format '%k' info:)
stddev=$(convert "$out" -colorspace Gray -format '%[fx:standard_deviation]' info:)
echo "gui: screenshot $out ($colours colours, stddev $stddev)"
if [ "$colours" -lt 16 ] || awk -v s="$stddev" 'BEGIN{exit !(s < 0.02)}'; then
  echo "gui: screenshot looks blank" >&2; exit 1
fi

# Not an error screen: nothing the first screen asked for failed, nothing threw.
if errors=$(grep -E 'rpc failed|ERR \| frontend:' "$out.log"); then
  echo "gui: the window showed errors (log $out.log):" >&2
  echo "$errors" >&2
  exit 1
fi

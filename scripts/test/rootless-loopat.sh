#!/usr/bin/env bash
# LOOPAT_BIN for the e2e tests in the rootless suite: runs the real binary
# ($LOOPAT_REAL_BIN) as the rootless test account. The tests create LOOPAT_HOME as root
# in a private temp folder, so that folder and its parents up to the temp dir are given
# to the account first. Test setup only. Run as root.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
user="${LOOPAT_ROOTLESS_USER:-loopattest}"
: "${LOOPAT_REAL_BIN:?set LOOPAT_REAL_BIN to the loopat binary}"
if [ -n "${LOOPAT_HOME:-}" ]; then
  tmp="$(cd "${TMPDIR:-/tmp}" && pwd -P)"
  mkdir -p "$LOOPAT_HOME"
  d="$(cd "$LOOPAT_HOME" && pwd -P)"
  case "$d" in
    "$tmp"/*) ;;
    *) echo "rootless-loopat: LOOPAT_HOME $d is not under $tmp; refusing to chown it" >&2; exit 1 ;;
  esac
  chown -R "$user:" "$d"
  while p="$(dirname "$d")"; [ "$p" != "$tmp" ] && [ "$p" != / ]; do
    chown "$user:" "$p"
    d="$p"
  done
fi
exec "$here/as-rootless-user.sh" "$LOOPAT_REAL_BIN" "$@"

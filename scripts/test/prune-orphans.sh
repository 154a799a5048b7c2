#!/usr/bin/env bash
# Test-environment hygiene (not app behaviour): removes what test workspaces left in podman
# after their folders were deleted: loop containers (label loopat.workspace) none of whose
# bind-mount sources exist any more, then workspace networks no container uses. A real
# workspace's containers keep their folders, so they are never touched; a network the app
# still needs is recreated on demand. Uses the podman on PATH as the caller (root or the
# rootless test user).
set -uo pipefail
n=0
for id in $(podman ps -aq --filter label=loopat.workspace 2>/dev/null); do
  srcs=$(podman inspect --format '{{range .Mounts}}{{.Source}}{{"\n"}}{{end}}' "$id" 2>/dev/null) || continue
  [ -n "$srcs" ] || continue
  orphan=1
  while IFS= read -r s; do
    if [ -n "$s" ] && [ -e "$s" ]; then orphan=0; break; fi
  done <<<"$srcs"
  if [ "$orphan" = 1 ]; then
    podman rm --force --time 0 "$id" >/dev/null 2>&1 && n=$((n + 1))
  fi
done
podman network prune --force --filter label=loopat.workspace >/dev/null 2>&1 || true
[ "$n" -eq 0 ] || echo "prune-orphans: removed $n loop containers of deleted test workspaces"

#!/usr/bin/env bash
# The rootless suite (make test-rootless): the integration tests of the packages loops
# depend on and the e2e journey, run as an unprivileged user against that user's rootless
# podman. Test binaries are built here as root (the module cache is root's) and run as the
# user with the package folder as working directory. Run as root.
#   LOOPAT_ROOTLESS_PKGS="loops engine" scripts/test/rootless-suite.sh   # a subset
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$(pwd)"
tags="integration,remote,exclude_graphdriver_btrfs,containers_image_openpgp"
# The loop tests' mock model API listens on host loopback and the agent reaches it over the
# loop's host link (internal/testkit/looplink), as in the app: no bridge address needed.
# images is left out of the default run for CI time (its prune test spends 3-4 min in podman's
# disk-usage queries rootless); it passes rootless: LOOPAT_ROOTLESS_PKGS=images.
pkgs=(${LOOPAT_ROOTLESS_PKGS:-engine core hostexec terminal uninstall loops contextrepo})
timeout="${LOOPAT_ROOTLESS_TIMEOUT:-20m}"
bindir="$root/build/test-bin/rootless"
start=$(date +%s)

scripts/test/rootless-user.sh
claude="$(scripts/test/claude-cli.sh)"
mkdir -p "$bindir"
chmod 0755 "$root/build" "$root/build/test-bin" "$bindir"

failed=()
for p in "${pkgs[@]}"; do
  bin="$bindir/$p.test"
  CGO_ENABLED=0 go test -c -tags "$tags" -o "$bin" "./backend/$p"
  echo "== rootless: backend/$p"
  t0=$(date +%s)
  if (cd "backend/$p" && LOOPAT_TEST_CLAUDE_BIN="$claude" "$root/scripts/test/as-rootless-user.sh" \
      "$bin" -test.count=1 -test.timeout="$timeout" ${LOOPAT_ROOTLESS_RUN:+-test.run "$LOOPAT_ROOTLESS_RUN"}); then
    echo "== rootless: backend/$p ok ($(( $(date +%s) - t0 )) s)"
  else
    echo "== rootless: backend/$p FAILED ($(( $(date +%s) - t0 )) s)"
    failed+=("backend/$p")
  fi
done

if [ -z "${LOOPAT_ROOTLESS_SKIP_E2E:-}" ]; then
  echo "== rootless: e2e journey"
  t0=$(date +%s)
  real="${LOOPAT_REAL_BIN:-$root/build/bin/loopat}"
  [ -x "$real" ] || { echo "rootless: $real missing (make build)" >&2; exit 1; }
  go build -o build/test-bin/mock-anthropic ./internal/testkit/cmd/mock-anthropic
  (cd tests/e2e && [ -d node_modules ] || npm ci --no-audit --no-fund)
  if (cd tests/e2e && LOOPAT_BIN="$root/scripts/test/rootless-loopat.sh" LOOPAT_REAL_BIN="$real" \
      LOOPAT_E2E_AGENT=1 LOOPAT_E2E_MOCK_BIN="$root/build/test-bin/mock-anthropic" node --test journey.test.mjs); then
    echo "== rootless: e2e journey ok ($(( $(date +%s) - t0 )) s)"
  else
    echo "== rootless: e2e journey FAILED ($(( $(date +%s) - t0 )) s)"
    failed+=("tests/e2e/journey.test.mjs")
  fi
fi

echo "rootless suite: $(( $(date +%s) - start )) s"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "rootless suite FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "rootless suite: all passed"

#!/usr/bin/env bash
# The podman 5 suite (make test-podman5): integration tests of the packages that talk to
# podman, run against podman 5 (scripts/test/podman5-build.sh) on its private store
# (scripts/test/podman5-service.sh) while the machine's podman 4 stays untouched.
# The tests reach podman 5 the ways they reach podman 4: `podman` on PATH is a wrapper for
# podman 5 and its config, so the services the tests start (testkit.StartPodmanService, the
# engine's own service, podmansvc) and their CLI calls (`podman exec` into a loop) are
# podman 5's. (The long-running service of podman5-service.sh start is for running the app
# itself against podman 5: CONTAINER_HOST=$(scripts/test/podman5-service.sh start) loopat serve.)
# Run as root.
#   scripts/test/podman5-suite.sh                             # the default selection below
#   LOOPAT_PODMAN5_PKGS="loops" LOOPAT_PODMAN5_FULL=1 scripts/test/podman5-suite.sh  # every test
#   LOOPAT_PODMAN5_RUN='TestX' LOOPAT_PODMAN5_PKGS=core scripts/test/podman5-suite.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$(pwd)"
tags="integration,remote,exclude_graphdriver_btrfs,containers_image_openpgp"
pkgs=(${LOOPAT_PODMAN5_PKGS:-engine images hostexec terminal loops core})
# Representative tests where a whole package is too slow for CI (loops alone takes ~10 min;
# hostexec's link-flood test exercises the relay, not podman). Together they cover the API
# calls the bindings make, the exec upgrade (agent turns, the terminal's tty exec, the
# host-exec relay) and image builds. LOOPAT_PODMAN5_FULL=1 runs all. Measured at load ~20 on
# 2 cores: 799 s (engine 96, images 83, hostexec 74, terminal 54, loops 221, core 236).
# The packages' unit tests are left out here (make test-unit runs them).
declare -A pick=(
  [engine]='^TestIntegration'
  [hostexec]='^TestHostExecWithRealContainers$'
  [terminal]='^TestTerminalShellInLoopContainer$'
  [images]='TestBaseImageBuildLabelsCacheAndContents|TestLoopImageShimsSameRefAndCoalescing|TestFailedBuildReportsStepAndTail|TestHostileDiskViewSymlinksOutOfLoopHome'
  [loops]='TestLoopTurnsInOneProcess|TestLoopContainerLifecycle|TestSandboxWorkdirFilesBelongToTheHostUser|TestFileSecretDeliveredThroughTmpfs'
  [core]='TestLoopThroughAppGatewayContextPromote|TestHostilePromoteFromLoopContainer'
)
timeout="${LOOPAT_PODMAN5_TIMEOUT:-15m}"
bindir_tests="$root/build/test-bin/podman5"
start=$(date +%s)
load() { cut -d' ' -f1-3 /proc/loadavg; }

t0=$(date +%s)
podman5="$(scripts/test/podman5-build.sh)"
echo "== podman5: binary $podman5 (ready in $(( $(date +%s) - t0 )) s)"
scripts/test/podman5-service.sh versions | sed 's/^/   /'
state_bin="$(scripts/test/podman5-service.sh bindir)"
[ "$("$state_bin/podman" version --format '{{.Client.Version}}' | cut -d. -f1)" = 5 ] ||
  { echo "podman5: $state_bin/podman is not podman 5" >&2; exit 1; }

# One suite at a time on the private store; leftovers of an earlier (killed) run are removed:
# nothing but this suite uses that store.
# (fd 9 is closed for the tests: a process a test leaks must not hold the lock.)
exec 9>"/run/loopat-podman5.lock"
flock -w 1800 9 || { echo "podman5: another podman 5 suite holds /run/loopat-podman5.lock" >&2; exit 1; }
"$state_bin/podman" rm -af -t 0 >/dev/null 2>&1 || true
"$state_bin/podman" network prune -f >/dev/null 2>&1 || true
"$state_bin/podman" image prune -f >/dev/null 2>&1 || true
t0=$(date +%s)
scripts/test/podman5-service.sh load-images
echo "== podman5: images ready ($(( $(date +%s) - t0 )) s)"
events="$(scripts/test/podman5-service.sh events-log)"
: >"$events" 2>/dev/null || true # writers append (O_APPEND): emptying it between runs is safe

claude="$(scripts/test/claude-cli.sh)"
mkdir -p "$bindir_tests"
failed=()
summary=()
for p in "${pkgs[@]}"; do
  bin="$bindir_tests/$p.test"
  t0=$(date +%s)
  CGO_ENABLED=0 go test -c -tags "$tags" -o "$bin" "./backend/$p"
  # Again per package: the sandbox image's ref follows the forwarder the test binary embeds;
  # a rebuilt forwarder (make forwarder) means a new image, copied here instead of rebuilt.
  scripts/test/podman5-service.sh load-images ||
    echo "podman5: could not refresh the images; the package runs with those copied before" >&2
  tc=$(( $(date +%s) - t0 ))
  run="${LOOPAT_PODMAN5_RUN:-}"
  [ -n "$run" ] || [ -n "${LOOPAT_PODMAN5_FULL:-}" ] || run="${pick[$p]:-}"
  before=$(wc -l <"$events" 2>/dev/null || echo 0)
  echo "== podman5: backend/$p ${run:+(-run $run)}"
  t0=$(date +%s)
  if (cd "backend/$p" && env PATH="$state_bin:$PATH" LOOPAT_TEST_CLAUDE_BIN="$claude" \
      "$root/scripts/test/with-keyring.sh" "$bin" -test.count=1 -test.timeout="$timeout" -test.v \
      ${run:+-test.run "$run"} >"$bindir_tests/$p.log" 2>&1 9>&-); then
    status=ok
  else
    status=FAILED
    failed+=("backend/$p")
  fi
  grep -E '^(=== RUN|--- |ok|FAIL|PASS)|^\s+\S+_test\.go:[0-9]+:' "$bindir_tests/$p.log" | grep -v '^=== RUN' || true
  n=$(( $(wc -l <"$events" 2>/dev/null || echo 0) - before ))
  # A service started with an older config may still rotate the file: what is in it after a
  # rotation during this package was written by this package.
  [ "$n" -ge 0 ] || n=$(wc -l <"$events" 2>/dev/null || echo 0)
  # Proof the package talked to podman 5: its events (every container create/start/exec)
  # land in podman 5's own events file. engine only pings and asks versions.
  if [ "$status" = ok ] && [ "$p" != engine ] && [ "$n" -le 0 ]; then
    status="FAILED (no podman 5 events: the tests did not reach podman 5)"
    failed+=("backend/$p")
  fi
  line="backend/$p $status: compile+images ${tc} s, run $(( $(date +%s) - t0 )) s, $n podman 5 events, load $(load)"
  echo "== podman5: $line"
  summary+=("$line")
done

echo "== podman5 suite: $(( $(date +%s) - start )) s"
printf '   %s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "podman5 suite FAILED: ${failed[*]} (logs: $bindir_tests/*.log)" >&2
  exit 1
fi
echo "podman5 suite: all passed"

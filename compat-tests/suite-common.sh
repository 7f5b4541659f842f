# Shared by the scripts that run a client's own test suite against a fresh
# gokafkad (kafkago-suite.sh, sarama-suite.sh); sourced, not run.

# suite_report NAME WORK RC: prints the tests of WORK/test.log (go test -v)
# that failed or skipped and a "PASS=N FAIL=N SKIP=N" summary naming the
# client's version (WORK/version); where RC is not 0, or the broker (pid
# $bpid) is gone, the failing tests' output and the broker's log
# (WORK/broker.log) too, and returns 1.
suite_report() {
  local name=$1 work=$2 rc=$3 summary="" s
  grep -E '^\s*--- (FAIL|SKIP)' "$work/test.log" || true
  for s in PASS FAIL SKIP; do summary="$summary$s=$(grep -cE "^\s*--- $s" "$work/test.log" || true) "; done
  echo "$name: ${summary}($(cat "$work/version"))"
  if [ -n "${bpid:-}" ] && ! kill -0 "$bpid" 2>/dev/null; then
    echo "$name: gokafkad exited during the run"
    rc=1
  fi
  if [ "$rc" != 0 ]; then
    echo "$name: FAILED; the failing tests' output:"
    grep -E -B2 -A20 '^\s*--- FAIL|^panic:|^FAIL' "$work/test.log" | head -300
    echo "$name: broker log (last 200 lines):"
    tail -200 "$work/broker.log"
    return 1
  fi
}

# suite_isolated SELF VAR WORK: runs SELF again in a network namespace of
# its own with VAR=WORK in its environment (as root, where unshare and ip
# can), so that the ports a suite hard-codes collide with nothing on this
# machine; elsewhere runs run_suite WORK here.
suite_isolated() {
  if [ "$(id -u)" = 0 ] && command -v ip >/dev/null && unshare -n true 2>/dev/null; then
    env "$2=$3" unshare -n bash "$1"
  else
    run_suite "$3"
  fi
}

# suite_namespaced VAR: in the run suite_isolated started in the namespace
# (VAR set), brings lo up, runs run_suite on VAR's work directory and exits
# with its status; elsewhere does nothing.
suite_namespaced() {
  local work=${!1:-}
  [ -n "$work" ] || return 0
  ip link set lo up
  local rc=0
  run_suite "$work" || rc=$?
  exit "$rc"
}

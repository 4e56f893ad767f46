# Shared by the benches/run-*.sh scripts: `source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"`.
#
# bench_setup NAME TOOL...   checks that each TOOL is installed, makes the temporary directory
#                            $WORK and arranges that every pid added to PIDS is stopped (TERM,
#                            then KILL after 5 s) and $WORK removed when the script exits
# require_free_ports PORT... fails unless nothing listens on these ports of 127.0.0.1
# wait_for URL               waits until URL answers, at most 30 s
# fail MESSAGE               prints "NAME: MESSAGE" and exits with status 1

BENCH_NAME=bench
PIDS=()

fail() {
  echo "$BENCH_NAME: $*" >&2
  exit 1
}

bench_cleanup() {
  for pid in "${PIDS[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$WORK"
}

bench_setup() {
  BENCH_NAME=$1
  shift
  for tool in "$@"; do
    command -v "$tool" >/dev/null || fail "$tool is required"
  done
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/idnode-${BENCH_NAME%.sh}.XXXXXX")
  trap bench_cleanup EXIT
}

require_free_ports() {
  for port in "$@"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      fail "port $port is in use"
    fi
  done
}

wait_for() {
  for _ in $(seq 300); do
    curl -sf -o /dev/null "$1" && return 0
    sleep 0.1
  done
  fail "$1 did not answer within 30 s"
}

#!/usr/bin/env bash
# Measures idnode's traceability capture end to end, on 127.0.0.1 only: loadgen POSTs $DOCS
# EPCIS documents of $EVENTS events each to /epcis/capture over HTTP/1.1 from $CONNECTIONS
# keep-alive connections, and every 201 means the records are signed and durable. The server
# may use every core (signing runs on all of them); the client shares the machine with it, as a
# capture gateway on the same host would. Prints loadgen's RESULT line, including server CPU
# per request (one request = $EVENTS records). Every process it starts is stopped on exit.
# Usage: benches/run-trace.sh   (environment variables below override the defaults)
set -euo pipefail

DOCS=${DOCS:-600}
EVENTS=${EVENTS:-100}
CONNECTIONS=${CONNECTIONS:-16}
HTTP_PORT=${HTTP_PORT:-18480}
HTTPS_PORT=${HTTPS_PORT:-18443}
SKIP_BUILD=${SKIP_BUILD:-0}
ROUNDS=${ROUNDS:-3}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN="$ROOT/target/release"

command -v curl >/dev/null || { echo "run-trace.sh: curl is required" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/idnode-trace-bench.XXXXXX")
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

wait_for() {
  for _ in $(seq 300); do
    curl -sf -o /dev/null "$1" && return 0
    sleep 0.1
  done
  echo "run-trace.sh: $1 did not answer within 30 s" >&2
  exit 1
}

echo "== machine"
echo "cores: $(nproc); CPU: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1); load: $(cut -d' ' -f1-3 /proc/loadavg)"

if [ "$SKIP_BUILD" != 1 ]; then
  echo "== build (release)"
  (cd "$ROOT" && cargo build --release -p idnode -p idnode-benches --bins)
fi

echo "== init $WORK/data"
head -c 24 /dev/urandom | base64 | tr -d '\n=' >"$WORK/secret"
"$BIN/idnode" init --data "$WORK/data" --prefix 88.118.8 --admin-secret-file "$WORK/secret" >/dev/null
cat >"$WORK/idnode.toml" <<TOML
[http]
allow_loopback_plain_writes = true
TOML

"$BIN/idnode" serve --data "$WORK/data" --config "$WORK/idnode.toml" --handle off \
  --http "127.0.0.1:$HTTP_PORT" --https "127.0.0.1:$HTTPS_PORT" >"$WORK/idnode.log" 2>&1 &
IDNODE=$!
PIDS+=("$IDNODE")
wait_for "http://127.0.0.1:$HTTP_PORT/healthz"

# Round r captures documents [r*DOCS, (r+1)*DOCS), so every round appends new records.
for round in $(seq 0 $((ROUNDS - 1))); do
  echo "== capture round $((round + 1)) of $ROUNDS: $DOCS documents x $EVENTS events, $CONNECTIONS connections"
  "$BIN/loadgen" capture --url "http://127.0.0.1:$HTTP_PORT" --secret-file "$WORK/secret" \
    --count "$DOCS" --events "$EVENTS" --start $((round * DOCS)) \
    --connections "$CONNECTIONS" --server-pid "$IDNODE"
done
echo "== log size: $(curl -sf "http://127.0.0.1:$HTTP_PORT/log/checkpoint" | sed -n 2p) records"

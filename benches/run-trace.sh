#!/usr/bin/env bash
# Measures idnode's traceability end to end, on 127.0.0.1 only:
#
#   1. capture: loadgen POSTs $DOCS EPCIS documents of $EVENTS events each to /epcis/capture
#      over HTTP/1.1 from $CONNECTIONS keep-alive connections, $ROUNDS times; every 201 means
#      the records are signed and durable. The server may use every core (signing runs on all
#      of them); the client shares the machine with it, as a capture gateway on the same host
#      would. loadgen prints records/s and the server CPU per record.
#   2. proofs: loadgen GETs /log/proof for $VERIFY records (one more capture round supplies
#      their digests) and writes the bundles to files.
#   3. idnode verify: the `idnode verify` command checks those $VERIFY bundle files against the
#      node's policy (GET /log/policy), offline; its wall-clock rate is reported.
#
# Every process it starts is stopped on exit.
# Usage: benches/run-trace.sh   (environment variables below override the defaults)
set -euo pipefail

DOCS=${DOCS:-600}
EVENTS=${EVENTS:-100}
CONNECTIONS=${CONNECTIONS:-16}
HTTP_PORT=${HTTP_PORT:-18480}
HTTPS_PORT=${HTTPS_PORT:-18443}
SKIP_BUILD=${SKIP_BUILD:-0}
ROUNDS=${ROUNDS:-3}
VERIFY=${VERIFY:-20000}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release}

# shellcheck source=benches/lib.sh
source "$ROOT/benches/lib.sh"
bench_setup run-trace.sh curl
require_free_ports "$HTTP_PORT" "$HTTPS_PORT"

echo "== machine"
echo "cores: $(nproc); CPU: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1); load: $(cut -d' ' -f1-3 /proc/loadavg)"

if [ "$SKIP_BUILD" != 1 ]; then
  echo "== build (release)"
  (cd "$ROOT" && cargo build --release -p idnode -p idnode-benches --bins)
fi

echo "== init $WORK/data"
head -c 24 /dev/urandom | base64 | tr -d '\n=' >"$WORK/secret"
"$BIN/idnode" init --data "$WORK/data" --prefix 88.118.8 --admin-secret-file "$WORK/secret" >/dev/null
# The events name GS1 identifiers of other organisations; a server administrator may read
# their records, so the proof bundles carry the record JWS.
cat >"$WORK/idnode.toml" <<TOML
[http]
allow_loopback_plain_writes = true
[auth]
server_admins = ["300:88.118.8/ADMIN"]
TOML
if [ "${LIFT_LIMITS:-1}" = 1 ]; then
  printf '[limits]\nrequests_per_second_per_source = 0\n' >>"$WORK/idnode.toml"
fi

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

# Bundles for idnode verify: capture the records whose digests are kept, wait until a
# checkpoint covers them, fetch their proofs.
VERIFY_DOCS=$(((VERIFY + EVENTS - 1) / EVENTS))
echo "== capture $VERIFY_DOCS documents more, keeping the receipts' digests"
"$BIN/loadgen" capture --url "http://127.0.0.1:$HTTP_PORT" --secret-file "$WORK/secret" \
  --count "$VERIFY_DOCS" --events "$EVENTS" --start $((ROUNDS * DOCS)) \
  --connections "$CONNECTIONS" --digests-out "$WORK/digests" | grep -v '^RESULT'
head -n "$VERIFY" "$WORK/digests" >"$WORK/digests.kept"
TOTAL=$(((ROUNDS * DOCS + VERIFY_DOCS) * EVENTS))
size=0
for _ in $(seq 100); do
  size=$(curl -sf "http://127.0.0.1:$HTTP_PORT/log/checkpoint" | sed -n 2p || true)
  [ "${size:-0}" -ge "$TOTAL" ] && break
  sleep 0.1
done
[ "${size:-0}" -ge "$TOTAL" ] || fail "no checkpoint covers the $TOTAL records within 10 s (size ${size:-none})"
echo "== log size: $size records"
echo "== proofs: $VERIFY bundles from /log/proof, $CONNECTIONS connections"
"$BIN/loadgen" proofs --url "http://127.0.0.1:$HTTP_PORT" --secret-file "$WORK/secret" \
  --digests "$WORK/digests.kept" --out "$WORK/bundles" --connections "$CONNECTIONS" \
  --server-pid "$IDNODE"
curl -sf "http://127.0.0.1:$HTTP_PORT/log/policy" >"$WORK/policy.txt"
kill "$IDNODE"
wait "$IDNODE" 2>/dev/null || true

echo "== idnode verify: $VERIFY bundle files, the node stopped"
# The files are read once first so that the page cache holds them, as after a download.
cat "$WORK"/bundles/*.tlog-proof >/dev/null
START=$(date +%s.%N)
"$BIN/idnode" verify --policy "$WORK/policy.txt" "$WORK"/bundles/*.tlog-proof >"$WORK/verify.txt"
END=$(date +%s.%N)
tail -n 1 "$WORK/verify.txt"
awk -v n="$VERIFY" -v a="$START" -v b="$END" \
  'BEGIN { printf "idnode verify: %d records in %.2f s = %.0f records/s\nRESULT mode=verify records=%d seconds=%.3f rate=%.1f\n", n, b - a, n / (b - a), n, b - a, n / (b - a) }'

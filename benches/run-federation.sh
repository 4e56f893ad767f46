#!/usr/bin/env bash
# Measures recursive resolution through a secondary node against local resolution, in one run,
# on 127.0.0.1 only (issue targets: warm recursion at least 80 % of the local rate over UDP and
# over HTTP; cold recursion p99 under 5 ms):
#
#   1. a top-level node (homes 88, delegates 88.118 and 88.119 with `idnode delegate`), the
#      secondary B for 88.119 seeded with $HANDLES handles 88.119/BENCH-nnnnnn, the secondary A
#      for 88.118 recursing from the top-level node, and A-cold, the same with no cache;
#   2. local: hdl_loadgen (UDP, closed loop) and wrk (HTTP/1.1 keep-alive) against B;
#   3. warm recursion: the same against A, whose cache holds every key after the warm-up;
#   4. cold recursion: an open loop at $COLD_RATE/s against A-cold, every query walking
#      top-level node → B again, for its latency percentiles.
#
# The node measured runs on CPU $SERVER_CPU, the client on CPU $CLIENT_CPU (taskset); in the
# cold run all three nodes share CPU $SERVER_CPU. Prints a markdown table and the ratios.
# Usage: benches/run-federation.sh   (environment variables below override the defaults)
set -euo pipefail

HANDLES=${HANDLES:-1000}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-3}
CONNS=${CONNS:-4}
DEPTH=${DEPTH:-16}
CONNECTIONS=${CONNECTIONS:-32}
COLD_RATE=${COLD_RATE:-1000}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
BASE_PORT=${BASE_PORT:-23000}
SKIP_BUILD=${SKIP_BUILD:-0}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=benches/lib.sh
source "$ROOT/benches/lib.sh"
BIN=${BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release}
PYTHON=${PYTHON:-python3}
bench_setup run-federation.sh wrk curl taskset timeout "$PYTHON"

# Node n listens natively on BASE_PORT+n, HTTP on BASE_PORT+10+n, HTTPS on BASE_PORT+20+n.
native_port() { echo $((BASE_PORT + $1)); }
http_port() { echo $((BASE_PORT + 10 + $1)); }
https_port() { echo $((BASE_PORT + 20 + $1)); }
TOP=0 B=1 A=2 COLD=3
for n in $TOP $B $A $COLD; do
  require_free_ports "$(native_port $n)" "$(http_port $n)" "$(https_port $n)"
done
field() { grep '^RESULT' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
section() { printf '\n== %s\n' "$*"; }

echo "== machine"
echo "cores: $(nproc); CPU: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1); kernel: $(uname -r)"

if [ "$SKIP_BUILD" != 1 ]; then
  section "build (release)"
  (cd "$ROOT" && cargo build --release -p idnode --bin idnode -p idnode-benches --bin hdl_loadgen)
fi

head -c 24 /dev/urandom | base64 | tr -d '\n=/+' >"$WORK/secret"
# The per-source limits would throttle a load generator on one loopback address.
LIFTED='[native]
udp_requests_per_second = 4000000000
udp_unverified_bytes_per_second = 4000000000
udp_max_amplification = 0

[limits]
requests_per_second_per_source = 0
'
# node NAME PREFIX N EXTRA-FEDERATION-TOML: init a data directory and write its config.
node() {
  local name=$1 prefix=$2 federation=$3
  printf '%s\n[federation]\n%s\n' "$LIFTED" "$federation" >"$WORK/$name.toml"
  "$BIN/idnode" init --data "$WORK/$name" --config "$WORK/$name.toml" --prefix "$prefix" \
    --admin-secret-file "$WORK/secret" >/dev/null
}
serve() {
  local name=$1 n=$2
  taskset -c "$SERVER_CPU" "$BIN/idnode" serve --config "$WORK/$name.toml" --data "$WORK/$name" \
    --handle "127.0.0.1:$(native_port "$n")" --http "127.0.0.1:$(http_port "$n")" \
    --https "127.0.0.1:$(https_port "$n")" >"$WORK/$name.log" 2>&1 &
  PIDS+=("$!")
  eval "PID_$name=$!"
  wait_for "http://127.0.0.1:$(http_port "$n")/healthz"
}

section "nodes: top-level, B (88.119), A (88.118, recursing), A-cold (no cache)"
TOP_ADDR="127.0.0.1:$(native_port $TOP)"
node top 88 'role = "top-level"'
node b 88.119 ''
node a 88.118 "top_level = [\"$TOP_ADDR\"]"
node cold 88.118 "top_level = [\"$TOP_ADDR\"]
cache_entries = 0"
serve b $B
serve a $A
serve cold $COLD
curl -sf "http://127.0.0.1:$(http_port $B)/api/site" >"$WORK/b-site.json"
curl -sf "http://127.0.0.1:$(http_port $A)/api/site" >"$WORK/a-site.json"
for pair in "88.119 b" "88.118 a"; do
  set -- $pair
  "$BIN/idnode" delegate --data "$WORK/top" --config "$WORK/top.toml" --prefix "$1" \
    --site "$WORK/$2-site.json" --admin-secret-file "$WORK/secret" >/dev/null
done
serve top $TOP

section "seed $HANDLES handles at B"
taskset -c "$CLIENT_CPU" timeout 600 "$PYTHON" "$ROOT/benches/seed_native.py" "$ROOT/conformance/native" \
  "127.0.0.1:$(native_port $B)" "$WORK/secret" "$HANDLES" 88.119 "$WORK/answer-size"
probe="/api/handles/88.119/BENCH-000001"
curl -sf "http://127.0.0.1:$(http_port $A)$probe" | grep -q '"responseCode":1' \
  || fail "A does not resolve $probe recursively: $(curl -s "http://127.0.0.1:$(http_port $A)$probe")"

# udp NAME N: hdl_loadgen closed loop against node N.
udp() {
  local name=$1 n=$2 pid
  pid=$(eval echo "\$PID_$name")
  taskset -c "$CLIENT_CPU" timeout $((WARMUP + DURATION + 30)) "$BIN/hdl_loadgen" --proto udp \
    --server "127.0.0.1:$(native_port "$n")" --prefix 88.119 --keys "$HANDLES" \
    --seconds "$DURATION" --warmup "$WARMUP" --conns "$CONNS" --depth "$DEPTH" \
    --server-pid "$pid" | tee "$WORK/udp-$name.txt"
}
# web NAME N: wrk against node N's HTTP port, after a warm-up run.
web() {
  local name=$1 n=$2
  local url="http://127.0.0.1:$(http_port "$n")"
  taskset -c "$CLIENT_CPU" env KEYS="$HANDLES" PREFIX=88.119 STEM=BENCH timeout $((WARMUP + 30)) \
    wrk -t1 -c"$CONNECTIONS" -d"${WARMUP}s" -s "$ROOT/benches/wrk/get-random.lua" "$url" >/dev/null
  taskset -c "$CLIENT_CPU" env KEYS="$HANDLES" PREFIX=88.119 STEM=BENCH timeout $((DURATION + 30)) \
    wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$ROOT/benches/wrk/get-random.lua" "$url" \
    | tee "$WORK/http-$name.txt"
}

section "local resolution at B"
udp b $B
web b $B
section "warm recursive resolution through A"
udp a $A
web a $A
section "cold recursive resolution through A-cold at $COLD_RATE/s (no cache)"
taskset -c "$CLIENT_CPU" timeout $((WARMUP + DURATION + 30)) "$BIN/hdl_loadgen" --proto udp \
  --server "127.0.0.1:$(native_port $COLD)" --prefix 88.119 --keys "$HANDLES" \
  --seconds "$DURATION" --warmup "$WARMUP" --rate "$COLD_RATE" --conns "$CONNS" \
  | tee "$WORK/udp-cold.txt"
curl -sf "http://127.0.0.1:$(http_port $COLD)/metrics" | grep '^idnode_recursion_total' || true

section "results"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
UDP_LOCAL=$(field "$WORK/udp-b.txt" rate)
UDP_WARM=$(field "$WORK/udp-a.txt" rate)
HTTP_LOCAL=$(field "$WORK/http-b.txt" rate)
HTTP_WARM=$(field "$WORK/http-a.txt" rate)
echo "| run | rate (/s) | p50 (µs) | p99 (µs) | lost or errors |"
echo "|---|---:|---:|---:|---:|"
for run in udp-b udp-a http-b http-a udp-cold; do
  f="$WORK/$run.txt"
  errors=$(field "$f" lost)
  [ -n "$errors" ] || errors=$(field "$f" errors_timeout)
  printf '| %s | %.0f | %s | %s | %s |\n' "$run" "$(field "$f" rate)" "$(field "$f" p50_us)" \
    "$(field "$f" p99_us)" "$errors"
done
echo
echo "warm recursion / local, UDP:  $(ratio "$UDP_WARM" "$UDP_LOCAL") (target >= 0.80)"
echo "warm recursion / local, HTTP: $(ratio "$HTTP_WARM" "$HTTP_LOCAL") (target >= 0.80)"
echo "cold recursion p99: $(field "$WORK/udp-cold.txt" p99_us) µs at $COLD_RATE/s (target < 5000)"

#!/usr/bin/env bash
# Measures idnode's REST API in one run, on 127.0.0.1 only:
#
#   B. registration throughput: loadgen PUTs $HANDLES new handles over HTTPS with
#      $CREATE_CONNECTIONS keep-alive connections (durable commits), which also seeds the store;
#   A. GET over HTTP/1.1 keep-alive: wrk ($CONNECTIONS connections, 1 thread, $DURATION s,
#      random keys) against idnode, then against fixed_server (a minimal hyper server returning a
#      fixed body of the same length), with the server CPU per request read from /proc; then
#      the same with loadgen's closed-loop `get` mode as a second client.
#
# The server runs on CPU $SERVER_CPU and every client on CPU $CLIENT_CPU (taskset). Needs wrk,
# curl and taskset. Prints a markdown table at the end; every process it starts is stopped on
# exit. Usage: benches/run-http.sh   (environment variables below override the defaults)
set -euo pipefail

HANDLES=${HANDLES:-100000}
DURATION=${DURATION:-10}
# Long enough for random keys to visit nearly every handle once, so that idnode is measured
# with its resolution cache warm, as a node serving steady traffic is (15 s at ~50k req/s is
# about 7 visits per key). Set WARMUP=0 to measure a cold cache.
WARMUP=${WARMUP:-15}
CONNECTIONS=${CONNECTIONS:-64}
CREATE_CONNECTIONS=${CREATE_CONNECTIONS:-16}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
HTTP_PORT=${HTTP_PORT:-18080}
HTTPS_PORT=${HTTPS_PORT:-18443}
FIXED_PORT=${FIXED_PORT:-18081}
SKIP_BUILD=${SKIP_BUILD:-0}
LOADGEN_GET=${LOADGEN_GET:-1}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release}
LUA="$ROOT/benches/wrk/get-random.lua"

# shellcheck source=benches/lib.sh
source "$ROOT/benches/lib.sh"
bench_setup run-http.sh wrk curl taskset
require_free_ports "$HTTP_PORT" "$HTTPS_PORT" "$FIXED_PORT"

# "utime stime" of a process, in clock ticks.
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12, $13 }'; }
# "busy steal" ticks of one core: user+nice+system+irq+softirq, and time taken by the hypervisor.
core_ticks() { awk -v c="cpu$1" '$1 == c { print $2 + $3 + $4 + $7 + $8, $9 }' /proc/stat; }
TICKS=$(getconf CLK_TCK)

# The value of KEY in a `RESULT key=value ...` line.
field() { grep '^RESULT' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

echo "== machine"
echo "cores: $(nproc); CPU: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1); kernel: $(uname -r)"

if [ "$SKIP_BUILD" != 1 ]; then
  echo "== build (release)"
  (cd "$ROOT" && cargo build --release -p idnode -p idnode-benches --bins)
fi

echo "== init $WORK/data"
head -c 24 /dev/urandom | base64 | tr -d '\n=' >"$WORK/secret"
"$BIN/idnode" init --data "$WORK/data" --prefix 88.118.8 --admin-secret-file "$WORK/secret" >/dev/null

# The per-source request rate would throttle a load generator on one loopback address; lift it
# for the measurement (LIFT_LIMITS=0 for builds that predate it).
: >"$WORK/idnode.toml"
if [ "${LIFT_LIMITS:-1}" = 1 ]; then
  printf '[limits]\nrequests_per_second_per_source = 0\n' >"$WORK/idnode.toml"
fi

echo "== idnode serve on CPU $SERVER_CPU"
taskset -c "$SERVER_CPU" "$BIN/idnode" serve --data "$WORK/data" --config "$WORK/idnode.toml" \
  --http "127.0.0.1:$HTTP_PORT" --https "127.0.0.1:$HTTPS_PORT" --handle off >"$WORK/idnode.log" 2>&1 &
IDNODE=$!
PIDS+=("$IDNODE")
wait_for "http://127.0.0.1:$HTTP_PORT/healthz"

echo "== B: create $HANDLES handles over HTTPS, $CREATE_CONNECTIONS connections"
taskset -c "$CLIENT_CPU" timeout 900 "$BIN/loadgen" create --url "https://127.0.0.1:$HTTPS_PORT" \
  --ca "$WORK/data/tls/cert.pem" --secret-file "$WORK/secret" --count "$HANDLES" \
  --connections "$CREATE_CONNECTIONS" --server-pid "$IDNODE" | tee "$WORK/create.txt"
CREATE_ERRORS=$(field "$WORK/create.txt" errors)
if [ "$CREATE_ERRORS" != 0 ]; then
  fail "$CREATE_ERRORS creates failed; see above"
fi

# The size of a typical answer: the mean body length over a few keys.
BODY_BYTES=$(for i in 1 2 3 4 5 6 7 8 9 10; do
  n=$(printf '%06d' $(((HANDLES * i - 1) / 10)))
  curl -sf "http://127.0.0.1:$HTTP_PORT/api/handles/88.118.8/CHEM-$n" | wc -c
done | awk '{ s += $1 } END { printf "%d", s / NR + 0.5 }')
echo "GET answers are about $BODY_BYTES bytes"

# Runs wrk against PORT, labelled NAME, measuring the CPU of PID.
run_wrk() {
  local name=$1 port=$2 pid=$3
  taskset -c "$CLIENT_CPU" env KEYS="$HANDLES" timeout $((WARMUP + 30)) \
    wrk -t1 -c"$CONNECTIONS" -d"${WARMUP}s" -s "$LUA" "http://127.0.0.1:$port" >/dev/null
  local before after core_before core_after
  before=$(cpu_ticks "$pid")
  core_before=$(core_ticks "$SERVER_CPU")
  taskset -c "$CLIENT_CPU" env KEYS="$HANDLES" timeout $((DURATION + 30)) \
    wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$LUA" "http://127.0.0.1:$port" \
    | tee "$WORK/wrk-$name.txt"
  after=$(cpu_ticks "$pid")
  core_after=$(core_ticks "$SERVER_CPU")
  # Ticks of the server in user and system mode, and of everything else on its core.
  echo "$before $after $core_before $core_after" | awk '{
    user = $3 - $1; sys = $4 - $2; busy = $7 - $5; steal = $8 - $6
    printf "RESULT cpu_ticks=%d user_ticks=%d sys_ticks=%d other_ticks=%d steal_ticks=%d\n",
      user + sys, user, sys, busy - user - sys, steal }' >"$WORK/wrk-$name.cpu"
  cat "$WORK/wrk-$name.cpu"
}

# Runs loadgen's get mode against PORT, labelled NAME, measuring the CPU of PID.
run_loadgen_get() {
  local name=$1 port=$2 pid=$3
  taskset -c "$CLIENT_CPU" timeout $((WARMUP + DURATION + 30)) "$BIN/loadgen" get \
    --url "http://127.0.0.1:$port" --keys "$HANDLES" --connections "$CONNECTIONS" \
    --seconds "$DURATION" --warmup "$WARMUP" --server-pid "$pid" | tee "$WORK/loadgen-$name.txt"
}

echo "== A: wrk GET against idnode"
run_wrk idnode "$HTTP_PORT" "$IDNODE"
if [ "$LOADGEN_GET" = 1 ]; then
  echo "== A: loadgen get against idnode"
  run_loadgen_get idnode "$HTTP_PORT" "$IDNODE"
fi
kill "$IDNODE"
wait "$IDNODE" 2>/dev/null || true

echo "== fixed_server on CPU $SERVER_CPU with a $BODY_BYTES-byte body"
taskset -c "$SERVER_CPU" "$BIN/fixed_server" --listen "127.0.0.1:$FIXED_PORT" \
  --body-bytes "$BODY_BYTES" >"$WORK/fixed.log" 2>&1 &
FIXED=$!
PIDS+=("$FIXED")
wait_for "http://127.0.0.1:$FIXED_PORT/"

echo "== A: wrk GET against fixed_server"
run_wrk fixed "$FIXED_PORT" "$FIXED"
if [ "$LOADGEN_GET" = 1 ]; then
  echo "== A: loadgen get against fixed_server"
  run_loadgen_get fixed "$FIXED_PORT" "$FIXED"
fi

# CPU µs per request of a wrk run: total, or the field named by $2 (user_ticks, sys_ticks).
wrk_cpu_us() {
  local ticks requests
  ticks=$(field "$WORK/wrk-$1.cpu" "${2:-cpu_ticks}")
  requests=$(field "$WORK/wrk-$1.txt" requests)
  awk -v t="$ticks" -v hz="$TICKS" -v r="$requests" 'BEGIN { printf "%.1f", t * 1e6 / hz / r }'
}
row() { local out="|" cell; for cell in "$@"; do out+=" $cell |"; done; echo "$out"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

ID_CPU=$(wrk_cpu_us idnode)
FX_CPU=$(wrk_cpu_us fixed)
echo
echo "== results ($(date -u +%Y-%m-%dT%H:%MZ); $HANDLES handles; GET answers ~$BODY_BYTES B)"
echo
echo "| GET, HTTP/1.1 keep-alive, $CONNECTIONS conns | client | requests/s | p99 latency | server CPU µs/req | user + sys | errors |"
echo "|---|---|---|---|---|---|---|"
for name in idnode fixed; do
  f="$WORK/wrk-$name.txt"
  errs=$(($(field "$f" errors_status) + $(field "$f" errors_connect) + $(field "$f" errors_read) + $(field "$f" errors_write) + $(field "$f" errors_timeout)))
  row "$name" "wrk -t1" "$(field "$f" rate | cut -d. -f1)" "$(field "$f" p99_us) µs" "$(wrk_cpu_us "$name")" \
    "$(wrk_cpu_us "$name" user_ticks) + $(wrk_cpu_us "$name" sys_ticks)" "$errs"
done
if [ "$LOADGEN_GET" = 1 ]; then
  for name in idnode fixed; do
    f="$WORK/loadgen-$name.txt"
    row "$name" "loadgen get" "$(field "$f" rate | cut -d. -f1)" "$(field "$f" p99_us) µs" "$(field "$f" server_cpu_us_per_req)" \
      "$(field "$f" server_user_us_per_req) + $(field "$f" server_sys_us_per_req)" "$(field "$f" errors)"
  done
fi
echo
for name in idnode fixed; do
  f="$WORK/wrk-$name.cpu"
  echo "during wrk against $name, other processes used $(field "$f" other_ticks) ticks and the hypervisor stole $(field "$f" steal_ticks) ticks of CPU $SERVER_CPU (the server used $(field "$f" cpu_ticks); $TICKS ticks/s)"
done
echo
echo "CPU/req ratio idnode / fixed_server (wrk): $(ratio "$ID_CPU" "$FX_CPU") (target ≤ 1.25)"
if [ "$LOADGEN_GET" = 1 ]; then
  echo "CPU/req ratio idnode / fixed_server (loadgen get): $(ratio "$(field "$WORK/loadgen-idnode.txt" server_cpu_us_per_req)" "$(field "$WORK/loadgen-fixed.txt" server_cpu_us_per_req)")"
fi
echo
f="$WORK/create.txt"
echo "| create over HTTPS, $CREATE_CONNECTIONS conns, durable | creates/s | p50 | p99 | server CPU µs/create | errors |"
echo "|---|---|---|---|---|---|"
row "$HANDLES new handles" "$(field "$f" rate | cut -d. -f1)" "$(field "$f" p50_us) µs" "$(field "$f" p99_us) µs" "$(field "$f" server_cpu_us_per_req)" "$(field "$f" errors)"
echo
echo "target: ≥ 5000 creates/s"

#!/usr/bin/env bash
# Compares idnode's native Handle protocol resolution with NSD serving DNS, in one run, on
# 127.0.0.1 only:
#
#   1. seeds idnode with $HANDLES handles 88.118.8/BENCH-nnnnnn over native TCP (pipelined
#      creates, each answering its challenge), and writes a DNS zone with one TXT record
#      bench-nnnnnn.bench.test of the same answer size for each of the same identifiers;
#   2. NSD (one server process) answers dnsperf, then hdl_loadgen's DNS mode (for p99);
#   3. idnode answers hdl_loadgen over UDP, then over persistent TCP connections, closed loop;
#   4. both answer an open loop at half of idnode's UDP rate, for latency at equal load.
#
# Each server runs alone on CPU $SERVER_CPU and every client on CPU $CLIENT_CPU (taskset); the
# server CPU per query comes from /proc (utime + stime of the server's processes). Installs
# Debian's nsd and dnsperf if missing. Every process it starts is stopped on exit; every client
# run is bounded by `timeout`. Prints a markdown table and the two target ratios at the end.
# With PERF=1, the idnode UDP run is also profiled (`perf record -g` on the server for the
# measured seconds) and the top of `perf report --no-children` is printed (needs `perf`, from
# Debian's linux-perf).
# Usage: benches/run-native.sh   (environment variables below override the defaults)
set -euo pipefail

HANDLES=${HANDLES:-100000}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
CONNS=${CONNS:-4}
DEPTH=${DEPTH:-32}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
HANDLE_PORT=${HANDLE_PORT:-12641}
HTTP_PORT=${HTTP_PORT:-18090}
HTTPS_PORT=${HTTPS_PORT:-18453}
DNS_PORT=${DNS_PORT:-15353}
SKIP_BUILD=${SKIP_BUILD:-0}
PERF=${PERF:-0}
PREFIX=88.118.8
ZONE=bench.test

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=benches/lib.sh
source "$ROOT/benches/lib.sh"
BIN=${BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release}
PYTHON=${PYTHON:-python3}

section() { printf '\n== %s\n' "$*"; }

if ! command -v nsd >/dev/null || ! command -v dnsperf >/dev/null; then
  section "installing nsd and dnsperf"
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then sudo=(sudo); fi
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends nsd dnsperf
fi
bench_setup run-native.sh nsd dnsperf taskset curl timeout "$PYTHON"
require_free_ports "$HANDLE_PORT" "$HTTP_PORT" "$HTTPS_PORT" "$DNS_PORT"

# The pids of a process and all its descendants.
tree() {
  local pid=$1 child
  echo "$pid"
  for child in $(cat /proc/"$pid"/task/*/children 2>/dev/null); do tree "$child"; done
}
# utime + stime ticks of a process tree.
tree_ticks() {
  local total=0 pid
  for pid in $(tree "$1"); do
    [ -r "/proc/$pid/stat" ] || continue
    total=$((total + $(sed 's/.*) //' "/proc/$pid/stat" | awk '{ print $12 + $13 }')))
  done
  echo "$total"
}
# busy ticks of one core (user + nice + system + irq + softirq).
core_ticks() { awk -v c="cpu$1" '$1 == c { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }
TICKS=$(getconf CLK_TCK)
# The value of KEY in a `RESULT key=value ...` line of FILE.
field() { grep '^RESULT' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

echo "== machine"
echo "cores: $(nproc); CPU: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1); kernel: $(uname -r)"
echo "nsd $(nsd -v 2>&1 | head -1 | awk '{ print $NF }'); $(dnsperf -h 2>&1 | grep -m1 '^Version' || true)"

if [ "$SKIP_BUILD" != 1 ]; then
  section "build (release)"
  (cd "$ROOT" && cargo build --release -p idnode --bin idnode -p idnode-benches --bin hdl_loadgen)
fi
if ! "$BIN/idnode" serve --help | grep -q -- '--handle'; then
  fail "this idnode has no native protocol listener (serve --handle)"
fi

section "idnode: init and serve on CPU $SERVER_CPU (native 127.0.0.1:$HANDLE_PORT)"
head -c 24 /dev/urandom | base64 | tr -d '\n=/+' >"$WORK/secret"
"$BIN/idnode" init --data "$WORK/data" --prefix "$PREFIX" --admin-secret-file "$WORK/secret" >/dev/null
# The per-source UDP limits (against amplification) would throttle a load generator on one
# loopback address; lift them for the measurement.
printf '[native]\nudp_requests_per_second = 4000000000\nudp_unverified_bytes_per_second = 4000000000\nudp_max_amplification = 0\n' \
  >"$WORK/idnode.toml"
if [ "${LIFT_LIMITS:-1}" = 1 ]; then
  printf '[limits]\nrequests_per_second_per_source = 0\n' >>"$WORK/idnode.toml"
fi
taskset -c "$SERVER_CPU" "$BIN/idnode" serve --config "$WORK/idnode.toml" --data "$WORK/data" \
  --http "127.0.0.1:$HTTP_PORT" \
  --https "127.0.0.1:$HTTPS_PORT" --handle "127.0.0.1:$HANDLE_PORT" >"$WORK/idnode.log" 2>&1 &
IDNODE=$!
PIDS+=("$IDNODE")
for _ in $(seq 300); do
  curl -sf -o /dev/null "http://127.0.0.1:$HTTP_PORT/healthz" && break
  sleep 0.1
done
curl -sf -o /dev/null "http://127.0.0.1:$HTTP_PORT/healthz" || { echo "idnode did not start" >&2; cat "$WORK/idnode.log" >&2; exit 1; }

section "seed $HANDLES handles over native TCP"
SEED_START=$(date +%s.%N)
taskset -c "$CLIENT_CPU" timeout 1800 "$PYTHON" "$ROOT/benches/seed_native.py" "$ROOT/conformance/native" \
  "127.0.0.1:$HANDLE_PORT" "$WORK/secret" "$HANDLES" "$PREFIX" "$WORK/answer-size"
SEED_SECONDS=$(echo "$(date +%s.%N) $SEED_START" | awk '{ printf "%.1f", $1 - $2 }')
ANSWER_BYTES=$(cat "$WORK/answer-size")
echo "seeding took $SEED_SECONDS s; native answers are $ANSWER_BYTES bytes"

section "NSD zone $ZONE with $HANDLES TXT records of a $ANSWER_BYTES-byte answer"
# A DNS answer here: 12 header + 29 question (bench-nnnnnn.bench.test TXT IN) + 12 answer-record
# fixed part (compressed name, type, class, TTL, RDLENGTH) + RDATA; RDATA = one length byte per
# string of at most 255 characters + the characters.
mkdir -p "$WORK/nsd"
"$PYTHON" - "$WORK/nsd/$ZONE.zone" "$ZONE" "$HANDLES" "$ANSWER_BYTES" <<'EOF'
import sys
path, zone, count, answer = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
rdata = max(answer - 12 - 29 - 12, 2)
chunks = -(-rdata // 256)
text = rdata - chunks
with open(path, "w") as f:
    f.write(f"$ORIGIN {zone}.\n$TTL 86400\n")
    f.write(f"@ IN SOA ns.{zone}. admin.{zone}. 1 3600 900 604800 86400\n@ IN NS ns.{zone}.\nns IN A 127.0.0.1\n")
    for n in range(count):
        body = (f"cas=67-64-1;un=1090;batch={n:06d};" * 40)[:text]
        parts = " ".join(f'"{body[i:i + 255]}"' for i in range(0, len(body), 255))
        f.write(f"bench-{n:06d} IN TXT {parts}\n")
EOF
cat >"$WORK/nsd/nsd.conf" <<EOF
server:
  ip-address: 127.0.0.1
  port: $DNS_PORT
  server-count: 1
  username: ""
  chroot: ""
  zonesdir: "$WORK/nsd"
  pidfile: "$WORK/nsd/nsd.pid"
  database: ""
  zonelistfile: "$WORK/nsd/zone.list"
  xfrdfile: "$WORK/nsd/xfrd.state"
  xfrdir: "$WORK/nsd"
  logfile: "$WORK/nsd/nsd.log"
  verbosity: 0
  hide-version: yes
  minimal-responses: yes
remote-control:
  control-enable: no
zone:
  name: "$ZONE"
  zonefile: "$ZONE.zone"
EOF
nsd-checkzone "$ZONE" "$WORK/nsd/$ZONE.zone" >/dev/null
taskset -c "$SERVER_CPU" nsd -d -c "$WORK/nsd/nsd.conf" >"$WORK/nsd/stdout.log" 2>&1 &
NSD=$!
PIDS+=("$NSD")
DNS_BYTES=""
for _ in $(seq 600); do
  DNS_BYTES=$("$PYTHON" - "$DNS_PORT" "$ZONE" 2>/dev/null <<'EOF' || true
import socket, sys
q = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
for label in f"bench-000001.{sys.argv[2]}".split("."):
    q += bytes([len(label)]) + label.encode()
q += b"\x00\x00\x10\x00\x01"
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.2)
s.sendto(q, ("127.0.0.1", int(sys.argv[1])))
r = s.recv(4096)
if r[3] & 0x0F == 0 and r[7] > 0:
    print(len(r))
EOF
)
  [ -n "$DNS_BYTES" ] && break
  sleep 0.1
done
[ -n "$DNS_BYTES" ] || { echo "NSD did not answer" >&2; cat "$WORK/nsd/nsd.log" "$WORK/nsd/stdout.log" >&2 || true; exit 1; }
echo "NSD answers are $DNS_BYTES bytes (idnode: $ANSWER_BYTES)"
EDNS=()
if [ "$DNS_BYTES" -gt 512 ]; then EDNS=(-e); fi

# Runs a client command (after the name NAME and server PID), measuring the server tree's CPU.
measure() {
  local name=$1 pid=$2
  shift 2
  local before after core_before core_after
  before=$(tree_ticks "$pid")
  core_before=$(core_ticks "$SERVER_CPU")
  taskset -c "$CLIENT_CPU" timeout $((WARMUP + DURATION + 60)) "$@" >"$WORK/$name.txt" 2>&1 || {
    cat "$WORK/$name.txt"; fail "$name failed"; }
  after=$(tree_ticks "$pid")
  core_after=$(core_ticks "$SERVER_CPU")
  cat "$WORK/$name.txt"
  echo "SERVER ticks=$((after - before)) core_other=$((core_after - core_before - after + before))" \
    | tee "$WORK/$name.cpu"
}
server_ticks() { sed -n 's/^SERVER ticks=\([0-9]*\).*/\1/p' "$WORK/$1.cpu"; }
other_ticks() { sed -n 's/.*core_other=\(-\{0,1\}[0-9]*\).*/\1/p' "$WORK/$1.cpu"; }
us_per() { awk -v t="$1" -v hz="$TICKS" -v n="$2" 'BEGIN { if (n > 0) printf "%.2f", t * 1e6 / hz / n; else print "n/a" }'; }

# dnsperf's query file: the same keys, in random order.
"$PYTHON" -c "
import random, sys
keys = list(range($HANDLES)); random.shuffle(keys)
sys.stdout.write(''.join(f'bench-{n:06d}.$ZONE TXT\n' for n in keys))" >"$WORK/queries.txt"

section "NSD: dnsperf, $((CONNS * DEPTH)) queries outstanding, $DURATION s (after $WARMUP s warm-up)"
taskset -c "$CLIENT_CPU" timeout $((WARMUP + 30)) dnsperf -s 127.0.0.1 -p "$DNS_PORT" -d "$WORK/queries.txt" \
  -l "$WARMUP" -c "$CONNS" -q $((CONNS * DEPTH)) "${EDNS[@]}" >/dev/null 2>&1 || true
measure nsd-dnsperf "$NSD" dnsperf -s 127.0.0.1 -p "$DNS_PORT" -d "$WORK/queries.txt" -l "$DURATION" \
  -c "$CONNS" -q $((CONNS * DEPTH)) "${EDNS[@]}"
DNSPERF_COMPLETED=$(sed -n 's/^ *Queries completed: *\([0-9]*\).*/\1/p' "$WORK/nsd-dnsperf.txt")
DNSPERF_QPS=$(sed -n 's/^ *Queries per second: *\([0-9.]*\).*/\1/p' "$WORK/nsd-dnsperf.txt")
DNSPERF_LOST=$(sed -n 's/^ *Queries lost: *\([0-9]*\).*/\1/p' "$WORK/nsd-dnsperf.txt")
DNSPERF_AVG=$(sed -n 's/^ *Average Latency (s): *\([0-9.]*\).*/\1/p' "$WORK/nsd-dnsperf.txt")

LOADGEN=("$BIN/hdl_loadgen" --keys "$HANDLES" --prefix "$PREFIX" --zone "$ZONE" --seconds "$DURATION"
  --warmup "$WARMUP" --conns "$CONNS" --depth "$DEPTH")
section "NSD: hdl_loadgen DNS mode, closed loop"
measure nsd-loadgen "$NSD" "${LOADGEN[@]}" --proto dns --server "127.0.0.1:$DNS_PORT"

section "idnode: hdl_loadgen UDP, closed loop"
PERF_PID=""
if [ "$PERF" = 1 ]; then
  # Records the measured seconds only (after the warm-up), on the server process.
  (sleep "$WARMUP"; exec perf record -q -g -p "$IDNODE" -o "$WORK/perf.data" -- sleep "$DURATION") \
    >"$WORK/perf.log" 2>&1 &
  PERF_PID=$!
  PIDS+=("$PERF_PID")
fi
measure idnode-udp "$IDNODE" "${LOADGEN[@]}" --proto udp --server "127.0.0.1:$HANDLE_PORT" --server-pid "$IDNODE"
if [ -n "$PERF_PID" ]; then
  wait "$PERF_PID" || true
  section "perf report --no-children (idnode, UDP run)"
  perf report -i "$WORK/perf.data" --no-children --stdio -g none --percent-limit 0.7 2>/dev/null \
    | grep -v '^#' | grep -v '^$' | head -60 || true
  TOP=$(perf report -i "$WORK/perf.data" --no-children --stdio -g none 2>/dev/null \
    | grep -v '^#' | grep -v '^$' | head -1 | awk '{ print $NF }' || true)
  section "callers of $TOP"
  perf report -i "$WORK/perf.data" --no-children --stdio -G -S "$TOP" -g caller,0.5,callee,function,percent \
    2>/dev/null | grep -v '^#' | grep -v '^$' | head -80 || true
fi
section "idnode: hdl_loadgen TCP (persistent connections), closed loop"
measure idnode-tcp "$IDNODE" "${LOADGEN[@]}" --proto tcp --server "127.0.0.1:$HANDLE_PORT" --server-pid "$IDNODE"

UDP_RATE=$(field "$WORK/idnode-udp.txt" rate)
OPEN_RATE=$(awk -v r="$UDP_RATE" 'BEGIN { printf "%d", r / 2 }')
section "open loop at $OPEN_RATE/s (half of idnode's UDP rate)"
measure idnode-udp-open "$IDNODE" "${LOADGEN[@]}" --proto udp --server "127.0.0.1:$HANDLE_PORT" --rate "$OPEN_RATE"
measure nsd-open "$NSD" "${LOADGEN[@]}" --proto dns --server "127.0.0.1:$DNS_PORT" --rate "$OPEN_RATE"

row() { local out="|" cell; for cell in "$@"; do out+=" $cell |"; done; echo "$out"; }
lg_row() {
  local label=$1 name=$2 answered
  answered=$(field "$WORK/$name.txt" answered)
  row "$label" "$(field "$WORK/$name.txt" rate | cut -d. -f1)" "$(field "$WORK/$name.txt" p50_us) µs" \
    "$(field "$WORK/$name.txt" p99_us) µs" "$(field "$WORK/$name.txt" loss_pct) %" \
    "$(us_per "$(server_ticks "$name")" "$answered")" "$(field "$WORK/$name.txt" errors)" "$(other_ticks "$name")"
}

NSD_CPU=$(us_per "$(server_ticks nsd-dnsperf)" "$DNSPERF_COMPLETED")
NSD_LG_CPU=$(us_per "$(server_ticks nsd-loadgen)" "$(field "$WORK/nsd-loadgen.txt" answered)")
UDP_CPU=$(us_per "$(server_ticks idnode-udp)" "$(field "$WORK/idnode-udp.txt" answered)")
TCP_RATE=$(field "$WORK/idnode-tcp.txt" rate)
echo
echo "== results ($(date -u +%Y-%m-%dT%H:%MZ); $HANDLES identifiers; idnode answers $ANSWER_BYTES B, NSD answers $DNS_BYTES B; $CONNS sockets × $DEPTH in flight)"
echo
echo "| server, client | answers/s | p50 | p99 | loss | server CPU µs/answer | errors | other ticks on server core |"
echo "|---|---|---|---|---|---|---|---|"
row "NSD, dnsperf" "${DNSPERF_QPS%.*}" "avg $(awk -v s="$DNSPERF_AVG" 'BEGIN { printf "%d", s * 1e6 }') µs" "n/a" \
  "$DNSPERF_LOST lost" "$NSD_CPU" "-" "$(other_ticks nsd-dnsperf)"
lg_row "NSD, hdl_loadgen dns" nsd-loadgen
lg_row "idnode UDP, hdl_loadgen" idnode-udp
lg_row "idnode TCP persistent, hdl_loadgen" idnode-tcp
lg_row "NSD, open loop $OPEN_RATE/s" nsd-open
lg_row "idnode UDP, open loop $OPEN_RATE/s" idnode-udp-open
echo
echo "idnode seeding: $HANDLES creates over one pipelined TCP connection in $SEED_SECONDS s"
echo "CPU per UDP resolution, idnode / NSD (dnsperf): $(awk -v a="$UDP_CPU" -v b="$NSD_CPU" 'BEGIN { printf "%.2f", a / b }') (target ≤ 1.5)"
echo "CPU per UDP resolution, idnode / NSD (hdl_loadgen): $(awk -v a="$UDP_CPU" -v b="$NSD_LG_CPU" 'BEGIN { printf "%.2f", a / b }')"
echo "idnode TCP rate / UDP rate: $(awk -v a="$TCP_RATE" -v b="$UDP_RATE" 'BEGIN { printf "%.2f", a / b }') (target ≥ 0.70)"

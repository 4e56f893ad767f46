#!/usr/bin/env bash
# Memory budget at scale: a node holding ROWS handles (default 10^6), its search index built,
# then under random REST resolutions of all of them. Reports the resident set after the index
# is built and the largest one under load, against the budget: the configured caches
# (idnode_memory_limit_bytes of the store cache, both answer caches and the index writer, as
# /metrics reports them) plus 64 MiB. Both the whole resident set and its anonymous part
# (without the pages of memory-mapped files: the search index and the binary) are reported.
#
#   benches/memory-budget.sh [ROWS]        (needs wrk, and a release build)
#
# The last line is machine-readable: RESULT rows=… rss_indexed_mib=… rss_load_max_mib=…
# budget_mib=… within=yes|no
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-${1:-1000000}}
BIN=${IDNODE:-target/release/idnode}
SECONDS_UNDER_LOAD=${SECONDS_UNDER_LOAD:-15}
[ -x "$BIN" ] || { echo "build first: cargo build --release -p idnode" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 1; }
WORK=$(mktemp -d)
PORT=$((20000 + RANDOM % 20000))
IDNODE=""
cleanup() { [ -n "$IDNODE" ] && kill "$IDNODE" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

echo "== demo data and $ROWS products named like the load generator's keys"
"$BIN" demo --data "$WORK/data" >/dev/null
awk -v n="$ROWS" 'BEGIN {
  print "suffix,productName,productNameEn,casNo";
  for (i = 0; i < n; i++) {
    base = sprintf("%d%02d", 3000000 + int(i / 100), i % 100);
    sum = 0; len = length(base);
    for (j = 0; j < len; j++) sum += substr(base, len - j, 1) * (j + 1);
    cas = sprintf("%s-%s-%d", substr(base, 1, len - 2), substr(base, len - 1, 2), sum % 10);
    printf "CHEM-%06d,产品%d,product %d,\"[\"\"%s\"\"]\"\n", i, i, i, cas;
  }
}' >"$WORK/products.csv"
"$BIN" import --data "$WORK/data" --template hazchem.product --prefix 88.118.8 \
  --set manufacturer=88.118.8/E.91350100M000100Y43 "$WORK/products.csv" | tail -3

printf '[limits]\nrequests_per_second_per_source = 0\n' >"$WORK/idnode.toml"
"$BIN" serve --data "$WORK/data" --config "$WORK/idnode.toml" --http "127.0.0.1:$PORT" \
  --https off --handle off >"$WORK/serve.log" 2>&1 &
IDNODE=$!
rss() { awk '/VmRSS/ {print int($2 / 1024)}' "/proc/$IDNODE/status"; }
anon() { awk '/RssAnon/ {print int($2 / 1024)}' "/proc/$IDNODE/status"; }
echo "== waiting for the search index (readyz)"
for _ in $(seq 1 1800); do
  if curl -fsS "http://127.0.0.1:$PORT/readyz" 2>/dev/null | grep -q '"ready":true'; then break; fi
  sleep 1
done
curl -fsS "http://127.0.0.1:$PORT/readyz" | grep -q '"ready":true' || { echo "never ready" >&2; exit 1; }
sleep 5
INDEXED=$(rss)
INDEXED_ANON=$(anon)
echo "rss after the index is built: $INDEXED MiB ($INDEXED_ANON MiB anonymous)"

echo "== $SECONDS_UNDER_LOAD s of random resolutions of all $ROWS handles"
MAX=$INDEXED
( while kill -0 "$IDNODE" 2>/dev/null; do echo "$(rss) $(anon)"; sleep 1; done ) >"$WORK/rss.txt" &
SAMPLER=$!
KEYS=$ROWS wrk -t2 -c64 -d"${SECONDS_UNDER_LOAD}s" -s benches/wrk/get-random.lua \
  "http://127.0.0.1:$PORT" | grep RESULT
kill "$SAMPLER" 2>/dev/null || true
MAX=$(awk '{print $1}' "$WORK/rss.txt" | sort -n | tail -1)
MAX_ANON=$(awk '{print $2}' "$WORK/rss.txt" | sort -n | tail -1)
echo "== the largest resident mappings (KiB, path or kind)"
awk '/^[0-9a-f]+-[0-9a-f]+ / { name = (NF >= 6 ? $6 : "[anon]") } /^Rss:/ { rss[name] += $2 }
  END { for (n in rss) if (rss[n] > 1024) print rss[n], n }' "/proc/$IDNODE/smaps" |
  sed "s|$WORK/||" | sort -rn | head -12
METRICS=$(curl -fsS "http://127.0.0.1:$PORT/metrics")
echo "$METRICS" | grep '^idnode_memory'
LIMITS=$(echo "$METRICS" | awk -F' ' '/^idnode_memory_limit_bytes\{component="(store_cache|http_answer_cache|native_answer_cache|search_writer)"\}/ {s += $2} END {print int(s / 1048576)}')
BUDGET=$((LIMITS + 64))
WITHIN=no
[ "$MAX" -le "$BUDGET" ] && WITHIN=yes
ANON_WITHIN=no
[ "$MAX_ANON" -le "$BUDGET" ] && ANON_WITHIN=yes

# Searches read the index through its memory mapping: the pages they touch are resident as long
# as the segment lives. They are clean pages of files, which the kernel takes back first under
# pressure; this phase shows how many a search load maps, apart from the budget above.
echo "== $SECONDS_UNDER_LOAD s of searches for random products"
( while kill -0 "$IDNODE" 2>/dev/null; do echo "$(rss) $(anon)"; sleep 1; done ) >"$WORK/rss-search.txt" &
SAMPLER=$!
KEYS=$ROWS wrk -t2 -c16 -d"${SECONDS_UNDER_LOAD}s" -s benches/wrk/search-random.lua \
  "http://127.0.0.1:$PORT" | grep RESULT
kill "$SAMPLER" 2>/dev/null || true
SEARCH_MAX=$(awk '{print $1}' "$WORK/rss-search.txt" | sort -n | tail -1)
SEARCH_MAPPED=$(curl -fsS "http://127.0.0.1:$PORT/metrics" |
  awk '/^idnode_memory_bytes\{component="mapped_files"\}/ {print int($2 / 1048576)}')
echo "rss under searches: at most $SEARCH_MAX MiB, $SEARCH_MAPPED MiB of it mapped files at the end;" \
  "the index holds $(du -sm "$WORK/data/search" | cut -f1) MiB"

echo "RESULT rows=$ROWS rss_indexed_mib=$INDEXED rss_load_max_mib=$MAX anon_indexed_mib=$INDEXED_ANON" \
  "anon_load_max_mib=$MAX_ANON budget_mib=$BUDGET within=$WITHIN anon_within=$ANON_WITHIN" \
  "rss_search_max_mib=$SEARCH_MAX"

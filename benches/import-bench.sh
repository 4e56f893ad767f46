#!/usr/bin/env bash
# Import benchmark: seeds a demo node (which imports data/chemicals.csv), then imports
# synthetic chemical products until the node holds about ROWS records, all validated against
# hazchem.product and committed durably through the group-commit writer.
#
#   benches/import-bench.sh [ROWS]     (default 1000000)
#
# Needs a release build (cargo build --release -p idnode); uses a temporary data directory.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-${1:-1000000}}
BIN=${IDNODE:-target/release/idnode}
[ -x "$BIN" ] || { echo "build first: cargo build --release -p idnode" >&2; exit 1; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

echo "== seeding the demo node (imports data/chemicals.csv)"
"$BIN" demo --data "$WORK/data" > "$WORK/demo.txt"
head -1 "$WORK/demo.txt"
CHEM=$(($(wc -l < data/chemicals.csv) - 1))
SYNTH=$((ROWS > CHEM ? ROWS - CHEM : 0))

echo "== generating $SYNTH synthetic products"
# Synthetic CAS numbers 1000000-00-0 upwards with a correct check digit (unused by real
# substances in this range of the file), one product per row.
awk -v n="$SYNTH" 'BEGIN {
  print "suffix,productName,productNameEn,casNo,unNo,catalogSeq";
  for (i = 0; i < n; i++) {
    base = sprintf("%d%02d", 1000000 + int(i / 100), i % 100);
    sum = 0; len = length(base);
    for (j = 0; j < len; j++) sum += substr(base, len - j, 1) * (j + 1);
    cas = sprintf("%s-%s-%d", substr(base, 1, len - 2), substr(base, len - 1, 2), sum % 10);
    printf "S.%s,合成品%d,synthetic product %d,\"[\"\"%s\"\"]\",UN%04d,%d\n", cas, i, i, cas, 1000 + i % 2000, 1 + i % 2828;
  }
}' > "$WORK/synthetic.csv"

echo "== importing (durable, validated); machine load before: $(uptime | sed 's/.*load average/load average/')"
/usr/bin/time -v "$BIN" import --data "$WORK/data" --template hazchem.product --prefix 88.118.8 \
  --set manufacturer=88.118.8/E.91350100M000100Y43 "$WORK/synthetic.csv" 2> "$WORK/time.txt" | tee "$WORK/import.txt"
grep -E "User time|System time|Elapsed|Maximum resident|Percent of CPU" "$WORK/time.txt" || true
echo "machine load after: $(uptime | sed 's/.*load average/load average/')"
echo "== rerun (identical content: nothing is written)"
"$BIN" import --data "$WORK/data" --template hazchem.product --prefix 88.118.8 \
  --set manufacturer=88.118.8/E.91350100M000100Y43 "$WORK/synthetic.csv" 2>/dev/null | head -1
du -sh "$WORK/data/idnode.redb"

#!/usr/bin/env bash
# A fuzzing campaign over every target: cargo-fuzz on nightly, no sanitizer (the targets are
# safe Rust; panics, timeouts, leaks past -rss_limit_mb and single allocations past
# -malloc_limit_mb are what is found), a fixed number of executions per target, then the
# corpus minimised back into fuzz/corpus/<target>/. Prints one line per target:
#
#   TARGET name runs=N seconds=S execs_per_sec=E corpus=C crashes=K
#
#   fuzz/campaign.sh                 every target
#   fuzz/campaign.sh message envelope
#
# RUNS_NETWORK (default 10^7) applies to the targets that read bytes straight off the network
# (envelope, message, UDP reassembly, the native fast path, REST JSON, handle names, EPCIS
# documents, SNMS bodies), RUNS (default 10^6) to the others. Needs `rustup toolchain install
# nightly` and `cargo install cargo-fuzz`. Crashes land in fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")"
RUNS=${RUNS:-1000000}
RUNS_NETWORK=${RUNS_NETWORK:-10000000}
NETWORK=" envelope message udp_reassembly fast_path rest_json handle_name epcis_capture snms_body "
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
  mapfile -t TARGETS < <(cargo +nightly fuzz list)
fi
LOGS=${LOGS:-$(mktemp -d)}
mkdir -p "$LOGS"

# Seeds for the native decoders: the captured Handle.Net exchanges, one file per message.
for target in message envelope udp_reassembly fast_path; do
  mkdir -p "corpus/$target"
  if [ -z "$(ls -A "corpus/$target")" ]; then
    python3 - "$target" <<'PY'
import glob, hashlib, json, sys
target = sys.argv[1]
for f in sorted(glob.glob("../conformance/vectors/handle-native/*.json")):
    for m in json.load(open(f)).get("messages", []):
        b = bytes.fromhex(m["hex"])[m.get("body_offset", 0):]
        open("corpus/%s/%s" % (target, hashlib.sha1(b).hexdigest()[:16]), "wb").write(b)
PY
  fi
done

cargo +nightly fuzz build -s none
for target in "${TARGETS[@]}"; do
  runs=$RUNS
  case "$NETWORK" in *" $target "*) runs=$RUNS_NETWORK ;; esac
  mkdir -p "corpus/$target"
  log="$LOGS/$target.log"
  status=0
  cargo +nightly fuzz run -s none "$target" "corpus/$target" -- \
    -runs="$runs" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=512 \
    -print_final_stats=1 >"$log" 2>&1 || status=$?
  # Minimise the corpus in place.
  cargo +nightly fuzz cmin -s none "$target" "corpus/$target" >"$LOGS/$target.cmin.log" 2>&1 || true
  done_runs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | tail -1 | awk '{print $2}')
  speed=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | tail -1 | awk '{print $2}')
  seconds=$(grep -o 'Done [0-9]* runs in [0-9]* second' "$log" | tail -1 | awk '{print $5}')
  crashes=$(ls "artifacts/$target" 2>/dev/null | wc -l)
  echo "TARGET $target runs=${done_runs:-0} seconds=${seconds:-?} execs_per_sec=${speed:-?}" \
    "corpus=$(ls "corpus/$target" | wc -l) crashes=$crashes exit=$status"
done
echo "logs in $LOGS"

-- wrk script for benches/memory-budget.sh: every request searches for a random fixture product
-- by its English name, "product N" with N below KEYS from the environment (default 100000).
-- At the end it prints one machine-readable line: RESULT key=value ...

local keys = tonumber(os.getenv("KEYS") or "100000")
local format = string.format

function init(args)
   math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 1000003)
end

function request()
   return wrk.format("GET", format("/api/search?q=product%%20%d", math.random(0, keys - 1)))
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(format(
      "RESULT requests=%d duration_us=%d rate=%.1f p50_us=%d p99_us=%d errors_status=%d\n",
      summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
      latency:percentile(50), latency:percentile(99), e.status))
end

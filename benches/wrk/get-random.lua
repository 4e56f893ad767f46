-- wrk script for benches/run-http.sh and run-federation.sh: every request resolves a random
-- fixture handle, PREFIX/STEM-000000 .. PREFIX/STEM-(KEYS-1), with KEYS (default 100000),
-- PREFIX (default 88.118.8) and STEM (default CHEM) from the environment.
-- At the end it prints one machine-readable line: RESULT key=value ...

local keys = tonumber(os.getenv("KEYS") or "100000")
local prefix = os.getenv("PREFIX") or "88.118.8"
local stem = os.getenv("STEM") or "CHEM"
local format = string.format

function init(args)
   -- Each wrk thread has its own Lua state; seed each one differently.
   math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 1000003)
end

function request()
   return wrk.format("GET", format("/api/handles/%s/%s-%06d", prefix, stem, math.random(0, keys - 1)))
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(format(
      "RESULT requests=%d duration_us=%d bytes=%d rate=%.1f p50_us=%d p90_us=%d p99_us=%d max_us=%d " ..
      "errors_status=%d errors_connect=%d errors_read=%d errors_write=%d errors_timeout=%d\n",
      summary.requests, summary.duration, summary.bytes,
      summary.requests / (summary.duration / 1e6),
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
      e.status, e.connect, e.read, e.write, e.timeout))
end

-- wrk script: POST /log with JSON batches, as the logging client
-- (src/common/logship.c) ships them, for bench/log.sh.
--
--   wrk -t1 -c50 -d10s -s log-batch.lua http://127.0.0.1:PORT -- [N]
--
-- Every request is the same static array of N entries (default 100,
-- LOGSHIP_BATCH_MAX) {"service", "priority", "message", "time"}, priorities
-- in turn. done() prints "batches: N ok, M failed" and "lines: N ok" (N
-- entries per 200).

local bench = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "lib.lua")
local per = 100

-- Read by done() through thread:get(), so global in the thread's state.
n = 100

setup = bench.setup

function init(args)
   per = tonumber(args[1] or "100")
   n = per
   local prios = { "err", "warning", "notice", "info", "info", "info", "debug" }
   local entries = {}
   for i = 1, per do
      entries[i] = string.format(
         '{"service":"BenchService","priority":"%s","message":"Added student %d with a grade of %d in Quiz 3.",' ..
         '"time":"2026-11-25T12:21:08.%03dZ"}',
         prios[(i - 1) % #prios + 1], 1000 + i, 50 + i % 50, i % 1000)
   end
   wrk.method = "POST"
   wrk.path = "/log"
   wrk.headers["Content-Type"] = "application/json"
   wrk.body = "[" .. table.concat(entries, ",") .. "]"
end

response = bench.counter(200)

function done(summary, latency, requests)
   local n_ok, n_bad, err = bench.totals()
   local per_batch = 0
   for _, t in ipairs(bench.threads) do
      per_batch = t:get("n")
   end
   io.write(string.format("batches: %d ok, %d failed\n", n_ok, n_bad))
   io.write(string.format("lines: %d ok, %d failed\n", n_ok * per_batch, n_bad * per_batch))
   bench.first_failure(err)
end

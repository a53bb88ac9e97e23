-- wrk script: single-line POST /log (text/plain, the seed's wire form), for
-- bench/log.sh.
--
--   wrk -t1 -c50 -d10s -s log-text.lua http://127.0.0.1:PORT [-- MESSAGE]
--
-- Every request is the same static "[BenchService] - MESSAGE" body, so wrk
-- spends no Lua time per request. done() prints "lines: N ok, M failed"
-- (one line per 200) and the first failure.

local bench = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "lib.lua")

setup = bench.setup

function init(args)
   local message = args[1] or "Added student 42 with a grade of 97 in Quiz 3."
   wrk.method = "POST"
   wrk.path = "/log"
   wrk.headers["Content-Type"] = "text/plain"
   wrk.body = "[BenchService] - " .. message
end

response = bench.counter(200)

function done(summary, latency, requests)
   local n_ok, n_bad, err = bench.totals()
   io.write(string.format("lines: %d ok, %d failed\n", n_ok, n_bad))
   bench.first_failure(err)
end

-- wrk script: POST /services registrations, for bench/registry.sh.
--
--   wrk -t1 -c50 -d5s -s register.lua http://127.0.0.1:PORT -- MODE PREFIX FIRST COUNT HB_BASE UPDATE_BASE
--
-- MODE new:  unique ServiceURLs HB_BASE/svc/PREFIX<FIRST>, <FIRST+1>, ...
--            until wrk's duration ends (the table grows by one per request)
--      fill: the same, exactly COUNT of them, then stops (pre-filling)
--      ring: re-registers PREFIX<FIRST> .. PREFIX<FIRST+COUNT-1> in turn, so
--            the table keeps COUNT entries (a re-registration replaces)
-- Each registration has RequiredServices [] and its ServiceUpdateURL on
-- UPDATE_BASE, its HeartbeatURL at ServiceURL/heartbeat. Use -t1: the
-- counter is per thread. In fill mode, "filled" is printed once COUNT
-- registrations are answered.

local bench = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "lib.lua")
local mode, prefix, first, count, hb, upd
local calls, issued = 0, 0
local json = { ["Content-Type"] = "application/json" }

setup = bench.setup

function init(args)
   mode, prefix = args[1], args[2]
   first, count = tonumber(args[3]), tonumber(args[4])
   hb, upd = args[5], args[6]
end

function request()
   calls = calls + 1
   -- A harmless lookup (answers "[]") rather than a registration: for the
   -- first request, which wrk 4.1 builds but never sends, so that none is
   -- lost; and in fill mode once COUNT are under way, to keep the other
   -- connections busy until they are answered.
   if calls == 1 or (mode == "fill" and issued >= count) then
      return wrk.format("GET", "/services/benchfiller")
   end
   local i = first + (mode == "ring" and issued % count or issued)
   issued = issued + 1
   local id = prefix .. i
   local body = string.format(
      '{"ServiceName":"bench%d","ServiceURL":"%s/svc/%s","RequiredServices":[],' ..
      '"ServiceUpdateURL":"%s/update/%s","HeartbeatURL":"%s/svc/%s/heartbeat"}',
      i % 100, hb, id, upd, id, hb, id)
   return wrk.format("POST", "/services", json, body)
end

function response(status, headers, body)
   if status == 200 and body == "[]" then
      return -- a filler lookup
   end
   bench.count(status, body, 200)
   if mode == "fill" and ok + bad == count then
      -- wrk runs until -d is over whatever a thread does: tell the caller,
      -- which interrupts it (SIGINT).
      io.write("filled\n")
      io.stdout:flush()
      wrk.thread:stop()
   end
end

function done(summary, latency, requests)
   local n_ok, n_bad, err = bench.totals()
   io.write(string.format("registrations: %d ok, %d failed\n", n_ok, n_bad))
   bench.first_failure(err)
end

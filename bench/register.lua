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

local mode, prefix, first, count, hb, upd
local calls, issued = 0, 0
local json = { ["Content-Type"] = "application/json" }
local threads = {}

-- Read by done() through thread:get(), so global in the thread's state.
ok, bad, first_error = 0, 0, ""

function setup(thread)
   table.insert(threads, thread)
end

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
   if status == 200 then
      ok = ok + 1
   else
      bad = bad + 1
      if first_error == "" then
         first_error = status .. " " .. string.sub(body or "", 1, 200)
      end
   end
   if mode == "fill" and ok + bad == count then
      -- wrk runs until -d is over whatever a thread does: tell the caller,
      -- which interrupts it (SIGINT).
      io.write("filled\n")
      io.stdout:flush()
      wrk.thread:stop()
   end
end

function done(summary, latency, requests)
   local n_ok, n_bad, err = 0, 0, ""
   for _, t in ipairs(threads) do
      n_ok = n_ok + t:get("ok")
      n_bad = n_bad + t:get("bad")
      if err == "" then err = t:get("first_error") end
   end
   io.write(string.format("registrations: %d ok, %d failed\n", n_ok, n_bad))
   if err ~= "" then
      io.write("first failure: " .. err .. "\n")
   end
end

-- wrk script: single-line POST /log (text/plain, the seed's wire form), for
-- bench/log.sh.
--
--   wrk -t1 -c50 -d10s -s log-text.lua http://127.0.0.1:PORT [-- MESSAGE]
--
-- Every request is the same static "[BenchService] - MESSAGE" body, so wrk
-- spends no Lua time per request. done() prints "lines: N ok, M failed"
-- (one line per 200) and the first failure.

local threads = {}

-- Read by done() through thread:get(), so global in the thread's state.
ok, bad, first_error = 0, 0, ""

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   local message = args[1] or "Added student 42 with a grade of 97 in Quiz 3."
   wrk.method = "POST"
   wrk.path = "/log"
   wrk.headers["Content-Type"] = "text/plain"
   wrk.body = "[BenchService] - " .. message
end

function response(status, headers, body)
   if status == 200 then
      ok = ok + 1
   else
      bad = bad + 1
      if first_error == "" then
         first_error = status .. " " .. string.sub(body or "", 1, 200)
      end
   end
end

function done(summary, latency, requests)
   local n_ok, n_bad, err = 0, 0, ""
   for _, t in ipairs(threads) do
      n_ok = n_ok + t:get("ok")
      n_bad = n_bad + t:get("bad")
      if err == "" then err = t:get("first_error") end
   end
   io.write(string.format("lines: %d ok, %d failed\n", n_ok, n_bad))
   if err ~= "" then
      io.write("first failure: " .. err .. "\n")
   end
end

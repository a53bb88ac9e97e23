-- Shared by the wrk scripts of bench/: counts the answers in each thread,
-- and sums them over the threads at the end. A script loads it from its
-- own directory (wrk runs in the caller's):
--
--   local bench = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "lib.lua")
--   setup = bench.setup

local bench = { threads = {} }

-- Read by done() through thread:get(), so global in the thread's state.
ok, bad, first_error = 0, 0, ""

-- wrk's setup(thread): keeps the threads, for totals().
function bench.setup(thread)
   table.insert(bench.threads, thread)
end

-- count(status, body, want), from response(): an answer with status WANT
-- is ok, any other bad (the first of them kept as "STATUS BODY").
function bench.count(status, body, want)
   if status == want then
      ok = ok + 1
   else
      bad = bad + 1
      if first_error == "" then
         first_error = status .. " " .. string.sub(body or "", 1, 200)
      end
   end
end

-- counter(want): a response() that only counts, as count() does.
function bench.counter(want)
   return function(status, headers, body)
      bench.count(status, body, want)
   end
end

-- totals(), from done(): ok and bad summed over the threads, and the first
-- failure ("" if none).
function bench.totals()
   local n_ok, n_bad, err = 0, 0, ""
   for _, t in ipairs(bench.threads) do
      n_ok = n_ok + t:get("ok")
      n_bad = n_bad + t:get("bad")
      if err == "" then err = t:get("first_error") end
   end
   return n_ok, n_bad, err
end

-- first_failure(err), from done(): prints "first failure: ERR" if there
-- was one.
function bench.first_failure(err)
   if err ~= "" then
      io.write("first failure: " .. err .. "\n")
   end
end

return bench

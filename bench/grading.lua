-- wrk script: POST /students/{id}/grades, for bench/grading.sh.
--
--   wrk -t1 -c50 -d5s -s grading.lua http://127.0.0.1:PORT -- N_STUDENTS
--
-- Each request adds one grade {"Title":"bench N","Type":...,"Score":...} to
-- student 1 + N % N_STUDENTS. Answers are counted: "created" are the 201s
-- (each one a committed grade), anything else is a failure. done() prints
--
--   grades: CREATED created, FAILED failed, in SECONDS s
--   first failure: STATUS BODY        (only if there was one)

local n_students = 5
local counter = 0
local json = { ["Content-Type"] = "application/json" }
local types = { "Quiz", "Test", "Exam", "Homework" }
local threads = {}

-- Read by done() through thread:get(), so global in the thread's state.
created, failed, first_error = 0, 0, ""

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   n_students = tonumber(args[1] or "5") or 5
end

function request()
   counter = counter + 1
   local body = string.format('{"Title":"bench %d","Type":"%s","Score":%d.5}',
                              counter, types[counter % 4 + 1], counter % 100)
   return wrk.format("POST", "/students/" .. (1 + counter % n_students) .. "/grades", json, body)
end

function response(status, headers, body)
   if status == 201 then
      created = created + 1
   else
      failed = failed + 1
      if first_error == "" then
         first_error = status .. " " .. string.sub(body or "", 1, 200)
      end
   end
end

function done(summary, latency, requests)
   local n_created, n_failed, err = 0, 0, ""
   for _, t in ipairs(threads) do
      n_created = n_created + t:get("created")
      n_failed = n_failed + t:get("failed")
      if err == "" then err = t:get("first_error") end
   end
   io.write(string.format("grades: %d created, %d failed, in %.3f s\n", n_created, n_failed,
                          summary.duration / 1e6))
   if err ~= "" then
      io.write("first failure: " .. err .. "\n")
   end
end

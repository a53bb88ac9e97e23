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

local bench = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "lib.lua")
local n_students = 5
local counter = 0
local json = { ["Content-Type"] = "application/json" }
local types = { "Quiz", "Test", "Exam", "Homework" }

setup = bench.setup

function init(args)
   n_students = tonumber(args[1] or "5") or 5
end

function request()
   counter = counter + 1
   local body = string.format('{"Title":"bench %d","Type":"%s","Score":%d.5}',
                              counter, types[counter % 4 + 1], counter % 100)
   return wrk.format("POST", "/students/" .. (1 + counter % n_students) .. "/grades", json, body)
end

response = bench.counter(201)

function done(summary, latency, requests)
   local n_created, n_failed, err = bench.totals()
   io.write(string.format("grades: %d created, %d failed, in %.3f s\n", n_created, n_failed,
                          summary.duration / 1e6))
   bench.first_failure(err)
end

-- wrk-verify.lua: checks every HTTP response's status and body length, and reports the counts in done() for swiglet-lab.
--
--   wrk -t2 -c16 -d10s --latency -s scripts/wrk-verify.lua URL -- STATUS LENGTH
--
-- STATUS is the status every response must have (e.g. 200); LENGTH the body length in bytes it
-- must have, or -1 for any length. wrk then hands every response to response() (it parses
-- the body only because that function exists), which counts it as good, wrong_status or
-- wrong_length in its thread. done() runs once in the main thread after the run, adds up the
-- threads' counts (setup() kept each thread) and prints one line that swiglet-lab reads
-- (ExperimentKit.WrkOutput), after wrk's own report:
--
--   wrk-verify: good=N wrong_status=N wrong_length=N responses=N connect=N read=N write=N
--               timeout=N non_2xx_3xx=N expected_status=S expected_length=L
--
-- (on one line). A response with the wrong status counts there only, not also as a wrong length.

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   -- args[0] is the URL; ours follow it (wrk passes what comes after "--").
   expected_status = tonumber(args[1]) or 200
   expected_length = tonumber(args[2]) or -1
   good = 0
   wrong_status = 0
   wrong_length = 0
end

function response(status, headers, body)
   if status ~= expected_status then
      wrong_status = wrong_status + 1
   elseif expected_length >= 0 and (body == nil and 0 or #body) ~= expected_length then
      wrong_length = wrong_length + 1
   else
      good = good + 1
   end
end

function done(summary, latency, requests)
   local g, s, l = 0, 0, 0
   local status, length = 200, -1
   for _, thread in ipairs(threads) do
      g = g + thread:get("good")
      s = s + thread:get("wrong_status")
      l = l + thread:get("wrong_length")
      status = thread:get("expected_status")
      length = thread:get("expected_length")
   end
   local e = summary.errors
   io.write(string.format(
      "wrk-verify: good=%d wrong_status=%d wrong_length=%d responses=%d connect=%d read=%d write=%d timeout=%d non_2xx_3xx=%d expected_status=%d expected_length=%d\n",
      g, s, l, summary.requests, e.connect, e.read, e.write, e.timeout, e.status, status, length))
end

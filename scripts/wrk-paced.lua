-- wrk-paced.lua: wrk-verify.lua's checks at an offered rate: wrk's delay() hook holds each request back until its turn on a fixed schedule.
--
--   wrk -t2 -c16 -d10s --latency -s scripts/wrk-paced.lua URL -- STATUS LENGTH RATE THREADS
--
-- STATUS and LENGTH as for wrk-verify.lua (which this script loads, so its checks and its
-- summary line are the same); RATE is the requests per second offered in total, THREADS the
-- -t given to wrk. Each wrk thread keeps its own schedule of RATE / THREADS requests a second:
-- before every request, on any of its connections, delay() takes the next slot and returns
-- how long to wait for it. A thread whose connections are all waiting for answers falls
-- behind its schedule and then sends the requests it owes at once, so the offered load holds
-- as long as there are connections free.
--
-- What this is not: wrk measures latency from when a request is written, so a request that
-- waited for a free connection is not charged the wait (wrk2's coordinated-omission
-- correction is not here). Compare the achieved rate with the offered one: where it falls
-- short, the system (or the connection count) could not keep up, and its latency is
-- understated. swiglet-bench's offered loads (UDP echo, tcp-rr) count from the due time.

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "wrk-verify.lua")

-- wrk is built with LuaJIT: its FFI reads CLOCK_MONOTONIC (1) with sub-millisecond precision.
local ffi = require("ffi")
ffi.cdef [[
   struct swiglet_timespec { long tv_sec; long tv_nsec; };
   int clock_gettime(int clock, struct swiglet_timespec *time);
]]
local clock = ffi.new("struct swiglet_timespec")

local function now_ms()
   ffi.C.clock_gettime(1, clock)
   return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
end

local verify_init = init

function init(args)
   verify_init(args)
   local rate = tonumber(args[3])
   local threads = tonumber(args[4])
   if rate == nil or rate <= 0 or threads == nil or threads < 1 then
      error("wrk-paced.lua needs RATE > 0 and THREADS >= 1 after STATUS and LENGTH")
   end
   interval_ms = threads * 1000 / rate
   next_due_ms = nil
end

-- wrk calls delay() before each request and waits that many whole milliseconds. The schedule is
-- absolute, so rounding down never accumulates: a request sent up to 1 ms early is followed by
-- one whose wait is that much longer.
function delay()
   local now = now_ms()
   if next_due_ms == nil then next_due_ms = now end
   local wait = next_due_ms - now
   next_due_ms = next_due_ms + interval_ms
   if wait <= 0 then return 0 end
   return math.floor(wait)
end

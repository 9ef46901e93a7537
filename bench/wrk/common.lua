-- Shared by get.lua, put.lua and mixed.lua (loaded with dofile; not a wrk
-- script on its own).
--
-- Keys are "k0".."k<NKEYS-1>" in namespace "bench"; values are 100 characters.
-- Every request string is built once per thread in init(), so the per-request
-- Lua cost is a table lookup and the client spends its CPU on the socket, not
-- on Lua (the machine has 2 cores shared by client and server).
--
-- Script arguments (after the URL on wrk's command line):  [NKEYS]  default 10000
--
-- done() prints one machine-readable line that bench/run.sh parses:
--   WRKRESULT rps=.. p50_ms=.. p90_ms=.. p99_ms=.. max_ms=.. requests=.. non2xx=.. sockerr=..

NKEYS = 10000
NS = "bench"
VALUE = string.rep("v", 100)
PUT_BODY = '{"value":"' .. VALUE .. '"}'
PUT_HEADERS = { ["Content-Type"] = "application/json" }

local thread_no = 0
function setup(thread)
   thread_no = thread_no + 1
   thread:set("thread_no", thread_no)
end

-- Seed each thread differently (each wrk thread has its own Lua state).
function seed_and_args(args)
   local n = wrk.thread:get("thread_no") or 0
   math.randomseed(os.time() * 1000 + n * 7919)
   if args and args[1] and tonumber(args[1]) then
      NKEYS = math.floor(tonumber(args[1]))
   end
end

function path_for(i)
   return "/storage/k" .. i .. "?ns=" .. NS
end

function build_gets()
   local t = {}
   for i = 0, NKEYS - 1 do
      t[i + 1] = wrk.format("GET", path_for(i))
   end
   return t
end

function build_puts()
   local t = {}
   for i = 0, NKEYS - 1 do
      t[i + 1] = wrk.format("PUT", path_for(i), PUT_HEADERS, PUT_BODY)
   end
   return t
end

function done(summary, latency, requests)
   local e = summary.errors
   local secs = summary.duration / 1e6
   io.write(string.format(
      "WRKRESULT rps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f requests=%d non2xx=%d sockerr=%d\n",
      summary.requests / secs,
      latency:percentile(50) / 1000, latency:percentile(90) / 1000,
      latency:percentile(99) / 1000, latency.max / 1000,
      summary.requests, e.status, e.connect + e.read + e.write + e.timeout))
end

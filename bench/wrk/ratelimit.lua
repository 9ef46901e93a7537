-- wrk: POST /ratelimit/<random key of k0..k9999>/check?ns=bench (limit and
-- window from durod's --ratelimit-default; denied checks are 200 too)
-- usage: wrk -t2 -c64 -d10s --latency -s bench/wrk/ratelimit.lua http://127.0.0.1:PORT [NKEYS]
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local reqs, n
function init(args)
   seed_and_args(args)
   reqs = {}
   for i = 0, NKEYS - 1 do
      reqs[i + 1] = wrk.format("POST", "/ratelimit/k" .. i .. "/check?ns=" .. NS)
   end
   n = #reqs
end

function request()
   return reqs[math.random(n)]
end

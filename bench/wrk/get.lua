-- wrk: GET /storage/<random key of k0..k9999>?ns=bench
-- usage: wrk -t2 -c64 -d10s --latency -s bench/wrk/get.lua http://127.0.0.1:PORT [NKEYS]
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local reqs, n
function init(args)
   seed_and_args(args)
   reqs = build_gets()
   n = #reqs
end

function request()
   return reqs[math.random(n)]
end

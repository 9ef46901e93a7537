-- wrk: PUT /storage/<random key of k0..k9999>?ns=bench
--      body {"value":"<100 chars>"}, Content-Type: application/json
-- Random keys over the same 10k keyspace as get.lua (overwrites after the
-- preload; the data set and the cache stay the same size during the run).
-- usage: wrk -t2 -c64 -d10s --latency -s bench/wrk/put.lua http://127.0.0.1:PORT [NKEYS]
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local reqs, n
function init(args)
   seed_and_args(args)
   reqs = build_puts()
   n = #reqs
end

function request()
   return reqs[math.random(n)]
end

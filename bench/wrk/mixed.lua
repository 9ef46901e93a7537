-- wrk: 90% GET / 10% PUT, random keys of k0..k9999 in ns=bench (see get.lua, put.lua)
-- usage: wrk -t2 -c64 -d10s --latency -s bench/wrk/mixed.lua http://127.0.0.1:PORT [NKEYS]
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local gets, puts, n
function init(args)
   seed_and_args(args)
   gets = build_gets()
   puts = build_puts()
   n = #gets
end

function request()
   if math.random(10) == 1 then
      return puts[math.random(n)]
   end
   return gets[math.random(n)]
end

-- wrk: GET one registry path over and over (bench/registry.sh).
-- usage: wrk -t1 -c1 -d5s --latency -s bench/wrk/registry_list.lua http://127.0.0.1:PORT PATH
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local req
function init(args)
   req = wrk.format("GET", args[1] or "/api/resources/list")
end

function request()
   return req
end

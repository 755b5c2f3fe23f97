-- wrk script: GetItem of a random preloaded key; the answer must contain the item.
local C = dofile((os.getenv("BENCH_LUA") or "bench/lua") .. "/common.lua")
C.setup_op("GetItem", '"Item":%s*{', function()
  return '{"TableName":"' .. C.table_name .. '","Key":' .. C.random_key() .. '}'
end)

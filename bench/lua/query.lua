-- wrk script: Query one random preloaded partition (pk = :p); each holds exactly 10 items.
local C = dofile((os.getenv("BENCH_LUA") or "bench/lua") .. "/common.lua")
C.setup_op("Query", '"Count":%s*10[,}%s]', function()
  local p = math.random(0, math.floor(C.nkeys / 10) - 1)
  return '{"TableName":"' .. C.table_name .. '","KeyConditionExpression":"pk = :p",' ..
    '"ExpressionAttributeValues":{":p":{"S":"p' .. p .. '"}}}'
end)

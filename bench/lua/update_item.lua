-- wrk script: UpdateItem SET #c = #c + :one on a random preloaded key, conditional on its existence.
local C = dofile((os.getenv("BENCH_LUA") or "bench/lua") .. "/common.lua")
C.setup_op("UpdateItem", nil, function()
  return '{"TableName":"' .. C.table_name .. '","Key":' .. C.random_key() ..
    ',"UpdateExpression":"SET #c = #c + :one","ConditionExpression":"attribute_exists(pk)",' ..
    '"ExpressionAttributeNames":{"#c":"c"},"ExpressionAttributeValues":{":one":{"N":"1"}}}'
end)

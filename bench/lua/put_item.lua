-- wrk script: PutItem of a new ~200-byte item (keys "w<run>_<thread>_<n>", never preloaded ones).
local C = dofile((os.getenv("BENCH_LUA") or "bench/lua") .. "/common.lua")
C.setup_op("PutItem", nil, function()
  local pk = "w" .. C.run_id .. "_" .. (thread_id or 0) .. "_" .. counter
  return '{"TableName":"' .. C.table_name .. '","Item":' .. C.item(pk, counter % 10) .. '}'
end)

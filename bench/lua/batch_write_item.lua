-- wrk script: BatchWriteItem of 25 new distinct ~200-byte items (pk "b<run>_<thread>_<n>", sk 0..24).
local C = dofile((os.getenv("BENCH_LUA") or "bench/lua") .. "/common.lua")
C.setup_op("BatchWriteItem", '"UnprocessedItems":%s*{%s*}', function()
  local pk = "b" .. C.run_id .. "_" .. (thread_id or 0) .. "_" .. counter
  local reqs = {}
  for sk = 0, 24 do
    reqs[#reqs + 1] = '{"PutRequest":{"Item":' .. C.item(pk, sk) .. '}}'
  end
  return '{"RequestItems":{"' .. C.table_name .. '":[' .. table.concat(reqs, ",") .. ']}}'
end)

-- wrk script: GetItem of random existing keys from the table preloaded by bench/preload.py.
-- Usage: wrk -s bench/lua/get_item.lua http://127.0.0.1:8000  (env TABLE, KEYS)
local table_name = os.getenv("TABLE") or "bench"
local nkeys = tonumber(os.getenv("KEYS") or "10000")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-amz-json-1.0"
wrk.headers["X-Amz-Target"] = "DynamoDB_20120810.GetItem"
wrk.headers["Authorization"] = "AWS4-HMAC-SHA256 Credential=bench/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0"

request = function()
  local i = math.random(0, nkeys - 1)
  local body = '{"TableName":"' .. table_name .. '","Key":{"pk":{"S":"p' .. i .. '"},"sk":{"N":"' .. (i % 10) .. '"}}}'
  return wrk.format(nil, "/", nil, body)
end

local errors = 0
response = function(status, headers, body)
  if status ~= 200 then errors = errors + 1 end
end

done = function(summary, latency, requests)
  io.write(string.format("non-200 responses: %d\n", summary.errors.status))
end

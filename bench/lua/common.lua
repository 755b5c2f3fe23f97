-- Shared by every bench/lua/<op>.lua wrk script (loaded with dofile; see bench/run.py).
-- Environment: TABLE (table name), KEYS (number of preloaded items), RUN_ID (makes written keys unique).
-- Preloaded layout (bench/loader.py): item i has pk = "p<i // 10>", sk = i % 10, so every
-- partition holds exactly 10 items.  Writes go to separate key ranges ("w..." and "b...").
local M = {}
M.table_name = os.getenv("TABLE") or "bench"
M.nkeys = tonumber(os.getenv("KEYS") or "10000")
M.run_id = os.getenv("RUN_ID") or tostring(os.time())
M.payload = string.rep("x", 170)

-- A random existing key as the JSON of a DynamoDB Key map.
function M.random_key()
  local i = math.random(0, M.nkeys - 1)
  return '{"pk":{"S":"p' .. math.floor(i / 10) .. '"},"sk":{"N":"' .. (i % 10) .. '"}}'
end

function M.item(pk, sk)
  return '{"pk":{"S":"' .. pk .. '"},"sk":{"N":"' .. sk .. '"},"c":{"N":"0"},"payload":{"S":"' .. M.payload .. '"}}'
end

local function json_str(s)
  s = tostring(s or ""):sub(1, 300)
  return '"' .. s:gsub('[%c"\\]', function(c) return string.format("\\u%04x", c:byte()) end) .. '"'
end

-- Install the wrk hooks.  op: DynamoDB operation name; expect: Lua pattern every 2xx body must
-- match (nil: any body); make_body(): the JSON request body.
function M.setup_op(op, expect, make_body)
  wrk.method = "POST"
  wrk.path = "/"
  wrk.headers["Content-Type"] = "application/x-amz-json-1.0"
  wrk.headers["X-Amz-Target"] = "DynamoDB_20120810." .. op
  wrk.headers["X-Amz-Date"] = "20260101T000000Z"
  wrk.headers["Authorization"] = "AWS4-HMAC-SHA256 Credential=bench/20260101/us-east-1/dynamodb/aws4_request, "
    .. "SignedHeaders=host;x-amz-date;x-amz-target, Signature=0"

  local threads = {}
  setup = function(thread)
    thread:set("thread_id", #threads)
    table.insert(threads, thread)
  end

  -- Per-thread state (each wrk thread has its own Lua state).
  init = function(args)
    math.randomseed(os.time() + (tonumber(thread_id) or 0) * 7919)
    counter = 0
    non2xx = 0
    badbody = 0
    checked = 0
    first_bad = ""
  end

  request = function()
    counter = counter + 1
    return wrk.format(nil, nil, nil, make_body())
  end

  -- Every response is checked: status, then the body (no error "__type", op-specific shape).
  response = function(status, headers, body)
    if status < 200 or status > 299 then
      non2xx = non2xx + 1
      if first_bad == "" then first_bad = status .. " " .. (body or "") end
      return
    end
    checked = checked + 1
    body = body or ""
    if body:find('"__type"', 1, true) or (expect and not body:find(expect)) then
      badbody = badbody + 1
      if first_bad == "" then first_bad = status .. " " .. body end
    end
  end

  -- One machine-readable line for bench/run.py; latencies in microseconds.
  done = function(summary, latency, requests)
    local n2, bad, chk, first = 0, 0, 0, ""
    for _, t in ipairs(threads) do
      n2 = n2 + (t:get("non2xx") or 0)
      bad = bad + (t:get("badbody") or 0)
      chk = chk + (t:get("checked") or 0)
      if first == "" then first = t:get("first_bad") or "" end
    end
    local e = summary.errors
    io.write(string.format(
      'BENCHJSON {"op":"%s","requests":%d,"duration_us":%d,"bytes":%d,"non2xx":%d,"bad_body":%d,"checked":%d,' ..
      '"socket_errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},' ..
      '"latency_us":{"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"p99.9":%d,"max":%d},"first_bad":%s}\n',
      op, summary.requests, summary.duration, summary.bytes, n2, bad, chk,
      e.connect, e.read, e.write, e.timeout,
      latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency:percentile(99.9), latency.max, json_str(first)))
  end
end

return M

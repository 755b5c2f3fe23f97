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

-- Per-request latency, as each request took it (PER_REQUEST=1, set by bench/run.py for its
-- one-connection runs).  wrk's own percentiles are corrected for coordinated omission
-- (wrk 4.1 stats_correct: an answer slower than twice the mean cycle adds made-up samples
-- below it); these are not.  Timed with CLOCK_MONOTONIC through LuaJIT's ffi, just before
-- wrk's own start (after request() returns) and just after its end (response() runs after
-- wrk took its time), so each figure holds wrk's for that request.  They go to bench/run.py
-- as they are ("request_times_us", whole microseconds), which summarizes them as it does the
-- wire's (bench/wire.py).
local now_us = nil
if os.getenv("PER_REQUEST") == "1" then
  local ok, ffi = pcall(require, "ffi")
  if ok then
    ffi.cdef("typedef struct { long tv_sec; long tv_nsec; } bench_timespec; int clock_gettime(int, bench_timespec *);")
    local ts = ffi.new("bench_timespec")
    now_us = function()
      ffi.C.clock_gettime(1, ts)  -- CLOCK_MONOTONIC
      return tonumber(ts.tv_sec) * 1000000 + tonumber(ts.tv_nsec) / 1000
    end
  end
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
    took = {}  -- per-request latencies (PER_REQUEST)
    sent_at = nil
  end

  request = function()
    counter = counter + 1
    local r = wrk.format(nil, nil, nil, make_body())
    if now_us then sent_at = now_us() end
    return r
  end

  -- Every response is checked: status, then the body (no error "__type", op-specific shape).
  response = function(status, headers, body)
    if now_us and sent_at then
      took[#took + 1] = math.floor(now_us() - sent_at + 0.5)
      sent_at = nil
    end
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
    local per_request = {}
    for _, t in ipairs(threads) do
      if now_us then
        for _, v in ipairs(t:get("took") or {}) do per_request[#per_request + 1] = v end
      end
      n2 = n2 + (t:get("non2xx") or 0)
      bad = bad + (t:get("badbody") or 0)
      chk = chk + (t:get("checked") or 0)
      if first == "" then first = t:get("first_bad") or "" end
    end
    local e = summary.errors
    io.write(string.format(
      'BENCHJSON {"op":"%s","requests":%d,"duration_us":%d,"bytes":%d,"non2xx":%d,"bad_body":%d,"checked":%d,' ..
      '"socket_errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},' ..
      '"latency_us":{"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"p99.9":%d,"max":%d},"request_times_us":%s,' ..
      '"first_bad":%s}\n',
      op, summary.requests, summary.duration, summary.bytes, n2, bad, chk,
      e.connect, e.read, e.write, e.timeout,
      latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency:percentile(99.9), latency.max, now_us and ("[" .. table.concat(per_request, ",") .. "]") or "null", json_str(first)))
  end
end

return M

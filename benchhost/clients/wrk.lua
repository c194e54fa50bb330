-- wrk.lua: make wrk 4.1 send n requests in total, then stop, and write
-- its figures as JSON. Run by benchhost.clients.wrk, which passes, in the environment:
--   BENCH_WRK_N        requests in total (split over the threads)
--   BENCH_WRK_THREADS  wrk's -t
--   BENCH_WRK_C        wrk's -c (for the latency correction interval below)
--   BENCH_WRK_OUT      the JSON file done() writes
--   BENCH_WRK_DONE     prefix of the marker file each thread creates (PREFIX<id>)
--                      when it has its share
--   BENCH_WRK_REQUESTS a user's app's routes (benchhost.clients.wrk writes them as a
--                      Lua file: a list of {name, method, path, headers, body, expect,
--                      weight}); absent for the built-in app (wrk's GET of the url)
--   BENCH_WRK_SEED     the mix's seed (each thread adds its id)
--
-- Why it is built this way (wrk 4.1.0, src/wrk.c and src/script.c):
-- * wrk only knows a duration (-d). Each thread counts its own responses in
--   response() and calls wrk.thread:stop() when it has its share; -d is only
--   the cap (bench time_limit).
-- * Every thread runs this file in its own Lua state: counters are per
--   thread, and the main state (setup, done) reaches them only through
--   thread:set / thread:get. Hence the share is handed over in setup().
-- * wrk's main thread sleeps the whole -d even when every thread has
--   stopped. The marker files tell benchhost.clients.wrk that all threads are done;
--   it then sends SIGINT, which ends that sleep (wrk's own Ctrl-C handler).
-- * wrk's summary.duration therefore ends when the signal arrives, a few ms
--   late. With LuaJIT's ffi (Debian's wrk) the thread that reaches its share
--   notes the monotonic time, and duration_us runs from setup() of the first
--   thread (just before wrk starts it) to the last thread's share.
-- * wrk adds synthetic samples to its latency histogram before done() for
--   responses slower than twice the interval it expects per connection
--   (runtime / (requests / c)): its coordinated-omission correction. The JSON
--   gives that interval so the report can say when percentiles include it.
-- * latency_hist_us: the histogram itself, [[µs, count], ...] (synthetic samples
--   included, as in wrk's percentiles), so that the report can merge several
--   load hosts' runs: the union's percentiles are not a function of each
--   part's. wrk's stats object has one way to it (src/script.c): #latency is
--   the number of distinct values (stats_popcount) and latency(i) the i-th and
--   its count (stats_value_at); each call scans the histogram from its min, so
--   the dump costs up to #latency x (max - min) steps (measured on a laptop:
--   1.15e10 in 2.2 s, so HIST_BUDGET is about a second). Past it the field is
--   null and the report falls back to a bound (benchreport.summary).
-- * A user's app: one route is wrk's static request (wrk.method, wrk.path,
--   wrk.headers, wrk.body), each answer judged against its expect (unexpected,
--   exact). The mix (several routes) is a request() function that picks a
--   route by weight (math.random, seeded per thread) from requests formatted
--   once; response() is not told which request it answers (nor which
--   connection), so the mix's answers are judged by their counts: per status,
--   the answers beyond the requests sent that expect it are unexpected
--   ("unexpected_from": "counts"; a route answering another route's expected
--   status goes unseen).
-- * status_counts: responses per HTTP status, {"200": k, "502": k, ...}, as
--   benchhost.clients.rate's rate.json has them: wrk itself only counts status > 399,
--   without the codes. Each thread counts into its own table (one lookup and
--   one store per response, a few ns in LuaJIT: lost in the noise of wrk's own
--   10 µs of CPU per keep-alive response, 70 µs per HTTP/1.0 one, measured
--   against a local nginx); done() adds them up through thread:get, which
--   copies a table from the thread's Lua state.

local ok_ffi, ffi = pcall(require, "ffi")
local now_us = function() return nil end
if ok_ffi then
  ffi.cdef [[
    typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
    int clock_gettime(int clk_id, bench_timespec *tp);
  ]]
  local ts = ffi.new("bench_timespec")
  now_us = function()
    ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
    return tonumber(ts.tv_sec) * 1000000 + math.floor(tonumber(ts.tv_nsec) / 1000)
  end
end

local total = tonumber(os.getenv("BENCH_WRK_N") or "")
local nthreads = tonumber(os.getenv("BENCH_WRK_THREADS") or "")
local connections = tonumber(os.getenv("BENCH_WRK_C") or "")
local done_prefix = os.getenv("BENCH_WRK_DONE")
local routes_file = os.getenv("BENCH_WRK_REQUESTS")
local routes = routes_file and dofile(routes_file) or nil
local mix_seed = tonumber(os.getenv("BENCH_WRK_SEED") or "") or 0
-- one route: the status every answer must have (nil: the built-in app, non-2xx only)
local expect = routes and #routes == 1 and routes[1].expect or nil

-- Main state only: the threads, in the order wrk created them.
local threads = {}
local started_us = nil

function setup(thread)
  local id = #threads
  if id == 0 then started_us = now_us() end
  table.insert(threads, thread)
  -- n over t threads: the first n % t threads take one more.
  local share = math.floor(total / nthreads)
  if id < total % nthreads then share = share + 1 end
  thread:set("bench_id", id)
  thread:set("bench_share", share)
end

-- Requests in HTTP/1.0, as ab sends them: a connection per request, the same
-- work for both clients. Servers answer a 1.0 request in 1.0 or with
-- "Connection: close", so wrk reconnects cleanly; to an HTTP/1.1 request,
-- some (uWSGI's --http-socket) answer and then close without saying so,
-- which wrk counts as a read error on a request that succeeded. wrk.init
-- builds its one static request with wrk.format after calling this.
-- The mix's requests, formatted once per thread, and where each route's weight ends.
local prepared, ends = {}, {}

local function copy(t)
  local out = {}
  for k, v in pairs(t or {}) do out[k] = v end
  return out
end

function init(args)
  local format = wrk.format
  wrk.format = function(...)
    return (format(...):gsub("^(%S+ %S+) HTTP/1%.1\r\n", "%1 HTTP/1.0\r\n", 1))
  end
  if routes and #routes == 1 then
    local r = routes[1]
    wrk.method, wrk.path, wrk.body = r.method, r.path, r.body
    for name, value in pairs(r.headers or {}) do wrk.headers[name] = value end
  elseif routes then
    local total = 0
    for i, r in ipairs(routes) do
      prepared[i] = wrk.format(r.method, r.path, copy(r.headers), r.body)
      total = total + r.weight
      ends[i] = total
    end
    math.randomseed(mix_seed + (bench_id or 0))
  end
end

-- Thread state: the requests sent per expected status (the mix).
sent_by_expect = {}

-- Defined for the mix only: wrk sends its one static request when there is no request().
if routes and #routes > 1 then
  function request()
    local x, i = math.random() * ends[#ends], 1
    while i < #ends and ends[i] <= x do i = i + 1 end
    local code = routes[i].expect
    sent_by_expect[code] = (sent_by_expect[code] or 0) + 1
    return prepared[i]
  end
end

-- Thread states: globals, so that thread:get can read them in done().
responses = 0
non2xx = 0
unexpected = 0
reached_us = false
status_counts = {}

function response(status, headers, body)
  responses = responses + 1
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
  if expect and status ~= expect then unexpected = unexpected + 1 end
  status_counts[status] = (status_counts[status] or 0) + 1
  if responses == bench_share then
    reached_us = now_us() or true
    wrk.thread:stop()
    if done_prefix then
      local f = io.open(done_prefix .. bench_id, "w")
      if f then f:close() end
    end
  end
end

local function num(x)
  if x == nil or x ~= x or x == math.huge or x == -math.huge then return "null" end
  return string.format("%.0f", x)
end

local HIST_BUDGET = 5e9

local function histogram(latency, have)
  if not have then return "[]" end
  local distinct = #latency
  if distinct * (latency.max - latency.min + 1) > HIST_BUDGET then return "null" end
  local out = {}
  for i = 1, distinct do
    local value, count = latency(i)
    out[i] = "[" .. num(value) .. ", " .. num(count) .. "]"
  end
  return "[" .. table.concat(out, ", ") .. "]"
end

-- {"200": k, ...}, the codes in order: the threads' tables added up.
local function statuses(counts)
  local codes, out = {}, {}
  for code in pairs(counts) do codes[#codes + 1] = code end
  table.sort(codes)
  for i, code in ipairs(codes) do out[i] = '"' .. num(code) .. '": ' .. num(counts[code]) end
  return "{" .. table.concat(out, ", ") .. "}"
end

function done(summary, latency, requests)
  local counted, non2xx_total, reached, last_us = 0, 0, 0, nil
  local per_thread, by_status, sent, wrong = {}, {}, {}, 0
  for i, t in ipairs(threads) do
    local r, x, at = t:get("responses"), t:get("non2xx"), t:get("reached_us")
    counted, non2xx_total, wrong = counted + r, non2xx_total + x, wrong + t:get("unexpected")
    for code, k in pairs(t:get("status_counts") or {}) do by_status[code] = (by_status[code] or 0) + k end
    for code, k in pairs(t:get("sent_by_expect") or {}) do sent[code] = (sent[code] or 0) + k end
    if at then
      reached = reached + 1
      if type(at) == "number" and (last_us == nil or at > last_us) then last_us = at end
    end
    per_thread[i] = string.format('{"share": %s, "responses": %s}', num(t:get("bench_share")), num(r))
  end
  local duration_us, duration_from = summary.duration, "wrk"
  if reached == #threads and last_us and started_us then
    duration_us, duration_from = last_us - started_us, "threads"
  end
  local unexpected_from = "answers"
  if routes and #routes > 1 then  -- the mix: per status, the answers beyond the requests that expect it
    wrong, unexpected_from = 0, "counts"
    for code, k in pairs(by_status) do wrong = wrong + math.max(0, k - (sent[code] or 0)) end
  end
  local e = summary.errors
  local have = summary.requests > 0
  local function pct(p) return have and num(latency:percentile(p)) or "null" end
  local per_conn = connections and math.floor(summary.requests / connections) or 0
  local interval = per_conn > 0 and math.floor(summary.duration / per_conn) or nil
  local out = {
    '"n": ' .. num(total),
    '"threads": ' .. num(#threads),
    '"connections": ' .. num(connections),
    '"requests": ' .. num(summary.requests),
    '"responses_counted": ' .. num(counted),
    '"threads_reached_share": ' .. num(reached),
    '"duration_us": ' .. num(duration_us),
    '"duration_from": "' .. duration_from .. '"',
    '"wrk_duration_us": ' .. num(summary.duration),
    '"bytes": ' .. num(summary.bytes),
    string.format('"errors": {"connect": %s, "read": %s, "write": %s, "status": %s, "timeout": %s}',
      num(e.connect), num(e.read), num(e.write), num(e.status), num(e.timeout)),
    '"non_2xx": ' .. num(non2xx_total),
    '"status_counts": ' .. statuses(by_status),
    '"unexpected": ' .. (routes and num(wrong) or "null"),
    '"unexpected_from": ' .. (routes and ('"' .. unexpected_from .. '"') or "null"),
    '"sent_by_expect": ' .. (routes and #routes > 1 and statuses(sent) or "null"),
    string.format('"latency_us": {"p50": %s, "p90": %s, "p99": %s, "p99_9": %s, "min": %s, "max": %s, "mean": %s}',
      pct(50), pct(90), pct(99), pct(99.9), have and num(latency.min) or "null",
      have and num(latency.max) or "null", have and num(latency.mean) or "null"),
    '"correction_interval_us": ' .. num(interval),
    '"latency_hist_us": ' .. histogram(latency, have),
    '"per_thread": [' .. table.concat(per_thread, ", ") .. ']',
  }
  local text = "{" .. table.concat(out, ", ") .. "}\n"
  local path = os.getenv("BENCH_WRK_OUT")
  local f = path and io.open(path, "w")
  if f then
    f:write(text)
    f:close()
  else
    io.stderr:write("wrk.lua: cannot write " .. tostring(path) .. "\n")
  end
end

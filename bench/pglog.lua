-- bench/pglog.lua — figures from a pgbench per-transaction log (-l).
--
--   taskshell bench/pglog.lua NAME WARM QUOTA NSCRIPTS LOGFILE
--
-- Log lines: client_id transaction_no latency_us script_no epoch_s epoch_us
-- (the epoch pair is when the transaction ended).  Each script's k-th run
-- is a warm-up for k <= WARM, measured for WARM < k <= WARM + QUOTA, and
-- sends nothing after that (see pgbench_gen.lua), so counting each
-- script's runs in log order tells them apart.
-- ops/s = measured transactions / the sum of their own durations, each
-- measured from the end of the transaction before it (so pgbench's time
-- between transactions counts, its connection time and the warm-up and
-- idle runs do not).  Percentiles are nearest-rank, in µs.
local name, warm, quota, nscripts, path = ...
warm, quota, nscripts = tonumber(warm), tonumber(quota), tonumber(nscripts)
assert(warm and quota and nscripts and path, "usage: pglog.lua NAME WARM QUOTA NSCRIPTS LOGFILE")

local rows = {}
for line in io.lines(path) do
  local tx, us, script, s, su = line:match("^%d+ (%d+) (%d+) (%d+) (%d+) (%d+)")
  if tx then
    rows[#rows + 1] = { tonumber(tx), tonumber(us), tonumber(script), tonumber(s) + tonumber(su) / 1e6 }
  end
end
table.sort(rows, function(a, b) return a[1] < b[1] end)

local runs, lat, busy, prev_end = {}, {}, 0, nil
for _, r in ipairs(rows) do
  local k = (runs[r[3]] or 0) + 1
  runs[r[3]] = k
  if k > warm and k <= warm + quota then
    assert(prev_end, name .. ": a measured transaction came first")
    lat[#lat + 1] = r[2]
    busy = busy + (r[4] - prev_end)
  end
  prev_end = r[4]
end
for s = 0, nscripts - 1 do
  if (runs[s] or 0) < warm + quota then
    error(string.format("%s: script %d ran %d times, fewer than %d: raise pgbench -t", name, s,
                        runs[s] or 0, warm + quota))
  end
end
assert(#lat == nscripts * quota, name .. ": measured count mismatch")
table.sort(lat)
local function pct(p)
  local k = math.max(1, math.ceil(p * #lat))
  return lat[k]
end
io.write(string.format("%s.n=%d\n%s.ops=%.3f\n%s.p50=%.3f\n%s.p99=%.3f\n",
  name, #lat, name, #lat / busy, name, pct(0.50), name, pct(0.99)))

-- bench/net_report.lua — the network table of `make bench`, from the
-- net.RTT.* key=value lines bench/net.sh collected (medians where a figure
-- was measured more than once).  Targets and PASS/MISS live here.
--
--   taskshell bench/net_report.lua NETFILE
--
-- Ratios:
--   per call   link RTT x calls / time: 1.0 is one round trip per call with
--              nothing else; the link RTT is the line's measured SELECT 1
--              (pgbench, median), so the proxy's own cost is the link's
--   x          pgbench's time / taskdb's time on the same work: higher is
--              better; pgbench runs in pipelines of 100 (its practical limit)

local results = dofile((arg[0]:match("^(.*)/") or ".") .. "/results.lua")
local values, strings = results.read({ (...) })
local function median(key) return results.median(values[key]) end

local rtts = {}
for key in pairs(values) do
  local r = key:match("^net%.(%d+)%.nominal_ms$")
  if r then rtts[#rtts + 1] = tonumber(r) end
end
table.sort(rtts)

local out = {}
local function p(fmt, ...) out[#out + 1] = string.format(fmt, ...) end
local all_ok = true
local function verdict(ok)
  if ok == nil then return "n/a" end
  if not ok then all_ok = false end
  return ok and "PASS" or "MISS"
end
local function ms(x) return x and string.format("%.1f ms", x) or "-" end

p("network: the workload through bench/delayline (a loopback TCP proxy holding each direction for half")
p("the round trip, chunk by chunk), taskdb on database net, pgbench -M prepared on net_pg (same statements,")
p("from build/taskdb-sql), both with synchronous_commit = off; URL without sslmode (libpq's default)")
local checks = {}
for _, r in ipairs(rtts) do
  checks[#checks + 1] = string.format("%d ms line: %s (mean %s)", r,
    ms(median("net." .. r .. ".select1.median_ms")), ms(median("net." .. r .. ".select1.mean_ms")))
end
p("link check, SELECT 1 through the line (pgbench, median of 100): %s", table.concat(checks, "; "))
p("per call = link RTT x calls / time (1.00: one round trip per call, nothing else); x = pgbench time / taskdb time")
p("")

local hdr = "%-50s %6s %18s %6s %30s %7s %9s  %s"
p(hdr, "workload", "line", "taskdb", "rt", "baseline", "ratio", "target", "result")
p("%s", string.rep("-", 140))

local function mode_note(r, phase)
  local m = strings["net." .. r .. "." .. phase .. ".mode"]
  if m == "serial" then return " serial", " (serial: no db:pipeline yet)" end
  if m then return " " .. m, "" end
  return "", ""
end

for _, r in ipairs(rtts) do
  local k = "net." .. r .. "."
  local link = median(k .. "select1.median_ms")
  -- dependent calls
  local td, calls = median(k .. "dependent.ms"), median(k .. "dependent.calls")
  local pg, pgcalls = median(k .. "pg.dependent.ms"), median(k .. "pg.dependent.calls")
  local ratio = td and link and link * calls / td
  local pgratio = pg and link and link * pgcalls / pg
  p(hdr, "200 dependent create-then-get calls", r .. " ms", ms(td), median(k .. "dependent.rt") or "-",
    pg and string.format("pgbench %s, %.2f", ms(pg), pgratio) or "-",
    ratio and string.format("%.2f", ratio) or "-", ">= 0.95", verdict(ratio and ratio >= 0.95))
  -- complete every open task: pipeline (or serial) and update_tasks
  local pgc = median(k .. "pg.complete.ms")
  local tdc = median(k .. "complete.ms")
  local mode, note = mode_note(r, "complete")
  local x = pgc and tdc and pgc / tdc
  p(hdr, "complete every open task of 500: each_task+toggle", r .. " ms", ms(tdc) .. mode,
    median(k .. "complete.rt") or "-", "pgbench pipeline " .. ms(pgc),
    x and string.format("%.2fx", x) or "-", ">= 1.00x", verdict(x and x >= 1.0) .. note)
  local tds = median(k .. "set.ms")
  x = pgc and tds and pgc / tds
  p(hdr, "complete every open task of 500: one update_tasks", r .. " ms", ms(tds),
    median(k .. "set.rt") or "-", "pgbench pipeline " .. ms(pgc),
    x and string.format("%.2fx", x) or "-", ">= 5.00x", verdict(x and x >= 5.0))
  -- independent creates
  local pgi, tdi = median(k .. "pg.create.ms"), median(k .. "independent.ms")
  mode, note = mode_note(r, "independent")
  x = pgi and tdi and pgi / tdi
  p(hdr, "500 independent create_task", r .. " ms", ms(tdi) .. mode,
    median(k .. "independent.rt") or "-", "pgbench pipeline " .. ms(pgi),
    x and string.format("%.2fx", x) or "-", ">= 1.00x", verdict(x and x >= 1.0) .. note)
end
p("")

-- Round trips per call: every line must meet the target.
local function rt(r, name) return median("net." .. r .. ".roundtrips." .. name) end
local function diff(a, b) return function(r)
  local x, y = rt(r, a), rt(r, b)
  return x and y and x - y
end end
local rhdr = "%-56s %-12s %-34s %s"
local cols = {}
for _, r in ipairs(rtts) do cols[#cols + 1] = r .. " ms" end
p(rhdr, "round trips per call, counted by the line", table.concat(cols, " / "), "target", "result")
p("%s", string.rep("-", 112))
-- value(r): the count on line r; ok(v, r): whether it meets the target (nil: a figure only).
local function rt_row(label, value, target, ok, signed)
  local shown, met = {}, ok and true
  for _, r in ipairs(rtts) do
    local v = value(r)
    shown[#shown + 1] = v == nil and "-" or (signed and v >= 0 and "+" .. v or tostring(v))
    if ok then
      if v == nil then met = nil elseif met ~= nil and not ok(v, r) then met = false end
    end
  end
  p(rhdr, label, table.concat(shown, " / "), target, ok and verdict(met) or "")
end
rt_row("connect + init_db on an existing table", function(r) return rt(r, "connect_init") end,
  "<= 3", function(v) return v <= 3 end)
rt_row("  connect alone (taskdb.connect)", function(r) return rt(r, "connect") end, "(figure)")
rt_row("create_tasks of 100 rows", function(r) return rt(r, "create_tasks") end,
  "<= 3", function(v) return v <= 3 end)
rt_row("create_tasks of 10,000 rows", function(r) return rt(r, "create_tasks_10000") end,
  "<= 3", function(v) return v <= 3 end)
rt_row("a transaction around one create_task: added", diff("transaction_create_task", "create_task"),
  "<= +1", function(v) return v <= 1 end, true)
rt_row("first use of a statement kind on a connection: added", diff("first_get", "get"),
  "+0", function(v) return v <= 0 end, true)
rt_row("a read after the server closed the idle session", function(r) return rt(r, "idle_read") end,
  "<= connect alone + 1 (the read)", function(v, r) return rt(r, "connect") and v <= rt(r, "connect") + 1 end)
p("")
p("network: %s", all_ok and "every target met" or "some targets MISSED (see above)")
print(table.concat(out, "\n"))

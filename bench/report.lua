-- bench/report.lua — the one table of `make bench`, from the key=value
-- files bench/run.sh collected.  Medians across runs; targets and
-- PASS/MISS live here, in the benchmark's output only (never in tests).
--
--   taskshell bench/report.lua FILE...
--
-- File kinds by name: *.td (workload.lua run: keys get "td." prefixed),
-- everything else as written (pg.*, copy.*, idle.*, each.*, getall.*,
-- small.*, big.*, startup.*, trace.*, machine.*, info.*).

local results = dofile((arg[0]:match("^(.*)/") or ".") .. "/results.lua")
local values, strings = results.read({ ... }, function(path) return path:match("%.td$") and "td." or "" end)
local function median(key) return results.median(values[key]) end

local function count(key) return values[key] and #values[key] or 0 end

local function fmt_int(x)
  if not x then return "-" end
  local s = string.format("%d", math.floor(x + 0.5))
  local out = s:reverse():gsub("(%d%d%d)", "%1,"):reverse()
  return (out:gsub("^,", ""))
end
local function fmt_f(x, d) return x and string.format("%." .. (d or 1) .. "f", x) or "-" end
local function fmt_x(x) return x and string.format("%.2fx", x) or "-" end
local function verdict(ok) if ok == nil then return "n/a" end return ok and "PASS" or "MISS" end

local out = {}
local function p(fmt, ...) out[#out + 1] = string.format(fmt, ...) end

p("taskdb benchmark: standard workload W1 (bench/WORKLOAD.md)%s",
  strings["info.quick"] == "1" and "  ** BENCH_QUICK smoke run: reduced counts, not comparable **" or "")
p("machine: %s; %s CPUs; %s memory; kernel %s",
  strings["machine.cpu"] or "?", strings["machine.nproc"] or "?",
  strings["machine.mem"] or "?", strings["machine.kernel"] or "?")
p("load average (1/5/15 min) before the run: %s; after: %s (the run itself keeps 1-2 CPUs busy; more before it means other work shared the machine)",
  strings["machine.load_start"] or "?", strings["machine.load_end"] or "?")
p("versions: %s | %s | %s | %s | libpq %s | %s",
  strings["machine.server"] or "?", strings["machine.pgbench"] or "?",
  strings["machine.taskshell"] or "?", strings["machine.lua"] or "?",
  strings["machine.libpq"] or "?", strings["machine.cc"] or "?")
p("server: fresh PostgreSQL cluster, default settings, Unix socket; taskdb on database bench, pgbench on bench_pg, " ..
  "both with synchronous_commit = off (ALTER DATABASE ... SET synchronous_commit = off)")
p("method: each phase runs with pgbench, then with taskdb, side by side; untimed VACUUM ANALYZE of both tables before each phase; %s",
  strings["info.pin"] == "same" and "server and clients pinned to CPU 1 (BENCH_PIN=same)"
  or strings["info.pin"] == "split" and "server pinned to CPU 0, clients to CPU 1 (BENCH_PIN=split)"
  or "no CPU pinning (BENCH_PIN=0)")
p("runs: %s (median per figure); counts: %s single ops, %s lists, %s bulk rows; clock: %s; taskdb prepared statements: %s",
  strings["info.runs"] or "?", fmt_int(median("td.create.n")), fmt_int(median("td.list.n")),
  fmt_int(median("td.bulk.n")), strings["td.clock"] or "?", strings["td.prepared_statements"] or "?")
local function sum(key)
  local t = 0
  for _, v in ipairs(values[key] or {}) do t = t + v end
  return values[key] and t or nil
end
p("autovacuum/autoanalyze of public.tasks during the runs (VACUUM ANALYZE runs untimed before each phase): taskdb %s, pgbench %s",
  sum("td.autovacuum.td") or "?", sum("autovacuum.pg") or "?")
p("")

local hdr = "%-8s %12s %12s %7s %9s %9s %9s %9s %8s  %-28s %s"
p(hdr, "phase", "taskdb op/s", "pgbench op/s", "ratio", "td p50us", "td p99us", "pg p50us", "pg p99us",
  "p99 rat", "target", "result")
p("%s", string.rep("-", 136))
local all_ok = true
local function row(name, min_ratio, max_p99_ratio)
  local td, pg = median("td." .. name .. ".ops"), median("pg." .. name .. ".ops")
  local td50, td99 = median("td." .. name .. ".p50"), median("td." .. name .. ".p99")
  local pg50, pg99 = median("pg." .. name .. ".p50"), median("pg." .. name .. ".p99")
  local ratio = td and pg and td / pg
  local p99r = td99 and pg99 and td99 / pg99
  local target, ok
  if max_p99_ratio then
    target = string.format(">= %.2fx ops, p99 <= %.2fx", min_ratio, max_p99_ratio)
    if ratio and p99r then
      local a, b = ratio >= min_ratio, p99r <= max_p99_ratio
      ok = a and b
      target = target
      if not ok then
        target = target .. (a and "" or " [ops]") .. (b and "" or " [p99]")
      end
    end
  else
    target = string.format(">= %.2fx ops", min_ratio)
    if ratio then ok = ratio >= min_ratio end
  end
  if ok == false then all_ok = false end
  p(hdr, name, fmt_int(td), fmt_int(pg), fmt_x(ratio), fmt_f(td50), fmt_f(td99), fmt_f(pg50),
    fmt_f(pg99), fmt_x(p99r), target, verdict(ok))
end
row("create", 1.0, 1.25)
row("get", 1.0, 1.25)
row("list", 0.8, nil)
row("update", 1.0, 1.25)
row("toggle", 1.0, 1.25)
row("delete", 1.0, 1.25)
-- The ratio of each run's own pair (the two sides ran back to back): how
-- far machine noise moved the figure between runs.
for _, name in ipairs({ "create", "get", "list", "update", "toggle", "delete" }) do
  local td, pg, each = values["td." .. name .. ".ops"], values["pg." .. name .. ".ops"], {}
  for i = 1, math.min(td and #td or 0, pg and #pg or 0) do each[i] = fmt_x(td[i] / pg[i]) end
  if #each > 1 then p("  %-6s ratio run by run: %s", name, table.concat(each, " ")) end
end
p("")

-- Tracing: the same operations with a trace function off and on.  Off is
-- the path of every figure above; its cost before and after tracing was
-- added is in bench/RESULTS.md (instruction counts, bench/profile.sh).
if median("trace.off.get.ops") then
  p("trace function off vs on: the single operations again, %s each, on two connections taking turns " ..
    "(blocks of 500); the one with a trace function got %s events",
    fmt_int(median("trace.off.get.n")), fmt_int(median("trace.events")))
  local th = "%-8s %12s %12s %7s %9s %9s %9s %9s"
  p(th, "phase", "off op/s", "on op/s", "on/off", "off p50us", "on p50us", "off p99us", "on p99us")
  for _, name in ipairs({ "create", "get", "update", "toggle", "delete" }) do
    local off, on = median("trace.off." .. name .. ".ops"), median("trace.on." .. name .. ".ops")
    p(th, name, fmt_int(off), fmt_int(on), fmt_x(off and on and on / off),
      fmt_f(median("trace.off." .. name .. ".p50")), fmt_f(median("trace.on." .. name .. ".p50")),
      fmt_f(median("trace.off." .. name .. ".p99")), fmt_f(median("trace.on." .. name .. ".p99")))
  end
  p("")
end

local function line(label, value, target, ok)
  if ok == false then all_ok = false end
  p("%-44s %-34s %-30s %s", label, value, target, verdict(ok))
end

local bulk, copy = median("td.bulk.rate"), median("copy.rate")
local single = median("td.single.ops")
line("bulk create_tasks (one call), tasks/s", fmt_int(bulk), ">= 250,000", bulk and bulk >= 250000)
line("psql \\copy of the same rows, tasks/s", fmt_int(copy), "", nil)
line("bulk / psql \\copy", fmt_x(bulk and copy and bulk / copy), ">= 0.85x",
     bulk and copy and bulk / copy >= 0.85)
line("single create_task loop, tasks/s",
     string.format("%s (p50 %s us, p99 %s us)", fmt_int(single), fmt_f(median("td.single.p50")),
                   fmt_f(median("td.single.p99"))),
     bulk and single and string.format("bulk is %.1fx faster", bulk / single) or "", nil)

local idle, each = median("idle.vmhwm_kb"), median("each.vmhwm_kb")
local growth_kb = idle and each and each - idle
line(string.format("each_task over %s rows: peak RSS growth", fmt_int(median("each.n"))),
     growth_kb and string.format("%.2f MiB (idle %.1f, iter %.1f MiB)", growth_kb / 1024, idle / 1024, each / 1024) or "-",
     "<= idle + 2 MiB", growth_kb and growth_kb <= 2048)
local getall = median("getall.vmhwm_kb")
line(string.format("get_tasks of %s rows: peak RSS", fmt_int(median("getall.n"))),
     getall and string.format("%.1f MiB (%.2f s)", getall / 1024, median("getall.seconds")) or "-",
     "<= 60 MiB", getall and getall <= 60 * 1024)
local run_hwm = median("td.run.vmhwm_kb")
line("peak RSS of the workload process (whole run)",
     run_hwm and string.format("%.1f MiB", run_hwm / 1024) or "-", "(figure only)", nil)

-- Growth: per-operation cost with many other tasks in the table.  The
-- verdict uses the median latency (p50): the mean (1 / ops/s) is shown too,
-- but on a shared 2-core VM it mostly measures scheduling noise (p99s of the
-- same state vary several-fold between repetitions).
for _, what in ipairs({ "get", "list" }) do
  local s50, b50 = median("small." .. what .. ".p50"), median("big." .. what .. ".p50")
  local s, b = median("small." .. what .. ".ops"), median("big." .. what .. ".ops")
  local r50 = s50 and b50 and b50 / s50
  local r = s and b and s / b
  line(string.format("growth: %s, %s vs %s rows in table", what,
                     strings["info.growth_big"] or "?", strings["info.growth_small"] or "?"),
       r50 and string.format("p50 %.2fx (%s vs %s us); mean %.2fx (%s vs %s op/s)", r50,
                             fmt_f(b50), fmt_f(s50), r, fmt_int(b), fmt_int(s)) or "-",
       "p50 <= 1.20x", r50 and r50 <= 1.2)
  local ps50, pb50 = median("pgsmall." .. what .. ".p50"), median("pgbig." .. what .. ".p50")
  local ps, pb = median("pgsmall." .. what .. ".ops"), median("pgbig." .. what .. ".ops")
  if ps50 and pb50 and ps and pb then
    line("  control: pgbench, same statements",
         string.format("p50 %.2fx (%s vs %s us); mean %.2fx (%s vs %s op/s)", pb50 / ps50,
                       fmt_f(pb50), fmt_f(ps50), ps / pb, fmt_int(pb), fmt_int(ps)),
         r50 and string.format("(taskdb's p50 ratio / this: %.2f)", r50 / (pb50 / ps50)) or "", nil)
  end
end

local st = median("startup.ms")
line(string.format("start-up: taskshell -e connect+init_db (median of %s)", strings["startup.runs"] or "?"),
     st and string.format("%.1f ms (min %.1f; /bin/sh exec alone %.1f)", st, median("startup.min_ms"), median("startup.sh_ms")) or "-",
     "<= 20 ms", st and st <= 20)
p("")
p("overall: %s", all_ok and "every target met" or "some targets MISSED (see above)")
print(table.concat(out, "\n"))

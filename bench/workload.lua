-- bench/workload.lua — the taskdb side of the standard workload W1
-- (bench/WORKLOAD.md), driven through the public Lua API only.
-- Run by bench/run.sh under build/taskshell; DATABASE_URL names the bench
-- database (whose synchronous_commit = off is set by run.sh with psql).
--
--   taskshell bench/workload.lua run N NLIST NBULK NSINGLE SEED
--       the timed phases on an empty table; leaves the bulk user's rows
--   taskshell bench/workload.lua idle            RSS of a connected, idle process
--   taskshell bench/workload.lua each USER N     RSS after each_task over USER's rows
--   taskshell bench/workload.lua getall USER N   RSS after get_tasks of USER's rows
--   taskshell bench/workload.lua growth N NLIST SEED   get/list on the rows present
--   taskshell bench/workload.lua startup RUNS TASKSHELL   process start-up time
--   taskshell bench/workload.lua trace N SEED    single operations, trace function off vs on
--
-- Every mode prints `key=value` lines on stdout (read by bench/report.lua).
-- Latencies are per call, from a monotonic clock with ns resolution, in µs.

local taskdb = require("taskdb")

-- A monotonic clock in seconds.  os.clock() is CPU time and os.time()
-- counts whole seconds; the host ships one (taskshell.host.clock), and
-- lua-system (a dependency of lua-busted) or lua-posix have one too.
local now, clock_name
do
  local ok, host = pcall(require, "taskshell.host")
  if ok and type(host) == "table" and host.clock then
    now, clock_name = host.clock, "taskshell.host.clock (CLOCK_MONOTONIC)"
  else
    local oks, sys = pcall(require, "system")
    if oks and sys.monotime then
      now, clock_name = sys.monotime, "lua-system monotime (CLOCK_MONOTONIC)"
    else
      local okp, ptime = pcall(require, "posix.time")
      if okp and ptime.clock_gettime then
        now = function()
          local t = ptime.clock_gettime(ptime.CLOCK_MONOTONIC)
          return t.tv_sec + t.tv_nsec / 1e9
        end
        clock_name = "lua-posix clock_gettime (CLOCK_MONOTONIC)"
      else
        error("bench: no monotonic clock with sub-ms resolution (need taskshell.host, lua-system or lua-posix)")
      end
    end
  end
end

-- Fixed 60-character ASCII description (W1); run.sh passes the same one to
-- pgbench and psql \copy.
local DESC = os.getenv("BENCH_DESC") or ("benchmark description " .. string.rep("0", 38))
assert(#DESC == 60)
local NUSERS = 200
local BULK_USER = "bench-bulk"
local SINGLE_USER = "bench-single"

local function emit(key, value)
  if math.type(value) == "float" then
    io.write(string.format("%s=%.3f\n", key, value))
  else
    io.write(string.format("%s=%s\n", key, tostring(value)))
  end
end

-- This process's peak and current resident memory, as <prefix>.vmhwm_kb
-- and <prefix>.vmrss_kb.
local function emit_memory(prefix)
  local f = assert(io.open("/proc/self/status"))
  local s = f:read("a")
  f:close()
  emit(prefix .. ".vmhwm_kb", tonumber(s:match("VmHWM:%s*(%d+)")))
  emit(prefix .. ".vmrss_kb", tonumber(s:match("VmRSS:%s*(%d+)")))
end

local function percentile(sorted, p)
  local n = #sorted
  if n == 0 then return 0 end
  local k = math.ceil(p * n)
  if k < 1 then k = 1 end
  return sorted[k]
end

-- Reports one single-operation phase: ops/s over the whole loop, p50/p99 µs.
local function report(name, n, elapsed, lat)
  table.sort(lat)
  emit(name .. ".n", n)
  emit(name .. ".ops", n / elapsed)
  emit(name .. ".p50", percentile(lat, 0.50) * 1e6)
  emit(name .. ".p99", percentile(lat, 0.99) * 1e6)
end

-- Before each phase (never inside one): run.sh's BENCH_BETWEEN command
-- with the phase's name, which runs the same phase with pgbench on its own
-- database, so both clients meet the same machine conditions, and then
-- vacuums both tables, so autovacuum does not wake at a random moment
-- inside a timed phase with the dead rows of the earlier ones.
local function settle(phase)
  local cmd = os.getenv("BENCH_BETWEEN")
  if cmd and cmd ~= "" and not os.execute(cmd .. " " .. phase) then
    error("bench: BENCH_BETWEEN failed: " .. cmd .. " " .. phase)
  end
end

local function user_name(i) return "bench-user-" .. (i % NUSERS) end

local function connect()
  local db = taskdb.connect()
  return db
end

local modes = {}

-- The timed phases, in W1 order, on an empty table.
local function run_all(n, nlist, nbulk, nsingle, seed)
  n, nlist, nbulk, nsingle, seed =
    tonumber(n), tonumber(nlist), tonumber(nbulk), tonumber(nsingle), tonumber(seed)
  local db = connect()
  db:init_db()
  local info = db:info()
  emit("clock", clock_name)
  emit("prepared_statements", tostring(info.prepared))
  emit("server_version", info.server_version)
  emit("backend_pid", info.backend_pid)

  local users, names = {}, {}
  for u = 0, NUSERS - 1 do
    names[u] = user_name(u)
    users[u] = db:user(names[u])
  end
  -- Strings are made before the clock starts: building them is not the
  -- library's cost.  The argument tables are made inside the timed calls.
  local titles, new_titles = {}, {}
  for i = 0, n - 1 do titles[i] = "task " .. i end

  local ids = {}
  local function phase(name, count, body)
    local l = {}
    settle(name)
    local start = now()
    for j = 1, count do
      local s = now()
      body(j)
      l[j] = now() - s
    end
    local elapsed = now() - start
    report(name, count, elapsed, l)
    return elapsed
  end

  -- create: task i = 0 .. n-1.
  phase("create", n, function(j)
    local i = j - 1
    local task = db:create_task{ user_id = names[i % NUSERS], title = titles[i], description = DESC }
    ids[i] = task.id
  end)

  -- get: ids drawn with a fixed seed, each through its owner's handle.
  math.randomseed(seed)
  local pick = {}
  for j = 1, n do pick[j] = math.random(0, n - 1) end
  phase("get", n, function(j)
    local i = pick[j]
    if users[i % NUSERS]:get_task(ids[i]) == nil then error("get: task " .. ids[i] .. " missing") end
  end)

  -- list: all tasks of one user (n / 200 rows each), ordered by created_at.
  local lpick = {}
  for j = 1, nlist do lpick[j] = math.random(0, NUSERS - 1) end
  local expect = n // NUSERS
  phase("list", nlist, function(j)
    local page = users[lpick[j]]:get_tasks()
    if #page ~= expect then error("list: " .. #page .. " rows, expected " .. expect) end
  end)

  -- update: change one task's title, scoped.
  for j = 1, n do
    pick[j] = math.random(0, n - 1)
    new_titles[j] = "task " .. pick[j] .. " renamed"
  end
  phase("update", n, function(j)
    local i = pick[j]
    if users[i % NUSERS]:update_task(ids[i], { title = new_titles[j] }) == nil then
      error("update: task " .. ids[i] .. " missing")
    end
  end)

  -- toggle: scoped.
  for j = 1, n do pick[j] = math.random(0, n - 1) end
  phase("toggle", n, function(j)
    local i = pick[j]
    if users[i % NUSERS]:toggle_complete(ids[i]) == nil then
      error("toggle: task " .. ids[i] .. " missing")
    end
  end)

  -- delete: every task once, in a shuffled order (fixed seed).
  for j = 1, n do pick[j] = j - 1 end
  for j = n, 2, -1 do
    local k = math.random(1, j)
    pick[j], pick[k] = pick[k], pick[j]
  end
  phase("delete", n, function(j)
    local i = pick[j]
    if not users[i % NUSERS]:delete_task(ids[i]) then error("delete: task " .. ids[i] .. " missing") end
  end)
  pick, new_titles = nil, nil

  -- bulk: one create_tasks call; the list is built before the clock starts.
  local rows = {}
  for i = 0, nbulk - 1 do
    rows[i + 1] = { user_id = BULK_USER, title = "task " .. i, description = DESC }
  end
  settle("bulk")
  collectgarbage()
  local s = now()
  local got = db:create_tasks(rows)
  local bulk_elapsed = now() - s
  assert(#got == nbulk, "create_tasks returned " .. #got .. " ids")
  emit("bulk.n", nbulk)
  emit("bulk.seconds", bulk_elapsed)
  emit("bulk.rate", nbulk / bulk_elapsed)
  rows, got = nil, nil
  collectgarbage()

  -- single: the same kind of rows, one create_task call each (for comparison).
  local stitles = {}
  for i = 0, nsingle - 1 do stitles[i + 1] = "task " .. i end
  local single = db:user(SINGLE_USER)
  phase("single", nsingle, function(j)
    single:create_task{ title = stitles[j], description = DESC }
  end)

  emit_memory("run")
  db:close()
end

modes.run = run_all

-- A connected process that has done one round trip: the RSS baseline.
function modes.idle()
  local db = connect()
  local alice = db:user(BULK_USER)
  db:ping()
  emit_memory("idle")
  assert(alice)
  db:close()
end

function modes.each(user, expect)
  local db = connect()
  local h = db:user(user)
  db:ping()
  local n = 0
  local s = now()
  for task in h:each_task() do
    n = n + 1
    if task.id == nil then error("each_task: a row without id") end
  end
  local elapsed = now() - s
  assert(n == tonumber(expect), "each_task saw " .. n .. " rows, expected " .. expect)
  emit_memory("each")
  emit("each.n", n)
  emit("each.rate", n / elapsed)
  db:close()
end

function modes.getall(user, expect)
  local db = connect()
  local h = db:user(user)
  db:ping()
  local s = now()
  local page = h:get_tasks()
  local elapsed = now() - s
  assert(#page == tonumber(expect), "get_tasks returned " .. #page .. " rows, expected " .. expect)
  emit_memory("getall")
  emit("getall.n", #page)
  emit("getall.seconds", elapsed)
  page = nil
  db:close()
end

-- get and 100-row list on whatever rows are present; the W1-shaped rows'
-- ids are learnt first by listing each user (not timed).
function modes.growth(n, nlist, seed, tag)
  n, nlist, seed = tonumber(n), tonumber(nlist), tonumber(seed)
  local db = connect()
  local users, ids = {}, {}
  for u = 0, NUSERS - 1 do
    users[u] = db:user(user_name(u))
    for _, t in ipairs(users[u]:get_tasks()) do ids[#ids + 1] = { u, t.id } end
  end
  assert(#ids > 0, "growth: no W1 rows present")
  math.randomseed(seed)
  local function phase(name, count, body)
    local l = {}
    local start = now()
    for j = 1, count do
      local s = now()
      body(j)
      l[j] = now() - s
    end
    report(tag .. "." .. name, count, now() - start, l)
  end
  local pick = {}
  for j = 1, n do pick[j] = ids[math.random(1, #ids)] end
  phase("get", n, function(j)
    local p = pick[j]
    if users[p[1]]:get_task(p[2]) == nil then error("growth get: missing") end
  end)
  local lpick = {}
  for j = 1, nlist do lpick[j] = math.random(0, NUSERS - 1) end
  phase("list", nlist, function(j)
    local page = users[lpick[j]]:get_tasks()
    if #page == 0 then error("growth list: empty") end
  end)
  db:close()
end

-- Start-up: `taskshell -e` connecting and running init_db on the existing
-- table, as whole processes.  os.execute goes through /bin/sh, so the same
-- is timed for `exec true` and reported beside it.
function modes.startup(runs, shell)
  runs = tonumber(runs)
  local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end
  local chunk = "local db = require('taskdb').connect(); db:init_db(); db:close()"
  local cmd = "exec " .. q(shell) .. " -e " .. q(chunk)
  local function median_of(command)
    local l = {}
    for j = 1, runs do
      local s = now()
      local ok = os.execute(command)
      l[j] = now() - s
      if not ok then error("startup: command failed: " .. command) end
    end
    table.sort(l)
    return l[(runs + 1) // 2] * 1e3, l[1] * 1e3
  end
  median_of(cmd)   -- warm the page cache once
  local med, min = median_of(cmd)
  local shmed = median_of("exec true")
  emit("startup.runs", runs)
  emit("startup.ms", med)
  emit("startup.min_ms", min)
  emit("startup.sh_ms", shmed)
end

-- The single-operation phases of W1 with a trace function off and on:
-- two connections, one with a function that counts the events, each with
-- its own users and rows, taking turns in blocks of TRACE_BLOCK calls (the
-- side that goes first alternates), so that a burst of other work on the
-- machine hits both alike.  Each side's time is the sum of its own blocks.
local TRACE_BLOCK = 500

function modes.trace(n, seed)
  n, seed = tonumber(n), tonumber(seed)
  local events = 0
  local sides = {
    { name = "off", db = connect() },
    { name = "on", db = taskdb.connect{ trace = function(ev) events = events + 1 end } },
  }
  for _, side in ipairs(sides) do
    side.names, side.users, side.ids = {}, {}, {}
    for u = 0, NUSERS - 1 do
      side.names[u] = "bench-trace-" .. side.name .. "-" .. u
      side.users[u] = side.db:user(side.names[u])
    end
  end
  local titles, new_titles, pick, order = {}, {}, {}, {}
  for i = 0, n - 1 do
    titles[i] = "task " .. i
    new_titles[i + 1] = "task " .. i .. " renamed"
  end
  math.randomseed(seed)
  for j = 1, n do pick[j] = math.random(0, n - 1) end
  for j = 1, n do order[j] = j - 1 end
  for j = n, 2, -1 do
    local k = math.random(1, j)
    order[j], order[k] = order[k], order[j]
  end
  local phases = {
    { "create", function(s, j)
        local i = j - 1
        s.ids[i] = s.db:create_task{ user_id = s.names[i % NUSERS], title = titles[i], description = DESC }.id
      end },
    { "get", function(s, j)
        local i = pick[j]
        if s.users[i % NUSERS]:get_task(s.ids[i]) == nil then error("trace get: missing") end
      end },
    { "update", function(s, j)
        local i = pick[j]
        if s.users[i % NUSERS]:update_task(s.ids[i], { title = new_titles[j] }) == nil then
          error("trace update: missing")
        end
      end },
    { "toggle", function(s, j)
        local i = pick[j]
        if s.users[i % NUSERS]:toggle_complete(s.ids[i]) == nil then error("trace toggle: missing") end
      end },
    { "delete", function(s, j)
        local i = order[j]
        if not s.users[i % NUSERS]:delete_task(s.ids[i]) then error("trace delete: missing") end
      end },
  }
  for _, phase in ipairs(phases) do
    local name, body = phase[1], phase[2]
    for _, side in ipairs(sides) do side.lat, side.elapsed = {}, 0 end
    local first = 1
    for from = 1, n, TRACE_BLOCK do
      local to = math.min(from + TRACE_BLOCK - 1, n)
      for k = 0, 1 do
        local side = sides[(first + k - 1) % 2 + 1]
        local start = now()
        for j = from, to do
          local s = now()
          body(side, j)
          side.lat[j] = now() - s
        end
        side.elapsed = side.elapsed + (now() - start)
      end
      first = 3 - first
    end
    for _, side in ipairs(sides) do report("trace." .. side.name .. "." .. name, n, side.elapsed, side.lat) end
  end
  emit("trace.events", events)
  for _, side in ipairs(sides) do side.db:close() end
end

local mode = ...
if not modes[mode] then
  io.stderr:write("usage: taskshell bench/workload.lua run|idle|each|getall|growth|startup|trace ...\n")
  os.exit(2)
end
modes[mode](select(2, ...))

-- bench/net_workload.lua — the taskdb side of the network section of
-- `make bench`, through the public Lua API only, over a delay line
-- (bench/delayline.c).  Run by bench/net.sh, one phase per process:
--
--   taskshell bench/net_workload.lua PHASE LINE_URL STATS_FILE DIRECT_URL
--
-- LINE_URL reaches the server through the line; DIRECT_URL (its Unix
-- socket) sets up rows untimed.  STATS_FILE is the line's counters: the
-- round trips of a call are the difference around it.  Phases:
--
--   dependent    100 x (create_task, then get_task of its id): 200 calls
--                that each wait for the one before
--   complete     "complete every open task" of 500: each_task over the open
--                ones + toggle_complete each, in one db:pipeline when the
--                handle has one, else call by call (serial)
--   set          the same with one update_tasks (5 runs)
--   independent  500 create_task calls, in one db:pipeline when there is
--                one, else call by call
--   roundtrips   round trips per call of: connect + init_db on an existing
--                table, connect alone, create_tasks, a transaction, the
--                first use of a statement kind, a read after the server
--                closed the idle session
--
-- Every phase connects and warms its statements up before the clock
-- starts, and prints key=value lines (net.PHASE.*) on stdout.

local taskdb = require("taskdb")
local host = require("taskshell.host")
local now = assert(host.clock, "bench: taskshell.host.clock is missing")

local phase, line_url, stats_file, direct_url = ...
assert(phase and line_url and stats_file and direct_url,
  "usage: taskshell bench/net_workload.lua PHASE LINE_URL STATS_FILE DIRECT_URL")

local DESC = os.getenv("BENCH_DESC") or ("benchmark description " .. string.rep("0", 38))
local N = 500
local tag = string.format("%d-%d", os.time(), math.random(1, 1 << 30))
local counter = 0
local function new_user(what)
  counter = counter + 1
  return string.format("net-%s-%s-%d", what, tag, counter)
end

local function emit(key, value)
  if math.type(value) == "float" then
    io.write(string.format("net.%s.%s=%.3f\n", phase, key, value))
  else
    io.write(string.format("net.%s.%s=%s\n", phase, key, tostring(value)))
  end
end

-- The line's round-trip counter.
local function round_trips()
  local f = assert(io.open(stats_file))
  local s = f:read("a")
  f:close()
  return assert(tonumber(s:match("round_trips%s+(%d+)")), "bench: no round_trips in " .. stats_file)
end

-- Round trips and seconds that fn() took.
local function measure(fn)
  local rt0, t0 = round_trips(), now()
  fn()
  local t1 = now()
  return round_trips() - rt0, t1 - t0
end

local direct
local function direct_db()
  direct = direct or taskdb.connect(direct_url)
  return direct
end

local function setup_open_tasks(user)
  local l = {}
  for i = 1, N do l[i] = { user_id = user, title = "open task " .. i, description = DESC } end
  direct_db():create_tasks(l)
  assert(direct:count_tasks{ user_id = user, completed = false } == N)
end

local function connect()
  local db = taskdb.connect(line_url)
  db:ping()
  return db
end

-- Whether this build has db:pipeline (the pipelined variants use it,
-- through a scoped handle: its pipeline stays scoped).
local function has_pipeline(db)
  return type(db.pipeline) == "function"
end

local phases = {}

function phases.dependent()
  local db = connect()
  local alice = db:user(new_user("dep"))
  alice:get_task(alice:create_task{ title = "warm-up", description = DESC }.id)
  local pairs_n = 100
  local rt, secs = measure(function()
    for i = 1, pairs_n do
      local t = alice:create_task{ title = "dependent " .. i, description = DESC }
      if alice:get_task(t.id) == nil then error("dependent: task " .. t.id .. " missing") end
    end
  end)
  emit("calls", 2 * pairs_n)
  emit("ms", secs * 1e3)
  emit("rt", rt)
end

-- Completes every open task of `h`'s user: toggles each one.
local function complete_open(h, pipelined)
  if pipelined then
    return h:pipeline(function(p)
      for t in h:each_task{ completed = false } do p:toggle_complete(t.id) end
    end)
  end
  for t in h:each_task{ completed = false } do h:toggle_complete(t.id) end
end

function phases.complete()
  local db = connect()
  local warm = db:user(new_user("warm"))
  local pipelined = has_pipeline(warm)
  local runs = pipelined and 3 or 1
  complete_open(warm, pipelined)
  warm:toggle_complete(-1)
  emit("mode", pipelined and "pipeline" or "serial")
  for _ = 1, runs do
    local user = new_user("complete")
    setup_open_tasks(user)
    local rt, secs = measure(function() complete_open(db:user(user), pipelined) end)
    assert(direct:count_tasks{ user_id = user, completed = false } == 0, "complete: open tasks left")
    emit("ms", secs * 1e3)
    emit("rt", rt)
  end
end

function phases.set()
  local db = connect()
  db:user(new_user("warm")):update_tasks({ completed = false }, { completed = true })
  for _ = 1, 5 do
    local user = new_user("set")
    setup_open_tasks(user)
    local h, n = db:user(user), nil
    local rt, secs = measure(function() n = h:update_tasks({ completed = false }, { completed = true }) end)
    assert(n == N, "set: update_tasks changed " .. tostring(n) .. " tasks, not " .. N)
    emit("ms", secs * 1e3)
    emit("rt", rt)
  end
end

function phases.independent()
  local db = connect()
  local pipelined = has_pipeline(db:user(new_user("probe")))
  local runs = pipelined and 3 or 1
  emit("mode", pipelined and "pipeline" or "serial")
  for _ = 1, runs do
    local h = db:user(new_user("indep"))
    h:create_task{ title = "warm-up", description = DESC }
    local titles = {}
    for i = 1, N do titles[i] = "independent " .. i end
    local rt, secs = measure(function()
      if pipelined then
        h:pipeline(function(p)
          for i = 1, N do p:create_task{ title = titles[i], description = DESC } end
        end)
      else
        for i = 1, N do h:create_task{ title = titles[i], description = DESC } end
      end
    end)
    assert(direct_db():count_tasks{ user_id = h.user_id } == N + 1, "independent: wrong number of tasks")
    emit("ms", secs * 1e3)
    emit("rt", rt)
  end
end

-- Runs SQL as the superuser over the socket (never through the line).
local function psql(sql)
  local psql_bin = os.getenv("PSQL") or "psql"
  local p = assert(io.popen(string.format("%s -X -q -At -d %q -c %q", psql_bin, direct_url, sql)))
  local out = p:read("a")
  assert(p:close(), "bench: psql failed: " .. sql)
  return (out:gsub("%s+$", ""))
end

function phases.roundtrips()
  local rt
  -- connect + init_db on the existing table, then connect alone
  local db
  rt = measure(function()
    db = taskdb.connect(line_url)
    db:init_db()
  end)
  emit("connect_init", rt)
  db:close()
  rt = measure(function() db = taskdb.connect(line_url) end)
  emit("connect", rt)

  -- the first use of a statement kind: first get_task against the second
  local user = new_user("rt")
  local alice = db:user(user)
  local t = direct_db():create_task{ user_id = user, title = "known", description = DESC }
  local first = measure(function() alice:get_task(t.id) end)
  local second = measure(function() alice:get_task(t.id) end)
  emit("first_get", first)
  emit("get", second)

  -- create_tasks, warmed up, of 100 and of 10,000 rows
  local function rows(n)
    local l = {}
    for i = 1, n do l[i] = { title = "bulk " .. i, description = DESC } end
    return l
  end
  alice:create_tasks(rows(10))
  local small, big = rows(100), rows(10000)
  emit("create_tasks", (measure(function() alice:create_tasks(small) end)))
  emit("create_tasks_10000", (measure(function() alice:create_tasks(big) end)))

  -- a transaction around one create_task against the call alone
  alice:create_task{ title = "warm" }
  local alone = measure(function() alice:create_task{ title = "alone" } end)
  local wrapped = measure(function()
    db:transaction(function() alice:create_task{ title = "in a transaction" } end)
  end)
  emit("create_task", alone)
  emit("transaction_create_task", wrapped)

  -- a read after the server closed the idle session
  local pid = db:info().backend_pid
  psql("SELECT pg_terminate_backend(" .. pid .. ")")
  local deadline = now() + 10
  while psql("SELECT count(*) FROM pg_stat_activity WHERE pid = " .. pid) ~= "0" do
    assert(now() < deadline, "bench: the terminated backend did not go away")
  end
  os.execute("sleep 0.2")   -- the server's goodbye crosses the line
  local before = db:info().reconnects
  rt = measure(function() assert(alice:get_task(t.id), "read after close: task missing") end)
  assert(db:info().reconnects == before + 1, "bench: the read after the close did not reconnect")
  emit("idle_read", rt)
  db:close()
end

assert(phases[phase], "bench: unknown phase " .. tostring(phase))
phases[phase]()
if direct then direct:close() end

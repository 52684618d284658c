-- quickstart.lua — the verification flow, automated.
--
--   taskshell scripts/quickstart.lua          (make run does this)
--   taskshell scripts/quickstart.lua --help   the usage
--
-- Connects with taskdb.connect() (DATABASE_URL from the environment, else
-- ./.env), then checks each success criterion and prints one line for it:
--
--   SC-001  data persists across runs
--   SC-002  connect within 5 s
--   SC-003  user isolation: zero cross-user leakage
--   SC-004  invalid input rejected with a clear error and nothing written
--   SC-005  the five Phase I operations (create, list, update, delete, toggle)
--
-- plus a line for init_db being idempotent, and a summary.  Exit status 0
-- when every line is PASS, 1 otherwise, 2 on misuse (it takes no
-- arguments), 130 when Ctrl-C stopped it.
--
-- What it leaves in the database: two demo tasks, one each for the fixed
-- users "quickstart-alice" and "quickstart-bob", created the first time only
-- and never changed afterwards.  A later run (or a run after a server
-- restart) finds them again by user id and title: that is SC-001.  Nothing
-- is stored on disk.  Everything else is written under user ids unique to
-- this run and deleted before the script exits, so the table does not grow
-- run after run.

local taskdb = require("taskdb")

local USAGE = "usage: taskshell scripts/quickstart.lua\n"
  .. "  Checks the success criteria against DATABASE_URL (the environment, else ./.env):\n"
  .. "  one PASS/FAIL line each, one for init_db, then a summary; exit status 0 if all pass.\n"
  .. "  Leaves two demo tasks (users quickstart-alice, quickstart-bob) for the next run to find.\n"

local cli = require("taskshell.cli").new("quickstart", USAGE)
cli.arguments({ ... }, 0, 0)

local CONNECT_BUDGET = 5.0   -- seconds: the contract's connect budget

-- Copies of a demo task created this close to the first (seconds) come
-- from runs that both found nothing and both created it; later ones were
-- made by something else (quickstart never copies a task it has found).
local RACE_WINDOW = 2.0

local DEMO = {
  { user_id = "quickstart-alice", title = "Buy groceries",
    description = "quickstart demo task: left in place to show that data persists" },
  { user_id = "quickstart-bob", title = "Water the plants",
    description = "quickstart demo task: left in place to show that data persists" },
}

-- A monotonic clock with sub-second resolution: taskshell's host module,
-- else whole seconds (under a stock lua5.4 with build/taskdb.so).
local clock
do
  local ok, host = pcall(require, "taskshell.host")
  if ok and type(host) == "table" and host.clock then
    clock = host.clock
  else
    clock = os.time
  end
end

---------------------------------------------------------------------------
-- Reporting

local results = { passed = 0, failed = 0, criteria_passed = 0, criteria = 0 }

local function one_line(text)
  return (tostring(text):gsub("%s*\n%s*", " "))
end

-- id: "SC-001" .. "SC-005" (counted as criteria) or another label.
local function report(ok, id, text)
  io.stdout:write(string.format("%s %-7s %s\n", ok and "PASS" or "FAIL", id, one_line(text)))
  io.stdout:flush()
  if ok then results.passed = results.passed + 1 else results.failed = results.failed + 1 end
  if id:match("^SC%-") then
    results.criteria = results.criteria + 1
    if ok then results.criteria_passed = results.criteria_passed + 1 end
  end
end

-- A failed check: raised with `fail(...)`, caught by `check`.
local Failure = {}
Failure.__index = Failure
Failure.__tostring = function(f) return f.message end

local function fail(fmt, ...)
  error(setmetatable({ message = string.format(fmt, ...) }, Failure), 2)
end

local function expect(cond, fmt, ...)
  if not cond then fail(fmt, ...) end
  return cond
end

-- Runs fn(); it returns the PASS text or raises.  A taskdb error (or any
-- other) inside fn is a FAIL with its message; Ctrl-C ends the run.
local function check(id, title, fn)
  local ok, detail = pcall(fn)
  if not ok and cli.interrupted(detail) then cli.fail(detail) end
  if ok then
    report(true, id, detail and (title .. " " .. detail) or title)
  else
    report(false, id, title .. ": " .. tostring(detail))
  end
  return ok
end

local function ms(seconds)
  return string.format("%d ms", math.floor(seconds * 1000 + 0.5))
end

local function q(s)
  return string.format("%q", tostring(s))
end

---------------------------------------------------------------------------
-- SC-002: connect (timed).  Without a connection nothing else can run.

local started = clock()
local connected, db = pcall(function()
  local conn = taskdb.connect()
  conn:ping()
  return conn
end)
local took = clock() - started

if not connected and cli.interrupted(db) then cli.fail(db) end
if not connected then
  report(false, "SC-002", string.format("connect within %g s: %s (after %s)",
    CONNECT_BUDGET, one_line(db), ms(took)))
  io.stdout:write(string.format("0/5 criteria passed: could not connect, so nothing else was checked\n"))
  os.exit(1)
end
report(took < CONNECT_BUDGET, "SC-002",
  string.format("connect within %g s (took %s)", CONNECT_BUDGET, ms(took)))

-- This run's own users: unique among concurrent runs (the backend pid) and
-- across runs (the time).  Removed at the end.
local RUN = string.format("quickstart-run-%d-%d", os.time(), db:info().backend_pid or 0)
local RUN_USERS = { RUN, RUN .. "-alice", RUN .. "-bob" }

local function count_of(user_id)
  return db:count_tasks{ user_id = user_id }
end

-- Deletes every task of this run's users (also after a failed check).
local function cleanup()
  for _, user_id in ipairs(RUN_USERS) do
    for _, t in ipairs(db:get_tasks{ user_id = user_id }) do
      db:delete_task(t.id)
    end
  end
end

---------------------------------------------------------------------------
-- init_db: idempotent, and it leaves existing rows alone.

local init_ok = check("init_db", "idempotent", function()
  expect(db:init_db() == true, "the first init_db did not return true")
  local before = count_of(DEMO[1].user_id) + count_of(DEMO[2].user_id)
  expect(db:init_db() == true, "the second init_db did not return true")
  local after = count_of(DEMO[1].user_id) + count_of(DEMO[2].user_id)
  expect(before == after, "the demo users had %d tasks before a second init_db and %d after",
    before, after)
  return "(ran twice; existing rows untouched)"
end)

---------------------------------------------------------------------------
-- SC-001: the demo tasks of an earlier run are still there; created if absent.

-- Seconds since 1970 of a taskdb time ("2026-11-24T10:15:30.123456Z").
local function epoch_seconds(ts)
  local y, mo, d, h, mi, sec = ts:match("^(%d+)%-(%d+)%-(%d+)T(%d+):(%d+):([%d.]+)Z$")
  if not y then return nil end
  y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
  if mo <= 2 then y = y - 1 end   -- days from the civil date: March-based years
  local era = y // 400
  local yoe = y - era * 400
  local doy = (153 * (mo > 2 and mo - 3 or mo + 9) + 2) // 5 + d - 1
  local days = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
  return days * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(sec)
end

-- The oldest task of user_id with this title, and its other copies: those
-- created within RACE_WINDOW of it (`raced`) and later ones (`later`).
local function find_demo(demo)
  local found, raced, later = nil, {}, {}
  for _, t in ipairs(db:user(demo.user_id):get_tasks()) do
    if t.title == demo.title then
      if not found then
        found = t   -- ordered by created_at, id: the first is the oldest
      else
        local first, this = epoch_seconds(found.created_at), epoch_seconds(t.created_at)
        local copies = (first and this and this - first < RACE_WINDOW) and raced or later
        copies[#copies + 1] = t
      end
    end
  end
  return found, raced, later
end

local function ids_text(tasks)
  local parts = {}
  for _, t in ipairs(tasks) do parts[#parts + 1] = "#" .. t.id end
  return table.concat(parts, ", ")
end

-- "; 1 duplicate from concurrent first runs; 2 later copies (#7, #8) ..."
local function copies_text(raced, later)
  local parts = {}
  if #raced > 0 then
    parts[#parts + 1] = string.format("%d duplicate%s from concurrent first runs (%s)",
      #raced, #raced == 1 and "" or "s", ids_text(raced))
  end
  if #later > 0 then
    parts[#parts + 1] = string.format("%d later cop%s (%s) made by something other than quickstart, "
      .. "such as an import of exported tasks", #later, #later == 1 and "y" or "ies", ids_text(later))
  end
  return #parts > 0 and "; " .. table.concat(parts, "; ") or ""
end

check("SC-001", "data persists across runs", function()
  local found, missing, raced, later = {}, {}, {}, {}
  for _, demo in ipairs(DEMO) do
    local t, r, l = find_demo(demo)
    if t then
      found[#found + 1] = t
      table.move(r, 1, #r, #raced + 1, raced)
      table.move(l, 1, #l, #later + 1, later)
      -- Read back by id: the same row, whole.
      local again = db:get_task(t.id)
      expect(again and again.user_id == demo.user_id and again.title == demo.title,
        "task #%d (%s) found by listing but not by its id", t.id, q(demo.title))
    else
      missing[#missing + 1] = demo
    end
  end

  -- Leave the demo tasks for the next run (the first time, or to repair).
  local created = {}
  for _, demo in ipairs(missing) do
    created[#created + 1] = db:user(demo.user_id):create_task{
      title = demo.title, description = demo.description }
  end

  -- What this run created must be visible from another session: committed.
  if #created > 0 then
    local other <close> = taskdb.connect()
    for _, t in ipairs(created) do
      local seen = other:get_task(t.id)
      expect(seen and seen.title == t.title, "task #%d is not visible from a second connection", t.id)
    end
  end

  if #found == 0 then
    return string.format("(first run: no earlier data; left %d demo tasks %s for the next run)",
      #created, ids_text(created))
  end
  if #missing > 0 then
    local names = {}
    for _, demo in ipairs(missing) do names[#names + 1] = demo.user_id .. " " .. q(demo.title) end
    fail("found %d of %d tasks left by an earlier run (%s); missing: %s (re-created as %s)",
      #found, #DEMO, ids_text(found), table.concat(names, ", "), ids_text(created))
  end
  return string.format("(found %d tasks left by an earlier run: %s%s)", #found, ids_text(found),
    copies_text(raced, later))
end)

---------------------------------------------------------------------------
-- SC-005: create, list, update, delete, mark complete — with expected results.

local TIME = "^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%d%d%d%dZ$"

check("SC-005", "the five Phase I operations", function()
  local me = db:user(RUN)

  -- create
  local a = me:create_task{ title = "Buy groceries", description = "milk" }
  expect(math.type(a.id) == "integer" and a.id > 0, "create: no integer id")
  expect(a.user_id == RUN and a.title == "Buy groceries" and a.description == "milk"
    and a.completed == false, "create: the task came back as %s / %s / %s / %s",
    q(a.user_id), q(a.title), q(a.description), tostring(a.completed))
  expect(type(a.created_at) == "string" and a.created_at:match(TIME) and a.updated_at == a.created_at,
    "create: created_at %s / updated_at %s", q(a.created_at), q(a.updated_at))
  local b = me:create_task{ title = "Call mom" }
  expect(b.description == nil and b.id ~= a.id, "create: a task without description")

  -- list (and get, count)
  local list = me:get_tasks()
  expect(#list == 2 and list[1].id == a.id and list[2].id == b.id,
    "list: expected tasks #%d, #%d in creation order, got %d tasks", a.id, b.id, #list)
  expect(me:count_tasks() == 2 and db:count_tasks{ user_id = RUN } == 2, "list: count_tasks is not 2")
  local got = me:get_task(a.id)
  expect(got and got.title == a.title and got.created_at == a.created_at, "get: task #%d", a.id)

  -- update
  local u = me:update_task(a.id, { title = "Buy bread", description = taskdb.null })
  expect(u and u.title == "Buy bread" and u.description == nil and u.completed == false,
    "update: expected title \"Buy bread\" and no description")
  expect(u.updated_at > a.updated_at and u.created_at == a.created_at,
    "update: updated_at did not move forward (%s -> %s)", a.updated_at, u.updated_at)
  expect(me:get_task(a.id).title == "Buy bread", "update: not visible to get_task")

  -- mark complete (toggle, and update with completed)
  local t1 = me:toggle_complete(a.id)
  expect(t1 and t1.completed == true and t1.updated_at > u.updated_at, "toggle: not marked complete")
  local done = me:get_tasks{ completed = true }
  expect(#done == 1 and done[1].id == a.id, "toggle: get_tasks{completed = true} gave %d tasks", #done)
  local t2 = me:toggle_complete(a.id)
  expect(t2 and t2.completed == false, "toggle: a second toggle did not mark it incomplete")
  local t3 = me:update_task(b.id, { completed = true })
  expect(t3 and t3.completed == true and me:count_tasks{ completed = true } == 1,
    "update: completed = true")

  -- delete
  expect(me:delete_task(a.id) == true, "delete: did not report true")
  expect(me:get_task(a.id) == nil, "delete: task #%d still found", a.id)
  expect(me:delete_task(a.id) == false, "delete: deleting twice did not report false")
  expect(me:count_tasks() == 1, "delete: count is not 1")

  return "(create, list, update, delete, mark complete)"
end)

---------------------------------------------------------------------------
-- SC-003: another user's task behaves exactly like a missing one.

check("SC-003", "user isolation: zero cross-user leakage", function()
  local alice_id, bob_id = RUN .. "-alice", RUN .. "-bob"
  local alice, bob = db:user(alice_id), db:user(bob_id)
  local secret = alice:create_task{ title = "alice's private task", description = "for alice only" }
  local mine = bob:create_task{ title = "bob's own task" }
  local checks = 0

  local function no_leak(cond, what)
    checks = checks + 1
    expect(cond, "bob's handle %s", what)
  end
  local function invalid_user_id(fn, what)
    checks = checks + 1
    local ok, e = pcall(fn)
    expect(not ok and type(e) == "table" and e.kind == "invalid" and e.field == "user_id",
      "%s was not rejected as invalid user_id (%s)", what, ok and "it succeeded" or tostring(e))
  end

  no_leak(bob:get_task(secret.id) == nil, "can get alice's task")
  no_leak(bob:update_task(secret.id, { title = "changed by bob" }) == nil, "can update alice's task")
  no_leak(bob:toggle_complete(secret.id) == nil, "can toggle alice's task")
  no_leak(bob:delete_task(secret.id) == false, "can delete alice's task")
  local list = bob:get_tasks()
  no_leak(#list == 1 and list[1].id == mine.id, "lists tasks that are not bob's")
  no_leak(bob:count_tasks() == 1, "counts tasks that are not bob's")
  local iterated = 0
  for t in bob:each_task() do
    iterated = iterated + 1
    no_leak(t.user_id == bob_id, "iterates over another user's task")
  end
  no_leak(iterated == 1, "iterates over tasks that are not bob's")
  -- Unscoped, by user_id: only that user's rows.
  local by_id = db:get_tasks{ user_id = bob_id }
  no_leak(#by_id == 1 and by_id[1].id == mine.id, "(unscoped get_tasks{user_id}) returns other users' tasks")
  no_leak(db:count_tasks{ user_id = bob_id } == 1, "(unscoped count_tasks{user_id}) counts other users' tasks")
  -- Asking for another user through a scoped handle is an error, not a leak.
  invalid_user_id(function() return bob:get_tasks{ user_id = alice_id } end, "bob:get_tasks{user_id = alice}")
  invalid_user_id(function() return bob:create_task{ user_id = alice_id, title = "x" } end,
    "bob:create_task{user_id = alice}")
  invalid_user_id(function() return bob:create_tasks{ { user_id = alice_id, title = "x" } } end,
    "bob:create_tasks{{user_id = alice}}")
  -- The persistent demo tasks are isolated the same way (read-only check).
  local demo_alice = find_demo(DEMO[1])
  if demo_alice then
    no_leak(db:user(DEMO[2].user_id):get_task(demo_alice.id) == nil, "(quickstart-bob) can get quickstart-alice's task")
  end
  -- And alice's task is exactly as she left it.
  local after = alice:get_task(secret.id)
  checks = checks + 1
  expect(after and after.title == secret.title and after.completed == false
    and after.updated_at == secret.updated_at and alice:count_tasks() == 1,
    "alice's task was changed or duplicated by bob's calls")
  return string.format("(%d checks: get, update, toggle, delete, list, count, iterate)", checks)
end)

---------------------------------------------------------------------------
-- SC-004: bad input raises a clear `invalid` error and writes nothing.

check("SC-004", "invalid input rejected with a clear error and nothing written", function()
  local me = db:user(RUN)
  local keep = me:create_task{ title = "unchanged", description = "unchanged" }
  local before = count_of(RUN)

  local cases = {
    { "user_id", "no user_id", function() return db:create_task{ title = "no owner" } end },
    { "user_id", "256-character user_id", function()
        return db:create_task{ user_id = string.rep("u", 256), title = "t" } end },
    { "title", "empty title", function() return me:create_task{ title = "" } end },
    { "title", "blank title", function() return me:create_task{ title = " \t " } end },
    { "title", "201-character title", function() return me:create_task{ title = string.rep("é", 201) } end },
    { "title", "title that is not a string", function() return me:create_task{ title = 42 } end },
    { "title", "invalid UTF-8", function() return me:create_task{ title = "bad \xC0\xAF bytes" } end },
    { "title", "NUL byte", function() return me:create_task{ title = "nul\0byte" } end },
    { "description", "1001-character description", function()
        return me:create_task{ title = "t", description = string.rep("d", 1001) } end },
    { "titel", "unknown key (a typo)", function() return me:create_task{ titel = "typo" } end },
    { "title", "update to an empty title", function() return me:update_task(keep.id, { title = "" }) end },
    { "user_id", "update of user_id", function() return me:update_task(keep.id, { user_id = "x" }) end },
    { "id", "id that is not an integer", function() return me:get_task("1") end },
    { "limit", "negative limit", function() return me:get_tasks{ limit = -1 } end },
    { "title", "bulk create with one bad row", function()
        return me:create_tasks{ { title = "good row" }, { title = "" } } end },
  }
  for _, case in ipairs(cases) do
    local field, what, fn = case[1], case[2], case[3]
    local ok, e = pcall(fn)
    expect(not ok, "%s was accepted", what)
    expect(type(e) == "table" and e.kind == "invalid",
      "%s: expected an invalid error, got %s", what, one_line(e))
    expect(e.field == field, "%s: error names field %s, expected %s", what, q(e.field), q(field))
    local text = tostring(e)
    expect(type(e.message) == "string" and #e.message > 0 and not text:find("\n"),
      "%s: the error is not one clear line: %s", what, q(text))
  end

  local after = me:get_task(keep.id)
  expect(count_of(RUN) == before, "%d tasks were written by rejected calls", count_of(RUN) - before)
  expect(after.title == "unchanged" and after.description == "unchanged"
    and after.updated_at == keep.updated_at, "a rejected update changed task #%d", keep.id)

  -- The limits count characters: the longest valid values are accepted.
  local edge = me:create_task{ title = string.rep("é", 200), description = string.rep("€", 1000) }
  expect(utf8.len(edge.title) == 200 and utf8.len(edge.description) == 1000,
    "a 200-character title / 1000-character description did not round-trip")
  return string.format("(%d cases; 200/1000-character limits counted in characters)", #cases)
end)

---------------------------------------------------------------------------
-- Clean up this run's users, then the summary.

local cleaned, cleanup_err = pcall(cleanup)
if not cleaned then
  io.stderr:write("quickstart: could not remove this run's tasks: ", one_line(cleanup_err), "\n")
end
db:close()

io.stdout:write(string.format("%d/%d criteria passed%s\n", results.criteria_passed, 5,
  init_ok and "" or "; init_db FAILED"))
if results.failed > 0 then
  os.exit(1)
end

-- spec/concurrency_spec.lua — several taskshell processes at once against
-- one database: toggles that never get lost, updates racing a delete, exact
-- counts under concurrent creates, concurrent init_db, and the same through
-- the pooler (PgBouncer, transaction mode, one server connection).

local helper = require("spec.helper")
local taskdb = require("taskdb")
local H = require("spec.support.procs")   -- clocks, processes, locks, backends

-- Every child connects, then waits for the same wall-clock instant so the
-- processes really run at once.  `start_at` is passed in the arguments.
local PRELUDE = [[
  io.stdout:setvbuf("no")
  local taskdb = require("taskdb")
  local system = require("system")
  local function barrier(at)
    at = tonumber(at)
    while system.gettime() < at do system.sleep(0.005) end
  end
  local function ids_of(csv)
    local r = {}
    for id in csv:gmatch("%d+") do r[#r + 1] = math.tointeger(tonumber(id)) end
    return r
  end
]]

local function start_at() return string.format("%.3f", H.now() + 1.0) end

local function all_ok(results)
  for i, r in ipairs(results) do
    assert.equal(0, r.rc, "process " .. i .. " failed: " .. r.out .. r.err)
    assert.is_nil(r.err:find("prepared statement", 1, true), "process " .. i .. ": " .. r.err)
  end
end

local TOGGLER = PRELUDE .. [[
  local url, id, n, at = ...
  id, n = math.tointeger(tonumber(id)), tonumber(n)
  local db = taskdb.connect(url)
  db:ping()
  barrier(at)
  local trues = 0
  for i = 1, n do
    local t = db:toggle_complete(id)
    if t == nil then error("toggle " .. i .. " returned nil") end
    if t.completed then trues = trues + 1 end
  end
  print("TOGGLED " .. n .. " TRUE " .. trues .. " PROXY " .. tostring(db:info().proxy))
]]

local function toggles(url)
  local db = helper.connect{ url = url }
  db:init_db()
  local user = helper.uid("conc-toggle")
  local t0 = db:create_task{ user_id = user, title = "toggled by four" }
  local at, jobs = start_at(), {}
  for i = 1, 4 do jobs[i] = { script = TOGGLER, args = { url, t0.id, 50, at }, limit = 120 } end
  local rs = H.run_parallel(jobs)
  all_ok(rs)
  local trues = 0
  for _, r in ipairs(rs) do
    local n, tr = r.out:match("TOGGLED (%d+) TRUE (%d+)")
    assert.equal("50", n, r.out)
    trues = trues + tonumber(tr)
  end
  -- 200 atomic flips alternate false->true->false...: exactly half saw true
  assert.equal(100, trues)
  local t1 = db:get_task(t0.id)
  assert.equal(t0.completed, t1.completed)
  assert.is_true(t1.updated_at > t0.updated_at)
  assert.equal(t0.created_at, t1.created_at)
  db:close()
  return rs
end

describe("concurrent processes", function()
  it("4 processes x 50 toggles of one task: none lost, final state = initial, updated_at moved", function()
    toggles(helper.url())
  end)

  it("updates and toggles racing a delete return nil, never an error", function()
    local db = helper.connect()
    db:init_db()
    local user = helper.uid("conc-race")
    local ids = db:create_tasks((function()
      local l = {}
      for i = 1, 20 do l[i] = { user_id = user, title = "raced " .. i } end
      return l
    end)())
    local csv = table.concat(ids, ",")
    local UPDATER = PRELUDE .. [[
      local url, user, csv, mode, at = ...
      local db = taskdb.connect(url)
      local h = mode == "scoped" and db:user(user) or db
      local ids, gone, left, updates = ids_of(csv), {}, 0, 0
      left = #ids
      barrier(at)
      local deadline = system.gettime() + 30
      while left > 0 and system.gettime() < deadline do
        for i, id in ipairs(ids) do
          if not gone[id] then
            local ok, r
            if mode == "toggle" then ok, r = pcall(h.toggle_complete, h, id)
            else ok, r = pcall(h.update_task, h, id, { title = "updated " .. i, description = mode }) end
            if not ok then print("ERROR " .. tostring(r)) os.exit(2) end
            if r == nil then
              gone[id] = true
              left = left - 1
              if h:get_task(id) ~= nil then print("ERROR nil but still there") os.exit(3) end
            else
              updates = updates + 1
            end
          end
        end
      end
      print("LEFT " .. left .. " UPDATES " .. updates)
    ]]
    local DELETER = PRELUDE .. [[
      local url, csv, at = ...
      local db = taskdb.connect(url)
      barrier(at)
      system.sleep(0.2)
      local deleted, again = 0, 0
      for _, id in ipairs(ids_of(csv)) do
        if db:delete_task(id) == true then deleted = deleted + 1 end
        system.sleep(0.01)
      end
      for _, id in ipairs(ids_of(csv)) do
        if db:delete_task(id) == false then again = again + 1 end
      end
      print("DELETED " .. deleted .. " AGAIN " .. again)
    ]]
    local at, url = start_at(), helper.url()
    local rs = H.run_parallel{
      { script = UPDATER, args = { url, user, csv, "toggle", at } },
      { script = UPDATER, args = { url, user, csv, "update", at } },
      { script = UPDATER, args = { url, user, csv, "scoped", at } },
      { script = DELETER, args = { url, csv, at } },
    }
    all_ok(rs)
    for i = 1, 3 do
      local left, updates = rs[i].out:match("LEFT (%d+) UPDATES (%d+)")
      assert.equal("0", left, rs[i].out)
      assert.is_true(tonumber(updates) > 0, "updater " .. i .. " never raced: " .. rs[i].out)
    end
    assert.equal("DELETED 20 AGAIN 20", rs[4].out:match("DELETED %d+ AGAIN %d+"))
    assert.equal(0, H.count(user))
    db:close()
  end)

  it("4 processes creating tasks for one user: the count is exact and ids unique", function()
    local db = helper.connect()
    db:init_db()
    local user = helper.uid("conc-create")
    local CREATOR = PRELUDE .. [[
      local url, user, tag, at = ...
      local db = taskdb.connect(url)
      barrier(at)
      local ids = {}
      for i = 1, 100 do ids[#ids + 1] = db:create_task{ user_id = user, title = tag .. " " .. i }.id end
      local list = {}
      for i = 1, 100 do list[i] = { user_id = user, title = tag .. " bulk " .. i } end
      for _, id in ipairs(db:create_tasks(list)) do ids[#ids + 1] = id end
      db:user(user):create_task{ title = tag .. " scoped" }
      print("IDS " .. table.concat(ids, ","))
    ]]
    local at, url, jobs = start_at(), helper.url(), {}
    for i = 1, 4 do jobs[i] = { script = CREATOR, args = { url, user, "p" .. i, at } } end
    local rs = H.run_parallel(jobs)
    all_ok(rs)
    local seen, n = {}, 0
    for _, r in ipairs(rs) do
      for id in (r.out:match("IDS ([%d,]+)") or ""):gmatch("%d+") do
        assert.is_nil(seen[id], "id " .. id .. " returned twice")
        seen[id] = true
        n = n + 1
      end
    end
    assert.equal(800, n)
    assert.equal(804, H.count(user))
    assert.equal(804, db:count_tasks{ user_id = user })
    for i = 1, 4 do
      assert.equal(201, tonumber(helper.psql("SELECT count(*) FROM public.tasks WHERE user_id = '" ..
                                             user .. "' AND title LIKE 'p" .. i .. " %'")))
    end
    db:close()
  end)

  it("init_db from 6 processes at once on a fresh database: all succeed", function()
    local dbname, url = helper.create_database("taskdb_conc_init")
    local INIT = PRELUDE .. [[
      local url, at = ...
      local db = taskdb.connect(url)
      barrier(at)
      db:init_db()
      db:init_db()
      local t = db:create_task{ user_id = "init-race", title = "after init" }
      print("INIT OK " .. t.id)
    ]]
    local at, jobs = start_at(), {}
    for i = 1, 6 do jobs[i] = { script = INIT, args = { url, at } } end
    local ok, rs = pcall(H.run_parallel, jobs)
    local count = ok and helper.psql("SELECT count(*) FROM public.tasks", { dbname = dbname })
    local tables = ok and helper.psql("SELECT count(*) FROM pg_tables WHERE tablename = 'tasks'",
                                      { dbname = dbname })
    helper.drop_database(dbname)
    assert.is_true(ok, tostring(rs))
    all_ok(rs)
    for i, r in ipairs(rs) do assert.matches("INIT OK", r.out, 1, true, "process " .. i) end
    assert.equal("6", count)
    assert.equal("1", tables)
  end)
end)

describe("concurrent processes through the pooler", function()
  local function bouncer() return H.env("TASKDB_TEST_BOUNCER_URL") end

  it("4 processes x 50 toggles: none lost, no prepared-statement errors", function()
    local rs = toggles(bouncer())
    for _, r in ipairs(rs) do assert.matches("PROXY true", r.out, 1, true) end
  end)

  it("6 clients doing every operation at once: exact results, no prepared-statement errors", function()
    local MIXED = PRELUDE .. [[
      local url, user, tag, at = ...
      local db = taskdb.connect(url)
      local info = db:info()
      if not info.proxy or info.prepared then
        print("ERROR the pooler was not detected: proxy=" .. tostring(info.proxy) ..
              " prepared=" .. tostring(info.prepared))
      end
      barrier(at)
      local alice = db:user(user)
      local kept = 0
      for i = 1, 40 do
        local t = alice:create_task{ title = tag .. " " .. i }
        assert(alice:get_task(t.id).title == t.title)
        assert(alice:toggle_complete(t.id).completed == true)
        assert(alice:update_task(t.id, { description = "d" .. i }).description == "d" .. i)
        assert(#alice:get_tasks{ limit = 5 } <= 5)
        assert(db:count_tasks{ user_id = user } >= 1)
        if i % 4 == 0 then
          assert(alice:delete_task(t.id) == true)
          assert(alice:get_task(t.id) == nil)
        else
          kept = kept + 1
        end
        if i % 10 == 0 then
          db:transaction(function(tx)
            tx:create_task{ user_id = user, title = tag .. " txn " .. i }
            pcall(tx.transaction, tx, function()
              tx:create_task{ user_id = user, title = tag .. " undone " .. i }
              error("undo")
            end)
          end)
          kept = kept + 1
          local n = 0
          for _ in alice:each_task() do n = n + 1 end
          assert(n >= 1)
          db:create_tasks{ { user_id = user, title = tag .. " bulk a " .. i },
                           { user_id = user, title = tag .. " bulk b " .. i } }
          kept = kept + 2
        end
      end
      print("KEPT " .. kept)
    ]]
    local db = helper.connect{ url = bouncer() }
    db:init_db()
    local user = helper.uid("conc-pooler")
    local at, jobs = start_at(), {}
    for i = 1, 6 do jobs[i] = { script = MIXED, args = { bouncer(), user, "c" .. i, at } } end
    local rs = H.run_parallel(jobs)
    all_ok(rs)
    local kept = 0
    for i, r in ipairs(rs) do
      assert.is_nil(r.out:find("ERROR", 1, true), "client " .. i .. ": " .. r.out)
      kept = kept + tonumber(r.out:match("KEPT (%d+)"))
    end
    assert.equal(6 * (30 + 4 + 8), kept)
    assert.equal(kept, H.count(user))
    assert.equal(0, tonumber(helper.psql("SELECT count(*) FROM public.tasks WHERE user_id = '" ..
                                         user .. "' AND title LIKE '% undone %'")))
    db:close()
  end)
end)

teardown(H.cleanup)

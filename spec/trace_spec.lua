-- spec/trace_spec.lua — tracing: TASKDB_TRACE=1's stderr lines, the
-- events a `trace` function receives (success, not found, server error,
-- reconnect and resend, pipelines, transactions, COPY), that no value and
-- no password ever appears in them, that the callback cannot re-enter its
-- connection and cannot break a call, and the counters of db:info().
-- Runs in the direct and the PgBouncer passes.

local helper = require("spec.helper")
local taskdb = require("taskdb")
local H = require("spec.support.procs")

local POISON, install_poison, remove_poison = H.poison_trigger("trace")
local KILL, install_kill, remove_kill =
  H.title_trigger("trace", "kill", "PERFORM pg_terminate_backend(pg_backend_pid())")

-- Values that must never show up in a trace: each is distinctive enough
-- that finding it anywhere means a value leaked.
local SECRET_USER = "user-Zq7Wv3-never-traced"
local SECRET_TITLE = "title-Kp4Xj9-never-traced"
local SECRET_DESC = "description-Rb8Ym2-never-traced"

-- A trace function and the events it got.
local function recorder()
  local events = {}
  local function fn(ev) events[#events + 1] = ev end
  return fn, events
end

local function connect_traced(opts)
  local fn, events = recorder()
  local o = { trace = fn }
  for k, v in pairs(opts or {}) do o[k] = v end
  return helper.connect(o), events
end

-- Every key and value of every event, as one string.
local function dump(events)
  local parts = {}
  for i, ev in ipairs(events) do
    local keys = {}
    for k in pairs(ev) do keys[#keys + 1] = k end
    table.sort(keys)
    for _, k in ipairs(keys) do parts[#parts + 1] = i .. "." .. k .. "=" .. tostring(ev[k]) end
  end
  return table.concat(parts, "\n")
end

local function labels(events, from)
  local l = {}
  for i = from or 1, #events do l[#l + 1] = events[i].label end
  return table.concat(l, ",")
end

-- The fields every event has, with their types.
local function check_event(ev)
  assert.is_string(ev.label)
  assert.is_true(ev.kind == "statement" or ev.kind == "copy" or ev.kind == "pipeline", ev.kind)
  assert.is_boolean(ev.ok)
  assert.is_number(ev.ms)
  assert.is_true(ev.ms >= 0)
  assert.is_true(math.type(ev.rows) == "integer")
  assert.is_string(ev.host)
  assert.is_string(ev.port)
  for _, k in ipairs({ "resends", "reconnects", "retries" }) do
    assert.is_true(math.type(ev[k]) == "integer", k)
  end
  if ev.ok then
    assert.is_nil(ev.error)
  else
    assert.is_string(ev.error)
  end
  return ev
end

describe("a trace function", function()
  local db, events
  lazy_setup(function()
    db, events = connect_traced()
    db:init_db()
    install_poison()
    install_kill()
  end)
  lazy_teardown(function()
    remove_poison()
    remove_kill()
    if db then db:close() end
  end)
  teardown(H.cleanup)

  it("gets one event per statement: a success", function()
    local n = #events
    local t = db:create_task{ user_id = helper.uid("tr-ok"), title = "a" }
    assert.equal(n + 1, #events)
    local ev = check_event(events[#events])
    assert.equal("create", ev.label)
    assert.equal("statement", ev.kind)
    assert.is_true(ev.ok)
    assert.equal(1, ev.rows)
    assert.equal(0, ev.resends)
    assert.equal(0, ev.reconnects)
    assert.is_nil(ev.sqlstate)
    assert.is_nil(ev.begin)
    assert.is_nil(ev.index)
    assert.equal(db:info().host, ev.host)
    db:get_task(t.id)
    assert.equal("get", events[#events].label)
    assert.equal(1, events[#events].rows)
  end)

  it("a not-found is a success with no rows", function()
    local n = #events
    assert.is_nil(db:get_task(-42))
    assert.is_false(db:delete_task(-42))
    assert.equal(n + 2, #events)
    for i = n + 1, n + 2 do
      local ev = check_event(events[i])
      assert.is_true(ev.ok)
      assert.equal(0, ev.rows)
    end
    assert.equal("get,delete", labels(events, n + 1))
  end)

  it("a server error has ok false, its kind and its sqlstate", function()
    local n = #events
    local e = helper.expect_error("database", false, db.create_task, db,
                                  { user_id = helper.uid("tr-err"), title = POISON })
    assert.equal(n + 1, #events)
    local ev = check_event(events[#events])
    assert.equal("create", ev.label)
    assert.is_false(ev.ok)
    assert.equal("database", ev.error)
    assert.equal(e.sqlstate, ev.sqlstate)
    assert.equal("P0001", ev.sqlstate)
    assert.equal(0, ev.rows)
    -- nothing of the server's message either: it can quote a value
    assert.is_nil(dump({ ev }):find("poisoned", 1, true))
  end)

  it("a statement that lost its connection, then the reconnect of the next one", function()
    local n = #events
    local before = db:info().reconnects
    helper.expect_error("connection", false, db.create_task, db,
                        { user_id = helper.uid("tr-kill"), title = KILL })
    local lost = check_event(events[n + 1])
    assert.equal("create", lost.label)
    assert.is_false(lost.ok)
    assert.equal("connection", lost.error)
    assert.equal(0, lost.resends)         -- a write whose outcome is unknown is never resent
    assert.is_nil(db:get_task(-1))
    local next = check_event(events[#events])
    assert.equal("get", next.label)
    assert.is_true(next.ok)
    assert.equal(1, next.reconnects)
    assert.equal(0, next.retries)
    assert.equal(before + 1, db:info().reconnects)
  end)

  it("a read sent again after its connection was lost shows its resend #direct_only", function()
    local app = helper.ident("trace_resend")
    local c, evs = connect_traced({ application_name = app })
    assert.is_nil(c:get_task(-1))
    local before = c:info()
    H.terminate(app)
    assert.is_nil(c:get_task(-1))           -- sent without a probe, answered by the goodbye, sent again
    local ev = check_event(evs[#evs])
    assert.equal("get", ev.label)
    assert.is_true(ev.ok)
    assert.equal(1, ev.resends)
    assert.equal(1, ev.reconnects)
    local after = c:info()
    assert.equal(before.resends + 1, after.resends)
    assert.equal(before.reconnects + 1, after.reconnects)
    c:close()
  end)

  it("a pipeline gives one event per call, in order, each with its index and outcome", function()
    local user = helper.uid("tr-pl")
    local t = db:create_task{ user_id = user, title = "x" }
    local n = #events
    local r = db:pipeline(function(p)
      p:get_task(t.id)
      p:create_task{ user_id = user, title = POISON }
      p:toggle_complete(t.id)
      p:count_tasks{ user_id = user }
    end)
    assert.equal(4, #r)
    assert.equal(n + 4, #events)
    assert.equal("get,create,toggle,count_user", labels(events, n + 1))
    for i = 1, 4 do
      local ev = check_event(events[n + i])
      assert.equal("pipeline", ev.kind)
      assert.equal(i, ev.index)
    end
    assert.is_true(events[n + 1].ok)
    assert.equal(1, events[n + 1].rows)
    assert.is_false(events[n + 2].ok)
    assert.equal("P0001", events[n + 2].sqlstate)
    assert.is_true(events[n + 3].ok)
    assert.is_true(events[n + 4].ok)
    -- each call's time runs from the start of the pipeline to its answer
    assert.is_true(events[n + 4].ms >= events[n + 1].ms)
  end)

  it("a pipeline call with nothing to send has no event; the others keep their index", function()
    local n, before = #events, db:info()
    local r = db:pipeline(function(p)
      p:delete_tasks{ ids = {} }
      p:get_task(-1)
    end)
    assert.equal(0, r[1])
    assert.equal(n + 1, #events)
    assert.equal("get", events[#events].label)
    assert.equal(2, events[#events].index)
    assert.equal(before.statements + 1, db:info().statements)
  end)

  it("a pipeline whose connection is lost: the read run again shows its resend", function()
    local user = helper.uid("tr-pl-lost")
    local n = #events
    local r = db:pipeline(function(p)
      p:create_task{ user_id = user, title = "first" }
      p:create_task{ user_id = user, title = KILL }
      p:create_task{ user_id = user, title = "after" }
      p:count_tasks{ user_id = user }
    end)
    assert.equal(4, #r)
    assert.equal(n + 4, #events)
    assert.is_true(events[n + 1].ok)
    assert.is_false(events[n + 2].ok)
    assert.equal("connection", events[n + 2].error)
    local count = check_event(events[n + 4])
    assert.equal("count_user", count.label)
    assert.is_true(count.ok)
    assert.equal(1, count.resends)
    assert.equal(1, events[n + 3].reconnects + count.reconnects)
  end)

  it("a transaction: its BEGIN travels with the first statement, then COMMIT", function()
    local user = helper.uid("tr-txn")
    local n = #events
    db:transaction(function(tx)
      tx:create_task{ user_id = user, title = "a" }
      tx:transaction(function()
        tx:get_tasks{ user_id = user }
      end)
    end)
    assert.equal("create,savepoint,list_user,release,commit", labels(events, n + 1))
    assert.is_true(events[n + 1].begin)
    for i = n + 2, #events do
      assert.is_nil(events[i].begin)
      assert.is_true(check_event(events[i]).ok)
    end
    assert.equal(1, events[n + 3].rows)
    n = #events
    pcall(db.transaction, db, function(tx)
      tx:create_task{ user_id = user, title = "b" }
      error("roll back")
    end)
    assert.equal("create,rollback", labels(events, n + 1))
  end)

  it("create_tasks: one copy event with its rows, then the proof with its COMMIT", function()
    local user = helper.uid("tr-bulk")
    local n = #events
    db:create_tasks{ { user_id = user, title = "a" }, { user_id = user, title = "b" },
                     { user_id = user, title = "c" } }
    assert.equal("copy_start,ids_proven", labels(events, n + 1))
    local copy = check_event(events[n + 1])
    assert.equal("copy", copy.kind)
    assert.equal(3, copy.rows)
    assert.is_true(copy.ok)
    assert.equal("commit", events[n + 2].ends)
  end)

  it("a bulk write the server refuses: the copy event has the sqlstate", function()
    local user = helper.uid("tr-bulk-err")
    local n = #events
    local e = helper.expect_error("database", false, db.create_tasks, db,
      { { user_id = user, title = "a" }, { user_id = user, title = POISON } })
    local copy = check_event(events[n + 1])
    assert.equal("copy", copy.kind)
    assert.is_false(copy.ok)
    assert.equal(e.sqlstate, copy.sqlstate)
    assert.equal("rollback", events[#events].label)
  end)

  it("init_db's statements are traced", function()
    local n = #events
    db:init_db()
    assert.equal("schema_inspect", events[n + 1].label)
    assert.is_true(events[n + 1].rows > 0)
  end)

  it("never holds a parameter value", function()
    local c, evs = connect_traced()
    local t = c:create_task{ user_id = SECRET_USER, title = SECRET_TITLE, description = SECRET_DESC }
    c:get_task(t.id)
    c:update_task(t.id, { title = SECRET_TITLE .. "2", description = SECRET_DESC .. "2" })
    c:get_tasks{ user_id = SECRET_USER }
    c:count_tasks{ user_id = SECRET_USER }
    c:user(SECRET_USER):get_task(t.id)
    pcall(c.create_task, c, { user_id = SECRET_USER, title = POISON, description = SECRET_DESC })
    c:pipeline(function(p) p:get_task(t.id); p:update_task(t.id, { title = SECRET_TITLE }) end)
    c:create_tasks{ { user_id = SECRET_USER, title = SECRET_TITLE, description = SECRET_DESC } }
    c:delete_task(t.id)
    local all = dump(evs)
    assert.is_true(#evs >= 11)
    for _, v in ipairs({ SECRET_USER, SECRET_TITLE, SECRET_DESC, "Zq7Wv3", "Kp4Xj9", "Rb8Ym2" }) do
      assert.is_nil(all:find(v, 1, true), "found " .. v .. " in\n" .. all)
    end
    c:close()
  end)

  it("never holds the password: the host and port only", function()
    local url, password = helper.tcp_url(), helper.password()
    assert.is_truthy(url:find(password, 1, true))
    local fn, evs = recorder()
    local c = taskdb.connect{ url = url, trace = fn }
    c:init_db()
    local t = c:create_task{ user_id = helper.uid("tr-pw"), title = "x" }
    pcall(c.create_task, c, { user_id = helper.uid("tr-pw"), title = POISON })
    c:delete_task(t.id)
    assert.is_true(#evs >= 4)
    assert.equal("127.0.0.1", evs[#evs].host)
    assert.equal(url:match(":(%d+)/"), evs[#evs].port)
    assert.is_nil(dump(evs):find(password, 1, true))
    c:close()
  end)

  it("with read_url, the replica's statements are traced and counted with the handle's", function()
    local fn, evs = recorder()
    local c = helper.connect{ read_url = helper.tcp_url(), trace = fn }
    c:info()                                  -- its first ping, on the primary
    assert.is_nil(c:get_task(-1))
    local info = c:info()
    assert.equal("replica", info.last_read)
    local ev = check_event(evs[#evs])
    assert.equal("get", ev.label)
    assert.equal("127.0.0.1", ev.host)
    assert.equal(helper.tcp_url():match(":(%d+)/"), ev.port)
    assert.equal(#evs, info.statements)
    assert.is_nil(dump(evs):find(helper.password(), 1, true))
    c:close()
  end)

  it("takes only a function", function()
    helper.expect_error("invalid", "trace", taskdb.connect, { url = helper.url(), trace = true })
    helper.expect_error("invalid", "trace", taskdb.connect, { url = helper.url(), trace = "stderr" })
  end)
end)

describe("inside a trace function", function()
  teardown(H.cleanup)

  it("using its own connection raises invalid, and the traced call still succeeds", function()
    local errors, c = {}, nil
    local user = helper.uid("tr-reenter")
    local function try(what, f)
      local ok, e = pcall(f)
      errors[#errors + 1] = { what = what, ok = ok, e = e }
    end
    c = helper.connect{ trace = function(ev)
      if ev.label ~= "create" then return end
      try("get_task", function() return c:get_task(1) end)
      try("user handle", function() return c:user(user):get_tasks() end)
      try("info", function() return c:info() end)
      try("ping", function() return c:ping() end)
      try("each_task", function() for _ in c:each_task{ user_id = user } do end end)
      try("transaction", function() c:transaction(function() end) end)
      try("pipeline", function() c:pipeline(function() end) end)
      try("close", function() c:close() end)
      errors.text = tostring(c)
    end }
    local t = c:create_task{ user_id = user, title = "x" }
    helper.check_task(t)
    assert.equal(8, #errors)
    for _, r in ipairs(errors) do
      assert.is_false(r.ok, r.what .. " did not raise")
      helper.check_error_object(r.e)
      assert.equal("invalid", r.e.kind, r.what)
      assert.matches("trace callback", r.e.message)
    end
    assert.matches("busy", errors.text)
    -- afterwards the connection is usable, also from the callback's next event
    assert.equal(t.id, c:get_task(t.id).id)
    assert.is_true(c:ping())
    c:close()
  end)

  it("another connection may be used", function()
    local other = helper.connect()
    local seen = 0
    local c = helper.connect{ trace = function(ev)
      if ev.label == "ping" then seen = seen + (other:ping() and 1 or 0) end
    end }
    c:ping()
    assert.equal(1, seen)
    c:close()
    other:close()
  end)

  -- In a child, so that the report goes to its stderr.
  it("an error in the function does not break the call; the first is reported on stderr", function()
    local code, out, err = helper.taskshell([[
      local taskdb = require("taskdb")
      local calls = 0
      local db = taskdb.connect{ trace = function(ev)
        calls = calls + 1
        error("boom in " .. ev.label)
      end }
      local t = db:create_task{ user_id = ]] .. ("%q"):format(helper.uid("tr-raise")) .. [[, title = "x" }
      assert(db:get_task(t.id).id == t.id)
      assert(db:delete_task(t.id) == true)
      local ok = pcall(db.get_task, db, "x")   -- invalid before anything is sent: no event
      coroutine.wrap(function() db:ping() end)()
      local db2 = taskdb.connect{ trace = function() error({ "a table" }) end }
      db2:ping(); db2:ping()
      print("done", calls, ok)
    ]], { DATABASE_URL = helper.url(), TASKDB_TRACE = "" })
    assert.equal(0, code, err)
    assert.equal("done\t4\tfalse\n", out)
    local _, n = err:gsub("raised an error", "")
    assert.equal(2, n, err)                   -- once per connection
    assert.matches("boom in create", err)
    assert.matches("table: 0x", err)
  end)

  it("a yield or a collection in the function harms nothing", function()
    -- The user id is a long string (not interned), referenced only by opts
    -- once the rows are written: the function drops it between get_tasks'
    -- two pages and collects, so a page read with the dropped string would
    -- read freed memory (make asan).
    local function make()
      local user = helper.uid("tr-yield") .. string.rep("-long", 10)
      local rows = {}
      for i = 1, 10001 do rows[i] = { user_id = user, title = "r" .. i } end
      return { user_id = user }, user:sub(1), rows
    end
    local opts, user, rows = make()
    local pages = 0
    local c = helper.connect{ trace = function(ev)
      if ev.label:find("^list_user") then   -- list_user, then list_user_after
        pages = pages + 1
        opts.user_id = nil
        collectgarbage()
      end
      assert(not pcall(coroutine.yield))      -- cannot yield across the core: an error, caught
    end }
    c:create_tasks(rows)
    rows = nil
    local co = coroutine.wrap(function() return #c:get_tasks(opts) end)
    assert.equal(10001, co())
    assert.equal(2, pages)
    assert.equal(10001, c:count_tasks{ user_id = user })
    c:close()
  end)

  it("cannot free the rows create_tasks is still sending: its events come after", function()
    -- With a cached sequence the ids are drawn first, so statements run
    -- between reading the rows and sending them.
    local seq = helper.psql("SELECT pg_get_serial_sequence('public.tasks', 'id')")
    helper.psql("ALTER SEQUENCE " .. seq .. " CACHE 7")
    local ok, err = pcall(function()
      local function make(user)   -- long titles (not interned), referenced by the list only
        local list = {}
        for i = 1, 200 do list[i] = { user_id = user, title = ("title %d "):format(i) .. string.rep("x", 60) } end
        return list
      end
      local list = make(helper.uid("tr-hold"))
      local evs = {}
      local c <close> = helper.connect{ trace = function(ev)
        evs[#evs + 1] = ev
        for i = 1, #list do list[i] = nil end
        collectgarbage()
      end }
      local ids = c:create_tasks(list)
      assert.equal(200, #ids)
      assert.equal("copy_start,rollback,next_ids,copy_in_ids,commit", labels(evs))
      assert.is_true(evs[1].aborted)
      assert.is_false(evs[1].ok)
      assert.is_nil(evs[1].error)
      assert.is_true(evs[3].begin)
      assert.equal("copy", evs[4].kind)
      assert.equal(200, evs[4].rows)
      assert.equal("title 7 " .. string.rep("x", 60), c:get_task(ids[7]).title)
    end)
    helper.psql("ALTER SEQUENCE " .. seq .. " CACHE 1")
    assert(ok, err)
  end)

  it("a function that refers to its own connection does not keep it alive", function()
    local weak = setmetatable({}, { __mode = "v" })
    do
      local c
      c = helper.connect{ trace = function() return c end }
      c:ping()
      weak[1] = c
    end
    collectgarbage()
    collectgarbage()
    assert.is_nil(weak[1])
  end)
end)

describe("TASKDB_TRACE=1", function()
  local SCRIPT = [[
    local taskdb = require("taskdb")
    local db = taskdb.connect(os.getenv("TRACE_URL"))
    db:init_db()
    local t = db:create_task{ user_id = ]] .. ("%q"):format(SECRET_USER) .. [[, title = ]] ..
      ("%q"):format(SECRET_TITLE) .. [[, description = ]] .. ("%q"):format(SECRET_DESC) .. [[ }
    db:get_task(t.id)
    db:get_task(-1)
    db:update_task(t.id, { description = ]] .. ("%q"):format(SECRET_DESC .. "!") .. [[ })
    pcall(db.create_task, db, { user_id = ]] .. ("%q"):format(SECRET_USER) .. [[, title = ]] ..
      ("%q"):format(POISON) .. [[ })
    db:pipeline(function(p) p:get_task(t.id); p:get_task(-1) end)
    db:transaction(function(tx) tx:toggle_complete(t.id) end)
    db:delete_task(t.id)
    print("ok")
  ]]
  local LINE = "^taskdb trace: label=(%S+) kind=(%S+) ok=(%S+) ms=([%d.]+) rows=(%d+) " ..
               "host=(%S+) port=(%S+) resends=(%d+) reconnects=(%d+) retries=(%d+)(.*)$"

  lazy_setup(function()
    helper.fresh_db():close()
    install_poison()
  end)
  lazy_teardown(remove_poison)

  local function run(url, value)
    local code, out, err = helper.taskshell(SCRIPT, { DATABASE_URL = false, TRACE_URL = url,
                                                       TASKDB_TRACE = value })
    assert.equal(0, code, err)
    assert.equal("ok\n", out)
    local lines = {}
    for line in err:gmatch("[^\n]+") do lines[#lines + 1] = line end
    return lines, err
  end

  it("prints one key=value line per statement on stderr", function()
    local lines = run(helper.url(), "1")
    local got = {}
    for i, line in ipairs(lines) do
      local label, kind, ok, ms, rows, host, port, resends, reconnects, retries, rest = line:match(LINE)
      assert.is_string(label, "line " .. i .. " does not parse: " .. line)
      assert.is_number(tonumber(ms))
      got[#got + 1] = { label = label, kind = kind, ok = ok, rows = tonumber(rows), rest = rest,
                        host = host, port = port, n = tonumber(resends) + tonumber(reconnects) +
                        tonumber(retries) }
    end
    local names = {}
    for _, g in ipairs(got) do names[#names + 1] = g.label end
    assert.equal("schema_inspect,create,get,get,update,create,get,get,toggle,commit,delete",
                 table.concat(names, ","))
    assert.equal("1", got[3].rows and tostring(got[3].rows))
    assert.equal(0, got[4].rows)
    assert.equal("false", got[6].ok)
    assert.equal(" error=database sqlstate=P0001", got[6].rest)
    assert.equal("pipeline", got[7].kind)
    assert.equal(" index=1", got[7].rest)
    assert.equal(" index=2", got[8].rest)
    assert.equal(" begin=true", got[9].rest)
    for _, g in ipairs(got) do
      assert.equal(0, g.n)
      assert.is_true(g.host ~= "" and g.port ~= "")
    end
  end)

  it("never prints a value or the password", function()
    local url, password = helper.tcp_url(), helper.password()
    local lines, err = run(url, "1")
    assert.is_true(#lines >= 11)
    assert.is_truthy(lines[1]:find(" host=127.0.0.1 ", 1, true), lines[1])
    for _, v in ipairs({ password, SECRET_USER, SECRET_TITLE, SECRET_DESC, "Zq7Wv3", "Kp4Xj9",
                         "Rb8Ym2", "poisoned" }) do
      assert.is_nil(err:find(v, 1, true), "found " .. v .. " in\n" .. err)
    end
  end)

  it("prints nothing when unset, empty or 0", function()
    for _, v in ipairs({ false, "", "0" }) do
      local lines = run(helper.url(), v)
      assert.same({}, lines)
    end
  end)

  it("prints beside a trace function, which still gets every event", function()
    local code, out, err = helper.taskshell([[
      local n = 0
      local db = require("taskdb").connect{ trace = function() n = n + 1 end }
      db:ping(); db:ping()
      print(n)
    ]], { DATABASE_URL = helper.url(), TASKDB_TRACE = "1" })
    assert.equal(0, code, err)
    assert.equal("2\n", out)
    local _, lines = err:gsub("taskdb trace: label=ping", "")
    assert.equal(2, lines)
  end)
end)

describe("db:info() counters", function()
  local db
  lazy_setup(function() db = helper.fresh_db() end)
  lazy_teardown(function() if db then db:close() end end)

  local function delta(f)
    local a = db:info()
    f()
    local b = db:info()
    return { statements = b.statements - a.statements, round_trips = b.round_trips - a.round_trips,
             resends = b.resends - a.resends, reconnects = b.reconnects - a.reconnects,
             wait = b.wait_seconds - a.wait_seconds }
  end

  it("has application_name as the server reports it", function()
    local app = helper.ident("trace_app")
    local c = helper.connect{ application_name = app }
    assert.equal(app, c:info().application_name)
    c:close()
    assert.equal("taskshell", db:info().application_name)
  end)

  it("count one statement per trace event, from the connect on", function()
    local c, evs = connect_traced()
    local i = c:info()                        -- may first ask which backend it is on: a statement
    assert.equal(#evs, i.statements)
    assert.equal(#evs, i.round_trips)
    assert.equal(0, i.resends)
    assert.equal(0, i.reconnects)
    assert.equal("float", math.type(i.wait_seconds))
    c:init_db()
    c:pipeline(function(p) p:get_task(-1); p:get_task(-2) end)
    assert.equal(#evs, c:info().statements)
    c:close()
  end)

  it("a statement: one statement, one round trip, time waited", function()
    local d = delta(function() db:get_task(-1) end)
    assert.same({ statements = 1, round_trips = 1, resends = 0, reconnects = 0 },
                { statements = d.statements, round_trips = d.round_trips, resends = d.resends,
                  reconnects = d.reconnects })
    assert.is_true(d.wait > 0 and d.wait < 5, tostring(d.wait))
  end)

  it("a pipeline of three calls: three statements, one round trip", function()
    local d = delta(function()
      db:pipeline(function(p) p:get_task(-1); p:get_task(-2); p:count_tasks{ user_id = "x" } end)
    end)
    assert.equal(3, d.statements)
    assert.equal(1, d.round_trips)
  end)

  it("a transaction of two statements: three statements and round trips (BEGIN travels)", function()
    local user = helper.uid("tr-info-txn")
    local d = delta(function()
      db:transaction(function(tx)
        tx:create_task{ user_id = user, title = "a" }
        tx:get_tasks{ user_id = user }
      end)
    end)
    assert.equal(3, d.statements)
    assert.equal(3, d.round_trips)
  end)

  it("create_tasks: two statements in three round trips", function()
    local user = helper.uid("tr-info-bulk")
    local d = delta(function() db:create_tasks{ { user_id = user, title = "a" } } end)
    assert.equal(2, d.statements)
    assert.equal(3, d.round_trips)
  end)

  it("a failed statement counts too; a lost connection counts its reconnect", function()
    install_kill()
    local ok, d = pcall(delta, function()
      pcall(db.create_task, db, { user_id = helper.uid("tr-info-kill"), title = KILL })
      db:ping()
    end)
    remove_kill()
    assert.is_true(ok, tostring(d))
    assert.equal(2, d.statements)
    assert.equal(1, d.reconnects)
    assert.equal(0, d.resends)
  end)
end)

-- spec/connection_spec.lua — the "Connection behaviour" contract of
-- docs/API.md, each point proved by reproducing the fault on this machine
-- (loopback and Unix sockets only): a server restart, pg_terminate_backend,
-- idle_session_timeout, a write whose connection dies while it waits, a
-- refused port, a server coming up during the retries, a wrong password, a
-- hung server, statement_timeout, TLS defaults, and a crash.
--
-- Describes that restart, stop or crash the server or terminate backends are
-- tagged #direct_only: the pooler pass (spec/run.sh) excludes them.

local helper = require("spec.helper")
local taskdb = require("taskdb")
local H = require("spec.support.procs")   -- clocks, processes, locks, backends

local WRONG_CA_PEM = [[
-----BEGIN CERTIFICATE-----
MIIBnTCCAUOgAwIBAgIUXIk+h3reFW40sI+wynUzbf7c4mwwCgYIKoZIzj0EAwIw
IzEhMB8GA1UEAwwYdGFza2RiIHNwZWMgdW5yZWxhdGVkIENBMCAXDTI2MTEyNDEx
NDMwNFoYDzIxMjYxMDMxMTE0MzA0WjAjMSEwHwYDVQQDDBh0YXNrZGIgc3BlYyB1
bnJlbGF0ZWQgQ0EwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAThoITnf3JCdTVk
AbC/GNgMcyTD3WwpY3hMEI7ARs6M0bGwsG2vc4V5w0qK7MrYoc0jsCIQfKAAM6JD
ckrg/z9go1MwUTAdBgNVHQ4EFgQUDgGIOshSQkMhF+XUpApcIC4o0hYwHwYDVR0j
BBgwFoAUDgGIOshSQkMhF+XUpApcIC4o0hYwDwYDVR0TAQH/BAUwAwEB/zAKBggq
hkjOPQQDAgNIADBFAiEA8Q31tfio1axgmZi4IYVsY0tPKuf1Im1dFdvKg6OXtqMC
IF/k36o2A74TgN/ymPl9hcEoHwLqJ0yHLxEty60GoMYM
-----END CERTIFICATE-----
]]

-- postgresql://user[:password]@host[:port]/dbname[?query] -> parts
local function parse_url(url)
  local rest = assert(url:match("^postgres[a-z]*://(.*)$"), "not a URI: " .. url)
  local u = {}
  local auth, hostpart = rest:match("^([^@/]*)@(.*)$")
  if auth then
    u.user, u.password = auth:match("^([^:]*):(.*)$")
    if not u.user then u.user = auth end
    rest = hostpart
  end
  local hp, path = rest:match("^([^/?]*)(.*)$")
  u.host, u.port = hp:match("^([^:]*):(%d+)$")
  if not u.host then u.host = hp end
  u.dbname = path:match("^/([^?]*)") or ""
  u.query = path:match("%?(.*)$")
  return u
end

local function with_query(url, q)
  return url .. (url:find("?", 1, true) and "&" or "?") .. q
end

local function setup_task(user)
  local db = helper.connect()
  db:init_db()
  local t = db:create_task{ user_id = user, title = "survives faults", description = "d" }
  db:close()
  return t
end

local function row(id)
  return helper.psql("SELECT completed::text || '|' || updated_at::text FROM public.tasks WHERE id = " .. id)
end

local function completed_of(id)
  return helper.psql("SELECT completed FROM public.tasks WHERE id = " .. id)
end

describe("a connection lost between calls #direct_only", function()
  after_each(function()
    pcall(helper.psql, "ALTER DATABASE taskdb_test RESET idle_session_timeout")
    H.ensure_up()
  end)

  -- Each fault: how to get a handle that the fault can hit, and the fault.
  local faults = {
    { name = "a server restart (pgctl.sh restart)",
      connect = function(app) return helper.connect{ application_name = app } end,
      inject = function(app)
        H.pgctl("restart")
        H.wait_for("server up after restart", 30, H.server_up)
      end },
    { name = "pg_terminate_backend (pgctl.sh terminate-all)",
      connect = function(app) return helper.connect{ application_name = app } end,
      inject = function(app)
        H.pgctl("terminate-all")
        H.wait_for("the handle's backend to exit", 10, function() return H.backends(app) == 0 end)
      end },
    { name = "idle_session_timeout",
      -- Only the handle's session gets the timeout: the database setting is
      -- reset as soon as it has connected, so the reconnect is not affected.
      connect = function(app)
        helper.psql("ALTER DATABASE taskdb_test SET idle_session_timeout = '300ms'")
        local ok, db = pcall(helper.connect, { application_name = app })
        helper.psql("ALTER DATABASE taskdb_test RESET idle_session_timeout")
        assert(ok, db)
        return db
      end,
      inject = function(app)
        H.sleep(1)
        H.wait_for("the idle session to be closed by the server", 10,
                   function() return H.backends(app) == 0 end)
      end },
  }

  local ops = {
    { name = "a read (get_task)", run = function(db, t, user)
        local got = db:get_task(t.id)
        assert.is_table(got)
        assert.equal(t.id, got.id)
        assert.equal("survives faults", got.title)
        assert.equal(1, H.count(user))
      end },
    { name = "a write (create_task), never duplicated", run = function(db, t, user)
        local created = db:create_task{ user_id = user, title = "after the fault" }
        assert.is_table(created)
        assert.equal(user, created.user_id)
        assert.equal(2, H.count(user))
        assert.equal(1, tonumber(helper.psql("SELECT count(*) FROM public.tasks WHERE user_id = '" ..
                                        user .. "' AND title = 'after the fault'")))
      end },
    { name = "a bulk write (create_tasks), never duplicated", run = function(db, t, user)
        local ids = db:create_tasks{ { user_id = user, title = "bulk 1" }, { user_id = user, title = "bulk 2" },
                                     { user_id = user, title = "bulk 3" } }
        assert.equal(3, #ids)
        assert.equal(4, H.count(user))
      end },
    { name = "a transaction, committed once", run = function(db, t, user)
        local r = db:transaction(function(tx)
          tx:create_task{ user_id = user, title = "in a transaction" }
          return tx:toggle_complete(t.id)
        end)
        assert.is_true(r.completed)
        assert.equal(2, H.count(user))
        assert.equal("t", completed_of(t.id))
      end },
    { name = "a toggle (toggle_complete), applied exactly once", run = function(db, t, user)
        local toggled = db:toggle_complete(t.id)
        assert.is_table(toggled)
        assert.is_true(toggled.completed)
        assert.equal("t", completed_of(t.id))
        assert.equal(1, H.count(user))
      end },
  }

  for _, fault in ipairs(faults) do
    for _, op in ipairs(ops) do
      it("after " .. fault.name .. ", " .. op.name .. " on the same handle succeeds", function()
        local user, app = helper.uid("reconnect"), helper.uid("app-reconnect")
        local t = setup_task(user)
        local db = fault.connect(app)
        local before = db:info()
        assert.equal(0, before.reconnects)
        assert.is_true(before.backend_pid > 0)
        fault.inject(app)

        op.run(db, t, user)

        local after = db:info()
        assert.equal(1, after.reconnects)
        assert.are_not.equal(before.backend_pid, after.backend_pid)
        -- and the next call needs no further reconnect
        assert.is_true(db:ping())
        assert.equal(1, db:info().reconnects)
        db:close()
      end)
    end
  end

  it("survives several faults in a row on one handle, counting each reconnect", function()
    local user, app = helper.uid("reconnect-many"), helper.uid("app-many")
    local t = setup_task(user)
    local db = helper.connect{ application_name = app }
    local pids = { [db:info().backend_pid] = true }
    for i = 1, 3 do
      H.pgctl("terminate-all")
      H.wait_for("backend exit", 10, function() return H.backends(app) == 0 end)
      local toggled = db:toggle_complete(t.id)
      assert.equal(i % 2 == 1, toggled.completed)
      assert.equal(i, db:info().reconnects)
      local pid = db:info().backend_pid
      assert.is_nil(pids[pid])
      pids[pid] = true
    end
    assert.equal("t", completed_of(t.id))   -- three toggles, each applied once
    db:close()
  end)
end)

describe("a statement whose connection dies after it was sent #direct_only", function()
  -- The child connects, warms up the statement (so a named prepared
  -- statement is already parsed), says READY, waits for GO, then runs one
  -- operation and reports what happened, then calls again on the handle.
  local CHILD = [[
    io.stdout:setvbuf("no")
    local taskdb = require("taskdb")
    local system = require("system")
    local url, app, op, id, user, go, prepare = ...
    id = math.tointeger(tonumber(id))
    local db = taskdb.connect{ url = url, application_name = app, connect_timeout = 5,
                               prepare = prepare ~= "off" and "auto" or false }
    db:get_task(-1); db:toggle_complete(-1)
    db:create_task{ user_id = user .. "-warmup", title = "warm-up" }
    print("READY")
    local deadline = system.gettime() + 20
    while not io.open(go) do
      if system.gettime() > deadline then print("NO-GO") os.exit(3) end
      system.sleep(0.01)
    end
    local ok, r = pcall(function()
      if op == "toggle" then return db:toggle_complete(id)
      elseif op == "create" then return db:create_task{ user_id = user, title = "unknown outcome" }
      else return db:get_task(id) end
    end)
    print("AT\t" .. string.format("%.3f", system.gettime()))
    if ok then
      print("RESULT\tok\t" .. tostring(r and r.id) .. "\t" .. tostring(r and r.completed))
    else
      print("RESULT\t" .. tostring(type(r) == "table" and r.kind) .. "\t" ..
            tostring(type(r) == "table" and r.message or r))
    end
    print("RECONNECTS\t" .. db:info().reconnects)
    local ok2, again = pcall(db.get_task, db, id)
    print("AGAIN\t" .. (ok2 and again and again.title or tostring(again)))
    db:close()
  ]]

  local function line(out, key)
    return ("\n" .. out):match("\n" .. key .. "\t([^\n]*)")
  end

  -- Runs `op` in a child whose backend is terminated while the statement
  -- waits on a lock held by psql; returns the child's result and timings.
  -- `stale`: the child's idle connection is terminated first, so the
  -- statement finds it gone before it is sent on a fresh one.
  local function run_killed(url, op, t, user, hold, stale)
    local app, holder = helper.uid("app-victim"), helper.uid("app-holder")
    local go = H.tmpfile("go")
    -- unnamed statements when stale: the fresh connection's statement must
    -- be sent whole (a prepare waiting on the lock would be "not sent")
    local child = H.spawn(CHILD, { url, app, op, tostring(t.id), user, go, stale and "off" or "auto" },
                          nil, 60)
    H.wait_for("child READY", 15, function()
      return (H.readfile(child.out) or ""):find("READY", 1, true) or child.done()
    end)
    assert.is_false(child.done(), "child exited early: " .. (H.readfile(child.err) or ""))
    if stale then H.terminate(app) end
    H.hold_lock(holder, hold)
    local t_locked = H.now()   -- the lock is released no earlier than ~t_locked + hold
    H.writefile(go, "go")
    H.wait_for("the child's statement to wait on the lock", 10, function()
      return H.waiting_on_lock(app)
    end)
    local pid = H.backend_pids{ application_name = app, wait_event_type = "Lock" }[1]
    local t_kill = H.now()
    helper.psql("SELECT pg_terminate_backend(" .. pid .. ")")
    local r = child.wait(30)
    -- let the lock holder commit normally: a retried write would now go through
    H.wait_for("lock holder to finish", hold + 10, function() return H.backends(holder) == 0 end)
    -- When did the child get its answer, relative to the kill and to the
    -- lock's release (a retried statement could only finish after it)?
    local at = tonumber(line(r.out, "AT") or "")
    assert.is_number(at, r.out .. r.err)
    return r, at - t_kill, at < t_locked + hold - 0.5
  end

  -- A read killed while it waits on the lock is sent again, waits like any
  -- read, and succeeds after `reconnects` reconnects.
  local function read_is_retried(url, stale, reconnects)
    local user = helper.uid(stale and "stale-read" or "unknown-read")
    local t = setup_task(user)
    local r, _, before_release = run_killed(url, "read", t, user, 2, stale)
    assert.is_false(before_release)   -- the retry waited for the lock like any read
    assert.equal(0, r.rc, r.err)
    assert.equal("ok\t" .. t.id .. "\tfalse", line(r.out, "RESULT"), r.out)
    assert.equal(tostring(reconnects), line(r.out, "RECONNECTS"))
    assert.equal("survives faults", line(r.out, "AGAIN"))
  end

  -- Directly, and through PgBouncer, whose server connection dies under it
  -- (the pooler then closes the client connection too).
  local targets = {
    { name = "directly", url = function() return helper.url() end },
    { name = "through the pooler", url = function() return H.env("TASKDB_TEST_BOUNCER_URL") end },
  }
  for _, target in ipairs(targets) do
    it(target.name .. ": a toggle raises connection 'outcome is unknown', is not retried, and the handle works after", function()
      local user = helper.uid("unknown-toggle")
      local t = setup_task(user)
      local before = row(t.id)
      local r, waited, before_release = run_killed(target.url(), "toggle", t, user, 3)
      assert.equal(0, r.rc, r.err)
      local result = line(r.out, "RESULT")
      assert.is_string(result, r.out)
      local kind, msg = result:match("^([^\t]*)\t(.*)$")
      assert.equal("connection", kind, result)
      assert.matches("unknown", msg)
      -- raised at once, not after the lock was released
      assert.is_true(before_release, "the answer came only after the lock was released: retried?")
      assert.is_true(waited < 2.5, "took " .. waited .. " s")
      -- the same handle reconnects on the next call
      assert.equal("survives faults", line(r.out, "AGAIN"))
      -- flipped at most once: here the statement never ran, and was not retried
      assert.equal(before, row(t.id))
      assert.equal("f", completed_of(t.id))
    end)

    it(target.name .. ": a create raises connection 'outcome is unknown' and is never duplicated", function()
      local user = helper.uid("unknown-create")
      local t = setup_task(user)
      local r, waited, before_release = run_killed(target.url(), "create", t, user, 3)
      assert.equal(0, r.rc, r.err)
      local kind, msg = line(r.out, "RESULT"):match("^([^\t]*)\t(.*)$")
      assert.equal("connection", kind, r.out)
      assert.matches("unknown", msg)
      assert.is_true(before_release, "the answer came only after the lock was released: retried?")
      assert.is_true(waited < 2.5, "took " .. waited .. " s")
      assert.equal("survives faults", line(r.out, "AGAIN"))
      assert.equal(0, tonumber(helper.psql("SELECT count(*) FROM public.tasks WHERE user_id = '" ..
                                      user .. "' AND title = 'unknown outcome'")))
    end)

    it(target.name .. ": a read is retried on a new connection and succeeds", function()
      read_is_retried(target.url(), false, 1)
    end)
  end

  -- A read skips the liveness check before sending; finding the connection
  -- already closed (the server's goodbye comes back as its answer) must not
  -- use up its one resend.  Over TCP, as to a cloud database, and over a
  -- Unix socket.
  local stale_targets = {
    { name = "over TCP", url = function() return H.env("TASKDB_TEST_TCP_URL") end },
    { name = "over a Unix socket", url = function() return helper.url() end },
  }
  for _, target in ipairs(stale_targets) do
    it(target.name .. ": a read on a connection closed while idle, whose fresh send is lost too, is resent and succeeds", function()
      read_is_retried(target.url(), true, 2)
    end)
  end
end)

describe("a connection through the pooler, between calls #direct_only", function()
  after_each(function() H.ensure_up() end)

  it("survives a server restart, pg_terminate_backend and a pooler restart; each write applied once", function()
    local user = helper.uid("pooled-faults")
    local db = helper.connect{ url = H.env("TASKDB_TEST_BOUNCER_URL") }
    db:init_db()
    local t = db:create_task{ user_id = user, title = "pooled" }
    local steps = {
      function() H.pgctl("restart") H.wait_for("server up", 30, H.server_up) end,
      function() H.pgctl("terminate-all") end,
      function() H.pgctl("bouncer-restart") end,
    }
    for i, fault in ipairs(steps) do
      fault()
      local toggled = db:toggle_complete(t.id)
      assert.is_table(toggled, "fault " .. i)
      assert.equal(i % 2 == 1, toggled.completed, "fault " .. i)
      assert.equal("pooled", db:get_task(t.id).title)
      db:create_task{ user_id = user, title = "after fault " .. i }
      assert.equal(i + 1, H.count(user))
    end
    assert.equal("t", helper.psql("SELECT completed FROM public.tasks WHERE id = " .. t.id))
    db:close()
  end)
end)

describe("connecting when nothing listens", function()
  local REFUSED = "postgresql://nobody:Refused-s3cret@127.0.0.1:1/taskdb_test?sslmode=disable"

  it("retries with backoff, bounded by connect_timeout, then raises connection", function()
    local elapsed, ok, e = H.timed(taskdb.connect, { url = REFUSED, retries = 3, connect_timeout = 5 })
    assert.is_false(ok)
    assert.equal("connection", e.kind, tostring(e))
    assert.matches("attempts", e.message)
    assert.matches("4 attempts", e.message)
    assert.is_true(elapsed > 0.2, "no backoff: " .. elapsed .. " s")
    assert.is_true(elapsed < 5, "not bounded: " .. elapsed .. " s")
    assert.is_nil(e.message:find("Refused-s3cret", 1, true))
    assert.is_nil(tostring(e):find("Refused-s3cret", 1, true))
  end)

  it("retries a few times by default", function()
    local _, ok, e = H.timed(taskdb.connect, REFUSED)
    assert.is_false(ok)
    assert.equal("connection", e.kind, tostring(e))
    local n = tonumber(e.message:match("(%d+) attempts"))
    assert.is_number(n, e.message)
    assert.is_true(n >= 2 and n <= 10, e.message)
  end)

  it("with retries = 0 fails fast", function()
    local elapsed, ok, e = H.timed(taskdb.connect, { url = REFUSED, retries = 0 })
    assert.is_false(ok)
    assert.equal("connection", e.kind, tostring(e))
    assert.is_true(elapsed < 0.2, "took " .. elapsed .. " s")
  end)

  it("never waits past connect_timeout, however many retries", function()
    local elapsed, ok, e = H.timed(taskdb.connect, { url = REFUSED, retries = 50, connect_timeout = 1 })
    assert.is_false(ok)
    assert.is_true(e.kind == "connection" or e.kind == "timeout", tostring(e))
    assert.is_true(elapsed < 1.3, "took " .. elapsed .. " s")
  end)
end)

describe("a server that is down #direct_only", function()
  after_each(function() H.ensure_up() end)

  it("is reached when it comes up during the retries", function()
    local probe = helper.connect()
    probe:init_db()
    probe:close()
    H.pgctl("stop")
    assert.is_false(H.server_up())
    os.execute("(sleep 0.5; timeout -k 5 60 sh " .. H.shq(H.pgctl_script) ..
               " start) >/dev/null 2>&1 &")
    local elapsed, ok, db = H.timed(taskdb.connect,
                                    { url = helper.url(), connect_timeout = 10, retries = 8 })
    assert.is_true(ok, tostring(db))
    assert.is_true(db:ping())
    assert.equal(0, db:count_tasks{ user_id = helper.uid("nobody") })
    assert.is_true(elapsed >= 0.4, "connected before the server was started? " .. elapsed)
    assert.is_true(elapsed < 10)
    db:close()
    H.wait_for("server up", 30, H.server_up)
  end)

  it("makes a call on an existing handle fail with connection within the retry budget, then work again", function()
    local user = helper.uid("down")
    local t = setup_task(user)
    local db = helper.connect{ connect_timeout = 2, retries = 3 }
    assert.is_true(db:ping())
    H.pgctl("stop")
    local elapsed, ok, e = H.timed(db.get_task, db, t.id)
    assert.is_false(ok)
    assert.equal("connection", e.kind, tostring(e))
    assert.is_true(elapsed < 2.5, "took " .. elapsed .. " s")
    -- a write while down: not sent, so a plain connection error too
    local ok2, e2 = pcall(db.create_task, db, { user_id = user, title = "while down" })
    assert.is_false(ok2)
    assert.equal("connection", e2.kind, tostring(e2))
    H.pgctl("start")
    H.wait_for("server up", 30, H.server_up)
    local got = db:get_task(t.id)
    assert.equal("survives faults", got.title)
    assert.is_true(db:info().reconnects >= 1)
    assert.equal(1, H.count(user))
    db:close()
  end)
end)

describe("a wrong password", function()
  local function wrong_url()
    local url, pw = H.env("TASKDB_TEST_TCP_URL"), H.env("TASKDB_TEST_PASSWORD")
    local s, e = url:find(pw, 1, true)
    assert(s, "TASKDB_TEST_TCP_URL does not hold TASKDB_TEST_PASSWORD")
    return url:sub(1, s - 1) .. "Wr0ng-Guess-991" .. url:sub(e + 1), pw
  end

  it("fails once and fast with connection, even with retries, and never shows a password", function()
    local url, right = wrong_url()
    local elapsed, ok, e = H.timed(taskdb.connect, { url = url, retries = 5, connect_timeout = 5 })
    assert.is_false(ok)
    assert.equal("connection", e.kind, tostring(e))
    assert.is_true(elapsed < 1, "took " .. elapsed .. " s: retried?")
    assert.is_nil(e.message:find("attempts", 1, true), e.message)
    assert.equal("28P01", e.sqlstate)
    for _, s in ipairs{ e.message, tostring(e) } do
      assert.is_nil(s:find("Wr0ng-Guess-991", 1, true), s)
      assert.is_nil(s:find(right, 1, true), s)
    end
  end)

  it("the right password over the same TCP path works (the test is fair)", function()
    local db = taskdb.connect{ url = H.env("TASKDB_TEST_TCP_URL") }
    assert.is_true(db:ping())
    assert.is_nil(tostring(db):find(H.env("TASKDB_TEST_PASSWORD"), 1, true))
    db:close()
  end)
end)

describe("a hung server", function()
  local function hang_url()
    return "postgresql://nobody@127.0.0.1:" .. H.env("TASKDB_TEST_HANG_PORT") ..
           "/taskdb_test?sslmode=disable"
  end

  it("fails with timeout within connect_timeout", function()
    local elapsed, ok, e = H.timed(taskdb.connect, { url = hang_url(), connect_timeout = 1 })
    assert.is_false(ok)
    assert.equal("timeout", e.kind, tostring(e))
    assert.is_true(elapsed >= 0.9 and elapsed < 2, "took " .. elapsed .. " s")
  end)

  it("is not retried past connect_timeout", function()
    local elapsed, ok, e = H.timed(taskdb.connect,
                                   { url = hang_url(), connect_timeout = 1, retries = 5 })
    assert.is_false(ok)
    assert.equal("timeout", e.kind, tostring(e))
    assert.is_true(elapsed < 2, "took " .. elapsed .. " s")
  end)

  it("is given up on after the default connect_timeout of 5 s", function()
    local elapsed, ok, e = H.timed(taskdb.connect, { url = hang_url() })
    assert.is_false(ok)
    assert.equal("timeout", e.kind, tostring(e))
    assert.is_true(elapsed >= 4.5 and elapsed < 6.5, "took " .. elapsed .. " s")
  end)
end)

describe("statement_timeout", function()
  local holder
  after_each(function()
    if holder then pcall(H.terminate, holder) holder = nil end
  end)

  local function lock_waiters()
    return H.backends{ datname = "taskdb_test", wait_event_type = "Lock" }
  end

  it("cancels a blocked read and a blocked write on the server, and the same handle works after", function()
    local user, app = helper.uid("stmt-timeout"), helper.uid("app-stmt")
    holder = helper.uid("app-holder")
    local db = helper.connect{ statement_timeout = 0.5, application_name = app }
    db:init_db()
    local t = db:create_task{ user_id = user, title = "before the lock" }
    local pid = db:info().backend_pid
    H.hold_lock(holder, 30)

    local elapsed, ok, e = H.timed(db.get_tasks, db, { user_id = user })
    assert.is_false(ok)
    assert.equal("timeout", e.kind, tostring(e))
    assert.is_true(elapsed >= 0.4 and elapsed < 3, "took " .. elapsed .. " s")
    -- the statement is gone from the server, not left waiting
    H.wait_for("no statement left waiting on the lock", 3, function() return lock_waiters() == 0 end)
    assert.equal(0, H.backends{ application_name = app, state = "active" })

    elapsed, ok, e = H.timed(db.create_task, db, { user_id = user, title = "blocked write" })
    assert.is_false(ok)
    assert.equal("timeout", e.kind, tostring(e))
    assert.is_true(elapsed >= 0.4 and elapsed < 3, "took " .. elapsed .. " s")
    H.wait_for("no statement left waiting on the lock", 3, function() return lock_waiters() == 0 end)

    H.terminate(holder)
    holder = nil
    local page = db:get_tasks{ user_id = user }
    assert.equal(1, #page)
    assert.equal(t.id, page[1].id)
    assert.equal(1, db:count_tasks{ user_id = user })   -- the timed-out write applied nothing
    assert.is_table(db:create_task{ user_id = user, title = "after the lock" })
    assert.equal(2, H.count(user))
    assert.equal(0, db:info().reconnects)                -- cancelled, not dropped
    assert.equal(pid, db:info().backend_pid)
    db:close()
  end)

  it("with no lock in the way, statements under the limit are not affected", function()
    local db = helper.connect{ statement_timeout = 0.5 }
    local user = helper.uid("stmt-ok")
    for i = 1, 20 do db:create_task{ user_id = user, title = "t" .. i } end
    assert.equal(20, #db:get_tasks{ user_id = user })
    db:close()
  end)
end)

describe("a backend that stops answering mid-session #direct_only", function()
  local stopped
  after_each(function()
    if stopped then os.execute("kill -CONT " .. stopped .. " 2>/dev/null") stopped = nil end
  end)

  -- SIGSTOP freezes the backend: the socket stays open, nothing answers,
  -- and even the cancel request goes unheard.
  local function freeze(db)
    stopped = db:info().backend_pid
    assert.is_true(os.execute("kill -STOP " .. stopped) == true)
  end
  local function thaw()
    os.execute("kill -CONT " .. stopped)
    stopped = nil
  end

  it("a read: statement_timeout still bounds the call, and the handle reconnects after", function()
    local user, app = helper.uid("frozen-read"), helper.uid("app-frozen-read")
    local t = setup_task(user)
    local db = helper.connect{ statement_timeout = 0.5, application_name = app }
    assert.equal("survives faults", db:get_task(t.id).title)
    freeze(db)
    local elapsed, ok, e = H.timed(db.get_task, db, t.id)
    thaw()
    assert.is_false(ok)
    assert.is_truthy(e.kind == "timeout" or e.kind == "connection", tostring(e))
    assert.is_true(elapsed < 4, "took " .. elapsed .. " s")
    assert.equal("survives faults", db:get_task(t.id).title)
    assert.equal(1, db:info().reconnects)
    db:close()
  end)

  it("a bulk write frozen while its rows are sent: bounded, nothing written, the handle reconnects", function()
    local user, app = helper.uid("frozen-bulk"), helper.uid("app-frozen-bulk")
    local SLEEP, install_sleep, remove_sleep = H.sleep_trigger("conn", 8)
    install_sleep()
    local db = helper.connect{ statement_timeout = 1.5, application_name = app }
    db:init_db()
    stopped = db:info().backend_pid
    -- once the backend sits in the trigger's sleep (inside COPY), freeze it
    local frozen = H.tmpfile("frozen")
    os.execute("for i in $(seq 1 150); do " ..
      "if [ \"$(" .. H.psql_bin .. " -X -A -t -d " .. H.shq(H.direct_url()) .. " -c " ..
      H.shq(H.backends_sql("count(*)", { pid = stopped, wait_event = "PgSleep" })) .. ")\" = 1 ]; then " ..
      "kill -STOP " .. stopped .. "; echo frozen > " .. H.shq(frozen) .. "; exit 0; fi; " ..
      "sleep 0.02; done >/dev/null 2>&1 &")
    local list, desc = {}, string.rep("d", 500)
    for i = 1, 20000 do list[i] = { user_id = user, title = "frozen " .. i, description = desc } end
    list[5].title = SLEEP
    local elapsed, ok, e = H.timed(db.create_tasks, db, list)
    local was_frozen = H.readfile(frozen) ~= nil
    thaw()
    remove_sleep()
    assert.is_true(was_frozen, "the backend was never frozen")
    assert.is_false(ok)
    assert.equal("timeout", e.kind, tostring(e))
    assert.matches("dropped", e.message)
    assert.is_true(elapsed < 6, "took " .. elapsed .. " s")
    H.wait_for("the frozen backend to exit", 15, function() return H.backends(app) == 0 end)
    assert.equal(0, H.count(user))
    assert.is_table(db:create_task{ user_id = user, title = "next" })
    assert.equal(1, db:info().reconnects)
    db:close()
  end)

  it("a write: bounded, reported as of unknown outcome, and never applied twice", function()
    local user, app = helper.uid("frozen-write"), helper.uid("app-frozen-write")
    local db = helper.connect{ statement_timeout = 0.5, application_name = app }
    db:init_db()
    db:create_task{ user_id = user .. "-warmup", title = "warm-up" }
    freeze(db)
    local elapsed, ok, e = H.timed(db.create_task, db, { user_id = user, title = "while frozen" })
    thaw()
    assert.is_false(ok)
    assert.is_truthy(e.kind == "timeout" or e.kind == "connection", tostring(e))
    assert.matches("unknown", e.message)
    assert.is_true(elapsed < 4, "took " .. elapsed .. " s")
    -- the thawed backend may still run what it had received: at most once
    H.wait_for("the frozen backend to exit", 10, function() return H.backends(app) == 0 end)
    local applied = H.count(user)
    assert.is_true(applied <= 1)
    assert.is_table(db:create_task{ user_id = user, title = "next" })
    assert.equal(applied + 1, H.count(user))
    assert.equal(1, db:info().reconnects)
    db:close()
  end)
end)

describe("client_encoding", function()
  it("is always UTF8, whatever the URL or the environment asks for", function()
    local user = helper.uid("encoding")
    local text = "漢字 ünïcödé 🙂"
    local url = helper.url()
    url = url .. (url:find("?", 1, true) and "&" or "?") .. "client_encoding=LATIN1"
    local db = taskdb.connect(url)
    local t = db:create_task{ user_id = user, title = text, description = string.rep("é", 1000) }
    assert.equal(text, db:get_task(t.id).title)
    assert.equal(1000, utf8.len(db:get_task(t.id).description))
    assert.equal(text, helper.psql("SELECT title FROM public.tasks WHERE id = " .. t.id))
    db:close()
    local code, out, err = helper.taskshell([[
      local db = require("taskdb").connect(...)
      print(db:get_task(]] .. t.id .. [[).title)
    ]], { PGCLIENTENCODING = "SQL_ASCII" }, { args = { helper.url() } })
    assert.equal(0, code, err)
    assert.equal(text .. "\n", out)
  end)
end)

describe("TLS", function()
  local function tls_url() return H.env("TASKDB_TEST_TLS_HOST_URL") end

  it("works with sslmode=require and reports ssl on", function()
    local db = taskdb.connect{ url = with_query(tls_url(), "sslmode=require") }
    assert.equal("on", db:info().ssl)
    assert.is_true(db:ping())
    db:close()
  end)

  it("works with sslmode=verify-full and the test CA", function()
    local db = taskdb.connect{ url = with_query(tls_url(), "sslmode=verify-full&sslrootcert=" ..
                                                H.env("TASKDB_TEST_TLS_CA")) }
    assert.equal("on", db:info().ssl)
    assert.is_true(db:ping())
    db:close()
  end)

  it("fails with connection under verify-full and a CA that did not sign the server", function()
    local ca = H.tmpfile("wrong-ca.pem")
    H.writefile(ca, WRONG_CA_PEM)
    local ok, e = pcall(taskdb.connect, { retries = 0, connect_timeout = 5,
      url = with_query(tls_url(), "sslmode=verify-full&sslrootcert=" .. ca) })
    assert.is_false(ok)
    assert.equal("connection", e.kind, tostring(e))
    assert.is_nil(tostring(e):find(H.env("TASKDB_TEST_PASSWORD"), 1, true))
  end)

  it("fails with connection under verify-full and an empty CA file", function()
    local ca = H.tmpfile("empty-ca.pem")
    H.writefile(ca, "")
    local ok, e = pcall(taskdb.connect, { retries = 0, connect_timeout = 5,
      url = with_query(tls_url(), "sslmode=verify-full&sslrootcert=" .. ca) })
    assert.is_false(ok)
    assert.equal("connection", e.kind, tostring(e))
  end)

  it("an explicit sslmode=disable wins and reports ssl off", function()
    local db = taskdb.connect{ url = H.env("TASKDB_TEST_TCP_URL") }
    assert.equal("off", db:info().ssl)
    db:close()
  end)

  -- host= names a non-loopback host (used for the TLS name and the remote
  -- rule); hostaddr= makes libpq actually dial loopback.
  local function remote_conninfo(u, extra)
    local parts = { "host=db.example.test", "hostaddr=127.0.0.1", "port=" .. u.port,
                    "dbname=" .. u.dbname, "user=" .. u.user }
    if u.password then parts[#parts + 1] = "password=" .. u.password end
    if extra then parts[#parts + 1] = extra end
    return table.concat(parts, " ")
  end

  it("a remote host with no sslmode gets sslmode=require", function()
    local u = parse_url(tls_url())
    u.password = H.env("TASKDB_TEST_PASSWORD")
    local db = taskdb.connect{ url = remote_conninfo(u), retries = 0 }
    assert.equal("on", db:info().ssl)
    assert.is_true(db:ping())
    db:close()
  end)

  it("a remote host with no sslmode never falls back to clear text", function()
    -- The pooler speaks no TLS to clients: with the remote default it must
    -- refuse (or, if it does speak TLS, use it) — never connect in clear.
    local u = parse_url(H.env("TASKDB_TEST_BOUNCER_URL"))
    local plain = taskdb.connect{ url = remote_conninfo(u, "sslmode=disable"), retries = 0 }
    assert.equal("off", plain:info().ssl)   -- reachable this way, so a failure below is TLS
    plain:close()
    local ok, db = pcall(taskdb.connect, { url = remote_conninfo(u), retries = 0, connect_timeout = 5 })
    if ok then
      assert.equal("on", db:info().ssl)
      db:close()
    else
      assert.equal("connection", db.kind, tostring(db))
    end
  end)

  -- Whether a host is local is decided by what it is, not how it starts:
  -- 127.example.com is a name (only localhost is a local name), even when
  -- hostaddr dials 127.0.0.1.  The pooler speaks no TLS, so a forced
  -- sslmode=require shows as a refusal, and its absence as a clear-text
  -- connection.
  local function pooler_conninfo(host, hostaddr)
    local u = parse_url(H.env("TASKDB_TEST_BOUNCER_URL"))
    return "host=" .. host .. (hostaddr and (" hostaddr=" .. hostaddr) or "") ..
           " port=" .. u.port .. " dbname=" .. u.dbname .. " user=" .. u.user
  end

  for _, name in ipairs{ "127.example.com", "127.0.0.1.example.com", "localhost.example.com" } do
    it("a name that only looks local (" .. name .. ", dialled at 127.0.0.1) gets sslmode=require", function()
      local ok, db = pcall(taskdb.connect, { url = pooler_conninfo(name, "127.0.0.1"), retries = 0,
                                             connect_timeout = 5 })
      if ok then
        local ssl = db:info().ssl
        db:close()
        assert.equal("on", ssl, "connected in clear text")
      else
        assert.equal("connection", db.kind, tostring(db))
      end
    end)
  end

  for _, local_host in ipairs{ { "localhost", "127.0.0.1" }, { "127.0.0.1" }, { "localhost" } } do
    it("a local host (" .. table.concat(local_host, " at ") .. ") is not forced to TLS", function()
      local db = taskdb.connect{ url = pooler_conninfo(local_host[1], local_host[2]), retries = 0 }
      assert.equal("off", db:info().ssl)
      db:close()
    end)
  end
end)

describe("a server crash #direct_only", function()
  after_each(function() H.ensure_up() end)

  it("loses no acknowledged write; calls fail in bounded time while down and work after", function()
    local user = helper.uid("crash")
    local db = helper.connect{ connect_timeout = 2, retries = 2 }
    db:init_db()
    local ids = {}
    for i = 1, 25 do ids[i] = db:create_task{ user_id = user, title = "acked " .. i }.id end
    local toggled = db:toggle_complete(ids[1])
    assert.is_true(toggled.completed)

    H.pgctl("stop-immediate")
    local elapsed, ok, e = H.timed(db.count_tasks, db, { user_id = user })
    assert.is_false(ok)
    assert.equal("connection", e.kind, tostring(e))
    assert.is_true(elapsed < 2.5, "took " .. elapsed .. " s")

    H.pgctl("start")
    H.wait_for("server up", 30, H.server_up)
    assert.equal(25, db:count_tasks{ user_id = user })
    local page = db:get_tasks{ user_id = user }
    assert.equal(25, #page)
    for i, t in ipairs(page) do
      assert.equal(ids[i], t.id)
      assert.equal("acked " .. i, t.title)
    end
    assert.is_true(page[1].completed)
    assert.is_true(db:info().reconnects >= 1)
    assert.is_table(db:create_task{ user_id = user, title = "after the crash" })
    assert.equal(26, H.count(user))
    db:close()
  end)
end)

teardown(H.cleanup)

-- spec/failover_spec.lua — taskdb on a real pg_auto_failover formation
-- (spec/support/formation.sh: a monitor, a primary and its synchronous
-- standby on 127.0.0.1): a planned failover and crashes under a write loop,
-- and multi-host connects (a hung host, a promotion in progress, a standby
-- alone).
--
-- The write loop gives every write a title of its own, so afterwards the
-- table says exactly what landed: every acknowledged write exactly once,
-- no write that failed with a definite error, and a write whose outcome was
-- reported unknown at most once.  It prints how long writes were
-- unavailable: the longest gap between two acknowledged writes.
--
-- Tagged #direct_only: these faults are the formation's, and the formation
-- has no pooler in front of it.

local taskdb = require("taskdb")
local helper = require("spec.helper")
local H = require("spec.support.procs")
local F = require("spec.support.formation")

teardown(H.cleanup)

-- Writes create_task{ user_id = user, title = unique } on `db` until
-- step(r) returns true (called between writes, with the record so far).
-- Returns the record: acked[title] = id, unknown[title], failed[title] = err,
-- and the longest gap between two acknowledged writes.
local function write_loop(db, user, step, limit)
  local r = { acked = {}, unknown = {}, failed = {}, n = 0, nacked = 0, nunknown = 0,
              nfailed = 0, kinds = {}, gap = 0, slowest = 0 }
  local deadline = H.now() + (limit or 120)
  local last_ack = H.now()
  while not step(r) do
    assert(H.now() < deadline, "the write loop did not finish within " .. (limit or 120) .. " s")
    r.n = r.n + 1
    local title = string.format("write %06d", r.n)
    local t0 = H.now()
    local ok, res = pcall(db.create_task, db, { user_id = user, title = title })
    local now = H.now()
    if now - t0 > r.slowest then r.slowest = now - t0 end
    if ok then
      r.acked[title] = res.id
      r.nacked = r.nacked + 1
      if now - last_ack > r.gap then r.gap = now - last_ack end
      last_ack = now
    else
      -- Anything but a taskdb error is a bug, not an outage.
      if type(res) ~= "table" or not res.kind then error(res, 0) end
      r.kinds[res.kind] = (r.kinds[res.kind] or 0) + 1
      if res.message:find("outcome is unknown", 1, true) then
        r.unknown[title] = true
        r.nunknown = r.nunknown + 1
      else
        r.failed[title] = tostring(res)
        r.nfailed = r.nfailed + 1
      end
      H.sleep(0.01)   -- a refused connect fails at once: do not spin
    end
  end
  return r
end

-- What the primary holds for `user`, checked against the loop's record.
local function check_writes(r, user, primary)
  local count, id = {}, {}
  local out = F.psql(primary.name, "SELECT title, count(*), min(id) FROM public.tasks " ..
                     "WHERE user_id = '" .. user .. "' GROUP BY title")
  for title, n, first in out:gmatch("([^\n|]+)|(%d+)|(%d+)") do
    count[title], id[title] = tonumber(n), tonumber(first)
  end
  local lost, wrong_id, doubled, phantom, stray, landed = {}, {}, {}, {}, {}, 0
  for title, n in pairs(count) do
    if n > 1 then doubled[#doubled + 1] = title end
    if not (r.acked[title] or r.unknown[title] or r.failed[title]) then stray[#stray + 1] = title end
  end
  for title, tid in pairs(r.acked) do
    if not count[title] then lost[#lost + 1] = title
    elseif id[title] ~= tid then wrong_id[#wrong_id + 1] = title end
  end
  for title, why in pairs(r.failed) do
    if count[title] then phantom[#phantom + 1] = title .. " (" .. why .. ")" end
  end
  for title in pairs(r.unknown) do
    if count[title] then landed = landed + 1 end
  end
  assert.same({}, lost, "acknowledged writes lost")
  assert.same({}, wrong_id, "acknowledged writes stored under another id")
  assert.same({}, doubled, "writes stored twice")
  assert.same({}, phantom, "writes that failed with a definite error but were stored")
  assert.same({}, stray, "rows no write of the loop made")
  return landed
end

local function report(what, r, landed)
  local kinds = {}
  for k, n in pairs(r.kinds) do kinds[#kinds + 1] = k .. " " .. n end
  table.sort(kinds)
  print(string.format("%s: writes unavailable for %.2f s (slowest call %.2f s); %d writes, " ..
                      "%d acknowledged, %d failed (%s), %d of them outcome unknown " ..
                      "(%d of those landed)",
                      what, r.gap, r.slowest, r.n, r.nacked, r.nfailed + r.nunknown,
                      #kinds > 0 and table.concat(kinds, ", ") or "none", r.nunknown, landed))
  io.stdout:flush()
end

-- The handle reaches the node: its backend is among that node's sessions.
local function served_by(node, app)
  return F.psql(node.name, H.backends_sql("count(*)", app)) ~= "0"
end

-- The port as a number of its own in msg ("127.0.0.1:5432", "port 5432").
local function names_port(msg, port)
  return msg:find("%f[%d]" .. port .. "%f[%D]") ~= nil
end

local function connect_formation(app)
  local db = taskdb.connect{ url = F.url, application_name = app, statement_timeout = 10 }
  db:init_db()
  return db
end

-- Untagged: it changes nothing, and shows the formation in both passes.
describe("the test formation", function()
  it("is up: a primary and a synchronous standby, and its URL reaches the primary", function()
    local p, s = F.wait_stable(60)
    assert.are_not.equal(p.name, s.name)
    assert.equal("sync", F.replication())
    local app = helper.uid("fo-up")
    local db = connect_formation(app)
    assert.is_true(served_by(p, app))
    assert.equal("t", F.psql(s.name, "SELECT pg_is_in_recovery()"))
    db:close()
  end)
end)

describe("a pg_auto_failover formation #direct_only", function()
  after_each(function()
    F.restore(120)   -- both nodes up, one primary, one secondary
  end)

  it("a planned failover under a write loop: nothing lost or doubled, the same handle carries on",
     function()
    local p0, s0 = F.wait_stable(60)
    local user, app = helper.uid("fo-planned"), helper.uid("fo-planned-app")
    local db = connect_formation(app)
    local reconnects0 = db:info().reconnects
    local job, after
    local r = write_loop(db, user, function(r)
      if not job and r.nacked >= 200 then job = F.spawn_failover() end
      if job and not after and job.done() then after = r.nacked end
      return after ~= nil and r.nacked >= after + 200
    end)
    local res = job.wait(5)
    assert.is_true(res.ok, "pg_autoctl perform failover: " .. res.out)

    local p1, s1 = F.wait_stable(60)
    assert.equal(s0.name, p1.name)
    assert.equal(p0.name, s1.name)
    local landed = check_writes(r, user, p1)
    report("planned failover", r, landed)
    assert.is_true(r.gap > 0)
    -- the same handle, now on the new primary
    assert.is_true(db:info().reconnects > reconnects0)
    assert.is_table(db:create_task{ user_id = user, title = "after the failover" })
    assert.is_true(served_by(p1, app))
    db:close()
  end)

  -- Its keeper restarts it within a second or so; by then the monitor may
  -- have seen it down and promoted the standby.  Either way the writes
  -- carry on.
  it("the primary's postmaster killed (kill -9): nothing lost or doubled, the same handle carries on",
     function()
    local p0 = F.wait_stable(60)
    local user, app = helper.uid("fo-postmaster"), helper.uid("fo-postmaster-app")
    local db = connect_formation(app)
    local reconnects0 = db:info().reconnects
    local started0 = F.psql(p0.name, "SELECT pg_postmaster_start_time()")
    local killed, after, next_poll = false, nil, 0
    local r = write_loop(db, user, function(r)
      if not killed and r.nacked >= 200 then
        F.kill_postmaster(p0.name)
        killed = true
      end
      if killed and not after and H.now() >= next_poll then
        next_poll = H.now() + 0.5
        local ok, started = pcall(F.psql, p0.name, "SELECT pg_postmaster_start_time()")
        if ok and started ~= started0 then after = r.nacked end
      end
      return after ~= nil and r.nacked >= after + 200
    end)
    local p1 = F.wait_stable(60)
    local landed = check_writes(r, user, p1)
    report(p1.name == p0.name and "postmaster killed, restarted in place"
           or "postmaster killed, standby promoted", r, landed)
    assert.is_true(db:info().reconnects > reconnects0)   -- its backend died with the postmaster
    assert.is_table(db:create_task{ user_id = user, title = "after the restart" })
    assert.is_true(served_by(p1, app))
    db:close()
  end)

  it("the primary crashed (postmaster and keeper killed): the standby is promoted, " ..
     "nothing lost or doubled, the same handle carries on", function()
    local p0, s0 = F.wait_stable(60)
    local user, app = helper.uid("fo-crash"), helper.uid("fo-crash-app")
    local db = connect_formation(app)
    local reconnects0 = db:info().reconnects
    local crashed, promoted, next_poll = false, nil, 0
    local r = write_loop(db, user, function(r)
      if not crashed and r.nacked >= 200 then
        F.crash(p0.name)
        crashed = true
      end
      if crashed and not promoted and H.now() >= next_poll then
        next_poll = H.now() + 0.5
        local p = F.writable()
        if p and p.name == s0.name then promoted = r.nacked end
      end
      return promoted ~= nil and r.nacked >= promoted + 200
    end)
    local landed = check_writes(r, user, s0)
    report("primary crashed", r, landed)
    assert.is_true(db:info().reconnects > reconnects0)
    assert.is_table(db:create_task{ user_id = user, title = "after the promotion" })
    assert.is_true(served_by(s0, app))
    db:close()
    -- the crashed node comes back as the standby of the promoted one
    F.start(p0.name)
    local p1, s1 = F.wait_stable(120)
    assert.equal(s0.name, p1.name)
    assert.equal(p0.name, s1.name)
  end)

  -- The next three follow the multi-host contract of the README's
  -- "Connection behaviour": a per-host deadline, retrying while no host is
  -- read-write, and an error naming each host's state.

  it("a hung first host in a multi-host URL: with connect_timeout = 4 the connect " ..
     "reaches the formation's primary in under 4 s", function()
    local p = F.wait_stable(60)
    local url = F.url_for({ H.env("TASKDB_TEST_HANG_PORT"), F.node("node1").port,
                            F.node("node2").port }, "target_session_attrs=read-write")
    local app = helper.uid("fo-hung-first")
    local elapsed, ok, db = H.timed(taskdb.connect,
                                    { url = url .. "&application_name=" .. app, connect_timeout = 4 })
    assert.is_true(ok, tostring(db))
    assert.is_true(elapsed < 4, "took " .. elapsed .. " s")
    assert.is_table(db:create_task{ user_id = helper.uid("fo-hung"), title = "past the hung host" })
    assert.is_true(served_by(p, app))
    db:close()
  end)

  it("a connect started while no host is read-write (the primary just crashed) keeps " ..
     "trying and succeeds on the promoted standby", function()
    local p0, s0 = F.wait_stable(60)
    F.crash(p0.name)
    -- Nobody is read-write now: the primary is down and the standby not yet
    -- promoted (the monitor gives the dead node 2 s before acting).
    local st = F.states()
    assert.equal("secondary", st[s0.name].reported)
    assert.equal("t", F.psql(s0.name, "SELECT pg_is_in_recovery()"))
    local app = helper.uid("fo-during-promotion")
    local elapsed, ok, db = H.timed(taskdb.connect,
                                    { url = F.url .. "&application_name=" .. app,
                                      connect_timeout = 30 })
    assert.is_true(ok, tostring(db))
    assert.is_true(elapsed < 30, "took " .. elapsed .. " s")
    print(string.format("connect during promotion: connected after %.2f s", elapsed))
    assert.is_table(db:create_task{ user_id = helper.uid("fo-promo"), title = "on the new primary" })
    assert.is_true(served_by(s0, app))
    db:close()
    F.start(p0.name)
    F.wait_stable(120)
  end)

  it("a URL with only the read-only standby fails within connect_timeout, naming its state",
     function()
    local _, s = F.wait_stable(60)
    local url = F.url_for({ s.port }, "target_session_attrs=read-write")
    local elapsed, ok, e = H.timed(taskdb.connect, { url = url, connect_timeout = 2 })
    assert.is_false(ok)
    assert.is_table(e, tostring(e))
    assert.is_truthy(e.kind == "connection" or e.kind == "timeout", tostring(e))
    assert.is_true(elapsed < 3.5, "took " .. elapsed .. " s")
    assert.is_true(names_port(e.message, s.port), tostring(e))
    assert.matches("read%-only", e.message)
  end)

  it("a URL whose hosts are refused, hung and read-only fails within connect_timeout, " ..
     "naming each host's state", function()
    local _, s = F.wait_stable(60)
    local hang = H.env("TASKDB_TEST_HANG_PORT")
    -- port 1: nothing listens there, the connect is refused at once
    local url = F.url_for({ 1, hang, s.port }, "target_session_attrs=read-write")
    local elapsed, ok, e = H.timed(taskdb.connect, { url = url, connect_timeout = 3 })
    assert.is_false(ok)
    assert.is_table(e, tostring(e))
    assert.is_true(elapsed < 4.5, "took " .. elapsed .. " s")
    for _, port in ipairs({ 1, hang, s.port }) do
      assert.is_true(names_port(e.message, port), "port " .. port .. " not named: " .. tostring(e))
    end
    assert.matches("refused", e.message)
    assert.is_truthy(e.message:find("timed out", 1, true) or e.message:find("timeout", 1, true),
                     tostring(e))
    assert.matches("read%-only", e.message)
  end)

  it("switches between synchronous and asynchronous replication for the read specs", function()
    local p, s = F.wait_stable(60)
    assert.equal("async", F.set_replication("async"))
    local db = connect_formation(helper.uid("fo-async"))
    local user = helper.uid("fo-async")
    local t = db:create_task{ user_id = user, title = "replicated" }
    H.wait_for("the standby to replay the write", 10, function()
      return F.psql(s.name, "SELECT count(*) FROM public.tasks WHERE id = " .. t.id) == "1"
    end)
    db:close()
    assert.equal("sync", F.set_replication("sync"))
    local p1, s1 = F.wait_stable(60)
    assert.equal(p.name, p1.name)
    assert.equal(s.name, s1.name)
  end)
end)

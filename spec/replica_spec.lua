-- spec/replica_spec.lua — taskdb.connect{ url = primary, read_url = replica }:
-- task reads on the replica, everything else on the primary, and
-- read-your-writes: a read after a write on the handle never misses it,
-- even with asynchronous replication.  Against the real pg_auto_failover
-- formation of the test run (spec/support/formation.lua), and, for the
-- pooler, against the test server through PgBouncer.

local helper = require("spec.helper")
local taskdb = require("taskdb")
local H = require("spec.support.procs")

teardown(H.cleanup)

describe("read_url on a formation #direct_only", function()
  local F = require("spec.support.formation")
  local db, secondary

  lazy_setup(function()
    local _
    _, secondary = F.wait_stable(120)
    db = taskdb.connect{ url = F.url, read_url = secondary.url }
    db:init_db()
    F.set_replication("async")
  end)
  lazy_teardown(function()
    if db then db:close() end
    F.set_replication("sync")
  end)

  it("2000 write-then-read pairs under asynchronous replication: no read misses its write", function()
    assert.equal("async", F.replication())
    local user = helper.uid("rr-pairs")
    local misses, replica_reads0 = 0, db:info().replica_reads
    for i = 1, 1000 do
      local t = db:create_task{ user_id = user, title = "pair " .. i }
      local seen = db:get_task(t.id)
      if not seen or seen.title ~= t.title then misses = misses + 1 end
      local u = db:update_task(t.id, { title = "pair " .. i .. " updated" })
      local again = db:get_tasks{ user_id = user, limit = 1, desc = true }[1]
      if not again or again.title ~= u.title then misses = misses + 1 end
    end
    assert.equal(0, misses)
    -- the primary answered them: the replica had not replayed the writes yet, or was not asked
    assert.is_true(db:info().replica_reads >= replica_reads0)
  end)

  it("serves at least 90% of a read-heavy loop on old tasks from the replica", function()
    local user = helper.uid("rr-old")
    local ids = {}
    for i = 1, 50 do ids[i] = db:create_task{ user_id = user, title = "old " .. i }.id end
    H.wait_for("the replica to replay the tasks", 30, function()
      return F.psql(secondary.name, "SELECT count(*) FROM public.tasks WHERE user_id = '" .. user .. "'") == "50"
    end)
    local before = db:info().replica_reads
    for i = 1, 1000 do
      local t = db:get_task(ids[(i % 50) + 1])
      assert.is_table(t)
      if i % 100 == 0 then assert.equal(50, db:count_tasks{ user_id = user }) end
    end
    local served = db:info().replica_reads - before
    assert.is_true(served >= 0.9 * 1010, "replica reads: " .. served .. " of 1010")
    assert.equal("replica", db:info().last_read)
    assert.is_string(db:info().replica_host)
  end)

  it("keeps every transaction and every pipeline on the primary", function()
    local user = helper.uid("rr-txn")
    db:transaction(function(tx)
      local t = tx:create_task{ user_id = user, title = "in txn" }
      assert.equal("in txn", tx:get_task(t.id).title)   -- its own uncommitted row: the primary
      assert.equal("primary", tx:info().last_read)
    end)
    local r = db:pipeline(function(p)
      p:create_task{ user_id = user, title = "piped" }
      p:count_tasks{ user_id = user }
    end)
    assert.equal(2, r[2])
    assert.equal(2, db:count_tasks{ user_id = user })    -- read-your-writes after the pipeline
  end)

  it("reads still succeed while the replica is stopped, and use it again once it is back", function()
    local user = helper.uid("rr-down")
    local t = db:create_task{ user_id = user, title = "before the stop" }
    F.stop(secondary.name)
    for _ = 1, 20 do
      assert.equal("before the stop", db:get_task(t.id).title)
    end
    assert.equal("primary", db:info().last_read)
    F.start(secondary.name)
    F.wait_stable(120)
    H.wait_for("reads to go to the replica again", 30, function()
      db:get_task(t.id)
      return db:info().last_read == "replica"
    end)
  end)
end)

describe("read_url", function()
  it("through PgBouncer on the read side: reads work and writes are always seen", function()
    local db = taskdb.connect{ url = helper.direct_url(), read_url = helper.url() }
    db:init_db()
    local user = helper.uid("rr-bouncer")
    for i = 1, 50 do
      local t = db:create_task{ user_id = user, title = "b" .. i }
      assert.equal(t.title, db:get_task(t.id).title)
    end
    assert.equal(50, db:count_tasks{ user_id = user })
    db:close()
  end)

  it("a replica that cannot be reached is skipped without an error", function()
    local db = taskdb.connect{ url = helper.url(), read_url = "postgresql://127.0.0.1:1/none?connect_timeout=1" }
    local user = helper.uid("rr-unreachable")
    local t = db:create_task{ user_id = user, title = "x" }
    assert.equal("x", db:get_task(t.id).title)
    assert.equal(1, db:count_tasks{ user_id = user })
    assert.equal("primary", db:info().last_read)
    assert.equal(0, db:info().replica_reads)
    db:close()
  end)

  it("a malformed read_url is a config error at connect, and no password is echoed", function()
    local e = helper.expect_error("config", nil, taskdb.connect,
                                  { url = helper.url(), read_url = "host='unterminated password=Sekr3tPw" })
    assert.is_nil(e.message:find("Sekr3tPw", 1, true))
    helper.expect_error("invalid", "read_url", taskdb.connect, { url = helper.url(), read_url = 42 })
  end)
end)

-- spec/pipeline_spec.lua — db:pipeline(fn): calls queued in the block go
-- out together; each keeps its own outcome (a value, or the error table of
-- a refused call, with `index`), commits on its own outside a transaction
-- and is part of it inside one.  Bad arguments raise at queue time and
-- nothing is sent.  A lost connection never doubles a write.  This file
-- also runs in the PgBouncer (transaction pooling) pass.

local helper = require("spec.helper")
local taskdb = require("taskdb")
local H = require("spec.support.procs")

local POISON, install_poison, remove_poison = H.poison_trigger("pipeline")
local KILL, install_kill, remove_kill =
  H.title_trigger("pipeline", "kill", "PERFORM pg_terminate_backend(pg_backend_pid())")
local SLOW, install_slow, remove_slow = H.sleep_trigger("pipeline", 3)

local function titles(user)
  return helper.psql("SELECT coalesce(string_agg(title, ',' ORDER BY title), '') FROM public.tasks " ..
                     "WHERE user_id = '" .. user .. "'")
end

describe("db:pipeline", function()
  local db = helper.db_for_block()
  lazy_setup(function()
    install_poison()
    install_kill()
    install_slow()
  end)
  lazy_teardown(function()
    remove_poison()
    remove_kill()
    remove_slow()
  end)

  it("runs every call kind and returns each outcome in order", function()
    local user = helper.uid("pl-kinds")
    local existing = db:create_task{ user_id = user, title = "existing" }
    local doomed = db:create_task{ user_id = user, title = "doomed" }
    local r = db:pipeline(function(p)
      assert.equal(1, p:create_task{ user_id = user, title = "a", description = "d" })
      assert.equal(2, p:get_task(existing.id))
      assert.equal(3, p:get_task(-1))
      assert.equal(4, p:update_task(existing.id, { title = "existing2", completed = true }))
      assert.equal(5, p:toggle_complete(existing.id))
      assert.equal(6, p:delete_task(doomed.id))
      assert.equal(7, p:delete_task(doomed.id))
      assert.equal(8, p:get_tasks{ user_id = user })
      assert.equal(9, p:count_tasks{ user_id = user })
      assert.equal(10, p:count_tasks{ user_id = user, completed = true })
      assert.equal(11, p:update_task(existing.id, {}))
    end)
    helper.check_task(r[1])
    assert.equal("a", r[1].title)
    assert.equal("d", r[1].description)
    assert.equal("existing", r[2].title)
    assert.is_nil(r[3])
    assert.equal("existing2", r[4].title)
    assert.is_true(r[4].completed)
    assert.is_false(r[5].completed)
    assert.is_true(r[6])
    assert.is_false(r[7])
    assert.equal(2, #r[8])                  -- existing2 and a; doomed is gone
    assert.equal(2, r[9])
    assert.equal(0, r[10])
    assert.equal(r[5].updated_at, r[11].updated_at)   -- an empty patch changes nothing
    assert.equal("a,existing2", titles(user))
  end)

  it("carries the set-based calls: counts in order, and calls with nothing to send give 0", function()
    local user = helper.uid("pl-set")
    local ids = db:create_tasks{ { user_id = user, title = "s1" }, { user_id = user, title = "s2" },
                                 { user_id = user, title = "s3" } }
    local r = db:pipeline(function(p)
      assert.equal(1, p:update_tasks({ user_id = user }, { completed = true }))
      assert.equal(2, p:update_tasks({ ids = {} }, { title = "never" }))        -- nothing to match
      assert.equal(3, p:update_tasks({ user_id = user }, {}))                  -- nothing to change
      assert.equal(4, p:update_tasks({ user_id = user, ids = { ids[1], ids[2] } }, { title = "renamed" }))
      assert.equal(5, p:delete_tasks{ ids = { ids[3] } })
      assert.equal(6, p:delete_tasks{ ids = {} })
      assert.equal(7, p:count_tasks{ user_id = user, completed = true })
    end)
    assert.same({ 3, 0, 0, 2, 1, 0, 2 }, r)
    assert.equal("renamed,renamed", titles(user))
    helper.expect_error("invalid", "all", db.pipeline, db, function(p)
      p:delete_tasks{ completed = true }
    end)
    helper.expect_error("invalid", "ids", db.pipeline, db, function(p)
      p:update_tasks({ ids = { 1, "2" } }, { completed = true })
    end)
    assert.equal(2, H.count(user))
    local other = helper.uid("pl-set-other")
    local theirs = db:create_task{ user_id = other, title = "theirs" }
    local scoped = db:user(user):pipeline(function(p)
      p:delete_tasks{ ids = { theirs.id }, all = true }
      p:update_tasks({ all = true }, { completed = false })
    end)
    assert.same({ 0, 2 }, scoped)
    assert.is_table(db:get_task(theirs.id))
  end)

  it("an empty block sends nothing and returns an empty list", function()
    local r = db:pipeline(function() end)
    assert.same({}, r)
  end)

  it("a refused call gets its error table with its index; the others commit on their own", function()
    local user = helper.uid("pl-refused")
    local r = db:pipeline(function(p)
      p:create_task{ user_id = user, title = "one" }
      p:create_task{ user_id = user, title = POISON }
      p:create_task{ user_id = user, title = "three" }
      p:get_tasks{ user_id = user }
    end)
    assert.equal("one", r[1].title)
    helper.check_error_object(r[2])
    assert.equal("database", r[2].kind)
    assert.equal(2, r[2].index)
    assert.matches("poisoned row", r[2].message)
    assert.equal("three", r[3].title)
    assert.equal(2, #r[4])
    assert.equal("one,three", titles(user))
  end)

  it("bad arguments raise when queued, and nothing of the block is sent", function()
    local user = helper.uid("pl-invalid")
    local e = helper.expect_error("invalid", "title", db.pipeline, db, function(p)
      p:create_task{ user_id = user, title = "fine" }
      p:create_task{ user_id = user, title = "   " }
    end)
    assert.matches("blank", e.message)
    helper.expect_error("invalid", nil, db.pipeline, db, function(p)
      p:create_task{ user_id = user, title = "fine" }
      p:get_task("7")
    end)
    helper.expect_error("invalid", "titel", db.pipeline, db, function(p)
      p:update_task(1, { titel = "typo" })
    end)
    assert.equal(0, H.count(user))
  end)

  it("a bad call caught inside the block still stops the whole block", function()
    local user = helper.uid("pl-caught")
    local e = helper.expect_error("invalid", nil, db.pipeline, db, function(p)
      p:create_task{ user_id = user, title = "fine" }
      local ok = pcall(p.create_task, p, { user_id = user })
      assert.is_false(ok)
      p:create_task{ user_id = user, title = "queued after the caught error" }
      p:get_task(1)
    end)
    assert.matches("nothing was sent", e.message)
    assert.equal(0, H.count(user))
  end)

  it("an error raised by the block comes out unchanged and nothing is sent", function()
    local user = helper.uid("pl-raise")
    local marker = {}
    local ok, err = pcall(db.pipeline, db, function(p)
      p:create_task{ user_id = user, title = "never" }
      error(marker)
    end)
    assert.is_false(ok)
    assert.equal(marker, err)
    assert.equal(0, H.count(user))
  end)

  it("the pipeline object cannot queue after its block ended", function()
    local kept
    db:pipeline(function(p) kept = p end)
    helper.expect_error("invalid", nil, kept.get_task, kept, 1)
    helper.expect_error("invalid", nil, db.pipeline, db, "not a function")
    helper.expect_error("invalid", nil, db.pipeline, db)
  end)

  it("each_task and calls on the handle run inside the block", function()
    local user = helper.uid("pl-each")
    db:create_tasks{ { user_id = user, title = "x1" }, { user_id = user, title = "x2" },
                     { user_id = user, title = "x3", completed = true } }
    local seen = 0
    local r = db:pipeline(function(p)
      for t in db:each_task{ user_id = user, completed = false } do
        p:toggle_complete(t.id)
        seen = seen + 1
      end
      assert.equal(3, db:count_tasks{ user_id = user })   -- runs at once
    end)
    assert.equal(2, seen)
    assert.equal(2, #r)
    for _, t in ipairs(r) do assert.is_true(t.completed) end
    assert.equal(3, db:count_tasks{ user_id = user, completed = true })
  end)

  it("a scoped handle's pipeline stays scoped", function()
    local a, b = helper.uid("pl-scope-a"), helper.uid("pl-scope-b")
    local theirs = db:create_task{ user_id = b, title = "b's" }
    local alice = db:user(a)
    local r = alice:pipeline(function(p)
      p:create_task{ title = "mine" }
      p:get_task(theirs.id)
      p:toggle_complete(theirs.id)
      p:delete_task(theirs.id)
      p:get_tasks()
      p:count_tasks()
    end)
    assert.equal(a, r[1].user_id)
    assert.is_nil(r[2])
    assert.is_nil(r[3])
    assert.is_false(r[4])
    assert.equal(1, #r[5])
    assert.equal(1, r[6])
    assert.is_false(db:get_task(theirs.id).completed)
    helper.expect_error("invalid", "user_id", alice.pipeline, alice, function(p)
      p:create_task{ user_id = b, title = "not mine" }
    end)
  end)

  it("inside a transaction the block is part of it: rolled back with it", function()
    local user = helper.uid("pl-txn-rollback")
    local ok = pcall(db.transaction, db, function(tx)
      local r = tx:pipeline(function(p)
        p:create_task{ user_id = user, title = "in" }
        p:create_task{ user_id = user, title = "txn" }
      end)
      assert.equal("in", r[1].title)
      error("undo")
    end)
    assert.is_false(ok)
    assert.equal(0, H.count(user))
    db:transaction(function(tx)
      tx:pipeline(function(p)
        p:create_task{ user_id = user, title = "kept1" }
        p:create_task{ user_id = user, title = "kept2" }
      end)
    end)
    assert.equal("kept1,kept2", titles(user))
  end)

  it("a refused call inside a transaction fails the commit: nothing is written", function()
    local user = helper.uid("pl-txn-refused")
    local r
    local ok, err = pcall(db.transaction, db, function(tx)
      r = tx:pipeline(function(p)
        p:create_task{ user_id = user, title = "one" }
        p:create_task{ user_id = user, title = POISON }
        p:create_task{ user_id = user, title = "three" }
      end)
    end)
    assert.is_false(ok)
    assert.equal("database", err.kind)
    assert.equal("one", r[1].title)
    assert.equal(2, r[2].index)
    assert.equal("table", type(r[3]))          -- skipped: the transaction was aborted
    assert.equal(3, r[3].index)
    assert.equal(0, H.count(user))
    assert.is_true(db:ping())
  end)

  it("many calls go out without the two sides blocking each other", function()
    local user = helper.uid("pl-many")
    local r = db:pipeline(function(p)
      for i = 1, 3000 do p:create_task{ user_id = user, title = "t" .. i, description = string.rep("d", 900) } end
      for i = 1, 200 do p:get_tasks{ user_id = user, limit = 50 } end
    end)
    assert.equal(3200, #r)
    assert.equal("t3000", r[3000].title)
    assert.equal(50, #r[3200])
    assert.equal(3000, H.count(user))
  end)

  it("a connection lost midway: answered calls keep their outcome, writes sent are never doubled, reads are run again", function()
    local user = helper.uid("pl-lost")
    local before = db:info().reconnects
    local r = db:pipeline(function(p)
      p:create_task{ user_id = user, title = "first" }
      p:create_task{ user_id = user, title = KILL }      -- the server ends the session here
      p:create_task{ user_id = user, title = "after" }
      p:count_tasks{ user_id = user }
    end)
    assert.equal("first", r[1].title)
    assert.equal("connection", r[2].kind)
    assert.equal(2, r[2].index)
    assert.matches("outcome is unknown", r[2].message)
    -- the write behind it: either it was never sent (then it was run) or its outcome is unknown
    if r[3].kind then
      assert.equal("connection", r[3].kind)
      assert.matches("outcome is unknown", r[3].message)
    else
      assert.equal("after", r[3].title)
    end
    assert.equal(H.count(user), r[4])         -- the read ran again, on the new connection
    assert.is_true(db:info().reconnects > before)
    local n = H.count(user)
    assert.is_true(n == 1 or n == 2, "rows: " .. n)
    assert.equal(1, tonumber(helper.psql("SELECT count(*) FROM public.tasks WHERE user_id = '" ..
                                         user .. "' AND title = 'first'")))
  end)

  it("a connection lost inside a transaction: every unanswered call fails and nothing commits", function()
    local user = helper.uid("pl-lost-txn")
    local r
    local ok, err = pcall(db.transaction, db, function(tx)
      r = tx:pipeline(function(p)
        p:create_task{ user_id = user, title = "first" }
        p:create_task{ user_id = user, title = KILL }
        p:get_task(1)
      end)
    end)
    assert.is_false(ok)
    assert.equal("connection", err.kind)
    assert.equal("first", r[1].title)
    assert.equal("connection", r[2].kind)
    assert.equal("connection", r[3].kind)
    assert.equal(0, H.count(user))
    assert.is_true(db:ping())
  end)

  it("statement_timeout cancels the call that hangs; the rest keep their outcomes", function()
    local user = helper.uid("pl-timeout")
    local slow = helper.connect{ statement_timeout = 0.5 }
    local r = slow:pipeline(function(p)
      p:create_task{ user_id = user, title = "quick" }
      p:create_task{ user_id = user, title = SLOW }
      p:count_tasks{ user_id = user }
    end)
    assert.equal("quick", r[1].title)
    assert.equal("timeout", r[2].kind)
    assert.equal(2, r[2].index)
    assert.equal(1, r[3])
    assert.equal(1, H.count(user))
    assert.is_true(slow:ping())
    slow:close()
  end)

  it("raises closed on a closed handle, and closed when the block closes it", function()
    local c = helper.connect()
    helper.expect_error("closed", nil, c.pipeline, c, function(p)
      p:get_task(1)
      c:close()
    end)
    helper.expect_error("closed", nil, c.pipeline, c, function() end)
  end)
end)

teardown(H.cleanup)

-- spec/transaction_spec.lua — db:transaction: commit on return (results
-- returned), roll back and re-raise the original error object, nested
-- savepoints, server-side failures, a connection lost inside, and the same
-- through the pooler (this file also runs in the PgBouncer pass).

local helper = require("spec.helper")
local taskdb = require("taskdb")
local H = require("spec.support.procs")   -- clocks, processes, locks, backends

-- A server-side failure that validation cannot catch: a trigger rejecting
-- rows with this title (only those), installed for this file.
local POISON, install_poison, remove_poison = H.poison_trigger("txn")

-- What the server has committed, seen from outside (never through the pooler).
local function titles(user)
  local out = helper.psql("SELECT string_agg(title, ',' ORDER BY id) FROM public.tasks " ..
                          "WHERE user_id = '" .. user .. "'")
  return out
end

describe("db:transaction", function()
  local db = helper.db_for_block()
  lazy_setup(install_poison)
  lazy_teardown(remove_poison)

  it("commits when the function returns, and returns all its results", function()
    local user = helper.uid("txn-commit")
    local t, n, s, z = db:transaction(function(tx, a, b)
      assert.equal(db, tx)
      assert.equal(1, tx:info().transaction_depth)
      local t1 = tx:create_task{ user_id = user, title = "one" }
      tx:create_task{ user_id = user, title = "two" }
      -- uncommitted: the transaction sees its rows, the outside does not
      assert.equal(2, tx:count_tasks{ user_id = user })
      assert.equal("", titles(user))
      return t1, a + b, "x", nil
    end, 40, 2)
    assert.equal("one", t.title)
    assert.equal(42, n)
    assert.equal("x", s)
    assert.is_nil(z)
    assert.equal("one,two", titles(user))
    assert.equal(0, db:info().transaction_depth)
  end)

  it("returns exactly the function's results, even none", function()
    assert.equal(0, select("#", db:transaction(function() end)))
    assert.equal(3, select("#", db:transaction(function() return nil, nil, nil end)))
  end)

  it("rolls back and re-raises the original error object (a table: the same object)", function()
    local user = helper.uid("txn-rollback")
    local obj = { reason = "mine" }
    local ok, err = pcall(db.transaction, db, function(tx)
      tx:create_task{ user_id = user, title = "undone" }
      tx:create_tasks{ { user_id = user, title = "undone too" } }
      error(obj)
    end)
    assert.is_false(ok)
    assert.equal(obj, err)        -- identity, not a copy
    assert.equal("", titles(user))
    assert.equal(0, db:info().transaction_depth)
    assert.is_true(db:ping())
  end)

  it("re-raises a string error unchanged, and a taskdb error object as the same object", function()
    local user = helper.uid("txn-rollback-2")
    local ok, err = pcall(db.transaction, db, function(tx)
      tx:create_task{ user_id = user, title = "undone" }
      error("plain message", 0)
    end)
    assert.is_false(ok)
    assert.equal("plain message", err)

    local caught
    ok, err = pcall(db.transaction, db, function(tx)
      tx:create_task{ user_id = user, title = "undone" }
      local ok2, e = pcall(tx.create_task, tx, { user_id = user, title = "" })
      assert.is_false(ok2)
      caught = e
      error(e)
    end)
    assert.is_false(ok)
    assert.equal(caught, err)
    assert.equal("invalid", err.kind)
    assert.equal("", titles(user))
  end)

  it("lets an error raised by the library inside propagate with its kind, and rolls back", function()
    local user = helper.uid("txn-lib-error")
    local e = helper.expect_error("invalid", "titel", db.transaction, db, function(tx)
      tx:create_task{ user_id = user, title = "undone" }
      tx:create_task{ user_id = user, titel = "typo" }
    end)
    assert.equal("invalid", e.kind)
    assert.equal("", titles(user))
  end)

  it("nests as savepoints: an inner error caught inside rolls back only the inner part", function()
    local user = helper.uid("txn-nested")
    db:transaction(function(tx)
      tx:create_task{ user_id = user, title = "A" }
      local inner = {}
      local ok, err = pcall(tx.transaction, tx, function(tx2)
        assert.equal(2, tx2:info().transaction_depth)
        tx2:create_task{ user_id = user, title = "B" }
        error(inner)
      end)
      assert.is_false(ok)
      assert.equal(inner, err)
      assert.equal(1, tx:info().transaction_depth)
      tx:create_task{ user_id = user, title = "C" }
      -- an inner transaction that returns is kept with the outer one
      local r = tx:transaction(function(tx2)
        tx2:create_task{ user_id = user, title = "D" }
        return "inner result"
      end)
      assert.equal("inner result", r)
    end)
    assert.equal("A,C,D", titles(user))
  end)

  it("rolls back committed inner savepoints when the outer transaction fails", function()
    local user = helper.uid("txn-nested-outer-fails")
    local ok = pcall(db.transaction, db, function(tx)
      tx:create_task{ user_id = user, title = "A" }
      tx:transaction(function(tx2) tx2:create_task{ user_id = user, title = "B" } end)
      error("outer fails")
    end)
    assert.is_false(ok)
    assert.equal("", titles(user))
  end)

  it("three levels deep, each level undone on its own", function()
    local user = helper.uid("txn-deep")
    db:transaction(function(tx)
      tx:create_task{ user_id = user, title = "L1" }
      tx:transaction(function()
        tx:create_task{ user_id = user, title = "L2" }
        pcall(tx.transaction, tx, function()
          assert.equal(3, tx:info().transaction_depth)
          tx:create_task{ user_id = user, title = "L3" }
          error("x")
        end)
        tx:create_task{ user_id = user, title = "L2b" }
      end)
    end)
    assert.equal("L1,L2,L2b", titles(user))
  end)

  it("leaves no partial writes when the server rejects a statement inside", function()
    local user = helper.uid("txn-server-error")
    local e = helper.expect_error("database", nil, db.transaction, db, function(tx)
      tx:create_task{ user_id = user, title = "first" }
      tx:create_task{ user_id = user, title = "second" }
      tx:create_task{ user_id = user, title = POISON }
      tx:create_task{ user_id = user, title = "never" }
    end)
    assert.matches("poisoned", e.message)
    assert.equal("", titles(user))
    assert.equal(0, db:info().transaction_depth)
    assert.is_true(db:ping())
    assert.is_table(db:create_task{ user_id = user, title = "after" })
    assert.equal("after", titles(user))
  end)

  it("never commits a transaction whose statement failed, even if the error was caught", function()
    local user = helper.uid("txn-swallowed")
    local ok, err = pcall(db.transaction, db, function(tx)
      tx:create_task{ user_id = user, title = "first" }
      local ok1, e1 = pcall(tx.create_task, tx, { user_id = user, title = POISON })
      assert.is_false(ok1)
      assert.equal("database", e1.kind)
      return "pretend all is well"
    end)
    assert.is_false(ok, "a failed transaction was reported as committed")
    assert.is_table(err)
    assert.is_truthy(err.kind == "database" or err.kind == "connection", tostring(err))
    assert.equal("", titles(user))
    assert.equal(0, db:info().transaction_depth)
    assert.is_table(db:create_task{ user_id = user, title = "after" })
  end)

  it("a statement cancelled by statement_timeout inside leaves no partial writes", function()
    local user, holder = helper.uid("txn-timeout"), helper.uid("app-txn-row-holder")
    local tdb = helper.connect{ statement_timeout = 0.5 }
    local locked = tdb:create_task{ user_id = user .. "-locked", title = "row held by psql" }
    H.hold_row_lock(holder, locked.id, 30)
    -- the timeout propagates out of the function: rolled back
    local ok1, e1 = pcall(tdb.transaction, tdb, function(tx)
      tx:create_task{ user_id = user, title = "first" }
      tx:toggle_complete(locked.id)      -- waits on the row lock, then is cancelled
      tx:create_task{ user_id = user, title = "never" }
    end)
    -- caught inside and the function returns: still nothing may be committed
    local inner
    local ok2, e2 = pcall(tdb.transaction, tdb, function(tx)
      tx:create_task{ user_id = user, title = "first again" }
      local okt, et = pcall(tx.toggle_complete, tx, locked.id)
      inner = okt or et
      return "pretend all is well"
    end)
    H.terminate(holder)
    assert.is_false(ok1)
    assert.equal("timeout", e1.kind, tostring(e1))
    assert.is_table(inner, "the blocked toggle succeeded")
    assert.equal("timeout", inner.kind, tostring(inner))
    assert.is_false(ok2, "a transaction whose statement was cancelled was reported committed")
    assert.is_table(e2)
    assert.equal("", titles(user))
    assert.equal("f", helper.psql("SELECT completed FROM public.tasks WHERE id = " .. locked.id))
    assert.equal(0, tdb:info().transaction_depth)
    assert.is_true(tdb:toggle_complete(locked.id).completed)   -- the same handle works
    tdb:close()
  end)

  it("a server error inside a caught inner transaction spares the outer one", function()
    local user = helper.uid("txn-inner-server-error")
    db:transaction(function(tx)
      tx:create_task{ user_id = user, title = "A" }
      local ok, e = pcall(tx.transaction, tx, function()
        tx:create_task{ user_id = user, title = "B" }
        tx:create_task{ user_id = user, title = POISON }
      end)
      assert.is_false(ok)
      assert.equal("database", e.kind)
      tx:create_task{ user_id = user, title = "C" }
    end)
    assert.equal("A,C", titles(user))
  end)

  it("works with a scoped handle and with the bulk and iterator calls", function()
    local user = helper.uid("txn-scoped")
    local alice = db:user(user)
    local n = alice:transaction(function(a)
      a:create_task{ title = "one" }
      a:create_tasks{ { title = "two" }, { title = "three" } }
      local c = 0
      for _ in a:each_task() do c = c + 1 end
      local t = a:get_tasks()[1]
      a:toggle_complete(t.id)
      a:update_task(t.id, { description = "in txn" })
      return c
    end)
    assert.equal(3, n)
    assert.equal("one,two,three", titles(user))
    assert.equal("true|in txn", helper.psql("SELECT completed::text || '|' || description FROM public.tasks " ..
                                         "WHERE user_id = '" .. user .. "' AND title = 'one'"))
  end)

  it("rejects a non-function with invalid, starting nothing", function()
    helper.expect_error("invalid", nil, db.transaction, db, "not a function")
    assert.equal(0, db:info().transaction_depth)
    assert.is_true(db:ping())
  end)

  it("keeps updated_at moving forward on two updates in one transaction", function()
    local user = helper.uid("txn-updated-at")
    local t0 = db:create_task{ user_id = user, title = "t" }
    local a, b = db:transaction(function(tx)
      return tx:toggle_complete(t0.id), tx:toggle_complete(t0.id)
    end)
    assert.is_true(a.updated_at > t0.updated_at)
    assert.is_true(b.updated_at > a.updated_at)
  end)
end)

describe("db:transaction through the pooler", function()
  it("commits, rolls back and nests on TASKDB_TEST_BOUNCER_URL", function()
    local db = helper.connect{ url = H.env("TASKDB_TEST_BOUNCER_URL") }
    db:init_db()
    local user = helper.uid("txn-pooler")
    for round = 1, 5 do
      local r = db:transaction(function(tx)
        tx:create_task{ user_id = user, title = "kept " .. round }
        pcall(tx.transaction, tx, function()
          tx:create_task{ user_id = user, title = "undone " .. round }
          error("inner")
        end)
        assert.equal(round, tx:count_tasks{ user_id = user })
        return round
      end)
      assert.equal(round, r)
      pcall(db.transaction, db, function(tx)
        tx:create_task{ user_id = user, title = "rolled back " .. round }
        error("outer")
      end)
    end
    assert.equal("kept 1,kept 2,kept 3,kept 4,kept 5", titles(user))
    assert.equal(5, db:count_tasks{ user_id = user })
    db:close()
  end)
end)

describe("a connection lost inside a transaction #direct_only", function()
  it("a connection lost BEFORE the transaction is re-established by it", function()
    local user, app = helper.uid("txn-lost-before"), helper.uid("app-txn-lost-before")
    local db = helper.connect{ application_name = app }
    db:init_db()
    H.terminate(app)
    local r = db:transaction(function(tx)
      tx:create_task{ user_id = user, title = "one" }
      return "done"
    end)
    assert.equal("done", r)
    assert.equal("one", titles(user))
    assert.equal(1, db:info().reconnects)
    db:close()
  end)

  it("makes every further call inside raise connection, commits nothing, and the handle reconnects after", function()
    local user, app = helper.uid("txn-lost"), helper.uid("app-txn-lost")
    local db = helper.connect{ application_name = app }
    db:init_db()
    local inside = {}
    local ok, err = pcall(db.transaction, db, function(tx)
      tx:create_task{ user_id = user, title = "before the loss" }
      H.terminate(app)
      local ok1, e1 = pcall(tx.create_task, tx, { user_id = user, title = "after the loss" })
      inside[1] = ok1 or e1
      local ok2, e2 = pcall(tx.get_tasks, tx, { user_id = user })
      inside[2] = ok2 or e2
      local ok3, e3 = pcall(tx.ping, tx)
      inside[3] = ok3 or e3
      return "returned normally"
    end)
    for i = 1, 3 do
      assert.is_table(inside[i], "call " .. i .. " inside the broken transaction succeeded")
      assert.equal("connection", inside[i].kind, tostring(inside[i]))
    end
    -- returning normally must not look like a commit
    assert.is_false(ok)
    assert.equal("connection", err.kind, tostring(err))
    assert.equal(0, H.count(user))
    assert.equal(0, db:info().transaction_depth)
    -- after the transaction the handle reconnects
    assert.is_table(db:create_task{ user_id = user, title = "after the transaction" })
    assert.equal(1, db:info().reconnects)
    assert.equal(1, H.count(user))
    db:close()
  end)

  it("when the function re-raises the connection error, that error comes out and nothing is committed", function()
    local user, app = helper.uid("txn-lost-2"), helper.uid("app-txn-lost-2")
    local db = helper.connect{ application_name = app }
    local ok, err = pcall(db.transaction, db, function(tx)
      tx:create_task{ user_id = user, title = "before the loss" }
      tx:transaction(function()
        tx:create_task{ user_id = user, title = "in a savepoint" }
        H.terminate(app)
        tx:create_task{ user_id = user, title = "after the loss" }
      end)
    end)
    assert.is_false(ok)
    assert.equal("connection", err.kind, tostring(err))
    assert.equal(0, H.count(user))
    assert.equal(0, db:info().transaction_depth)
    assert.is_true(db:ping())
    assert.equal(1, db:info().reconnects)
    db:close()
  end)

  it("a server restart inside a transaction: nothing committed, the handle works after", function()
    local user, app = helper.uid("txn-restart"), helper.uid("app-txn-restart")
    local db = helper.connect{ application_name = app }
    local ok, err = pcall(db.transaction, db, function(tx)
      tx:create_task{ user_id = user, title = "before the restart" }
      H.pgctl("restart")
      H.wait_for("server up", 30, H.server_up)
      tx:create_task{ user_id = user, title = "after the restart" }
    end)
    H.ensure_up()
    assert.is_false(ok)
    assert.equal("connection", err.kind, tostring(err))
    assert.equal(0, H.count(user))
    assert.is_table(db:create_task{ user_id = user, title = "after" })
    assert.equal(1, H.count(user))
    db:close()
  end)
end)

teardown(H.cleanup)

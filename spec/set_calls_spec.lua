-- spec/set_calls_spec.lua — db:update_tasks(filter, patch) and
-- db:delete_tasks(filter): filters (user_id, completed, ids and their
-- combinations), scoped handles, `all`, validation (nothing written),
-- counts, updated_at, transactions, a server refusal, a concurrent writer,
-- and a connection lost mid-statement.  Also runs in the PgBouncer pass.

local helper = require("spec.helper")
local taskdb = require("taskdb")
local H = require("spec.support.procs")   -- clocks, processes, locks, backends

teardown(H.cleanup)

-- n tasks of `user`; the odd ones completed.  Returns them by id order.
local function seed(db, user, n, title)
  local list = {}
  for i = 1, n do
    list[i] = { user_id = user, title = (title or "set") .. " " .. i, completed = i % 2 == 1 }
  end
  local ids = db:create_tasks(list)
  local tasks = {}
  for i, id in ipairs(ids) do tasks[i] = db:get_task(id) end
  return tasks
end

-- Every task of `user`, by id, as the server has it.
local function by_id(db, user)
  local r = {}
  for _, t in ipairs(db:get_tasks{ user_id = user }) do r[t.id] = t end
  return r
end

local function same_rows(before, after)
  for id, t in pairs(before) do assert.are.same(t, after[id]) end
  for id in pairs(after) do assert.is_not_nil(before[id], "row " .. id .. " appeared") end
end

describe("update_tasks", function()
  local db = helper.db_for_block()

  it("by user_id: changes every task of that user and no other's, and says how many", function()
    local u, other = helper.uid("set-user"), helper.uid("set-user-other")
    seed(db, u, 6)
    seed(db, other, 3)
    local theirs = by_id(db, other)
    assert.equal(6, db:update_tasks({ user_id = u }, { title = "renamed" }))
    for _, t in pairs(by_id(db, u)) do assert.equal("renamed", t.title) end
    same_rows(theirs, by_id(db, other))
  end)

  it("by user_id and completed: only that user's open (or done) tasks", function()
    local u = helper.uid("set-open")
    seed(db, u, 7)   -- 4 done (odd), 3 open
    assert.equal(3, db:update_tasks({ user_id = u, completed = false }, { description = "was open" }))
    assert.equal(4, db:update_tasks({ user_id = u, completed = true }, { description = "was done" }))
    for _, t in pairs(by_id(db, u)) do
      assert.equal(t.completed and "was done" or "was open", t.description)
    end
  end)

  it("'complete every open task': the count of open tasks, then 0", function()
    local u = helper.uid("set-complete")
    seed(db, u, 9)
    local open = db:count_tasks{ user_id = u, completed = false }
    assert.equal(open, db:update_tasks({ user_id = u, completed = false }, { completed = true }))
    assert.equal(0, db:count_tasks{ user_id = u, completed = false })
    assert.equal(0, db:update_tasks({ user_id = u, completed = false }, { completed = true }))
  end)

  it("by ids: exactly those, across users, duplicates counted once", function()
    local a, b = helper.uid("set-ids-a"), helper.uid("set-ids-b")
    local ta, tb = seed(db, a, 4), seed(db, b, 4)
    local before_a = by_id(db, a)
    local n = db:update_tasks({ ids = { ta[1].id, tb[2].id, ta[1].id, tb[4].id } }, { title = "picked" })
    assert.equal(3, n)
    local after_a, after_b = by_id(db, a), by_id(db, b)
    assert.equal("picked", after_a[ta[1].id].title)
    assert.equal("picked", after_b[tb[2].id].title)
    assert.equal("picked", after_b[tb[4].id].title)
    assert.are.same(before_a[ta[2].id], after_a[ta[2].id])
    assert.equal("set 3", after_b[tb[3].id].title)
  end)

  it("by ids and completed, by user_id and ids, and all three together", function()
    local a, b = helper.uid("set-combo-a"), helper.uid("set-combo-b")
    local ta, tb = seed(db, a, 6), seed(db, b, 6)
    local ids = { ta[1].id, ta[2].id, ta[3].id, tb[1].id, tb[2].id }
    -- ids + completed: ta[1], ta[3], tb[1] are done
    assert.equal(3, db:update_tasks({ ids = ids, completed = true }, { description = "c" }))
    -- user_id + ids: only a's of the list
    assert.equal(3, db:update_tasks({ user_id = a, ids = ids }, { title = "a's" }))
    -- all three: a's open ones of the list (ta[2])
    assert.equal(1, db:update_tasks({ user_id = a, ids = ids, completed = false }, { completed = true }))
    local ra, rb = by_id(db, a), by_id(db, b)
    assert.equal("c", ra[ta[1].id].description)
    assert.is_nil(ra[ta[2].id].description)
    assert.equal("c", rb[tb[1].id].description)
    assert.is_nil(rb[tb[2].id].description)
    for i = 1, 3 do assert.equal("a's", ra[ta[i].id].title) end
    assert.equal("set 4", ra[ta[4].id].title)
    assert.equal("set 1", rb[tb[1].id].title)
    assert.is_true(ra[ta[2].id].completed)
    assert.is_false(rb[tb[2].id].completed)
  end)

  it("applies the patch like update_task: title, description, taskdb.null clears, completed", function()
    local u = helper.uid("set-patch")
    local ts = seed(db, u, 3)
    assert.equal(3, db:update_tasks({ user_id = u },
      { title = "Ünïcödé ✓", description = "d", completed = false }))
    for _, t in pairs(by_id(db, u)) do
      assert.equal("Ünïcödé ✓", t.title)
      assert.equal("d", t.description)
      assert.is_false(t.completed)
    end
    assert.equal(2, db:update_tasks({ ids = { ts[1].id, ts[2].id } }, { description = taskdb.null }))
    local r = by_id(db, u)
    assert.is_nil(r[ts[1].id].description)
    assert.is_nil(r[ts[2].id].description)
    assert.equal("d", r[ts[3].id].description)
    -- a description of exactly 1000 characters and a title of 200 pass
    assert.equal(3, db:update_tasks({ user_id = u },
      { title = string.rep("é", 200), description = string.rep("x", 1000) }))
  end)

  it("moves updated_at forward on every changed row and leaves the others alone", function()
    local u = helper.uid("set-touch")
    local ts = seed(db, u, 4)
    local before = by_id(db, u)
    assert.equal(2, db:update_tasks({ user_id = u, completed = true }, { title = "touched" }))
    local after = by_id(db, u)
    for _, t in ipairs(ts) do
      if t.completed then
        assert.is_true(after[t.id].updated_at > before[t.id].updated_at)
        assert.equal(before[t.id].created_at, after[t.id].created_at)
      else
        assert.are.same(before[t.id], after[t.id])
      end
    end
    -- twice in one transaction: still forward each time
    local mid, last
    db:transaction(function()
      db:update_tasks({ ids = { ts[2].id } }, { title = "once" })
      mid = db:get_task(ts[2].id).updated_at
      db:update_tasks({ ids = { ts[2].id } }, { title = "twice" })
      last = db:get_task(ts[2].id).updated_at
    end)
    assert.is_true(mid > after[ts[2].id].updated_at)
    assert.is_true(last > mid)
  end)

  it("an empty patch changes nothing (not even updated_at) and returns 0", function()
    local u = helper.uid("set-empty-patch")
    seed(db, u, 3)
    local before = by_id(db, u)
    assert.equal(0, db:update_tasks({ user_id = u }, {}))
    same_rows(before, by_id(db, u))
  end)

  it("an empty id list matches nothing: 0, even with all = true", function()
    local u = helper.uid("set-empty-ids")
    seed(db, u, 2)
    local before = by_id(db, u)
    assert.equal(0, db:update_tasks({ ids = {} }, { title = "none" }))
    assert.equal(0, db:update_tasks({ ids = {}, all = true }, { title = "none" }))
    assert.equal(0, db:update_tasks({ user_id = u, ids = {} }, { title = "none" }))
    same_rows(before, by_id(db, u))
  end)

  it("ids that do not exist (or are extreme integers) are simply not found", function()
    assert.equal(0, db:update_tasks({ ids = { -1, 0, math.maxinteger, math.mininteger } },
      { title = "ghost" }))
  end)

  it("takes integral floats as ids, like the single calls", function()
    local u = helper.uid("set-float-id")
    local ts = seed(db, u, 1)
    assert.equal(1, db:update_tasks({ ids = { ts[1].id + 0.0 } }, { title = "float" }))
    assert.equal("float", db:get_task(ts[1].id).title)
  end)

  it("takes 100,000 ids (in one parameter) and refuses 100,001", function()
    local u = helper.uid("set-many-ids")
    local ts = seed(db, u, 3)
    local ids = {}
    for i = 1, 100000 - 3 do ids[i] = -i end
    for _, t in ipairs(ts) do ids[#ids + 1] = t.id end
    assert.equal(100000, #ids)
    assert.equal(3, db:update_tasks({ ids = ids }, { title = "found among many" }))
    ids[#ids + 1] = -424242
    local e = helper.expect_error("invalid", "ids", db.update_tasks, db, { ids = ids }, { title = "x" })
    assert.matches("at most 100000", e.message)
  end)

  it("inside a transaction it is part of it: rolled back with it", function()
    local u = helper.uid("set-txn")
    seed(db, u, 4)
    local before = by_id(db, u)
    local ok = pcall(db.transaction, db, function()
      assert.equal(4, db:update_tasks({ user_id = u }, { title = "in txn" }))
      assert.equal(4, #db:get_tasks{ user_id = u })
      error("undo")
    end)
    assert.is_false(ok)
    same_rows(before, by_id(db, u))
  end)

  it("all = true: every task of every user (seen inside a transaction rolled back)", function()
    local u = helper.uid("set-all")
    seed(db, u, 3)
    local before = by_id(db, u)
    local ok, err = pcall(db.transaction, db, function()
      local open = db:count_tasks{ completed = false }
      assert.equal(open, db:update_tasks({ all = true, completed = false }, { description = "all" }))
      local total = db:count_tasks()
      assert.equal(total, db:update_tasks({ all = true }, { completed = true }))
      assert.equal(0, db:count_tasks{ completed = false })
      error({ rolled = true })
    end)
    assert.is_false(ok)
    assert.are.same({ rolled = true }, err)
    same_rows(before, by_id(db, u))
  end)

  it("a row the server refuses fails the whole statement: nothing changed", function()
    local poison, install, remove = H.poison_trigger("setcalls")
    local u = helper.uid("set-refused")
    seed(db, u, 3)
    install()
    local ok, e = pcall(function()
      local t = db:create_task{ user_id = u, title = "fine" }
      local before = by_id(db, u)
      -- the trigger rejects any row whose new title is the poison one
      local err = helper.expect_error("database", nil, db.update_tasks, db, { user_id = u },
        { title = poison })
      assert.is_string(err.sqlstate)
      same_rows(before, by_id(db, u))
      assert.equal(before[t.id].title, db:get_task(t.id).title)
      -- the handle is still usable
      assert.equal(4, db:update_tasks({ user_id = u }, { title = "after" }))
    end)
    remove()
    assert(ok, e)
  end)
end)

describe("delete_tasks", function()
  local db = helper.db_for_block()

  it("by user_id and completed: deletes those and says how many", function()
    local u, other = helper.uid("del-user"), helper.uid("del-other")
    seed(db, u, 7)
    seed(db, other, 2)
    local theirs = by_id(db, other)
    assert.equal(4, db:delete_tasks{ user_id = u, completed = true })
    assert.equal(3, db:count_tasks{ user_id = u })
    assert.equal(0, db:count_tasks{ user_id = u, completed = true })
    assert.equal(3, db:delete_tasks{ user_id = u })
    assert.equal(0, db:count_tasks{ user_id = u })
    assert.equal(0, db:delete_tasks{ user_id = u })
    same_rows(theirs, by_id(db, other))
  end)

  it("by ids (across users), with completed, and with user_id", function()
    local a, b = helper.uid("del-ids-a"), helper.uid("del-ids-b")
    local ta, tb = seed(db, a, 4), seed(db, b, 4)
    assert.equal(2, db:delete_tasks{ ids = { ta[1].id, tb[1].id, ta[1].id } })
    assert.is_nil(db:get_task(ta[1].id))
    assert.is_nil(db:get_task(tb[1].id))
    -- ta[2] open, ta[3] done: completed = true takes only ta[3]
    assert.equal(1, db:delete_tasks{ ids = { ta[2].id, ta[3].id }, completed = true })
    assert.is_not_nil(db:get_task(ta[2].id))
    assert.is_nil(db:get_task(ta[3].id))
    -- user_id + ids: b's ids under a's name match nothing
    assert.equal(0, db:delete_tasks{ user_id = a, ids = { tb[2].id, tb[3].id } })
    assert.equal(3, db:count_tasks{ user_id = b })
    assert.equal(2, db:delete_tasks{ user_id = a, ids = { ta[2].id, ta[4].id, tb[2].id } })
    assert.equal(0, db:count_tasks{ user_id = a })
  end)

  it("an empty id list deletes nothing: 0", function()
    local u = helper.uid("del-empty")
    seed(db, u, 2)
    assert.equal(0, db:delete_tasks{ ids = {} })
    assert.equal(0, db:delete_tasks{ ids = {}, user_id = u })
    assert.equal(2, db:count_tasks{ user_id = u })
  end)

  it("all = true: every task (inside a transaction rolled back)", function()
    local u = helper.uid("del-all")
    seed(db, u, 2)
    local ok = pcall(db.transaction, db, function()
      local total = db:count_tasks()
      assert.equal(total, db:delete_tasks{ all = true })
      assert.equal(0, db:count_tasks())
      error("undo")
    end)
    assert.is_false(ok)
    assert.equal(2, db:count_tasks{ user_id = u })
  end)
end)

describe("set-based calls on a scoped handle", function()
  local db = helper.db_for_block()

  it("never touch another user's rows, even by id", function()
    local a, b = helper.uid("scope-a"), helper.uid("scope-b")
    local ta, tb = seed(db, a, 4), seed(db, b, 4)
    local theirs = by_id(db, b)
    local alice = db:user(a)
    local mixed = { ta[1].id, ta[2].id, tb[1].id, tb[2].id }
    assert.equal(2, alice:update_tasks({ ids = mixed }, { title = "alice's" }))
    assert.equal(4, alice:update_tasks({}, { description = "mine" }))
    assert.equal(2, alice:update_tasks({ completed = true }, { completed = false }))
    assert.equal(1, alice:delete_tasks{ ids = { ta[1].id, tb[1].id, tb[3].id } })
    same_rows(theirs, by_id(db, b))
    local mine = by_id(db, a)
    assert.is_nil(mine[ta[1].id])
    assert.equal("alice's", mine[ta[2].id].title)
    for _, t in pairs(mine) do
      assert.equal("mine", t.description)
      assert.is_false(t.completed)
    end
    -- an empty filter is the user's own tasks; all = true changes nothing about that
    assert.equal(3, alice:update_tasks({ all = true }, { title = "all of alice" }))
    assert.equal(3, alice:delete_tasks{})
    assert.equal(0, db:count_tasks{ user_id = a })
    same_rows(theirs, by_id(db, b))
  end)

  it("accept their own user_id in the filter and refuse another (nothing written)", function()
    local a, b = helper.uid("scope-own"), helper.uid("scope-other")
    seed(db, a, 2)
    seed(db, b, 2)
    local theirs, mine = by_id(db, b), by_id(db, a)
    local alice = db:user(a)
    helper.expect_error("invalid", "user_id", alice.update_tasks, alice, { user_id = b }, { title = "x" })
    helper.expect_error("invalid", "user_id", alice.delete_tasks, alice, { user_id = b })
    same_rows(theirs, by_id(db, b))
    same_rows(mine, by_id(db, a))
    assert.equal(2, alice:update_tasks({ user_id = a }, { title = "own" }))
    assert.equal(2, alice:delete_tasks{ user_id = a })
  end)
end)

describe("set-based calls refuse bad input before sending anything", function()
  local db = helper.db_for_block()
  local u, before
  lazy_setup(function()
    u = helper.uid("set-invalid")
    seed(db, u, 3)
    before = by_id(db, u)
  end)

  local function unchanged() same_rows(before, by_id(db, u)) end

  it("an unscoped filter with neither user_id nor ids, unless all = true", function()
    helper.expect_error("invalid", "all", db.update_tasks, db, {}, { title = "x" })
    helper.expect_error("invalid", "all", db.update_tasks, db, { completed = false }, { title = "x" })
    helper.expect_error("invalid", "all", db.update_tasks, db, { all = false }, { title = "x" })
    helper.expect_error("invalid", "all", db.delete_tasks, db, {})
    helper.expect_error("invalid", "all", db.delete_tasks, db, { completed = true, all = false })
    -- even an empty patch is checked
    helper.expect_error("invalid", "all", db.update_tasks, db, {}, {})
    unchanged()
  end)

  it("a missing or non-table filter or patch", function()
    helper.expect_error("invalid", false, db.update_tasks, db)
    helper.expect_error("invalid", false, db.update_tasks, db, { user_id = u })
    helper.expect_error("invalid", false, db.update_tasks, db, "user", { title = "x" })
    helper.expect_error("invalid", false, db.update_tasks, db, { user_id = u }, "x")
    helper.expect_error("invalid", false, db.delete_tasks, db)
    helper.expect_error("invalid", false, db.delete_tasks, db, u)
    unchanged()
  end)

  it("unknown or misspelt keys, named", function()
    local e = helper.expect_error("invalid", "user", db.update_tasks, db, { user = u }, { title = "x" })
    assert.matches("user", e.message)
    helper.expect_error("invalid", "titel", db.update_tasks, db, { user_id = u }, { titel = "x" })
    helper.expect_error("invalid", "title", db.update_tasks, db, { user_id = u, title = "x" }, { title = "y" })
    helper.expect_error("invalid", "id", db.delete_tasks, db, { id = 1 })
    helper.expect_error("invalid", "limit", db.delete_tasks, db, { user_id = u, limit = 1 })
    helper.expect_error("invalid", false, db.delete_tasks, db, { user_id = u, [1] = 5 })
    unchanged()
  end)

  it("filter values of the wrong type or breaking the field rules", function()
    helper.expect_error("invalid", "user_id", db.delete_tasks, db, { user_id = 42 })
    helper.expect_error("invalid", "user_id", db.delete_tasks, db, { user_id = "   " })
    helper.expect_error("invalid", "user_id", db.delete_tasks, db, { user_id = string.rep("u", 256) })
    helper.expect_error("invalid", "user_id", db.delete_tasks, db, { user_id = "a\0b" })
    helper.expect_error("invalid", "user_id", db.delete_tasks, db, { user_id = "\xff" })
    helper.expect_error("invalid", "user_id", db.delete_tasks, db, { user_id = taskdb.null })
    helper.expect_error("invalid", "completed", db.delete_tasks, db, { user_id = u, completed = "no" })
    helper.expect_error("invalid", "all", db.delete_tasks, db, { all = 1 })
    helper.expect_error("invalid", "ids", db.delete_tasks, db, { ids = 5 })
    helper.expect_error("invalid", "ids", db.delete_tasks, db, { ids = "1,2" })
    unchanged()
  end)

  it("ids: integers only, in a proper list", function()
    local id = next(before)
    local e = helper.expect_error("invalid", "ids", db.delete_tasks, db, { ids = { id, "2" } })
    assert.matches("ids%[2%]", e.message)
    helper.expect_error("invalid", "ids", db.delete_tasks, db, { ids = { id, 1.5 } })
    helper.expect_error("invalid", "ids", db.delete_tasks, db, { ids = { id, 0 / 0 } })
    helper.expect_error("invalid", "ids", db.delete_tasks, db, { ids = { id, math.huge } })
    helper.expect_error("invalid", "ids", db.delete_tasks, db, { ids = { id, true } })
    helper.expect_error("invalid", "ids", db.delete_tasks, db, { ids = { id, { id } } })
    helper.expect_error("invalid", "ids", db.delete_tasks, db, { ids = { id, nil, id } })
    helper.expect_error("invalid", "ids", db.delete_tasks, db, { ids = { [2] = id } })
    helper.expect_error("invalid", "ids", db.delete_tasks, db, { ids = { id, x = 1 } })
    helper.expect_error("invalid", "ids", db.delete_tasks, db, { ids = { [0] = id, id } })
    unchanged()
  end)

  it("patch values: the rules of update_task", function()
    local f = { user_id = u }
    helper.expect_error("invalid", "title", db.update_tasks, db, f, { title = "  " })
    helper.expect_error("invalid", "title", db.update_tasks, db, f, { title = "" })
    helper.expect_error("invalid", "title", db.update_tasks, db, f, { title = string.rep("é", 201) })
    helper.expect_error("invalid", "title", db.update_tasks, db, f, { title = taskdb.null })
    helper.expect_error("invalid", "title", db.update_tasks, db, f, { title = 5 })
    helper.expect_error("invalid", "title", db.update_tasks, db, f, { title = "a\0b" })
    helper.expect_error("invalid", "description", db.update_tasks, db, f,
      { description = string.rep("x", 1001) })
    helper.expect_error("invalid", "description", db.update_tasks, db, f, { description = "\xc0\xaf" })
    helper.expect_error("invalid", "completed", db.update_tasks, db, f, { completed = "yes" })
    for _, k in ipairs({ "id", "user_id", "created_at", "updated_at" }) do
      helper.expect_error("invalid", k, db.update_tasks, db, f, { [k] = "2026-01-01T00:00:00Z" })
    end
    -- the patch is checked even when the id list is empty
    helper.expect_error("invalid", "title", db.update_tasks, db, { ids = {} }, { title = " " })
    unchanged()
  end)

  it("a bad self, and a closed handle (scoped too)", function()
    helper.expect_error("invalid", false, db.update_tasks, nil, { user_id = u }, { title = "x" })
    helper.expect_error("invalid", false, db.delete_tasks, {}, { user_id = u })
    local c = helper.connect()
    local scoped = c:user(u)
    c:close()
    helper.expect_error("closed", false, c.update_tasks, c, { user_id = u }, { title = "x" })
    helper.expect_error("closed", false, c.delete_tasks, c, { user_id = u })
    helper.expect_error("closed", false, scoped.update_tasks, scoped, {}, { title = "x" })
    helper.expect_error("closed", false, scoped.delete_tasks, scoped, { ids = {} })
    helper.expect_error("closed", false, c.update_tasks, c, { user_id = u }, {})
    unchanged()
  end)
end)

describe("set-based calls beside a concurrent writer", function()
  local db = helper.db_for_block()

  -- Another session, in one transaction, inserts an open task and completes
  -- one of ours, then sleeps before committing.  update_tasks waits for that
  -- row; it must re-check it (now done: not counted) and never see the row
  -- inserted after it started.
  it("waits for a row being changed, re-checks it, and counts only what it changed", function()
    local u = helper.uid("set-conc")
    local ts = seed(db, u, 10)   -- 5 open (even i)
    local app = helper.ident("set_conc")
    local victim = ts[2].id
    H.hold(app, "UPDATE public.tasks SET completed = true, title = 'by the other' WHERE id = " ..
      victim .. "; INSERT INTO public.tasks (user_id, title) VALUES ('" .. u .. "', 'inserted meanwhile')",
      1.5)
    local elapsed, ok, n = H.timed(db.update_tasks, db, { user_id = u, completed = false },
      { completed = true, description = "mine" })
    assert(ok, n)
    assert.is_true(elapsed > 0.3, "did not wait for the other session")
    assert.equal(4, n)
    local rows = by_id(db, u)
    local mine, open = 0, 0
    for _, t in pairs(rows) do
      if t.description == "mine" then mine = mine + 1 end
      if not t.completed then open = open + 1 end
    end
    assert.equal(4, mine)
    assert.equal(1, open)   -- the row inserted meanwhile
    assert.equal("by the other", rows[victim].title)
    assert.is_nil(rows[victim].description)
    -- and now it is seen
    assert.equal(1, db:update_tasks({ user_id = u, completed = false }, { completed = true }))
  end)

  it("processes inserting while another deletes by user: counts add up", function()
    local u = helper.uid("set-conc-del")
    local WRITER = [[
      local taskdb = require("taskdb")
      local url, user, n = ...
      local db = taskdb.connect(url)
      for i = 1, tonumber(n) do db:create_task{ user_id = user, title = "w " .. i } end
      print("WROTE " .. n)
    ]]
    local DELETER = [[
      local taskdb = require("taskdb")
      local system = require("system")
      local url, user, done = ...
      local db = taskdb.connect(url)
      local total, rounds = 0, 0
      local deadline = system.gettime() + 60
      repeat
        total = total + db:delete_tasks{ user_id = user }
        rounds = rounds + 1
      until io.open(done) or system.gettime() > deadline
      total = total + db:delete_tasks{ user_id = user }
      print("DELETED " .. total .. " ROUNDS " .. rounds)
    ]]
    local dir = helper.tmpdir()
    local url = helper.url()
    local done = dir .. "/done"
    local d = H.spawn(DELETER, { url, u, done }, nil, 90)
    local rs = H.run_parallel{
      { script = WRITER, args = { url, u, 150 } },
      { script = WRITER, args = { url, u, 150 } },
    }
    helper.write_file(done, "")
    local r = d.wait(90)
    helper.rmdir(dir)
    for _, w in ipairs(rs) do assert.equal(0, w.rc, w.err) end
    assert.equal(0, r.rc, r.err)
    assert.equal("300", r.out:match("DELETED (%d+)"), r.out)
    assert.equal(0, db:count_tasks{ user_id = u })
  end)
end)

describe("a set-based write whose connection is lost mid-statement #direct_only", function()
  it("reports the outcome as unknown and is not sent again", function()
    local db = helper.fresh_db()
    local u = helper.uid("set-lost")
    local ts = seed(db, u, 3)
    local lock_app, app = helper.ident("set_lost_lock"), helper.ident("set_lost")
    H.hold_row_lock(lock_app, ts[1].id, 20)
    local CHILD = [[
      local taskdb = require("taskdb")
      local url, user = ...
      local db = taskdb.connect(url)
      local ok, e = pcall(db.update_tasks, db, { user_id = user }, { title = "lost" })
      print(ok and "OK" or ("ERR " .. e.kind .. " " .. e.message))
      print("AFTER " .. db:count_tasks{ user_id = user })
    ]]
    local c = H.spawn(CHILD, { H.direct_app_url(app), u }, nil, 60)
    H.wait_for("the update to wait on the lock", 10, function() return H.waiting_on_lock(app) end)
    H.terminate(app)
    H.terminate(lock_app)
    local r = c.wait(30)
    assert.equal(0, r.rc, r.err)
    assert.matches("ERR connection .*outcome is unknown", r.out)
    assert.matches("AFTER 3", r.out)
    for _, t in pairs(by_id(db, u)) do assert.is_true(t.title ~= "lost") end
    db:close()
  end)
end)

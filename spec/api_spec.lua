-- The Lua API: the six task operations, listing, counting, scoped user
-- handles, misuse of handles, and error objects.
-- Run: build/taskshell /usr/bin/busted spec/api_spec.lua  (through spec/run.sh)

local helper = require("spec.helper")
local taskdb = require("taskdb")
local H = require("spec.support.procs")   -- backend inspection

local TASK_METHODS = {
  "create_task", "get_task", "get_tasks", "count_tasks", "update_task",
  "toggle_complete", "delete_task", "create_tasks", "each_task", "transaction",
}

-- Valid arguments for every method, so that only `self` can be wrong.
local function valid_args(name, id)
  local args = {
    create_task = { { user_id = "someone", title = "t" } },
    get_task = { id }, update_task = { id, { title = "x" } },
    toggle_complete = { id }, delete_task = { id },
    get_tasks = { {} }, count_tasks = { {} },
    create_tasks = { { { user_id = "someone", title = "t" } } },
    each_task = { {} }, transaction = { function() end },
    init_db = {}, ping = {}, info = {}, user = { "someone" }, close = {},
  }
  return table.unpack(args[name])
end

-- Same as valid_args, for a scoped handle (no user_id in new tasks).
local function valid_scoped_args(name, id)
  if name == "create_task" then return { title = "t" } end
  if name == "create_tasks" then return { { title = "t" } } end
  return valid_args(name, id)
end

-- Waits until the database answers count_tasks(filter) and #get_tasks(filter)
-- from the same state (another process may be writing other users' rows).
local function stable_count_and_list(db, filter)
  local count, list
  for _ = 1, 20 do
    local before = db:count_tasks(filter)
    list = db:get_tasks(filter)
    count = db:count_tasks(filter)
    if before == count then break end
  end
  return count, list
end

describe("taskdb API", function()
  local db = helper.db_for_block()

  describe("the module", function()
    it("has a version string x.y.z", function()
      assert.is_string(taskdb.version)
      assert.is_truthy(taskdb.version:match("^%d+%.%d+%.%d+$"))
    end)

    it("has a null sentinel that is neither nil nor false", function()
      assert.is_not_nil(taskdb.null)
      assert.is_not_false(taskdb.null)
      assert.are.equal(taskdb.null, require("taskdb").null)
    end)
  end)

  describe("create_task", function()
    it("returns a task with every field typed, completed false and no description by default",
      function()
        local user = helper.uid("create")
        local t = helper.check_task(db:create_task{ user_id = user, title = "Buy groceries" })
        assert.are.equal(user, t.user_id)
        assert.are.equal("Buy groceries", t.title)
        assert.is_nil(t.description)
        assert.is_false(t.completed)
        assert.is_true(t.updated_at >= t.created_at)
      end)

    it("stores a description and completed = true when given", function()
      local user = helper.uid("create")
      local t = helper.check_task(db:create_task{
        user_id = user, title = "t", description = "milk", completed = true })
      assert.are.equal("milk", t.description)
      assert.is_true(t.completed)
      assert.are.same(t, db:get_task(t.id))
    end)

    it("treats description = taskdb.null as absent", function()
      local t = db:create_task{ user_id = helper.uid("create"), title = "t", description = taskdb.null }
      assert.is_nil(t.description)
      assert.are.equal("t", helper.psql("SELECT description IS NULL FROM public.tasks WHERE id = " .. t.id))
    end)

    it("keeps an empty description as an empty string, distinct from absent", function()
      local t = db:create_task{ user_id = helper.uid("create"), title = "t", description = "" }
      assert.are.equal("", t.description)
      assert.are.equal("", db:get_task(t.id).description)
    end)

    it("gives every task a distinct integer id", function()
      local user = helper.uid("create")
      local seen = {}
      for i = 1, 5 do
        local t = db:create_task{ user_id = user, title = "t" .. i }
        assert.is_nil(seen[t.id])
        seen[t.id] = true
      end
    end)

    it("round-trips Unicode text exactly", function()
      local title = "Café ☕ 日本語 😀 \"quotes\" 'single' \\ back; DROP TABLE tasks;--"
      local t = db:create_task{ user_id = helper.uid("ユーザー"), title = title, description = "ü\n\t" }
      assert.are.equal(title, t.title)
      assert.are.equal(title, db:get_task(t.id).title)
      assert.are.equal("ü\n\t", db:get_task(t.id).description)
    end)

    it("writes timestamps in UTC as YYYY-MM-DDTHH:MM:SS.ffffffZ matching the server's value",
      function()
        local t = db:create_task{ user_id = helper.uid("utc"), title = "t" }
        local server = helper.psql("SELECT to_char(created_at AT TIME ZONE 'UTC', "
          .. "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM public.tasks WHERE id = " .. t.id)
        assert.are.equal(server, t.created_at)
      end)

    it("writes UTC timestamps even when the session time zone is not UTC", function()
      local user = helper.uid("tz")
      local code, out, err = helper.taskshell([[
        local db = require("taskdb").connect(os.getenv("TASKDB_TEST_URL"))
        local t = db:create_task{ user_id = ]] .. string.format("%q", user) .. [[, title = "tz" }
        io.write(t.id, " ", t.created_at, " ", t.updated_at)
        db:close()
      ]], { PGTZ = "Pacific/Chatham", TASKDB_TEST_URL = helper.url() })
      assert.are.equal(0, code, err)
      local id, created, updated = out:match("^(%d+) (%S+) (%S+)$")
      assert.is_truthy(id, out)
      assert.is_truthy(created:match(helper.TIMESTAMP))
      local server = helper.psql("SELECT to_char(created_at AT TIME ZONE 'UTC', "
        .. "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM public.tasks WHERE id = " .. id)
      assert.are.equal(server, created)
      assert.is_truthy(updated:match("Z$"))
    end)
  end)

  describe("get_task", function()
    it("returns the task exactly as create_task returned it", function()
      local t = db:create_task{ user_id = helper.uid("get"), title = "t", description = "d" }
      assert.are.same(t, db:get_task(t.id))
    end)

    it("returns nil (not an error) for an id that does not exist", function()
      assert.is_nil(db:get_task(2 ^ 62 // 1))
      assert.is_nil(db:get_task(-1))
      assert.is_nil(db:get_task(0))
      assert.is_nil(db:get_task(math.maxinteger))
    end)

    it("returns nil for a deleted task", function()
      local t = db:create_task{ user_id = helper.uid("get"), title = "t" }
      assert.is_true(db:delete_task(t.id))
      assert.is_nil(db:get_task(t.id))
    end)
  end)

  describe("update_task", function()
    local t

    before_each(function()
      t = db:create_task{ user_id = helper.uid("update"), title = "old", description = "d" }
    end)

    it("changes the title, keeps created_at and moves updated_at forward", function()
      local u = helper.check_task(db:update_task(t.id, { title = "new" }))
      assert.are.equal("new", u.title)
      assert.are.equal("d", u.description)
      assert.are.equal(t.created_at, u.created_at)
      assert.is_true(u.updated_at > t.updated_at)
      assert.are.same(u, db:get_task(t.id))
    end)

    it("leaves the description alone when the patch does not mention it", function()
      local u = db:update_task(t.id, { completed = true })
      assert.are.equal("d", u.description)
      assert.is_true(u.completed)
    end)

    it("sets a description", function()
      local u = db:update_task(t.id, { description = "new text" })
      assert.are.equal("new text", u.description)
      assert.are.equal("new text", db:get_task(t.id).description)
    end)

    it("clears the description with taskdb.null (NULL in the database)", function()
      local u = db:update_task(t.id, { description = taskdb.null })
      assert.is_nil(u.description)
      assert.is_nil(db:get_task(t.id).description)
      assert.are.equal("t", helper.psql("SELECT description IS NULL FROM public.tasks WHERE id = " .. t.id))
    end)

    it("sets completed both ways", function()
      assert.is_true(db:update_task(t.id, { completed = true }).completed)
      assert.is_false(db:update_task(t.id, { completed = false }).completed)
    end)

    it("changes several fields at once", function()
      local u = db:update_task(t.id, { title = "a", description = "b", completed = true })
      assert.are.equal("a", u.title)
      assert.are.equal("b", u.description)
      assert.is_true(u.completed)
    end)

    it("with an empty patch changes nothing, updated_at included, and returns the task", function()
      assert.are.same(t, db:update_task(t.id, {}))
      assert.are.same(t, db:get_task(t.id))
    end)

    it("moves updated_at strictly forward on every one of many quick updates", function()
      local last = t.updated_at
      for i = 1, 20 do
        local u = db:update_task(t.id, { title = "v" .. i })
        assert.is_true(u.updated_at > last, u.updated_at .. " is not after " .. last)
        assert.are.equal(t.created_at, u.created_at)
        last = u.updated_at
      end
    end)

    it("moves updated_at forward even twice in one transaction", function()
      local a, b = db:transaction(function(tx)
        return tx:update_task(t.id, { title = "one" }), tx:update_task(t.id, { title = "two" })
      end)
      assert.is_true(a.updated_at > t.updated_at)
      assert.is_true(b.updated_at > a.updated_at)
    end)

    it("returns nil for an id that does not exist, and creates nothing", function()
      local missing = 2 ^ 62 // 1
      assert.is_nil(db:update_task(missing, { title = "x" }))
      assert.is_nil(db:get_task(missing))
    end)
  end)

  describe("toggle_complete", function()
    it("flips completed each time, keeps created_at and moves updated_at forward", function()
      local t = db:create_task{ user_id = helper.uid("toggle"), title = "t" }
      local a = helper.check_task(db:toggle_complete(t.id))
      assert.is_true(a.completed)
      assert.is_true(a.updated_at > t.updated_at)
      local b = db:toggle_complete(t.id)
      assert.is_false(b.completed)
      assert.is_true(b.updated_at > a.updated_at)
      assert.are.equal(t.created_at, b.created_at)
      assert.are.equal(t.title, b.title)
      assert.are.same(b, db:get_task(t.id))
    end)

    it("returns nil for an id that does not exist", function()
      assert.is_nil(db:toggle_complete(2 ^ 62 // 1))
    end)
  end)

  describe("delete_task", function()
    it("returns true, then the task is gone and a second delete returns false", function()
      local t = db:create_task{ user_id = helper.uid("delete"), title = "t" }
      assert.is_true(db:delete_task(t.id))
      assert.is_nil(db:get_task(t.id))
      assert.is_false(db:delete_task(t.id))
      assert.are.equal("0", helper.psql("SELECT count(*) FROM public.tasks WHERE id = " .. t.id))
    end)

    it("returns false for an id that does not exist", function()
      assert.is_false(db:delete_task(2 ^ 62 // 1))
    end)
  end)

  describe("get_tasks", function()
    local alice, bob, a_tasks, b_tasks

    setup(function()
      alice, bob = helper.uid("list-a"), helper.uid("list-b")
      a_tasks, b_tasks = {}, {}
      for i = 1, 5 do
        a_tasks[i] = db:create_task{ user_id = alice, title = "a" .. i, completed = (i % 2 == 0) }
      end
      for i = 1, 3 do
        b_tasks[i] = db:create_task{ user_id = bob, title = "b" .. i }
      end
    end)

    it("returns a plain array of tasks of one user, ordered by created_at then id", function()
      local list = db:get_tasks{ user_id = alice }
      assert.are.equal(5, #list)
      for _, t in ipairs(list) do helper.check_task(t) end
      assert.are.same(helper.ids(a_tasks), helper.ids(list))
      assert.are.same(a_tasks[1], list[1])
    end)

    it("filters by completed", function()
      local done = db:get_tasks{ user_id = alice, completed = true }
      local open = db:get_tasks{ user_id = alice, completed = false }
      assert.are.same({ a_tasks[2].id, a_tasks[4].id }, helper.ids(done))
      assert.are.same({ a_tasks[1].id, a_tasks[3].id, a_tasks[5].id }, helper.ids(open))
    end)

    it("limits the page and returns a cursor when the page is full", function()
      local page, cursor = db:get_tasks{ user_id = alice, limit = 2 }
      assert.are.same({ a_tasks[1].id, a_tasks[2].id }, helper.ids(page))
      assert.is_string(cursor)
    end)

    it("returns no cursor when the page is not full", function()
      local page, cursor = db:get_tasks{ user_id = alice, limit = 10 }
      assert.are.equal(5, #page)
      assert.is_nil(cursor)
    end)

    it("pages through every row exactly once with after = cursor", function()
      local seen, cursor = {}, nil
      repeat
        local page, next_cursor = db:get_tasks{ user_id = alice, limit = 2, after = cursor }
        for _, t in ipairs(page) do seen[#seen + 1] = t.id end
        cursor = next_cursor
      until cursor == nil
      assert.are.same(helper.ids(a_tasks), seen)
    end)

    it("accepts a task as the after position", function()
      local page = db:get_tasks{ user_id = alice, after = a_tasks[3] }
      assert.are.same({ a_tasks[4].id, a_tasks[5].id }, helper.ids(page))
      assert.are.same(page, db:get_tasks{ user_id = alice, after = taskdb.cursor(a_tasks[3]) })
    end)

    it("reverses the order with desc = true, pages included", function()
      local list = db:get_tasks{ user_id = alice, desc = true }
      assert.are.same({ a_tasks[5].id, a_tasks[4].id, a_tasks[3].id, a_tasks[2].id, a_tasks[1].id },
        helper.ids(list))
      local page, cursor = db:get_tasks{ user_id = alice, desc = true, limit = 2 }
      assert.are.same({ a_tasks[5].id, a_tasks[4].id }, helper.ids(page))
      local rest = db:get_tasks{ user_id = alice, desc = true, after = cursor }
      assert.are.same({ a_tasks[3].id, a_tasks[2].id, a_tasks[1].id }, helper.ids(rest))
    end)

    it("orders by created_at first, not by id", function()
      local user = helper.uid("order")
      local first = db:create_task{ user_id = user, title = "first id" }
      local second = db:create_task{ user_id = user, title = "second id" }
      -- Another client makes the later id the older task.
      helper.psql("UPDATE public.tasks SET created_at = created_at - interval '1 hour', "
        .. "updated_at = updated_at WHERE id = " .. second.id)
      assert.are.same({ second.id, first.id }, helper.ids(db:get_tasks{ user_id = user }))
      assert.are.same({ first.id, second.id }, helper.ids(db:get_tasks{ user_id = user, desc = true }))
    end)

    it("breaks ties on created_at by id, in both directions and across pages", function()
      local user = helper.uid("ties")
      local made = db:transaction(function(tx)   -- one transaction: one now()
        local r = {}
        for i = 1, 4 do r[i] = tx:create_task{ user_id = user, title = "tie" .. i }.id end
        return r
      end)
      assert.are.equal("1", helper.psql("SELECT count(DISTINCT created_at) FROM public.tasks "
        .. "WHERE user_id = '" .. user .. "'"))
      table.sort(made)
      assert.are.same(made, helper.ids(db:get_tasks{ user_id = user }))
      assert.are.same({ made[4], made[3], made[2], made[1] },
        helper.ids(db:get_tasks{ user_id = user, desc = true }))
      local page, cursor = db:get_tasks{ user_id = user, limit = 3 }
      assert.are.same({ made[1], made[2], made[3] }, helper.ids(page))
      assert.are.same({ made[4] }, helper.ids(db:get_tasks{ user_id = user, after = cursor }))
    end)

    it("without options returns every user's tasks", function()
      local all = db:get_tasks()
      local found = {}
      for _, t in ipairs(all) do found[t.id] = t.user_id end
      for _, t in ipairs(a_tasks) do assert.are.equal(alice, found[t.id]) end
      for _, t in ipairs(b_tasks) do assert.are.equal(bob, found[t.id]) end
    end)

    it("gives every row its own values where neighbours repeat or nearly repeat them", function()
      local user = helper.uid("list-repeats")
      local descs = { "same text", "same text", "same texT", nil, "", "", "same text", nil, "other" }
      local made = {}
      for i = 1, 9 do
        made[i] = db:create_task{ user_id = user, title = "r" .. i, description = descs[i] }
      end
      local list = db:get_tasks{ user_id = user }
      assert.are.equal(9, #list)
      for i = 1, 9 do
        assert.are.same(made[i], list[i])
        assert.are.equal(descs[i], list[i].description, "row " .. i)
      end
    end)

    it("returns an empty array for a user with no tasks", function()
      local list = db:get_tasks{ user_id = helper.uid("nobody") }
      assert.are.same({}, list)
    end)
  end)

  describe("count_tasks", function()
    local user

    setup(function()
      user = helper.uid("count")
      for i = 1, 7 do
        db:create_task{ user_id = user, title = "c" .. i, completed = i <= 3 }
      end
    end)

    it("returns an integer", function()
      assert.are.equal("integer", math.type(db:count_tasks{ user_id = user }))
    end)

    it("equals #get_tasks for the same filters", function()
      for _, filter in ipairs({
        { user_id = user }, { user_id = user, completed = true },
        { user_id = user, completed = false }, { user_id = helper.uid("nobody") },
      }) do
        assert.are.equal(#db:get_tasks(filter), db:count_tasks(filter))
      end
      assert.are.equal(7, db:count_tasks{ user_id = user })
      assert.are.equal(3, db:count_tasks{ user_id = user, completed = true })
      assert.are.equal(4, db:count_tasks{ user_id = user, completed = false })
      assert.are.equal(0, db:count_tasks{ user_id = helper.uid("nobody") })
    end)

    it("equals #get_tasks over every user, with and without a completed filter", function()
      for _, filter in ipairs({ {}, { completed = true }, { completed = false } }) do
        local count, list = stable_count_and_list(db, filter)
        assert.are.equal(#list, count)
      end
      local count, list = stable_count_and_list(db, nil)
      assert.are.equal(#list, count)
    end)
  end)

  describe("create_tasks", function()
    it("creates every row and returns their ids in input order", function()
      local user = helper.uid("bulk")
      local ids = db:create_tasks{
        { user_id = user, title = "one" },
        { user_id = user, title = "two", description = "d", completed = true },
        { user_id = user, title = "three" },
      }
      assert.are.equal(3, #ids)
      assert.are.equal("one", db:get_task(ids[1]).title)
      assert.are.equal("two", db:get_task(ids[2]).title)
      assert.are.equal("d", db:get_task(ids[2]).description)
      assert.is_true(db:get_task(ids[2]).completed)
      assert.are.equal("three", db:get_task(ids[3]).title)
      assert.are.equal(3, db:count_tasks{ user_id = user })
    end)
  end)

  describe("a scoped handle db:user(id)", function()
    local alice_id, bob_id, alice, bob, bobs

    before_each(function()
      alice_id, bob_id = helper.uid("alice"), helper.uid("bob")
      alice, bob = db:user(alice_id), db:user(bob_id)
      bobs = bob:create_task{ title = "bob's", description = "private" }
    end)

    it("exposes its user_id and its connection", function()
      assert.are.equal(alice_id, alice.user_id)
      assert.are.equal(db, alice.db)
    end)

    it("creates tasks owned by its user, with or without user_id given", function()
      local t = helper.check_task(alice:create_task{ title = "mine" })
      assert.are.equal(alice_id, t.user_id)
      local t2 = alice:create_task{ user_id = alice_id, title = "also mine" }
      assert.are.equal(alice_id, t2.user_id)
      assert.are.equal(alice_id, db:get_task(t.id).user_id)
    end)

    it("runs all six operations on its own tasks", function()
      local t = alice:create_task{ title = "mine" }
      assert.are.same(t, alice:get_task(t.id))
      assert.are.equal("renamed", alice:update_task(t.id, { title = "renamed" }).title)
      assert.is_true(alice:toggle_complete(t.id).completed)
      assert.are.same({ t.id }, helper.ids(alice:get_tasks()))
      assert.are.equal(1, alice:count_tasks())
      assert.is_true(alice:delete_task(t.id))
      assert.is_nil(alice:get_task(t.id))
    end)

    it("treats another user's id exactly like a missing id", function()
      local missing = 2 ^ 62 // 1
      local before = db:get_task(bobs.id)
      assert.is_nil(alice:get_task(bobs.id))
      assert.is_nil(alice:get_task(missing))
      assert.is_nil(alice:update_task(bobs.id, { title = "stolen", completed = true }))
      assert.is_nil(alice:update_task(missing, { title = "stolen" }))
      assert.is_nil(alice:toggle_complete(bobs.id))
      assert.is_nil(alice:toggle_complete(missing))
      assert.is_false(alice:delete_task(bobs.id))
      assert.is_false(alice:delete_task(missing))
      assert.is_nil(alice:update_task(bobs.id, {}))
      -- bob's row is untouched: same title, completed, description, updated_at
      assert.are.same(before, db:get_task(bobs.id))
      assert.are.same(before, bob:get_task(bobs.id))
    end)

    it("never lists or counts another user's rows", function()
      alice:create_task{ title = "a1" }
      alice:create_task{ title = "a2", completed = true }
      for _, t in ipairs(alice:get_tasks()) do assert.are.equal(alice_id, t.user_id) end
      assert.are.equal(2, #alice:get_tasks())
      assert.are.equal(2, alice:count_tasks())
      assert.are.equal(1, alice:count_tasks{ completed = true })
      assert.are.equal(1, #alice:get_tasks{ completed = false })
      assert.are.equal(1, bob:count_tasks())
      assert.are.same({ bobs.id }, helper.ids(bob:get_tasks()))
      local n = 0
      for t in alice:each_task() do
        assert.are.equal(alice_id, t.user_id)
        n = n + 1
      end
      assert.are.equal(2, n)
    end)

    it("accepts its own user_id as a get_tasks/count_tasks filter", function()
      alice:create_task{ title = "a1" }
      assert.are.equal(1, #alice:get_tasks{ user_id = alice_id })
      assert.are.equal(1, alice:count_tasks{ user_id = alice_id })
    end)

    it("refuses another user_id in create_task with invalid user_id and writes nothing", function()
      helper.expect_error("invalid", "user_id", alice.create_task, alice,
        { user_id = bob_id, title = "planted" })
      assert.are.equal(0, alice:count_tasks())
      assert.are.equal(1, bob:count_tasks())
      assert.are.equal("0", helper.psql("SELECT count(*) FROM public.tasks WHERE title = 'planted' "
        .. "AND user_id IN ('" .. alice_id .. "', '" .. bob_id .. "')"))
    end)

    it("refuses another user_id in create_tasks and writes nothing", function()
      local e = helper.expect_error("invalid", "user_id", alice.create_tasks, alice, {
        { title = "ok" }, { user_id = bob_id, title = "planted" } })
      assert.are.equal(2, e.row)
      assert.are.equal(0, alice:count_tasks())
      assert.are.equal(1, bob:count_tasks())
    end)

    it("refuses another user_id in get_tasks and count_tasks", function()
      helper.expect_error("invalid", "user_id", alice.get_tasks, alice, { user_id = bob_id })
      helper.expect_error("invalid", "user_id", alice.count_tasks, alice, { user_id = bob_id })
    end)

    it("creates rows in bulk for its user only", function()
      local ids = alice:create_tasks{ { title = "x" }, { title = "y" } }
      assert.are.equal(2, #ids)
      assert.are.equal(alice_id, db:get_task(ids[1]).user_id)
      assert.are.equal(alice_id, db:get_task(ids[2]).user_id)
    end)

    it("refuses a blank, empty, too long or non-string user id", function()
      helper.expect_error("invalid", "user_id", db.user, db, "")
      helper.expect_error("invalid", "user_id", db.user, db, "   ")
      helper.expect_error("invalid", "user_id", db.user, db, ("u"):rep(256))
      helper.expect_error("invalid", "user_id", db.user, db, 42)
      helper.expect_error("invalid", "user_id", db.user, db, nil)
      helper.expect_error("invalid", "user_id", db.user, db, "bad\xff")
    end)

    it("keeps its connection alive after the connection variable is dropped", function()
      local scoped = helper.connect():user(helper.uid("orphan"))
      collectgarbage()
      collectgarbage()
      assert.are.equal(0, scoped:count_tasks())
      local t = scoped:create_task{ title = "still works" }
      assert.are.equal(scoped.user_id, t.user_id)
      scoped.db:close()
    end)
  end)

  describe("handle misuse", function()
    local own

    setup(function()
      own = db:create_task{ user_id = helper.uid("misuse"), title = "t" }
    end)

    it("raises a taskdb error table (not a string) for a wrong self", function()
      for _, bad_self in ipairs({ false, {}, 42, "db" }) do
        for _, name in ipairs(TASK_METHODS) do
          helper.expect_error("invalid", nil, db[name], bad_self, valid_args(name, own.id))
        end
        for _, name in ipairs({ "init_db", "ping", "info", "user" }) do
          helper.expect_error("invalid", nil, db[name], bad_self, valid_args(name, own.id))
        end
      end
      helper.expect_error("invalid", nil, db.get_task, nil, 1)
      helper.expect_error("invalid", nil, db.get_task, {}, 1)
      helper.expect_error("invalid", nil, db.close, {})
    end)

    it("raises a taskdb error table when a scoped handle's method gets a wrong self", function()
      local alice = db:user(helper.uid("alice"))
      helper.expect_error("invalid", nil, alice.get_task, nil, 1)
      helper.expect_error("invalid", nil, alice.get_task, {}, 1)
      helper.expect_error("invalid", nil, alice.create_task, { title = "t" })
    end)

    it("raises kind closed for every method after close, scoped handles included", function()
      local c = helper.connect()
      local scoped = c:user(helper.uid("closed"))
      local mine = scoped:create_task{ title = "t" }
      c:close()
      for _, name in ipairs(TASK_METHODS) do
        helper.expect_error("closed", false, c[name], c, valid_args(name, mine.id))
        helper.expect_error("closed", false, scoped[name], scoped, valid_scoped_args(name, mine.id))
      end
      for _, name in ipairs({ "init_db", "ping", "info", "user" }) do
        helper.expect_error("closed", false, c[name], c, valid_args(name, mine.id))
      end
      -- nothing was done behind the closed handle
      assert.are.same(mine, db:get_task(mine.id))
    end)

    it("raises kind closed from an each_task iterator whose connection was closed", function()
      local c = helper.connect()
      local user = helper.uid("iterclose")
      c:create_tasks{ { user_id = user, title = "a" } }
      local iter = c:each_task{ user_id = user }
      c:close()
      helper.expect_error("closed", false, iter)
    end)

    it("closes twice harmlessly, and tostring says closed", function()
      local c = helper.connect()
      assert.has_no.errors(function() c:close() end)
      assert.has_no.errors(function() c:close() end)
      assert.is_truthy(tostring(c):find("closed", 1, true))
    end)

    it("closes a `local <close>` handle at the end of its scope", function()
      local escaped
      do
        local c <close> = helper.connect()
        assert.is_true(c:ping())
        escaped = c
      end
      helper.expect_error("closed", false, escaped.ping, escaped)
    end)

    it("closes a `local <close>` handle when the scope is left by an error", function()
      local escaped
      local ok = pcall(function()
        local c <close> = helper.connect()
        escaped = c
        error("boom")
      end)
      assert.is_false(ok)
      helper.expect_error("closed", false, escaped.ping, escaped)
    end)

    it("is not a method table: __gc and __close are not methods", function()
      assert.is_nil(db.__gc)
      assert.is_nil(db.__close)
    end)

    it("frees an open handle on garbage collection: no crash, the server backend goes away #direct_only",
      function()
        local app = helper.ident("gc")
        -- opened and dropped in its own frame, so no register still holds it
        local function open_and_drop()
          local c = helper.connect{ application_name = app }
          c:ping()
          c:user("someone"):count_tasks()
        end
        open_and_drop()
        assert.are.equal(1, H.backends(app))
        collectgarbage()
        collectgarbage()
        H.wait_for("the backend of the collected handle to go away", 10,
                   function() return H.backends(app) == 0 end)
        assert.is_true(db:ping())
      end)

    it("collects closed handles, scoped handles and half-used iterators without error", function()
      local function leave_garbage()
        local c = helper.connect()
        local user = helper.uid("gc")
        local scoped = c:user(user)
        scoped:create_tasks{ { title = "a" }, { title = "b" } }
        local iter = scoped:each_task()
        assert.is_table(iter())          -- one row read, the rest left pending
        c:close()
        local c2 = helper.connect()
        local iter2 = c2:each_task{ user_id = user }
        assert.is_table(iter2())         -- an open connection with a live iterator
      end
      for _ = 1, 3 do leave_garbage() end
      assert.has_no.errors(function()
        collectgarbage()
        collectgarbage()
      end)
      assert.is_true(db:ping())
    end)

    it("closes the server-side backend on close() #direct_only", function()
      local app = helper.ident("close")
      local c = helper.connect{ application_name = app }
      c:ping()
      assert.are.equal(1, H.backends(app))
      c:close()
      H.wait_for("the backend of the closed handle to go away", 10,
                 function() return H.backends(app) == 0 end)
    end)

    it("never shows the password in tostring(db) or db:info()", function()
      local password = helper.password()
      assert.is_truthy(password and #password > 0, "TASKDB_TEST_TCP_URL has no password")
      local c = taskdb.connect(helper.tcp_url())
      local s = tostring(c)
      assert.is_truthy(s:find("taskdb.Connection", 1, true), s)
      assert.is_falsy(s:find(password, 1, true), s)
      for k, v in pairs(c:info()) do
        assert.is_falsy(tostring(v):find(password, 1, true), "info()." .. k .. " shows the password")
      end
      c:close()
      assert.is_falsy(tostring(c):find(password, 1, true))
    end)
  end)

  describe("error objects", function()
    it("invalid errors carry kind, message, field, a one-line tostring and __name taskdb.Error",
      function()
        local e = helper.expect_error("invalid", "title", db.create_task, db,
          { user_id = helper.uid("err"), title = "" })
        assert.are.equal("taskdb.Error", getmetatable(e).__name)
        assert.is_nil(e.sqlstate)
        local s = tostring(e)
        assert.is_string(s)
        assert.is_falsy(s:find("\n", 1, true), s)
        assert.is_truthy(s:find("invalid", 1, true), s)
        assert.is_truthy(s:find(e.message, 1, true), s)
        assert.is_truthy(s:find("title", 1, true), s)
      end)

    it("the same metatable is shared by every error", function()
      local e1 = helper.expect_error("invalid", nil, db.get_task, db, "x")
      local e2 = helper.expect_error("invalid", nil, db.create_task, db, {})
      assert.are.equal(getmetatable(e1), getmetatable(e2))
    end)

    it("bulk errors carry row", function()
      local e = helper.expect_error("invalid", "title", db.create_tasks, db, {
        { user_id = helper.uid("err"), title = "fine" }, { user_id = "x", title = "  " } })
      assert.are.equal(2, e.row)
      assert.are.equal("integer", math.type(e.row))
    end)

    it("connection errors have kind connection, a message and a one-line tostring", function()
      local e = helper.expect_error("connection", false, taskdb.connect,
        { url = "postgresql://nobody@127.0.0.1:1/none?sslmode=disable", retries = 0, connect_timeout = 3 })
      assert.is_falsy(tostring(e):find("\n", 1, true), tostring(e))
      assert.is_truthy(tostring(e):find("connection", 1, true))
    end)

    it("server errors have kind database, the sqlstate, and tostring shows it #direct_only", function()
      local dbname, url = helper.create_database("taskdb_notable")
      local ok, err = pcall(function()
        local c <close> = taskdb.connect(url)
        -- no tasks table in this database: the server reports undefined_table
        local e = helper.expect_error("database", false, c.get_task, c, 1)
        assert.are.equal("42P01", e.sqlstate)
        local s = tostring(e)
        assert.is_falsy(s:find("\n", 1, true), s)
        assert.is_truthy(s:find("42P01", 1, true), s)
        assert.is_truthy(s:find("database", 1, true), s)
      end)
      helper.drop_database(dbname)
      if not ok then error(err, 0) end
    end)
  end)
end)

-- spec/bulk_spec.lua — db:create_tasks (bulk, all-or-nothing, input order)
-- and db:each_task (bounded-memory iteration) and keyset pagination with
-- get_tasks{ limit, after } / taskdb.cursor, including while another
-- process inserts and deletes rows of the same user.

local helper = require("spec.helper")
local taskdb = require("taskdb")
local H = require("spec.support.procs")   -- clocks, processes, locks, backends

local function collect(iter, s, c, closing)
  local r = {}
  for t in iter, s, c, closing do r[#r + 1] = t end
  return r
end

local function titles_batch(user, n, prefix)
  local list = {}
  for i = 1, n do list[i] = { user_id = user, title = (prefix or "row ") .. i } end
  return list
end

-- A server-side failure that validation cannot catch: a trigger that
-- rejects rows carrying this title (only those), installed for this file.
local POISON, install_poison, remove_poison = H.poison_trigger("bulk")

describe("create_tasks", function()
  local db = helper.db_for_block()
  lazy_setup(install_poison)
  lazy_teardown(remove_poison)

  it("returns the ids in input order, each row stored as given", function()
    local user = helper.uid("bulk-order")
    local list = {}
    for i = 1, 50 do
      list[i] = { user_id = user, title = "bulk " .. i, description = (i % 2 == 0) and ("d" .. i) or nil }
    end
    local ids = db:create_tasks(list)
    assert.equal(50, #ids)
    local seen = {}
    for i, id in ipairs(ids) do
      assert.equal("integer", math.type(id))
      assert.is_nil(seen[id])
      seen[id] = true
      local t = db:get_task(id)
      assert.equal("bulk " .. i, t.title)
      assert.equal(user, t.user_id)
      assert.equal(list[i].description, t.description)
      assert.is_false(t.completed)
    end
    assert.equal(50, H.count(user))
  end)

  it("keeps rows of several users apart, in order", function()
    local a, b = helper.uid("bulk-a"), helper.uid("bulk-b")
    local list = {}
    for i = 1, 20 do list[i] = { user_id = (i % 2 == 1) and a or b, title = "mixed " .. i } end
    local ids = db:create_tasks(list)
    for i, id in ipairs(ids) do
      local t = db:get_task(id)
      assert.equal(list[i].user_id, t.user_id)
      assert.equal(list[i].title, t.title)
    end
    assert.equal(10, H.count(a))
    assert.equal(10, H.count(b))
  end)

  it("stores text that needs escaping exactly (tab, newline, backslash, \\N, Unicode)", function()
    local user = helper.uid("bulk-escape")
    local texts = { "a\tb", "line1\nline2", "cr\rhere", "back\\slash", "\\N", "\\.",
                    "é漢字🙂", "trailing backslash\\", "  spaced  ", "'quote\" and ,comma" }
    local list = {}
    for i, s in ipairs(texts) do list[i] = { user_id = user, title = s, description = s .. "|d" } end
    local ids = db:create_tasks(list)
    for i, id in ipairs(ids) do
      local t = db:get_task(id)
      assert.equal(texts[i], t.title)
      assert.equal(texts[i] .. "|d", t.description)
    end
    assert.equal("\\N", helper.psql("SELECT title FROM public.tasks WHERE id = " .. ids[5]))
  end)

  it("with an empty list writes nothing and returns an empty array", function()
    local ids = db:create_tasks({})
    assert.same({}, ids)
  end)

  it("writes nothing when a row fails validation, and names the row", function()
    local user = helper.uid("bulk-invalid")
    local list = titles_batch(user, 10)
    list[3].title = "   "
    local e = helper.expect_error("invalid", "title", db.create_tasks, db, list)
    assert.equal(3, e.row)
    assert.equal("title must not be blank", e.message)   -- the row is a field, not part of the message
    assert.equal("taskdb invalid error: tasks[3]: title must not be blank [field title]", tostring(e))
    assert.equal(0, H.count(user))

    list = titles_batch(user, 1000)
    list[1000].titel = "typo"
    e = helper.expect_error("invalid", "titel", db.create_tasks, db, list)
    assert.equal(1000, e.row)
    assert.equal(0, H.count(user))

    list = titles_batch(user, 5)
    list[2] = "not a table"
    e = helper.expect_error("invalid", nil, db.create_tasks, db, list)
    assert.equal(2, e.row)
    assert.equal(0, H.count(user))
    assert.is_true(db:ping())
  end)

  it("is all-or-nothing when the server rejects a row", function()
    local user = helper.uid("bulk-server-reject")
    local list = titles_batch(user, 500)
    list[400].title = POISON
    local e = helper.expect_error("database", nil, db.create_tasks, db, list)
    assert.equal("poisoned row rejected by the server", e.message)
    assert.equal("taskdb database error: tasks[400]: poisoned row rejected by the server [sqlstate P0001]",
      tostring(e))
    assert.equal(400, e.row)
    assert.equal("P0001", e.sqlstate)
    assert.equal(0, H.count(user))
    -- the connection is clean afterwards: not left inside a failed transaction
    assert.equal(0, db:count_tasks{ user_id = user })
    assert.equal(3, #db:create_tasks(titles_batch(user, 3)))
    assert.equal(3, H.count(user))
    assert.equal(0, db:info().transaction_depth)
  end)

  it("is all-or-nothing when cancelled by statement_timeout", function()
    local user, holder = helper.uid("bulk-timeout"), helper.uid("app-bulk-holder")
    local tdb = helper.connect{ statement_timeout = 0.5 }
    assert.is_true(tdb:ping())
    H.hold_lock(holder, 30)
    local ok, e = pcall(tdb.create_tasks, tdb, titles_batch(user, 200))
    H.terminate(holder)
    assert.is_false(ok)
    assert.equal("timeout", e.kind, tostring(e))
    assert.equal(0, H.count(user))
    assert.equal(200, #tdb:create_tasks(titles_batch(user, 200)))
    assert.equal(200, H.count(user))
    tdb:close()
  end)

  it("inside db:transaction is rolled back with the transaction", function()
    local user = helper.uid("bulk-txn-rollback")
    local boom = setmetatable({}, { __tostring = function() return "boom" end })
    local ok, err = pcall(db.transaction, db, function(tx)
      tx:create_task{ user_id = user, title = "single" }
      assert.equal(100, #tx:create_tasks(titles_batch(user, 100)))
      assert.equal(101, tx:count_tasks{ user_id = user })
      error(boom)
    end)
    assert.is_false(ok)
    assert.equal(boom, err)
    assert.equal(0, H.count(user))
  end)

  it("inside db:transaction commits with it, and a failed batch caught inside undoes only itself", function()
    local user = helper.uid("bulk-txn-commit")
    local r = db:transaction(function(tx)
      tx:create_tasks(titles_batch(user, 10, "first "))
      local bad = titles_batch(user, 10, "server-rejected ")
      bad[5].title = POISON
      local ok1, e1 = pcall(tx.create_tasks, tx, bad)
      assert.is_false(ok1)
      assert.equal("database", e1.kind, tostring(e1))
      assert.equal(5, e1.row)
      local invalid = titles_batch(user, 10, "invalid ")
      invalid[7].title = ""
      local ok2, e2 = pcall(tx.create_tasks, tx, invalid)
      assert.is_false(ok2)
      assert.equal("invalid", e2.kind)
      tx:create_tasks(titles_batch(user, 5, "last "))
      return tx:count_tasks{ user_id = user }
    end)
    assert.equal(15, r)
    assert.equal(15, H.count(user))
    assert.equal(0, tonumber(helper.psql("SELECT count(*) FROM public.tasks WHERE user_id = '" ..
      user .. "' AND (title LIKE 'server-rejected %' OR title LIKE 'invalid %')")))
  end)

  it("works on a scoped handle, which fills in and enforces its user_id", function()
    local user, other = helper.uid("bulk-alice"), helper.uid("bulk-bob")
    local alice = db:user(user)
    local ids = alice:create_tasks{ { title = "one" }, { title = "two", user_id = user },
                                    { title = "three", description = "3" } }
    assert.equal(3, #ids)
    for i, title in ipairs{ "one", "two", "three" } do
      local t = alice:get_task(ids[i])
      assert.equal(title, t.title)
      assert.equal(user, t.user_id)
    end
    local e = helper.expect_error("invalid", "user_id", alice.create_tasks, alice,
                                  { { title = "mine" }, { title = "not mine", user_id = other } })
    assert.equal(2, e.row)
    assert.equal(3, H.count(user))
    assert.equal(0, H.count(other))
    -- the rows are the scope's: another user's handle does not see them
    assert.is_nil(db:user(other):get_task(ids[1]))
  end)

  it("writes 10,000 rows in one call", function()
    local user = helper.uid("bulk-10k")
    local list = titles_batch(user, 10000, "ten thousand ")
    local t0 = H.now()
    local ids = db:create_tasks(list)
    local elapsed = H.now() - t0
    assert.equal(10000, #ids)
    assert.equal(10000, H.count(user))
    for _, i in ipairs{ 1, 2, 5000, 9999, 10000 } do
      assert.equal("ten thousand " .. i, db:get_task(ids[i]).title)
    end
    assert.is_true(elapsed < 20, "took " .. elapsed .. " s")
    helper.psql("DELETE FROM public.tasks WHERE user_id = '" .. user .. "'")
  end)
end)

-- statement_timeout covers the whole COPY, the rows' sending included: a
-- server that stops reading (here: a trigger sleeping on one row) cannot
-- hold the call past it.
describe("create_tasks under statement_timeout while the rows are sent", function()
  local SLEEP, install_sleep, remove_sleep = H.sleep_trigger("bulk", 8)
  lazy_setup(function()
    helper.connect():init_db()
    install_sleep()
  end)
  lazy_teardown(remove_sleep)

  it("is cancelled on time, writes nothing, and keeps the connection", function()
    local user = helper.uid("bulk-slow-reader")
    local tdb = helper.connect{ statement_timeout = 1 }
    local pid = tdb:info().backend_pid
    -- 20,000 rows of 500 characters: far more than the socket buffers hold
    local list = titles_batch(user, 20000, "slow ")
    local desc = string.rep("d", 500)
    for _, row in ipairs(list) do row.description = desc end
    list[5].title = SLEEP
    local elapsed, ok, e = H.timed(tdb.create_tasks, tdb, list)
    assert.is_false(ok)
    assert.equal("timeout", e.kind, tostring(e))
    assert.is_true(elapsed < 5, "took " .. elapsed .. " s")
    assert.equal(0, H.count(user))
    assert.equal(0, tdb:info().transaction_depth)
    list[5].title = "not sleeping"
    assert.equal(20000, #tdb:create_tasks(list))
    assert.equal(20000, H.count(user))
    assert.equal(0, tdb:info().reconnects)
    assert.equal(pid, tdb:info().backend_pid)
    helper.psql("DELETE FROM public.tasks WHERE user_id = '" .. user .. "'")
    tdb:close()
  end)

  -- The server names the COPY line it was at when cancelled; that row did
  -- nothing wrong, so the error must not blame it.
  it("cancelled by the server's own statement_timeout, names no row #direct_only", function()
    local user = helper.uid("bulk-server-timeout")
    local tdb = helper.connect{ url = helper.url_with_param(helper.url(), "options",
                                                           "-c%20statement_timeout%3D300") }
    local list = titles_batch(user, 10)
    list[5].title = SLEEP
    local elapsed, ok, e = H.timed(tdb.create_tasks, tdb, list)
    assert.is_false(ok)
    assert.equal("timeout", e.kind, tostring(e))
    assert.equal("57014", e.sqlstate)
    assert.is_nil(e.row)
    assert.is_nil(e.message:find("tasks[", 1, true), e.message)
    assert.is_true(elapsed < 5, "took " .. elapsed .. " s")
    assert.equal(0, H.count(user))
    tdb:close()
  end)
end)

-- create_tasks lets COPY take ids from the column default and proves which
-- ids the rows got from the sequence's value before and after (src/core/bulk.c).
-- These specs break that proof on purpose: the ids must still be right.
describe("create_tasks ids", function()
  local db = helper.db_for_block()
  local SEQ = "pg_get_serial_sequence('public.tasks', 'id')"
  -- a row with this title makes its inserting session draw one more id
  local STEAL, install_steal, remove_steal =
    H.title_trigger("bulk", "steal", "PERFORM nextval(" .. SEQ .. ")")
  lazy_setup(install_steal)
  lazy_teardown(remove_steal)

  -- Every returned id holds the row given at that position, as the server stores it.
  local function assert_mapping(user, list, ids)
    assert.equal(#list, #ids)
    local stored = {}
    local out = helper.psql("SELECT id, title FROM public.tasks WHERE user_id = '" .. user .. "'")
    for id, title in out:gmatch("(%d+)|([^\n]*)") do stored[tonumber(id)] = title end
    local n = 0
    for _ in pairs(stored) do n = n + 1 end
    assert.equal(#list, n)
    for i, id in ipairs(ids) do
      assert.equal(list[i].title, stored[id], "row " .. i .. " (id " .. id .. ")")
    end
  end

  it("are right when an id is drawn elsewhere while the rows are copied", function()
    local user = helper.uid("bulk-steal")
    local list = titles_batch(user, 300, "steal ")
    list[100].title = STEAL
    list[250].title = STEAL
    assert_mapping(user, list, db:create_tasks(list))
  end)

  it("are right, and the transaction keeps its earlier rows, when that happens in db:transaction", function()
    local user = helper.uid("bulk-steal-txn")
    local list = titles_batch(user, 50, "in txn ")
    list[10].title = STEAL
    local single, ids = db:transaction(function(tx)
      local t = tx:create_task{ user_id = user, title = "before the batch" }
      return t.id, tx:create_tasks(list)
    end)
    assert.equal("before the batch", db:get_task(single).title)
    helper.psql("DELETE FROM public.tasks WHERE id = " .. single)
    assert_mapping(user, list, ids)
  end)

  it("are right while another process creates tasks at the same time", function()
    local user, other = helper.uid("bulk-race"), helper.uid("bulk-race-other")
    local stop = H.tmpfile("stop")
    local creator = H.spawn([[
      io.stdout:setvbuf("no")
      local taskdb = require("taskdb")
      local url, user, stop = ...
      local db = taskdb.connect(url)
      print("READY")
      local i = 0
      while not io.open(stop) and i < 100000 do
        i = i + 1
        db:create_task{ user_id = user, title = "other " .. i }
      end
      print("DONE " .. i)
    ]], { helper.url(), other, stop }, nil, 60)
    H.wait_for("creator READY", 15, function()
      return (H.readfile(creator.out) or ""):find("READY", 1, true) or creator.done()
    end)
    local lists, all_ids = {}, {}
    for round = 1, 5 do
      lists[round] = titles_batch(user .. "-" .. round, 5000, "race " .. round .. " ")
      all_ids[round] = db:create_tasks(lists[round])
    end
    H.writefile(stop, "stop")
    local r = creator.wait(30)
    assert.equal(0, r.rc, r.err)
    local made = tonumber(r.out:match("DONE (%d+)"))
    assert.is_true(made and made > 0, "the other process created nothing")
    assert.equal(made, H.count(other))
    for round = 1, 5 do assert_mapping(user .. "-" .. round, lists[round], all_ids[round]) end
  end)

  it("are right when the sequence hands out ids in cached blocks", function()
    local user = helper.uid("bulk-cache")
    helper.psql("ALTER SEQUENCE " .. helper.psql("SELECT " .. SEQ) .. " CACHE 7")
    local ok, err = pcall(function()
      local fresh = helper.connect()
      fresh:create_task{ user_id = user .. "-warm", title = "takes a block of 7" }
      helper.psql("SELECT nextval(" .. SEQ .. ")")   -- another session's block
      local list = titles_batch(user, 40, "cached ")
      assert_mapping(user, list, fresh:create_tasks(list))
      fresh:close()
    end)
    helper.psql("ALTER SEQUENCE " .. helper.psql("SELECT " .. SEQ) .. " CACHE 1")
    assert(ok, err)
  end)

  it("are right when the sequence is cached and the batch is the connection's first call", function()
    local user = helper.uid("bulk-cache-first")
    helper.psql("ALTER SEQUENCE " .. helper.psql("SELECT " .. SEQ) .. " CACHE 7")
    local fresh = helper.connect()
    local ok, err = pcall(function()
      local list = titles_batch(user, 20, "first ")
      assert_mapping(user, list, fresh:create_tasks(list))
    end)
    fresh:close()
    helper.psql("ALTER SEQUENCE " .. helper.psql("SELECT " .. SEQ) .. " CACHE 1")
    assert(ok, err)
  end)

  -- The proof holds only for step 1, no cache, and a readable sequence: the
  -- statement that reads the mark says NULL otherwise (ids are then drawn first).
  it("are read from the sequence only when the proof can hold", function()
    local p = assert(io.popen(helper.shell_quote(helper.build_dir .. "/taskdb-sql")))
    local dump = p:read("a")
    p:close()
    local mark_sql = dump:match("\ncopy_start\t0\tBEGIN; ([^;\n]+); COPY ")
    assert.is_string(mark_sql, "no copy_start statement with the mark in build/taskdb-sql")
    local seq = helper.psql("SELECT " .. SEQ)
    helper.psql("SELECT nextval('" .. seq .. "')")
    local function mark(setup)
      return helper.psql("BEGIN; " .. (setup or "") .. "; " .. mark_sql .. "; ROLLBACK")
    end
    assert.matches("^%d+$", mark())
    assert.equal("", mark("ALTER SEQUENCE " .. seq .. " CACHE 5"))
    assert.equal("", mark("ALTER SEQUENCE " .. seq .. " INCREMENT BY 2"))
    assert.equal("", mark("CREATE ROLE taskdb_bulk_spec_reader; GRANT SELECT ON public.tasks TO taskdb_bulk_spec_reader; " ..
                          "SET LOCAL ROLE taskdb_bulk_spec_reader"))
  end)
end)

describe("each_task", function()
  local db = helper.db_for_block()
  local user, other
  -- 2,500 tasks in three batches (created_at ties inside a batch, so the
  -- id tie-break matters), another user's rows in between, every third
  -- one completed.
  lazy_setup(function()
    user, other = helper.uid("each"), helper.uid("each-other")
    db:create_tasks(titles_batch(user, 1000, "a "))
    db:create_tasks(titles_batch(other, 300, "o "))
    db:create_tasks(titles_batch(user, 1000, "b "))
    db:create_task{ user_id = other, title = "o single" }
    db:create_tasks(titles_batch(user, 500, "c "))
    helper.psql("UPDATE public.tasks SET completed = true WHERE user_id = '" .. user ..
                "' AND id % 3 = 0")
  end)

  it("yields the same tasks in the same order as get_tasks, for every filter", function()
    local all = db:get_tasks{ user_id = user }
    assert.equal(2500, #all)
    local c1200 = taskdb.cursor(all[1200])
    local filters = {
      { user_id = user },
      { user_id = user, completed = true },
      { user_id = user, completed = false, desc = true },
      { user_id = user, desc = true },
      { user_id = user, limit = 1000 },
      { user_id = user, limit = 1500 },
      { user_id = user, limit = 7, desc = true },
      { user_id = user, after = c1200 },
      { user_id = user, after = c1200, desc = true, completed = false },
      { user_id = user, after = all[2499] },
      { user_id = other },
    }
    for _, f in ipairs(filters) do
      local expected = db:get_tasks(f)
      local got = collect(db:each_task(f))
      assert.same(helper.ids(expected), helper.ids(got))
    end
    -- whole tasks, not just ids
    assert.same(all, collect(db:each_task{ user_id = user }))
  end)

  it("honours limit across page boundaries, and limit = 0 yields nothing", function()
    local all = db:get_tasks{ user_id = user }
    local got = collect(db:each_task{ user_id = user, limit = 2001 })
    assert.equal(2001, #got)
    assert.equal(all[2001].id, got[2001].id)
    assert.same({}, collect(db:each_task{ user_id = user, limit = 0 }))
  end)

  it("works on a scoped handle", function()
    local scoped = db:user(user)
    assert.same(helper.ids(scoped:get_tasks{ completed = true }),
                helper.ids(collect(scoped:each_task{ completed = true })))
    assert.equal(2500, #collect(scoped:each_task()))
  end)

  it("breaking out early leaves the connection usable", function()
    local n = 0
    for _ in db:each_task{ user_id = user } do
      n = n + 1
      if n == 1500 then break end
    end
    assert.equal(1500, n)
    assert.is_true(db:ping())
    assert.equal(2500, db:count_tasks{ user_id = user })
    assert.equal(2500, #collect(db:each_task{ user_id = user }))
    assert.equal(0, db:info().transaction_depth)
  end)

  it("an error in the loop body leaves the connection usable", function()
    local sentinel = {}
    local n = 0
    local ok, err = pcall(function()
      for _ in db:each_task{ user_id = user } do
        n = n + 1
        if n == 1001 then error(sentinel) end
      end
    end)
    assert.is_false(ok)
    assert.equal(sentinel, err)
    assert.is_true(db:ping())
    assert.equal(2500, #db:get_tasks{ user_id = user })
  end)

  it("returns its iterator as the for-loop closing value, and closing it ends the iteration", function()
    local f, s, c, closing = db:each_task{ user_id = user }
    assert.is_nil(s)
    assert.is_nil(c)
    assert.equal(f, closing)
    local mt = getmetatable(closing)
    assert.is_function(mt and mt.__close)
    local first = f(s, c)
    assert.is_table(first)
    mt.__close(closing)
    assert.is_nil(f(s, c))
    mt.__close(closing)   -- twice is harmless

    for _ in db:each_task{ user_id = user } do break end
    assert.is_true(db:ping())
    do
      local it <close> = select(4, db:each_task{ user_id = user })
      assert.is_table(it())
    end
    assert.is_true(db:ping())
  end)

  it("lets the loop body call other methods, writes included", function()
    local u = helper.uid("each-body")
    db:create_tasks(titles_batch(u, 2200))
    local seen, n, last = {}, 0, nil
    for t in db:each_task{ user_id = u } do
      n = n + 1
      assert.is_nil(seen[t.id])
      seen[t.id] = true
      assert.equal(t.title, db:get_task(t.id).title)
      if n % 100 == 0 then
        assert.is_true(db:toggle_complete(t.id).completed)
        db:create_task{ user_id = u .. "-side", title = "side " .. n }
        db:transaction(function(tx) tx:update_task(t.id, { description = "touched" }) end)
      end
      if last then assert.is_true(t.id > last) end
      last = t.id
    end
    assert.equal(2200, n)
    assert.equal(22, db:count_tasks{ user_id = u, completed = true })
    assert.equal(22, db:count_tasks{ user_id = u .. "-side" })
    assert.equal(22, tonumber(helper.psql("SELECT count(*) FROM public.tasks WHERE user_id = '" ..
                                          u .. "' AND description = 'touched'")))
  end)

  it("iterates 100,000 tasks with bounded memory (< 20 MB growth)", function()
    local u = helper.uid("each-100k")
    local list = titles_batch(u, 100000, "memory test row with a reasonably long title ")
    for i = 1, #list, 2 do list[i].description = string.rep("x", 200) end
    assert.equal(100000, #db:create_tasks(list))
    list = nil
    collectgarbage()
    local script = [[
      local taskdb = require("taskdb")
      local url, user = ...
      local function status(key)
        for l in io.lines("/proc/self/status") do
          local v = l:match("^" .. key .. ":%s*(%d+)")
          if v then return tonumber(v) end
        end
      end
      local db = taskdb.connect(url)
      db:ping()
      collectgarbage(); collectgarbage()
      local hwm0, lua0 = status("VmHWM"), collectgarbage("count")
      local n, peak, last = 0, lua0, nil
      for t in db:each_task{ user_id = user } do
        n = n + 1
        if last and t.id <= last then error("out of order at " .. n) end
        last = t.id
        if n % 500 == 0 then
          local c = collectgarbage("count")
          if c > peak then peak = c end
        end
      end
      print(string.format("n=%d hwm0=%d hwm1=%d lua0=%.0f luapeak=%.0f", n, hwm0,
                          status("VmHWM"), lua0, peak))
    ]]
    local code, out, err = helper.taskshell(script, nil, { args = { helper.url(), u } })
    helper.psql("DELETE FROM public.tasks WHERE user_id = '" .. u .. "'")
    assert.equal(0, code, err)
    local n, hwm0, hwm1, lua0, luapeak =
      out:match("n=(%d+) hwm0=(%d+) hwm1=(%d+) lua0=(%d+) luapeak=(%d+)")
    assert.is_string(n, out .. err)
    assert.equal(100000, tonumber(n))
    local rss_growth_mb = (tonumber(hwm1) - tonumber(hwm0)) / 1024
    local lua_growth_mb = (tonumber(luapeak) - tonumber(lua0)) / 1024
    assert.is_true(rss_growth_mb < 20, "peak RSS grew by " .. rss_growth_mb .. " MB")
    assert.is_true(lua_growth_mb < 20, "Lua heap grew by " .. lua_growth_mb .. " MB")
  end)
end)

describe("each_task when the connection is lost between pages #direct_only", function()
  it("reconnects and goes on, every row exactly once, in order", function()
    local user, app = helper.uid("each-lost"), helper.uid("app-each-lost")
    local db = helper.connect{ application_name = app }
    db:init_db()
    local ids = db:create_tasks(titles_batch(user, 2500))
    local seen = {}
    for t in db:each_task{ user_id = user } do
      seen[#seen + 1] = t.id
      if #seen == 1500 then H.terminate(app) end   -- the page of rows 1001-2000 is in hand
    end
    assert.same(ids, seen)
    assert.equal(1, db:info().reconnects)
    db:close()
  end)
end)

describe("keyset pagination", function()
  local db = helper.db_for_block()

  it("taskdb.cursor(task), a task table and the returned cursor all work as `after`", function()
    local user = helper.uid("cursor")
    db:create_tasks(titles_batch(user, 60))
    db:create_tasks(titles_batch(user, 60, "second "))   -- a later created_at
    local all = db:get_tasks{ user_id = user }
    assert.equal(120, #all)
    local c = taskdb.cursor(all[50])
    assert.is_string(c)
    local want = {}
    for i = 51, 70 do want[#want + 1] = all[i].id end
    assert.same(want, helper.ids(db:get_tasks{ user_id = user, after = c, limit = 20 }))
    assert.same(want, helper.ids(db:get_tasks{ user_id = user, after = all[50], limit = 20 }))
    -- the cursor returned with a full page is the last row's
    local page, next_c = db:get_tasks{ user_id = user, limit = 50 }
    assert.equal(50, #page)
    assert.equal(taskdb.cursor(page[50]), next_c)
    local page2, c2 = db:get_tasks{ user_id = user, limit = 50, after = next_c }
    assert.same(helper.ids(page2), { table.unpack(helper.ids(all), 51, 100) })
    local page3, c3 = db:get_tasks{ user_id = user, limit = 50, after = c2 }
    assert.equal(20, #page3)
    assert.is_nil(c3)    -- a short page is the last
    -- descending
    local down = db:get_tasks{ user_id = user, desc = true, after = taskdb.cursor(all[61]), limit = 3 }
    assert.same({ all[60].id, all[59].id, all[58].id }, helper.ids(down))
  end)

  it("pages through 1,000 tasks with no gaps or repeats while another process inserts and deletes", function()
    local user = helper.uid("keyset-live")
    local original = db:create_tasks(titles_batch(user, 1000, "orig "))
    -- the other process deletes every tenth original (in a scrambled order)
    -- and inserts and deletes rows of its own, until told to stop
    local victims = {}
    for i = 5, 1000, 10 do victims[#victims + 1] = original[i] end
    for i = #victims, 2, -1 do
      local j = (i * 7919) % i + 1
      victims[i], victims[j] = victims[j], victims[i]
    end
    local stop = H.tmpfile("stop")
    local mutator = H.spawn([[
      io.stdout:setvbuf("no")
      local taskdb = require("taskdb")
      local system = require("system")
      local url, user, stop, victims = ...
      local db = taskdb.connect(url)
      local list = {}
      for id in victims:gmatch("%d+") do list[#list + 1] = math.tointeger(tonumber(id)) end
      print("READY")
      local i, mine, deadline = 0, {}, system.gettime() + 30
      while not io.open(stop) and system.gettime() < deadline do
        i = i + 1
        local t = db:create_task{ user_id = user, title = "new " .. i }
        print("NEW " .. t.id)
        mine[#mine + 1] = t.id
        if i % 3 == 0 then
          local id = table.remove(mine, 1)
          if db:delete_task(id) then print("DELNEW " .. id) end
        end
        if #list > 0 then
          local id = table.remove(list, 1)
          if db:delete_task(id) then print("DEL " .. id) end
        end
        system.sleep(0.004)
      end
      print("DONE " .. i)
    ]], { helper.url(), user, stop, table.concat(victims, " ") }, nil, 60)
    H.wait_for("mutator READY", 15, function()
      return (H.readfile(mutator.out) or ""):find("READY", 1, true) or mutator.done()
    end)

    local seen, cursor, pages = {}, nil, 0
    repeat
      local page
      page, cursor = db:get_tasks{ user_id = user, limit = 50, after = cursor }
      pages = pages + 1
      for _, t in ipairs(page) do seen[#seen + 1] = t end
      H.sleep(0.03)
    until not cursor or pages > 2000
    H.writefile(stop, "stop")
    local r = mutator.wait(30)
    assert.equal(0, r.rc, r.err)

    local out = "\n" .. r.out
    local deleted, inserted_during = {}, 0
    for id in out:gmatch("\nDEL (%d+)") do deleted[tonumber(id)] = true end
    for _ in out:gmatch("\nNEW %d+") do inserted_during = inserted_during + 1 end
    local ndeleted = 0
    for _ in pairs(deleted) do ndeleted = ndeleted + 1 end
    assert.is_true(ndeleted >= 20, "the other process deleted only " .. ndeleted)
    assert.is_true(inserted_during >= 20, "the other process inserted only " .. inserted_during)

    -- strictly increasing (created_at, id): no repeats, nothing out of order
    local count = {}
    for i, t in ipairs(seen) do
      count[t.id] = (count[t.id] or 0) + 1
      assert.equal(1, count[t.id], "task " .. t.id .. " seen twice")
      if i > 1 then
        local p = seen[i - 1]
        assert.is_true(p.created_at < t.created_at or (p.created_at == t.created_at and p.id < t.id),
                       "out of order at " .. i)
      end
    end
    -- every surviving original exactly once, in creation order
    local pos = {}
    for i, t in ipairs(seen) do pos[t.id] = i end
    local prev = 0
    for i, id in ipairs(original) do
      if not deleted[id] then
        assert.is_number(pos[id], "original #" .. i .. " (id " .. id .. ") was skipped")
        assert.is_true(pos[id] > prev, "original #" .. i .. " out of order")
        prev = pos[id]
      end
    end
  end)
end)

teardown(H.cleanup)

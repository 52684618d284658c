-- Hostile Lua values: option tables whose metamethods run code, finalizers
-- that change or close what a call is using, handles whose user values were
-- replaced with the debug library.  None may crash, read freed memory or
-- return another user's rows.  Run under valgrind to see the memory side:
--   TASKDB_VALGRIND=1 TASKDB_SPECS=spec/hostile_input_spec.lua sh spec/run.sh

local helper = require("spec.helper")
local taskdb = require("taskdb")

-- Long strings (over 40 bytes) are not interned: one made at run time is
-- freed as soon as nothing refers to it.
local function fresh_string(prefix)
  return prefix .. string.rep("x", 48) .. ("%010d"):format(math.random(1, 1e9))
end

-- A copy of s that is a string object of its own.
local function copy_of(s)
  return (s .. "#"):sub(1, -2)
end

-- Runs fn with the collector in short back-to-back cycles (a full one
-- every few kilobytes allocated), so that a finalizer armed in fn runs
-- inside the call that follows, and what it drops is freed there too.
local function with_eager_gc(fn)
  local previous = collectgarbage("incremental", 100, 200, 13)
  collectgarbage()   -- after the switch: it sets the next cycle to start at once
  local ok, err = pcall(fn)
  collectgarbage("incremental", 200, 100)
  if previous == "generational" then collectgarbage("generational") end
  if not ok then error(err, 0) end
end

-- An object that, once unreachable, runs fn when the collector finalizes it.
local function arm(fn)
  setmetatable({}, { __gc = fn })
end

-- Strings the size of `s` (copies of `s` itself if given), to take freed memory back.
local function churn(s, content)
  local keep = {}
  for i = 1, 200 do keep[i] = content and copy_of(content) or ("%0" .. #s .. "d"):format(i) end
  return keep
end

-- A finalizer in every collector cycle until the returned function is
-- called: while active() holds, it allocates strings with `content` and
-- keeps them (so they free nothing of that size themselves), so freed
-- memory of that size is taken back at once, with that content.
local function churn_every_cycle(content, active)
  local kept, stopped = {}, false
  local function rearm()
    setmetatable({}, { __gc = function()
      if stopped then return end
      if active() then kept[#kept + 1] = churn(content, content) end
      rearm()
    end })
  end
  rearm()
  return function() stopped = true end
end

describe("hostile option tables", function()
  local db = helper.db_for_block()
  local alice, bob

  setup(function()
    alice = fresh_string("alice-")
    bob = helper.uid("bob")
    local list = {}
    for i = 1, 5 do list[#list + 1] = { user_id = alice, title = "alice " .. i } end
    for i = 1, 5 do list[#list + 1] = { user_id = bob, title = "bob " .. i } end
    db:create_tasks(list)
  end)

  -- The `after` table of the attack: its __index drops opts.user_id and
  -- collects, so a borrowed pointer to the user_id string would dangle.
  local function hostile_after(get_opts)
    return setmetatable({}, { __index = function(_, k)
      get_opts().user_id = nil
      collectgarbage()
      collectgarbage()
      churn(alice)
      if k == "id" then return 0 end
      if k == "created_at" then return "1970-01-01T00:00:00.000000Z" end
    end })
  end

  it("an `after` whose __index runs code is read raw: it holds no position, so it is invalid", function()
    for _, method in ipairs{ "get_tasks", "each_task" } do
      for _ = 1, 20 do
        local opts
        opts = { user_id = fresh_string("alice-"), after = hostile_after(function() return opts end) }
        local e = helper.expect_error("invalid", "after", db[method], db, opts)
        assert.matches("after must be a cursor", e.message)
      end
    end
  end)

  it("an `after` table is taken for what it holds, never through __index", function()
    local all = db:get_tasks{ user_id = alice }
    local ran = false
    local after = setmetatable({ id = all[2].id, created_at = all[2].created_at },
      { __index = function() ran = true; return "2999-01-01T00:00:00.000000Z" end })
    local rest = db:get_tasks{ user_id = alice, after = after }
    assert.are.same({ all[3].id, all[4].id, all[5].id }, helper.ids(rest))
    assert.is_false(ran)
    -- a number is not a timestamp: it is not converted into one
    helper.expect_error("invalid", "after", db.get_tasks, db,
      { user_id = alice, after = { id = all[2].id, created_at = 20260101 } })
    -- and an id must be an integer
    helper.expect_error("invalid", "after", db.get_tasks, db,
      { user_id = alice, after = { id = "5", created_at = all[2].created_at } })
  end)

  it("filtered calls never return another user's rows, whatever the options' metamethods do", function()
    local foreign = 0
    for i = 1, 400 do
      local mine = fresh_string("alice-")
      local opts
      opts = { user_id = mine, after = hostile_after(function() return opts end) }
      mine = nil   -- luacheck: ignore
      local ok, rows = pcall(db.get_tasks, db, opts)
      if ok then
        for _, t in ipairs(rows) do
          if t.user_id ~= opts.user_id then foreign = foreign + 1 end
        end
      end
      -- the plain call, beside it, sees only its user
      for _, t in ipairs(db:get_tasks{ user_id = alice, limit = i % 7 + 1 }) do
        if t.user_id ~= alice then foreign = foreign + 1 end
      end
    end
    assert.equal(0, foreign)
  end)
end)

describe("finalizers that run inside a call", function()
  local db = helper.db_for_block()
  local user, other

  setup(function()
    -- Long (not interned) and of one length: a freed copy of `user` can be
    -- taken back by a string holding `other`.
    user = fresh_string("fin-a-")
    other = fresh_string("fin-b-")
    -- more than one internal page (10,000 rows) for get_tasks
    local list = {}
    for i = 1, 10050 do list[i] = { user_id = user, title = "t" .. i } end
    db:create_tasks(list)
    db:create_tasks{ { user_id = other, title = "not yours" }, { user_id = other, title = "nor this" } }
  end)

  it("get_tasks keeps its user_id filter when a finalizer drops it from the options and collects", function()
    for _ = 1, 3 do
      local opts = { user_id = copy_of(user) }   -- freed once dropped
      local ran, calling = false, false
      local rows
      with_eager_gc(function()
        local stop = churn_every_cycle(other, function() return calling end)
        arm(function()
          ran = calling
          opts.user_id = nil
        end)
        calling = true   -- the first allocation from here on is inside get_tasks, after it read opts
        local ok, err = pcall(db.get_tasks, db, opts)
        calling = false
        stop()
        rows = assert(ok and err, err)
      end)
      assert.is_true(ran, "the finalizer did not run inside get_tasks")
      assert.equal(10050, #rows)
      for _, t in ipairs(rows) do
        if t.user_id ~= user then error("a row of " .. t.user_id .. " was returned") end
      end
    end
  end)

  it("each_task keeps its user_id filter when a finalizer drops it", function()
    local opts = { user_id = copy_of(user), limit = 2500 }
    local n, foreign, ran, calling = 0, 0, false, false
    local function loop()
      for t in db:each_task(opts) do
        n = n + 1
        if t.user_id ~= user then foreign = foreign + 1 end
      end
    end
    with_eager_gc(function()
      local stop = churn_every_cycle(other, function() return calling end)
      arm(function()
        ran = calling
        opts.user_id = nil
      end)
      calling = true   -- the first allocation from here on is inside each_task, after it read opts
      local ok, err = pcall(loop)
      calling = false
      stop()
      assert(ok, err)
    end)
    assert.is_true(ran, "the finalizer did not run inside each_task")
    assert.equal(2500, n)
    assert.equal(0, foreign)
  end)

  it("a connection closed by a finalizer between pages is reported as closed, never used", function()
    local victim = helper.connect()
    local ran, calling = false, false
    local ok, e
    with_eager_gc(function()
      arm(function()
        ran = calling
        victim:close()
      end)
      calling = true
      ok, e = pcall(victim.get_tasks, victim, { user_id = user })
      calling = false
    end)
    assert.is_true(ran, "the finalizer did not run inside get_tasks")
    -- It ran before the first page was sent or while one was converted:
    -- the next page is never sent on a closed connection.  (Only when it ran
    -- while the last page was converted does the call complete.)
    if ok then
      assert.equal(10050, #e)
    else
      helper.check_error_object(e)
      assert.equal("closed", e.kind)
    end
  end)

  it("an iterator closed or called again by a finalizer while it converts a row stays sound", function()
    for _ = 1, 5 do
      local f, s, c, it = db:each_task{ user_id = user, limit = 3000 }
      local mt = getmetatable(it)
      local ran, foreign = 0, 0
      assert.is_table(f(s, c))
      with_eager_gc(function()
        for _ = 1, 200 do
          arm(function()
            ran = ran + 1
            local ok, t = pcall(f, s, c)   -- inside a step: nothing; between steps: a row
            if ok and t and t.user_id ~= user then foreign = foreign + 1 end
            mt.__close(it)
            mt.__gc(it)
          end)
          local t = f(s, c)
          if t == nil then break end
          if t.user_id ~= user then foreign = foreign + 1 end
        end
      end)
      assert.is_true(ran > 0)
      assert.equal(0, foreign)
      assert.is_nil(f(s, c))   -- closed: the end
    end
    assert.is_true(db:ping())
  end)

  it("info() on a connection a finalizer closes raises closed or returns, never reads freed memory", function()
    for _ = 1, 20 do
      local victim = helper.connect()
      local ok, info
      with_eager_gc(function()
        arm(function() victim:close() end)
        ok, info = pcall(victim.info, victim)
      end)
      if ok then
        assert.is_table(info)
      else
        assert.equal("closed", info.kind)
      end
      victim:close()
    end
  end)
end)

describe("handles whose user values were replaced (debug.setuservalue)", function()
  local db = helper.db_for_block()
  local user = helper.uid("uv")
  setup(function() db:create_task{ user_id = user, title = "mine" } end)

  it("a user handle whose connection is not one raises invalid, for every method", function()
    for _, bad in ipairs{ {}, "text", 42, io.stdout, taskdb.null } do
      local u = db:user(user)
      debug.setuservalue(u, bad, 1)
      for _, call in ipairs{
        function() return u:get_task(1) end,
        function() return u:get_tasks() end,
        function() return u:count_tasks() end,
        function() return u:create_task{ title = "x" } end,
        function() return u:update_task(1, { title = "x" }) end,
        function() return u:toggle_complete(1) end,
        function() return u:delete_task(1) end,
        function() return u:create_tasks{ { title = "x" } } end,
        function() return u:each_task() end,
        function() return u:transaction(function() end) end,
        function() return u:update_tasks({ ids = { 1 } }, { completed = true }) end,
        function() return u:delete_tasks{ ids = { 1 } } end,
        function() return u:pipeline(function() end) end,
      } do
        local e = helper.expect_error("invalid", false, call)
        assert.matches("user value 1", e.message)
      end
    end
  end)

  it("a user handle keeps its own user id: its scope cannot be replaced", function()
    local u = db:user(user)
    debug.setuservalue(u, helper.uid("someone-else"), 2)   -- no such slot: ignored
    assert.equal(user, u.user_id)
    assert.equal(1, #u:get_tasks())
    assert.equal(user, u:get_tasks()[1].user_id)
    assert.equal("taskdb.User (" .. user .. ")", tostring(u))
  end)

  it("an iterator whose handle or page was replaced raises invalid", function()
    local it = select(4, db:each_task{ user_id = user })
    debug.setuservalue(it, {}, 1)
    local e = helper.expect_error("invalid", false, it)
    assert.matches("user value 1", e.message)

    it = select(4, db:each_task{ user_id = user })
    debug.setuservalue(it, "not a page", 2)
    e = helper.expect_error("invalid", false, it)
    assert.matches("user value 2", e.message)
    getmetatable(it).__close(it)   -- closing it is still harmless

    it = select(4, db:each_task{ user_id = user })
    debug.setuservalue(it, io.stdout, 2)
    helper.expect_error("invalid", false, it)
    assert.is_true(db:ping())
  end)

  it("an iterator over a user handle whose connection was replaced raises invalid", function()
    local u = db:user(user)
    local it = select(4, u:each_task())
    debug.setuservalue(u, {}, 1)
    helper.expect_error("invalid", false, it)
  end)

  it("the user handle's fields are read without converting the key", function()
    local u = db:user(user)
    assert.is_nil(u[1])
    assert.is_nil(u[true])
    assert.is_nil(u.nope)
    assert.is_function(u.get_task)
    assert.equal(db, u.db)
    local e = helper.expect_error("invalid", false, getmetatable(u).__index, {}, "user_id")
    assert.matches("user handle", e.message)
    helper.expect_error("invalid", false, getmetatable(u).__tostring, 5)
  end)
end)

describe("get_tasks{ limit = 0 } validates like any limit", function()
  local db = helper.db_for_block()
  local user = helper.uid("zero")
  setup(function() db:create_task{ user_id = user, title = "one" } end)

  for _, limit in ipairs{ 0, 1 } do
    for name, bad in pairs{ empty = "", ["not UTF-8"] = "\xff", blank = "   ",
                            ["too long"] = string.rep("u", 256), ["with a NUL"] = "a\0b" } do
      it(("raises invalid user_id for a %s user_id with limit = %d"):format(name, limit), function()
        helper.expect_error("invalid", "user_id", db.get_tasks, db, { user_id = bad, limit = limit })
      end)
    end

    it(("raises invalid user_id on a scoped handle for another user's id, limit = %d"):format(limit),
      function()
        local u = db:user(user)
        helper.expect_error("invalid", "user_id", u.get_tasks, u,
          { user_id = helper.uid("other"), limit = limit })
      end)

    it(("still checks the other options with limit = %d"):format(limit), function()
      helper.expect_error("invalid", "after", db.get_tasks, db,
        { user_id = user, limit = limit, after = "0000-13-01T00:00:00.000000Z/1" })
      helper.expect_error("invalid", "completed", db.get_tasks, db,
        { user_id = user, limit = limit, completed = "yes" })
      helper.expect_error("invalid", "user_id", db.each_task, db, { user_id = "", limit = limit })
    end)
  end

  it("returns an empty page for valid options, scoped or not, and a closed handle is closed", function()
    assert.are.same({}, db:get_tasks{ user_id = user, limit = 0 })
    assert.are.same({}, db:user(user):get_tasks{ user_id = user, limit = 0 })
    assert.are.same({}, db:user(user):get_tasks{ limit = 0 })
    local n = 0
    for _ in db:each_task{ user_id = user, limit = 0 } do n = n + 1 end
    assert.equal(0, n)
    local other = helper.connect()
    other:close()
    helper.expect_error("closed", false, other.get_tasks, other, { user_id = user, limit = 0 })
  end)
end)

describe("pipelines under hostile code", function()
  local db = helper.db_for_block()
  local user = helper.uid("pl-hostile")

  setup(function()
    local list = {}
    for i = 1, 60 do list[i] = { user_id = user, title = "t" .. i } end
    db:create_tasks(list)
  end)

  it("a pipeline whose handle was replaced raises invalid and sends nothing", function()
    local e = helper.expect_error("invalid", false, db.pipeline, db, function(p)
      debug.setuservalue(p, {}, 1)
      p:create_task{ user_id = user, title = "never" }
    end)
    assert.matches("user value 1", e.message)
    assert.equal(60, db:count_tasks{ user_id = user })
  end)

  it("a pipeline freed inside its block sends nothing", function()
    local e = helper.expect_error("invalid", false, db.pipeline, db, function(p)
      p:create_task{ user_id = user, title = "never" }
      getmetatable(p).__gc(p)
    end)
    assert.matches("freed inside its block", e.message)
    assert.equal(60, db:count_tasks{ user_id = user })
  end)

  it("a finalizer that frees the pipeline while its results are converted changes nothing", function()
    for _ = 1, 3 do
      local kept, ran, calling = nil, false, false
      local results
      with_eager_gc(function()
        calling = true
        results = db:pipeline(function(p)
          kept = p
          for _ = 1, 100 do p:get_tasks{ user_id = user, limit = 50 } end
          arm(function()
            ran = calling
            getmetatable(kept).__gc(kept)
            pcall(kept.get_task, kept, 1)   -- the block has ended: raises, touches nothing
          end)
        end)
        calling = false
      end)
      assert.is_true(ran, "the finalizer did not run inside the pipeline")
      assert.equal(100, #results)
      for _, rows in ipairs(results) do
        assert.equal(50, #rows)
        for _, t in ipairs(rows) do assert.equal(user, t.user_id) end
      end
    end
  end)
end)

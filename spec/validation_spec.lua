-- Bad input, exhaustively: every case must raise kind "invalid" naming the
-- right field, and must write nothing.
-- Run: build/taskshell /usr/bin/busted spec/validation_spec.lua  (through spec/run.sh)

local helper = require("spec.helper")
local taskdb = require("taskdb")

local NOT_UTF8 = {
  ["a lone 0xFF byte"] = "ab\xffcd",
  ["an overlong encoding of '/' (C0 AF)"] = "a\xc0\xafb",
  ["an overlong three-byte encoding (E0 80 AF)"] = "a\xe0\x80\xafb",
  ["a UTF-16 surrogate (ED A0 80)"] = "a\xed\xa0\x80b",
  ["a truncated sequence in the middle (E6 97 then ASCII)"] = "\xe6\x97x",
  ["a truncated sequence at the end (E6 97)"] = "abc\xe6\x97",
  ["a code point above U+10FFFF (F4 90 80 80)"] = "\xf4\x90\x80\x80",
  ["a stray continuation byte (80)"] = "a\x80b",
  ["Latin-1 text"] = "caf\xe9",
}

-- Sorted pairs, so test names come out in a stable order.
local function spairs(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  local i = 0
  return function()
    i = i + 1
    if keys[i] then return keys[i], t[keys[i]] end
  end
end

describe("validation", function()
  local db = helper.db_for_block()

  -- Asserts that nothing was written under `user` or with title `marker`.
  local function assert_nothing_written(user, marker)
    assert.are.equal(0, db:count_tasks{ user_id = user })
    assert.are.equal("0", helper.psql(string.format(
      "SELECT count(*) FROM public.tasks WHERE user_id = '%s' OR title = '%s'", user, marker)))
  end

  -- Builds a new-task table from a valid one, with `changes` applied
  -- (a value of ABSENT removes the key).
  local ABSENT = {}
  local function new_task(user, marker, changes)
    local t = { user_id = user, title = marker }
    for k, v in pairs(changes) do
      if v == ABSENT then t[k] = nil else t[k] = v end
    end
    return t
  end

  describe("create_task rejects with kind invalid, names the field, writes nothing:", function()
    local cases = {
      -- user_id
      { "a missing user_id", { user_id = ABSENT }, "user_id" },
      { "an empty user_id", { user_id = "" }, "user_id" },
      { "a blank user_id (spaces)", { user_id = "   " }, "user_id" },
      { "a whitespace-only user_id (tab, newline, CR)", { user_id = " \t\n\r " }, "user_id" },
      { "a 256-character user_id", { user_id = ("u"):rep(256) }, "user_id" },
      { "a 256-code-point multi-byte user_id", { user_id = ("é"):rep(256) }, "user_id" },
      { "a number as user_id", { user_id = 42 }, "user_id" },
      { "a table as user_id", { user_id = {} }, "user_id" },
      { "a user_id with a NUL byte", { user_id = "us\0er" }, "user_id" },
      { "a user_id of invalid UTF-8", { user_id = "us\xffer" }, "user_id" },
      { "user_id = taskdb.null", { user_id = taskdb.null }, "user_id" },
      -- title
      { "a missing title", { title = ABSENT }, "title" },
      { "an empty title", { title = "" }, "title" },
      { "a blank title (spaces)", { title = "    " }, "title" },
      { "a whitespace-only title (tab, newline, CR, FF, VT)", { title = "\t\n\r\f\v " }, "title" },
      { "a 201-character title", { title = ("t"):rep(201) }, "title" },
      { "a 201-code-point title of two-byte characters", { title = ("é"):rep(201) }, "title" },
      { "a 201-code-point title of three-byte characters", { title = ("日"):rep(201) }, "title" },
      { "a 201-code-point title of four-byte characters", { title = ("😀"):rep(201) }, "title" },
      { "a number as title", { title = 5 }, "title" },
      { "a boolean as title", { title = true }, "title" },
      { "a table as title", { title = { "x" } }, "title" },
      { "a title with a NUL byte", { title = "ti\0tle" }, "title" },
      { "title = taskdb.null", { title = taskdb.null }, "title" },
      -- description
      { "a 1001-character description", { description = ("d"):rep(1001) }, "description" },
      { "a 1001-code-point description of three-byte characters",
        { description = ("日"):rep(1001) }, "description" },
      { "a number as description", { description = 7 }, "description" },
      { "a table as description", { description = {} }, "description" },
      { "a boolean as description", { description = false }, "description" },
      { "a description with a NUL byte", { description = "x\0y" }, "description" },
      -- completed
      { "a string as completed", { completed = "true" }, "completed" },
      { "a number as completed", { completed = 1 }, "completed" },
      { "a table as completed", { completed = {} }, "completed" },
      -- keys
      { "an unknown key 'titel'", { titel = "typo" }, "titel" },
      { "an unknown key 'done'", { done = true }, "done" },
      { "the read-only key id", { id = 12345 }, "id" },
      { "the read-only key created_at", { created_at = "2026-01-01T00:00:00.000000Z" }, "created_at" },
      { "the read-only key updated_at", { updated_at = "2026-01-01T00:00:00.000000Z" }, "updated_at" },
    }
    for what, bad in spairs(NOT_UTF8) do
      cases[#cases + 1] = { "a title of " .. what, { title = bad }, "title" }
      cases[#cases + 1] = { "a description of " .. what, { description = bad }, "description" }
    end

    for _, case in ipairs(cases) do
      local name, changes, field = case[1], case[2], case[3]
      it(name, function()
        local user, marker = helper.uid("v-create"), helper.uid("marker")
        helper.expect_error("invalid", field, db.create_task, db, new_task(user, marker, changes))
        assert_nothing_written(user, marker)
      end)
    end

    it("a user_id of invalid UTF-8 in every bad form", function()
      for what, bad in spairs(NOT_UTF8) do
        local marker = helper.uid("marker")
        local e = helper.expect_error("invalid", "user_id", db.create_task, db,
          { user_id = bad, title = marker })
        assert.is_string(e.message, what)
        assert.are.equal("0", helper.psql("SELECT count(*) FROM public.tasks WHERE title = '" .. marker .. "'"))
      end
    end)

    it("a non-string key", function()
      local user, marker = helper.uid("v-create"), helper.uid("marker")
      helper.expect_error("invalid", nil, db.create_task, db, { user_id = user, title = marker, "extra" })
      assert_nothing_written(user, marker)
    end)

    it("an argument that is not a table", function()
      helper.expect_error("invalid", nil, db.create_task, db, "title")
      helper.expect_error("invalid", nil, db.create_task, db, nil)
      helper.expect_error("invalid", nil, db.create_task, db, 42)
    end)

    it("a bad field even when every other field is valid and given", function()
      local user, marker = helper.uid("v-create"), helper.uid("marker")
      helper.expect_error("invalid", "description", db.create_task, db, {
        user_id = user, title = marker, completed = true, description = ("x"):rep(1001) })
      assert_nothing_written(user, marker)
    end)
  end)

  describe("create_task accepts the limits, counted in characters not bytes:", function()
    local cases = {
      { "a 255-character user_id", { user_id = ("u"):rep(250) .. "-end!" } },
      { "a 255-code-point user_id of two-byte characters", { user_id = ("é"):rep(255) } },
      { "a 200-character title", { title = ("t"):rep(200) } },
      { "a 200-code-point title of two-byte characters (400 bytes)", { title = ("é"):rep(200) } },
      { "a 200-code-point title of three-byte characters (600 bytes)", { title = ("日"):rep(200) } },
      { "a 200-code-point title of four-byte characters (800 bytes)", { title = ("😀"):rep(200) } },
      { "a one-character title", { title = "x" } },
      { "a title with surrounding spaces", { title = "  padded  " } },
      { "a 1000-character description", { description = ("d"):rep(1000) } },
      { "a 1000-code-point description of three-byte characters", { description = ("日"):rep(1000) } },
      { "an empty description", { description = "" } },
      { "a blank description", { description = "   " } },
    }
    for _, case in ipairs(cases) do
      it(case[1], function()
        local t = new_task(helper.uid("v-ok"), helper.uid("marker"), case[2])
        local got = db:create_task(t)
        assert.are.equal(t.user_id, got.user_id)
        assert.are.equal(t.title, got.title)
        assert.are.equal(t.description, got.description)
        assert.are.same(got, db:get_task(got.id))
        -- the server counts the same characters
        local lengths = helper.psql("SELECT char_length(user_id) || ',' || char_length(title) || ',' "
          .. "|| coalesce(char_length(description), -1) FROM public.tasks WHERE id = " .. got.id)
        assert.are.equal(string.format("%d,%d,%d", utf8.len(t.user_id), utf8.len(t.title),
          t.description and utf8.len(t.description) or -1), lengths)
      end)
    end
  end)

  describe("update_task rejects with kind invalid, names the field, leaves the row unchanged:",
    function()
      local cases = {
        { "an empty title", { title = "" }, "title" },
        { "a blank title", { title = " \t " }, "title" },
        { "a 201-character title", { title = ("t"):rep(201) }, "title" },
        { "a 201-code-point title of two-byte characters", { title = ("é"):rep(201) }, "title" },
        { "title = taskdb.null (a title cannot be cleared)", { title = taskdb.null }, "title" },
        { "a number as title", { title = 1 }, "title" },
        { "a title with a NUL byte", { title = "a\0b" }, "title" },
        { "a 1001-character description", { description = ("d"):rep(1001) }, "description" },
        { "a number as description", { description = 3 }, "description" },
        { "a table as description", { description = {} }, "description" },
        { "a description with a NUL byte", { description = "\0" }, "description" },
        { "a string as completed", { completed = "false" }, "completed" },
        { "a number as completed", { completed = 0 }, "completed" },
        { "an unknown key 'titel'", { titel = "typo" }, "titel" },
        { "the read-only key id", { id = 1 }, "id" },
        { "the read-only key user_id", { user_id = "someone-else" }, "user_id" },
        { "the read-only key created_at", { created_at = "2020-01-01T00:00:00.000000Z" }, "created_at" },
        { "the read-only key updated_at", { updated_at = "2020-01-01T00:00:00.000000Z" }, "updated_at" },
        { "a valid title beside an unknown key", { title = "changed", titel = "typo" }, "titel" },
        { "a valid completed beside a bad title", { completed = true, title = "" }, "title" },
        { "a valid description beside a read-only key",
          { description = "changed", created_at = "2020-01-01T00:00:00.000000Z" }, "created_at" },
      }
      for what, bad in spairs(NOT_UTF8) do
        cases[#cases + 1] = { "a title of " .. what, { title = bad }, "title" }
        cases[#cases + 1] = { "a description of " .. what, { description = bad }, "description" }
      end

      for _, case in ipairs(cases) do
        local name, patch, field = case[1], case[2], case[3]
        it(name, function()
          local t = db:create_task{ user_id = helper.uid("v-update"), title = "original",
            description = "keep me" }
          helper.expect_error("invalid", field, db.update_task, db, t.id, patch)
          assert.are.same(t, db:get_task(t.id))
        end)
      end

      it("the task's own user_id (user_id cannot be updated at all)", function()
        local t = db:create_task{ user_id = helper.uid("v-update"), title = "original" }
        helper.expect_error("invalid", "user_id", db.update_task, db, t.id, { user_id = t.user_id })
        assert.are.same(t, db:get_task(t.id))
      end)

      it("a patch that is not a table", function()
        local t = db:create_task{ user_id = helper.uid("v-update"), title = "original" }
        helper.expect_error("invalid", nil, db.update_task, db, t.id, "new title")
        helper.expect_error("invalid", nil, db.update_task, db, t.id, nil)
        assert.are.same(t, db:get_task(t.id))
      end)

      it("the same bad patches through a scoped handle", function()
        local alice = db:user(helper.uid("v-update"))
        local t = alice:create_task{ title = "original" }
        helper.expect_error("invalid", "title", alice.update_task, alice, t.id, { title = "" })
        helper.expect_error("invalid", "user_id", alice.update_task, alice, t.id, { user_id = "other" })
        helper.expect_error("invalid", "titel", alice.update_task, alice, t.id, { titel = "x" })
        assert.are.same(t, alice:get_task(t.id))
      end)
    end)

  describe("ids", function()
    local t

    before_each(function()
      t = db:create_task{ user_id = helper.uid("v-id"), title = "original" }
    end)

    local bad_ids = {
      { "a numeric string", function(task) return tostring(task.id) end },
      { "the string '1'", function() return "1" end },
      { "a non-integral number 1.5", function() return 1.5 end },
      { "nil", function() return nil end },
      { "a table", function() return {} end },
      { "a boolean", function() return true end },
      { "NaN", function() return 0 / 0 end },
      { "infinity", function() return math.huge end },
      { "2^63 as a float (out of integer range)", function() return 2.0 ^ 63 end },
    }

    for _, case in ipairs(bad_ids) do
      it("rejects " .. case[1] .. " as an id in every operation, changing nothing", function()
        local id = case[2](t)
        helper.expect_error("invalid", "id", db.get_task, db, id)
        helper.expect_error("invalid", "id", db.update_task, db, id, { title = "changed" })
        helper.expect_error("invalid", "id", db.toggle_complete, db, id)
        helper.expect_error("invalid", "id", db.delete_task, db, id)
        local alice = db:user(t.user_id)
        helper.expect_error("invalid", "id", alice.get_task, alice, id)
        helper.expect_error("invalid", "id", alice.update_task, alice, id, { title = "changed" })
        helper.expect_error("invalid", "id", alice.toggle_complete, alice, id)
        helper.expect_error("invalid", "id", alice.delete_task, alice, id)
        assert.are.same(t, db:get_task(t.id))
      end)
    end

    it("treats 2^62 as a well-formed id that is not found", function()
      local big = 1 << 62
      assert.is_nil(db:get_task(big))
      assert.is_nil(db:update_task(big, { title = "x" }))
      assert.is_nil(db:toggle_complete(big))
      assert.is_false(db:delete_task(big))
    end)

    it("treats negative and zero ids as well-formed, not found", function()
      assert.is_nil(db:get_task(-1))
      assert.is_nil(db:get_task(0))
      assert.is_nil(db:get_task(math.mininteger))
      assert.is_false(db:delete_task(-5))
    end)

    it("accepts a float with an integral value as the same id", function()
      assert.are.same(t, db:get_task(t.id + 0.0))
    end)
  end)

  describe("create_tasks", function()
    local function rows(user, n)
      local list = {}
      for i = 1, n do list[i] = { user_id = user, title = "row " .. i } end
      return list
    end

    local cases = {
      { "a blank title in a middle row", 3, { title = "  " }, "title" },
      { "a too long title in the last row", 6, { title = ("x"):rep(201) }, "title" },
      { "a bad first row", 1, { user_id = "" }, "user_id" },
      { "an unknown key in a row", 4, { titel = "typo" }, "titel" },
      { "a read-only key in a row", 2, { id = 99 }, "id" },
      { "invalid UTF-8 in a row's description", 5, { description = "\xed\xa0\x80" }, "description" },
      { "a NUL byte in a row's title", 3, { title = "a\0b" }, "title" },
      { "a string as a row's completed", 2, { completed = "yes" }, "completed" },
    }
    for _, case in ipairs(cases) do
      local name, bad_row, change, field = case[1], case[2], case[3], case[4]
      it("rejects the whole list for " .. name .. ": field, row index, nothing written", function()
        local user = helper.uid("v-bulk")
        local list = rows(user, 6)
        for k, v in pairs(change) do list[bad_row][k] = v end
        local e = helper.expect_error("invalid", field, db.create_tasks, db, list)
        assert.are.equal(bad_row, e.row)
        assert.is_nil(e.message:find("tasks[", 1, true), e.message)
        assert.is_truthy(tostring(e):find(": tasks[" .. bad_row .. "]: ", 1, true), tostring(e))
        assert.are.equal(0, db:count_tasks{ user_id = user })
      end)
    end

    it("rejects a row that is not a table, with its row index, writing nothing", function()
      local user = helper.uid("v-bulk")
      local list = rows(user, 4)
      list[3] = "not a task"
      local e = helper.expect_error("invalid", nil, db.create_tasks, db, list)
      assert.are.equal(3, e.row)
      assert.are.equal(0, db:count_tasks{ user_id = user })
    end)

    it("rejects one bad row among a thousand, writing nothing", function()
      local user = helper.uid("v-bulk")
      local list = rows(user, 1000)
      list[777].title = ""
      local e = helper.expect_error("invalid", "title", db.create_tasks, db, list)
      assert.are.equal(777, e.row)
      assert.are.equal(0, db:count_tasks{ user_id = user })
    end)

    it("rejects an argument that is not a table", function()
      helper.expect_error("invalid", nil, db.create_tasks, db, "rows")
      helper.expect_error("invalid", nil, db.create_tasks, db, nil)
    end)
  end)

  describe("get_tasks and count_tasks options", function()
    local user

    setup(function()
      user = helper.uid("v-list")
      db:create_task{ user_id = user, title = "one" }
    end)

    local get_cases = {
      { "an unknown key", { user_id = "x", limt = 5 }, "limt" },
      { "an unknown key 'user'", { user = "x" }, "user" },
      { "a negative limit", { limit = -1 }, "limit" },
      { "a non-integral limit", { limit = 1.5 }, "limit" },
      { "a string limit", { limit = "10" }, "limit" },
      { "a string desc", { desc = "yes" }, "desc" },
      { "a string completed", { completed = "true" }, "completed" },
      { "a number as user_id", { user_id = 5 }, "user_id" },
      { "an empty user_id", { user_id = "" }, "user_id" },
      { "a blank user_id", { user_id = "  " }, "user_id" },
      { "a 256-character user_id", { user_id = ("u"):rep(256) }, "user_id" },
      { "a user_id of invalid UTF-8", { user_id = "\xff" }, "user_id" },
      { "an after cursor of garbage", { after = "garbage" }, "after" },
      { "an empty after cursor", { after = "" }, "after" },
      { "an after cursor without an id", { after = "2026-11-24T10:15:30.123456Z" }, "after" },
      { "an after cursor with a non-numeric id", { after = "2026-11-24T10:15:30.123456Z/abc" }, "after" },
      { "an after cursor with an impossible date", { after = "2026-13-45T99:00:00.000000Z/1" }, "after" },
      { "an after cursor on February 30", { after = "2026-02-30T10:00:00.000000Z/1" }, "after" },
      { "an after cursor at 24:00", { after = "2026-11-24T24:00:00.000000Z/1" }, "after" },
      { "an after cursor with SQL in it", { after = "2026-11-24T10:15:30Z'; DROP TABLE tasks;--/1" },
        "after" },
      { "an after cursor with a NUL byte", { after = "2026-11-24T10:15:30.123456Z\0/1" }, "after" },
      { "a number as after", { after = 5 }, "after" },
      { "a table without a task's position as after", { after = {} }, "after" },
    }
    for _, case in ipairs(get_cases) do
      it("get_tasks rejects " .. case[1], function()
        helper.expect_error("invalid", case[3], db.get_tasks, db, case[2])
      end)
    end

    it("each_task rejects the same bad options before iterating", function()
      helper.expect_error("invalid", "limt", db.each_task, db, { limt = 1 })
      helper.expect_error("invalid", "limit", db.each_task, db, { limit = -1 })
      helper.expect_error("invalid", "after", db.each_task, db, { after = "garbage" })
    end)

    it("get_tasks rejects options that are not a table", function()
      helper.expect_error("invalid", nil, db.get_tasks, db, "user")
      helper.expect_error("invalid", nil, db.get_tasks, db, 5)
    end)

    local count_cases = {
      { "an unknown key", { titel = "x" }, "titel" },
      { "limit (count_tasks does not page)", { limit = 5 }, "limit" },
      { "desc (count_tasks does not order)", { desc = true }, "desc" },
      { "after (count_tasks does not page)", { after = "2026-11-24T10:15:30.123456Z/1" }, "after" },
      { "a string completed", { completed = "no" }, "completed" },
      { "an empty user_id", { user_id = "" }, "user_id" },
      { "a number as user_id", { user_id = 1 }, "user_id" },
    }
    for _, case in ipairs(count_cases) do
      it("count_tasks rejects " .. case[1], function()
        helper.expect_error("invalid", case[3], db.count_tasks, db, case[2])
      end)
    end

    it("accepts limit = 0 as an empty page", function()
      assert.are.same({}, db:get_tasks{ user_id = user, limit = 0 })
    end)
  end)

  describe("other arguments", function()
    it("transaction rejects an argument that is not a function, and opens no transaction", function()
      helper.expect_error("invalid", nil, db.transaction, db, "not a function")
      helper.expect_error("invalid", nil, db.transaction, db, nil)
      assert.are.equal(0, db:info().transaction_depth)
    end)

    it("db:user rejects a user id with a NUL byte", function()
      helper.expect_error("invalid", "user_id", db.user, db, "al\0ice")
    end)
  end)

  describe("connect options", function()
    local cases = {
      { "an unknown key", { timeout = 5 }, "timeout" },
      { "a typo of connect_timeout", { connect_timout = 5 }, "connect_timout" },
      { "a negative connect_timeout", { connect_timeout = -1 }, "connect_timeout" },
      { "a zero connect_timeout", { connect_timeout = 0 }, "connect_timeout" },
      { "a NaN connect_timeout", { connect_timeout = 0 / 0 }, "connect_timeout" },
      { "a string connect_timeout", { connect_timeout = "5" }, "connect_timeout" },
      { "a negative statement_timeout", { statement_timeout = -1 }, "statement_timeout" },
      { "a string statement_timeout", { statement_timeout = "1s" }, "statement_timeout" },
      { "negative retries", { retries = -1 }, "retries" },
      { "non-integral retries", { retries = 1.5 }, "retries" },
      { "a number as application_name", { application_name = 5 }, "application_name" },
      { "a number as url", { url = 5 }, "url" },
    }
    for _, case in ipairs(cases) do
      it("rejects " .. case[1] .. " with kind invalid before connecting", function()
        local opts = { url = helper.url() }
        for k, v in pairs(case[2]) do opts[k] = v end
        helper.expect_error("invalid", case[3], taskdb.connect, opts)
      end)
    end

    it("rejects an argument that is neither a URL nor a table", function()
      helper.expect_error("invalid", nil, taskdb.connect, 42)
      helper.expect_error("invalid", nil, taskdb.connect, true)
    end)

    it("checks options before trying a server (a refused port still gives invalid)", function()
      helper.expect_error("invalid", "connect_timeout", taskdb.connect,
        { url = "postgresql://nobody@127.0.0.1:1/none", connect_timeout = -1 })
    end)
  end)
end)

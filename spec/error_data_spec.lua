-- Errors stay data until they are printed: a bulk row's position is the
-- `row` field (and a queued call's the `index` field), and only __tostring
-- turns them into a "tasks[N]: " / "calls[i]: " prefix.  taskdb.check_task
-- applies create_task's own checks without sending anything.

local helper = require("spec.helper")
local taskdb = require("taskdb")

-- Calls fn(...) expecting a taskdb error; returns it.
local function raised(fn, ...)
  local ok, e = pcall(fn, ...)
  assert.is_false(ok, "expected an error")
  return helper.check_error_object(e)
end

describe("error tables", function()
  local db = helper.db_for_block()

  it("keep a bulk row's position in `row`; tostring shows it, the message does not", function()
    local u = helper.uid("err-row")
    local list = {}
    for i = 1, 5 do list[i] = { user_id = u, title = "t" .. i } end
    list[4].title = "  "
    local e = raised(db.create_tasks, db, list)
    assert.equal(4, e.row)
    assert.equal("title must not be blank", e.message)
    assert.equal("taskdb invalid error: tasks[4]: title must not be blank [field title]", tostring(e))

    list[4] = 42
    e = raised(db.create_tasks, db, list)
    assert.equal(4, e.row)
    assert.equal("a task must be a table, got number", e.message)
    assert.equal("taskdb invalid error: tasks[4]: a task must be a table, got number", tostring(e))

    list[4] = { user_id = u, title = "ok", id = 5 }
    e = raised(db.create_tasks, db, list)
    assert.equal("id is set by the database and cannot be given", e.message)
    assert.equal("taskdb invalid error: tasks[4]: id is set by the database and cannot be given [field id]",
      tostring(e))
  end)

  it("build the prefix from the fields as they are when printed", function()
    local e = raised(db.create_task, db, { user_id = helper.uid("err"), title = "" })
    assert.is_nil(e.row)
    assert.equal("taskdb invalid error: title must not be empty [field title]", tostring(e))
    e.row = 7
    assert.equal("taskdb invalid error: tasks[7]: title must not be empty [field title]", tostring(e))
    e.index = 2
    assert.equal("taskdb invalid error: calls[2]: tasks[7]: title must not be empty [field title]",
      tostring(e))
    e.row = nil
    assert.equal("taskdb invalid error: calls[2]: title must not be empty [field title]", tostring(e))
    for _, bad in ipairs{ 0, -1, 1.5, "3", true } do   -- only a positive integer is a position
      e.index = bad
      assert.equal("taskdb invalid error: title must not be empty [field title]", tostring(e))
    end
  end)

  it("print without running metamethods, whatever the fields hold", function()
    local e = raised(db.create_task, db, { user_id = helper.uid("err"), title = "" })
    local mt = getmetatable(e)
    local fields = setmetatable({ kind = "invalid", message = 42 }, { __index = function()
      error("__index must not run")
    end })
    assert.equal("taskdb invalid error: 42", mt.__tostring(fields))
    assert.equal("taskdb.Error (number)", mt.__tostring(5))
  end)
end)

describe("taskdb.check_task", function()
  local db = helper.db_for_block()
  local u = helper.uid("check")

  it("returns true for a task create_task accepts", function()
    assert.is_true(taskdb.check_task{ user_id = u, title = "fine" })
    assert.is_true(taskdb.check_task{ user_id = u, title = "fine", description = taskdb.null, completed = true })
    assert.is_true(taskdb.check_task{ user_id = u, title = ("é"):rep(200), description = ("x"):rep(1000) })
  end)

  it("raises exactly the error create_task raises, and sends nothing", function()
    local before = db:count_tasks{ user_id = u }
    for _, bad in ipairs{
      {},
      { user_id = u },
      { title = "no user" },
      { user_id = "", title = "t" },
      { user_id = "   ", title = "t" },
      { user_id = u, title = "  \t" },
      { user_id = u, title = ("x"):rep(201) },
      { user_id = u, title = "a\0b" },
      { user_id = u, title = "caf\xe9" },
      { user_id = u, title = "t", description = ("y"):rep(1001) },
      { user_id = u, title = "t", description = 5 },
      { user_id = u, title = "t", completed = "yes" },
      { user_id = u, title = "t", titel = "typo" },
      { user_id = u, title = "t", id = 3 },
      { user_id = u, title = "t", created_at = "2026-11-24T10:15:30.123456Z" },
      { user_id = u, [1] = "t" },
    } do
      local from_check = raised(taskdb.check_task, bad)
      local from_create = raised(db.create_task, db, bad)
      assert.equal("invalid", from_check.kind)
      assert.are.same(from_create, from_check)
      assert.equal(tostring(from_create), tostring(from_check))
    end
    assert.equal(before, db:count_tasks{ user_id = u })
    helper.expect_error("invalid", false, taskdb.check_task, "not a table")
    helper.expect_error("invalid", false, taskdb.check_task)
  end)

  it("reads the table raw, like create_task", function()
    local t = setmetatable({ user_id = u }, { __index = function() return "from __index" end })
    local e = helper.expect_error("invalid", "title", taskdb.check_task, t)
    assert.equal("title is required", e.message)
  end)

  it("is what scripts/import.lua checks each record with: its messages are the library's", function()
    local records = {
      '{"user_id": "' .. u .. '", "title": "fine"}',
      '{"user_id": "' .. u .. '", "title": "\\t \\n"}',
    }
    local file = os.tmpname()
    helper.write_file(file, table.concat(records, "\n") .. "\n")
    local code, _, err = helper.taskshell(helper.read_file(helper.project_dir .. "/scripts/import.lua"),
      { DATABASE_URL = helper.url() }, { args = { file }, cwd = helper.project_dir })
    os.remove(file)
    assert.equal(1, code)
    local e = raised(taskdb.check_task, { user_id = u, title = "\t \n" })
    assert.matches(": line 2: " .. e.message:gsub("%p", "%%%0") .. "\n$", err)
    assert.is_nil(err:find("tasks[", 1, true))
    assert.equal(0, db:count_tasks{ user_id = u })
  end)
end)

-- Errors stay data until they are printed: a bulk row's position is the
-- `row` field (and a queued call's the `index` field), and only __tostring
-- turns them into a "tasks[N]: " / "calls[i]: " prefix.

local helper = require("spec.helper")
local taskdb = require("taskdb")

-- Calls fn(...) expecting a taskdb error; returns it.
local function raised(fn, ...)
  local ok, e = pcall(fn, ...)
  assert.is_false(ok, "expected an error")
  return helper.check_error_object(e)
end

describe("error tables", function()
  local db

  setup(function()
    db = helper.fresh_db()
  end)

  teardown(function()
    if db then db:close() end
  end)

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

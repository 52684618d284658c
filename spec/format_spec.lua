-- taskshell.format: task lines, aligned tables, what the REPL prints.
-- Run from the project root: build/taskshell /usr/bin/busted spec/format_spec.lua
package.path = "lua/?.lua;" .. package.path

local format = require("taskshell.format")

local function task(fields)
  local t = {
    id = 42, user_id = "user-123", title = "Buy groceries", completed = false,
    created_at = "2026-11-24T10:15:30.123456Z", updated_at = "2026-11-24T10:15:30.123456Z",
  }
  for k, v in pairs(fields or {}) do t[k] = v end
  return t
end

local function lines(text)
  local out = {}
  for line in (text .. "\n"):gmatch("(.-)\n") do out[#out + 1] = line end
  return out
end

describe("format.task_line", function()
  it("shows id, state, title and owner", function()
    assert.are.equal("#42 [ ] Buy groceries (user-123)", format.task_line(task()))
    assert.are.equal("#7 [x] Done (u)", format.task_line(task{ id = 7, title = "Done", user_id = "u", completed = true }))
  end)

  it("keeps a title with a newline on one line", function()
    assert.are.equal("#42 [ ] two\\nlines (user-123)", format.task_line(task{ title = "two\nlines" }))
  end)
end)

describe("format.is_task / is_task_list", function()
  it("recognises a task by its typed fields", function()
    assert.is_true(format.is_task(task()))
    assert.is_false(format.is_task({ id = 1, title = "no user or state" }))
    assert.is_false(format.is_task({ id = "1", user_id = "u", title = "t", completed = false }))
    assert.is_false(format.is_task("a string"))
    assert.is_false(format.is_task(nil))
  end)

  it("recognises a non-empty array of tasks only", function()
    assert.is_true(format.is_task_list({ task(), task{ id = 43 } }))
    assert.is_false(format.is_task_list({}))
    assert.is_false(format.is_task_list({ task(), "not a task" }))
    assert.is_false(format.is_task_list({ task(), extra = true }))
    assert.is_false(format.is_task_list(task()))
  end)

  it("never triggers __index (the REPL's lazy db connects on access)", function()
    local touched = false
    local proxy = setmetatable({}, { __index = function() touched = true end })
    assert.is_false(format.is_task(proxy))
    assert.is_false(format.is_task_list(proxy))
    assert.is_false(touched)
  end)
end)

describe("format.table", function()
  it("aligns columns under a header and counts the rows", function()
    local out = lines(format.table({ task{ id = 1 }, task{ id = 1234, title = "Pay rent", completed = true } }))
    assert.are.equal(5, #out)
    assert.matches("^%s*id%s+user_id%s+title%s+completed%s+created_at$", out[1])
    assert.matches("^[- ]+$", out[2])
    assert.matches("^   1  user%-123  Buy groceries  %[ %]", out[3])
    assert.matches("^1234  user%-123  Pay rent       %[x%]", out[4])
    assert.are.equal("(2 tasks)", out[5])
    -- every column starts at the same place on every row
    assert.are.equal(out[3]:find("%[ %]"), out[4]:find("%[x%]"))
  end)

  it("shows created_at to the second, in UTC", function()
    assert.matches("2026%-11%-24T10:15:30Z", format.table({ task() }))
  end)

  it("truncates long titles with an ellipsis, counting code points", function()
    local title = string.rep("é", 60)  -- 120 bytes, 60 characters
    local out = lines(format.table({ task{ title = title } }, { widths = { title = 10 } }))
    local cell = string.rep("é", 9) .. "…"
    assert.truthy(out[3]:find(cell, 1, true))
    assert.is_nil(out[3]:find(string.rep("é", 10), 1, true))
  end)

  it("pads by characters, not bytes, so UTF-8 titles line up", function()
    local out = lines(format.table({ task{ id = 1, title = "héllo wörld" }, task{ id = 2, title = "hello world" } }))
    local col_a = utf8.len(out[3]:sub(1, out[3]:find("%[")))
    local col_b = utf8.len(out[4]:sub(1, out[4]:find("%[")))
    assert.are.equal(col_a, col_b)
  end)

  it("adds a shortened description column only when a task has one", function()
    assert.is_nil(format.table({ task() }):find("description"))
    local long = string.rep("d", 100)
    local text = format.table({ task{ description = long }, task{ id = 43 } })
    assert.truthy(text:find("description", 1, true))
    assert.truthy(text:find(string.rep("d", 29) .. "…", 1, true))
    assert.is_nil(text:find(string.rep("d", 31), 1, true))
  end)

  it("takes a column list and can leave out the count", function()
    local out = lines(format.table({ task() }, { columns = { "id", "title" }, count = false }))
    assert.are.same({ "id  title", "--  -------------", "42  Buy groceries" }, out)
  end)

  it("says so when there is nothing to show", function()
    assert.are.equal("(no tasks)", format.table({}))
  end)
end)

describe("format.value", function()
  it("shows a task and a task list as tables", function()
    assert.matches("^%s*id%s+user_id", format.value(task()))
    assert.is_nil(format.value(task()):find("(1 task)", 1, true))
    assert.matches("%(2 tasks%)$", format.value({ task(), task{ id = 43 } }))
  end)

  it("shows anything else as print would", function()
    assert.are.equal("2", format.value(2))
    assert.are.equal("xy", format.value("xy"))
    assert.are.equal("nil", format.value(nil))
    assert.are.equal("true", format.value(true))
    assert.matches("^table: ", format.value({ 1, 2 }))
    local named = setmetatable({}, { __tostring = function() return "custom" end })
    assert.are.equal("custom", format.value(named))
  end)
end)

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

  it("shows scalars as print would", function()
    assert.are.equal("2", format.value(2))
    assert.are.equal("xy", format.value("xy"))
    assert.are.equal("nil", format.value(nil))
    assert.are.equal("true", format.value(true))
    local named = setmetatable({}, { __tostring = function() return "custom" end })
    assert.are.equal("custom", format.value(named))
  end)

  it("shows an empty list as (no tasks) and other tables readably, not as table: 0x...", function()
    assert.are.equal("(no tasks)", format.value({}))
    assert.are.equal("{ 1, 2 }", format.value({ 1, 2 }))
    assert.are.equal('{ backend_pid = 7, host = "/tmp", ssl = false }',
                     format.value({ host = "/tmp", backend_pid = 7, ssl = false }))
    assert.is_nil(format.value({ { 1 }, x = { y = true } }):find("table: 0x", 1, true))
  end)
end)

describe("format.inspect", function()
  it("writes Lua-like text: array part, then sorted keys, strings quoted on one line", function()
    assert.are.equal('{ 1, "two\\nlines", [true] = 1, ["end"] = 3, ["not an id"] = 2, z = 4 }',
                     format.inspect({ 1, "two\nlines", z = 4, ["not an id"] = 2, ["end"] = 3, [true] = 1 }))
  end)

  it("bounds depth and entries, marks cycles, and goes multi-line when long", function()
    assert.are.equal("{ a = { b = { c = {…} } } }", format.inspect({ a = { b = { c = { d = 1 } } } }))
    local many = {}
    for i = 1, 60 do many[i] = i end
    assert.matches("50, … %(10 more%) }$", format.inspect(many, { line = 1000 }))
    local cyclic = {}
    cyclic.self = cyclic
    assert.are.equal("{ self = <cycle> }", format.inspect(cyclic))
    local long = format.inspect({ first = string.rep("x", 40), second = string.rep("y", 40) })
    assert.are.equal('{\n  first = "' .. string.rep("x", 40) .. '",\n  second = "' .. string.rep("y", 40) .. '"\n}', long)
  end)

  it("never runs __index or __pairs", function()
    local touched = false
    local t = setmetatable({ x = 1 }, { __index = function() touched = true end,
                                        __pairs = function() touched = true end })
    assert.are.equal("{ x = 1 }", format.inspect(t))
    assert.is_false(touched)
  end)

  it("shows a table with __tostring (a taskdb error) by it", function()
    local e = setmetatable({ kind = "invalid" }, { __tostring = function() return "taskdb invalid error: x" end })
    assert.are.equal("{ err = taskdb invalid error: x }", format.inspect({ err = e }))
  end)
end)

describe("format.width", function()
  it("counts terminal columns: CJK and emoji two, combining marks none, ASCII one", function()
    assert.are.equal(5, format.width("hello"))
    assert.are.equal(5, format.width("héllo"))
    assert.are.equal(1, format.width("e\u{301}"))       -- e + combining acute
    assert.are.equal(4, format.width("日本"))
    assert.are.equal(6, format.width("한국어"))
    assert.are.equal(2, format.width("☕"))
    assert.are.equal(2, format.width("🎉"))
    assert.are.equal(4, format.width("ｔａ"))             -- fullwidth Latin
    assert.are.equal(3, format.width("\xff\xfe!"))       -- not UTF-8: bytes
  end)
end)

describe("format.table with wide characters", function()
  -- The display column where `needle` starts on `line`.
  local function column_of(line, needle)
    local at = line:find(needle, 1, true)
    return format.width(line:sub(1, at - 1))
  end

  it("lines up CJK and emoji titles by display width", function()
    local out = lines(format.table({
      task{ id = 1, title = "Buy groceries" },
      task{ id = 2, title = "日本の旅を予約" },
      task{ id = 3, title = "Party 🎉☕", completed = true },
      task{ id = 4, title = "한국어 수업" },
    }))
    local want = column_of(out[1], "completed")
    for row = 3, 6 do
      assert.are.equal(want, column_of(out[row], "["), out[row])
    end
  end)

  it("truncates by display width, never splitting a wide character", function()
    local out = lines(format.table({ task{ title = string.rep("日", 30) } }, { widths = { title = 10 } }))
    assert.truthy(out[3]:find(string.rep("日", 4) .. "…", 1, true), out[3])
    assert.is_nil(out[3]:find(string.rep("日", 5), 1, true))
    assert.are.equal(column_of(out[1], "completed"), column_of(out[3], "["))
  end)
end)

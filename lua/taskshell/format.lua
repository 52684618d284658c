-- taskshell.format — tasks as text, for the REPL and for scripts.
--
--   format.task_line(task)        "#42 [x] Buy groceries (user-123)"
--   format.table(tasks, opts)     an aligned table, one task per row
--   format.is_task(v), format.is_task_list(v)
--   format.value(v)               what the REPL prints for one value
--
-- Widths count UTF-8 code points, not bytes, so titles in any script line
-- up; control characters are shown escaped so a row stays one line.
-- Pure Lua, no dependencies.

local format = {}

local ELLIPSIS = "…"

-- Columns of format.table, in order; `width` is the most a cell shows.
local DEFAULT_WIDTHS = { user_id = 16, title = 40, description = 30 }

-- Number of code points, or of bytes when `s` is not valid UTF-8.
local function text_width(s)
  return utf8.len(s) or #s
end

-- "\n" and other control characters as visible escapes: one row, one line.
local ESCAPES = { ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }
local function printable(s)
  return (s:gsub("%c", function(c)
    return ESCAPES[c] or string.format("\\%03d", c:byte())
  end))
end

-- At most `width` code points; a cut is marked with "…".
local function truncate(s, width)
  if not width or text_width(s) <= width then return s end
  if width < 1 then return "" end
  if not utf8.len(s) then return s:sub(1, width - 1) .. ELLIPSIS end
  return s:sub(1, utf8.offset(s, width) - 1) .. ELLIPSIS
end

local function pad(s, width, right_align)
  local gap = string.rep(" ", width - text_width(s))
  return right_align and gap .. s or s .. gap
end

-- "2026-11-24T10:15:30.123456Z" -> "2026-11-24T10:15:30Z": seconds are
-- enough to read a listing, and the zone stays visible.
local function short_time(ts)
  if type(ts) ~= "string" then return "" end
  return (ts:gsub("%.%d+", "", 1))
end

-- A task is a plain table with these fields (what taskdb returns).  Fields
-- are read with rawget so a proxy such as the REPL's lazy `db` is never
-- touched (reading it would connect).
function format.is_task(v)
  return type(v) == "table"
    and math.type(rawget(v, "id")) == "integer"
    and type(rawget(v, "user_id")) == "string"
    and type(rawget(v, "title")) == "string"
    and type(rawget(v, "completed")) == "boolean"
end

-- A non-empty array whose every element is a task.
function format.is_task_list(v)
  if type(v) ~= "table" or rawget(v, 1) == nil then return false end
  local n = rawlen(v)
  for i = 1, n do
    if not format.is_task(rawget(v, i)) then return false end
  end
  local keys = 0
  for _ in next, v do keys = keys + 1 end  -- raw: no __pairs
  return keys == n
end

function format.task_line(task)
  return string.format("#%d %s %s (%s)", task.id,
    task.completed and "[x]" or "[ ]",
    printable(task.title), printable(task.user_id))
end

local function cell(task, column, widths)
  local v = task[column]
  if column == "id" then return tostring(v) end
  if column == "completed" then return v and "[x]" or "[ ]" end
  if column == "created_at" or column == "updated_at" then return short_time(v) end
  if v == nil then return "" end
  return truncate(printable(tostring(v)), widths[column])
end

local function default_columns(tasks)
  local columns = { "id", "user_id", "title", "completed", "created_at" }
  for _, task in ipairs(tasks) do
    if task.description ~= nil then
      table.insert(columns, 4, "description")
      break
    end
  end
  return columns
end

-- opts: columns (list of field names), widths (field -> max code points),
-- count (false to leave out the "(N tasks)" line).
function format.table(tasks, opts)
  opts = opts or {}
  if #tasks == 0 then return "(no tasks)" end
  local columns = opts.columns or default_columns(tasks)
  local widths = setmetatable(opts.widths or {}, { __index = DEFAULT_WIDTHS })
  local rows, col_width = {}, {}
  for c, name in ipairs(columns) do col_width[c] = text_width(name) end
  for r, task in ipairs(tasks) do
    rows[r] = {}
    for c, name in ipairs(columns) do
      local text = cell(task, name, widths)
      rows[r][c] = text
      col_width[c] = math.max(col_width[c], text_width(text))
    end
  end
  local function line(cells)
    local out = {}
    for c, text in ipairs(cells) do
      out[c] = pad(text, col_width[c], columns[c] == "id")
    end
    return (table.concat(out, "  "):gsub("%s+$", ""))
  end
  local rules = {}
  for c = 1, #columns do rules[c] = string.rep("-", col_width[c]) end
  local out = { line(columns), line(rules) }
  for _, cells in ipairs(rows) do out[#out + 1] = line(cells) end
  if opts.count ~= false then
    out[#out + 1] = string.format("(%d task%s)", #tasks, #tasks == 1 and "" or "s")
  end
  return table.concat(out, "\n")
end

-- A task or a list of tasks as a table; anything else as print shows it.
function format.value(v)
  if format.is_task(v) then return format.table({ v }, { count = false }) end
  if format.is_task_list(v) then return format.table(v) end
  return tostring(v)
end

return format

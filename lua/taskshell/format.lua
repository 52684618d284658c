-- taskshell.format — tasks as text, for the REPL and for scripts.
--
--   format.task_line(task)        "#42 [x] Buy groceries (user-123)"
--   format.table(tasks, opts)     an aligned table, one task per row
--   format.is_task(v), format.is_task_list(v)
--   format.inspect(v)             any value as readable Lua-like text
--   format.value(v)               what the REPL prints for one value
--   format.width(s)               display width in terminal columns
--
-- Widths are terminal columns, not bytes or code points: CJK and emoji
-- take two, combining marks none, so titles in any script line up.
-- Control characters are shown escaped so a row stays one line.
-- Pure Lua, no dependencies.

local format = {}

local ELLIPSIS = "…"

-- Columns of format.table, in order; `width` is the most a cell shows.
local DEFAULT_WIDTHS = { user_id = 16, title = 40, description = 30 }

-- Code points a terminal draws two columns wide (East Asian Wide and
-- Fullwidth, emoji shown as pictures) and ones it draws over the previous
-- character (combining marks, zero-width joiners, variation selectors).
-- Sorted, non-overlapping { first, last } ranges.
local WIDE = {
  { 0x1100, 0x115F }, { 0x231A, 0x231B }, { 0x2329, 0x232A }, { 0x23E9, 0x23EC },
  { 0x23F0, 0x23F0 }, { 0x23F3, 0x23F3 }, { 0x25FD, 0x25FE }, { 0x2614, 0x2615 },
  { 0x2648, 0x2653 }, { 0x267F, 0x267F }, { 0x2693, 0x2693 }, { 0x26A1, 0x26A1 },
  { 0x26AA, 0x26AB }, { 0x26BD, 0x26BE }, { 0x26C4, 0x26C5 }, { 0x26CE, 0x26CE },
  { 0x26D4, 0x26D4 }, { 0x26EA, 0x26EA }, { 0x26F2, 0x26F3 }, { 0x26F5, 0x26F5 },
  { 0x26FA, 0x26FA }, { 0x26FD, 0x26FD }, { 0x2705, 0x2705 }, { 0x270A, 0x270B },
  { 0x2728, 0x2728 }, { 0x274C, 0x274C }, { 0x274E, 0x274E }, { 0x2753, 0x2755 },
  { 0x2757, 0x2757 }, { 0x2795, 0x2797 }, { 0x27B0, 0x27B0 }, { 0x27BF, 0x27BF },
  { 0x2B1B, 0x2B1C }, { 0x2B50, 0x2B50 }, { 0x2B55, 0x2B55 }, { 0x2E80, 0x303E },
  { 0x3041, 0x33FF }, { 0x3400, 0x4DBF }, { 0x4E00, 0x9FFF }, { 0xA000, 0xA4CF },
  { 0xA960, 0xA97F }, { 0xAC00, 0xD7A3 }, { 0xF900, 0xFAFF }, { 0xFE10, 0xFE19 },
  { 0xFE30, 0xFE6F }, { 0xFF00, 0xFF60 }, { 0xFFE0, 0xFFE6 }, { 0x16FE0, 0x16FE4 },
  { 0x17000, 0x18CFF }, { 0x1B000, 0x1B2FF }, { 0x1F004, 0x1F004 }, { 0x1F0CF, 0x1F0CF },
  { 0x1F18E, 0x1F18E }, { 0x1F191, 0x1F19A }, { 0x1F200, 0x1F202 }, { 0x1F210, 0x1F23B },
  { 0x1F240, 0x1F248 }, { 0x1F250, 0x1F251 }, { 0x1F260, 0x1F265 }, { 0x1F300, 0x1F320 },
  { 0x1F32D, 0x1F335 }, { 0x1F337, 0x1F37C }, { 0x1F37E, 0x1F393 }, { 0x1F3A0, 0x1F3CA },
  { 0x1F3CF, 0x1F3D3 }, { 0x1F3E0, 0x1F3F0 }, { 0x1F3F4, 0x1F3F4 }, { 0x1F3F8, 0x1F3FA },
  { 0x1F400, 0x1F43E }, { 0x1F440, 0x1F440 }, { 0x1F442, 0x1F4FC }, { 0x1F4FF, 0x1F53D },
  { 0x1F54B, 0x1F54E }, { 0x1F550, 0x1F567 }, { 0x1F57A, 0x1F57A }, { 0x1F595, 0x1F596 },
  { 0x1F5A4, 0x1F5A4 }, { 0x1F5FB, 0x1F64F }, { 0x1F680, 0x1F6C5 }, { 0x1F6CC, 0x1F6CC },
  { 0x1F6D0, 0x1F6D2 }, { 0x1F6D5, 0x1F6D7 }, { 0x1F6DC, 0x1F6DF }, { 0x1F6EB, 0x1F6EC },
  { 0x1F6F4, 0x1F6FC }, { 0x1F7E0, 0x1F7EB }, { 0x1F7F0, 0x1F7F0 }, { 0x1F90C, 0x1F93A },
  { 0x1F93C, 0x1F945 }, { 0x1F947, 0x1F9FF }, { 0x1FA70, 0x1FAFF }, { 0x20000, 0x2FFFD },
  { 0x30000, 0x3FFFD },
}
local ZERO = {
  { 0x0300, 0x036F }, { 0x0483, 0x0489 }, { 0x0591, 0x05BD }, { 0x0610, 0x061A },
  { 0x064B, 0x065F }, { 0x0E31, 0x0E31 }, { 0x0E34, 0x0E3A }, { 0x0E47, 0x0E4E },
  { 0x1AB0, 0x1AFF }, { 0x1DC0, 0x1DFF }, { 0x200B, 0x200F }, { 0x202A, 0x202E },
  { 0x2060, 0x2064 }, { 0x20D0, 0x20FF }, { 0x302A, 0x302F }, { 0x3099, 0x309A },
  { 0xFE00, 0xFE0F }, { 0xFE20, 0xFE2F }, { 0xFEFF, 0xFEFF }, { 0x1F3FB, 0x1F3FF },
  { 0xE0000, 0xE0FFF },
}

local function in_ranges(ranges, c)
  local lo, hi = 1, #ranges
  while lo <= hi do
    local mid = (lo + hi) // 2
    local r = ranges[mid]
    if c < r[1] then hi = mid - 1
    elseif c > r[2] then lo = mid + 1
    else return true end
  end
  return false
end

-- Columns one code point takes on a terminal.
local function char_width(c)
  if c < 0x300 then return 1 end   -- the common case, fast
  if in_ranges(ZERO, c) then return 0 end
  if in_ranges(WIDE, c) then return 2 end
  return 1
end

-- Display width: terminal columns, or bytes when `s` is not valid UTF-8.
local function text_width(s)
  if not s:find("[\128-\255]") then return #s end
  if not utf8.len(s) then return #s end
  local w = 0
  for _, c in utf8.codes(s) do w = w + char_width(c) end
  return w
end
format.width = text_width

-- "\n" and other control characters as visible escapes: one row, one line.
local ESCAPES = { ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }
local function printable(s)
  return (s:gsub("%c", function(c)
    return ESCAPES[c] or string.format("\\%03d", c:byte())
  end))
end

-- At most `width` columns; a cut is marked with "…" (one column).
local function truncate(s, width)
  if not width or text_width(s) <= width then return s end
  if width < 1 then return "" end
  if not utf8.len(s) then return s:sub(1, width - 1) .. ELLIPSIS end
  local used, cut = 0, #s + 1
  for pos, c in utf8.codes(s) do
    local w = char_width(c)
    if used + w > width - 1 then cut = pos break end
    used = used + w
  end
  return s:sub(1, cut - 1) .. ELLIPSIS
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

-- opts: columns (list of field names), widths (field -> max columns),
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

-- ---------------------------------------------------------------------------
-- Any value, readably

local KEYWORDS = {}
for word in ([[and break do else elseif end false for function goto if in
  local nil not or repeat return then true until while]]):gmatch("%a+") do
  KEYWORDS[word] = true
end

-- A string as a Lua literal that stays on one line.
local function quote(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    if c == '"' or c == "\\" then return "\\" .. c end
    return ESCAPES[c] or string.format("\\%03d", c:byte())
  end) .. '"'
end
format.quote = quote

local function is_identifier(k)
  return type(k) == "string" and k:match("^[%a_][%w_]*$") and not KEYWORDS[k]
end

-- Keys in a stable order: the array part first, then the rest sorted by
-- type and value.
local function sorted_keys(t)
  local n, keys = rawlen(t), {}
  for k in next, t do
    if not (math.type(k) == "integer" and k >= 1 and k <= n) then keys[#keys + 1] = k end
  end
  table.sort(keys, function(a, b)
    local ta, tb = type(a), type(b)
    if ta ~= tb then return ta < tb end
    if ta == "number" or ta == "string" then return a < b end
    return tostring(a) < tostring(b)
  end)
  return n, keys
end

local INSPECT_DEFAULTS = { depth = 3, items = 50, line = 72 }

-- A value as Lua-like text: tables as { 1, 2, key = "v" }, nested up to
-- opts.depth, at most opts.items entries per table, on one line when it
-- fits in opts.line columns, else one entry per line.  A table with
-- __tostring (every taskdb error) is shown by it; a cycle as <cycle>.
-- Fields are read raw: no __index or __pairs runs.
function format.inspect(v, opts)
  opts = setmetatable(opts or {}, { __index = INSPECT_DEFAULTS })
  local seen = {}
  local function render(x, depth, indent)
    local tx = type(x)
    if tx == "string" then return quote(x) end
    if tx ~= "table" then return tostring(x) end
    local mt = getmetatable(x)
    if type(mt) == "table" and rawget(mt, "__tostring") then return tostring(x) end
    if seen[x] then return "<cycle>" end
    if depth > opts.depth then return "{…}" end
    seen[x] = true
    local n, keys = sorted_keys(x)
    local items, shown = {}, 0
    local function add(text)
      shown = shown + 1
      items[#items + 1] = text
    end
    for i = 1, n do
      if shown >= opts.items then break end
      add(render(rawget(x, i), depth + 1, indent .. "  "))
    end
    for _, k in ipairs(keys) do
      if shown >= opts.items then break end
      local key = is_identifier(k) and k or ("[" .. render(k, depth + 1, indent .. "  ") .. "]")
      add(key .. " = " .. render(rawget(x, k), depth + 1, indent .. "  "))
    end
    local total = n + #keys
    if total > shown then items[#items + 1] = string.format("… (%d more)", total - shown) end
    seen[x] = nil
    if #items == 0 then return "{}" end
    local flat = "{ " .. table.concat(items, ", ") .. " }"
    if not flat:find("\n") and #indent + text_width(flat) <= opts.line then return flat end
    return "{\n" .. indent .. "  " .. table.concat(items, ",\n" .. indent .. "  ") .. "\n" .. indent .. "}"
  end
  return render(v, 1, "")
end

-- What the REPL prints for one value: a task or a list of tasks as a
-- table, an empty table as "(no tasks)" (what an empty listing returns),
-- another table readably (format.inspect), anything else as print would.
function format.value(v)
  if format.is_task(v) then return format.table({ v }, { count = false }) end
  if format.is_task_list(v) then return format.table(v) end
  if type(v) == "table" then
    local mt = getmetatable(v)
    if mt == nil and next(v) == nil then return "(no tasks)" end
    if mt == nil or (type(mt) == "table" and rawget(mt, "__tostring") == nil) then
      return format.inspect(v)
    end
  end
  return tostring(v)
end

return format

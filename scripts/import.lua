-- import.lua — create tasks from JSON Lines, all or nothing.
--
--   taskshell scripts/import.lua [file]      (no file, or "-": stdin)
--
-- One JSON object per line; blank lines are skipped.  Keys:
--   user_id      string, required
--   title        string, required
--   description  string or null, optional
--   completed    true or false, optional (default false)
--   id, created_at, updated_at   accepted and ignored: the database assigns them
-- Any other key is an error, so the output of scripts/export.lua imports as is.
--
-- Two passes.  The first reads and checks every line (JSON syntax, keys,
-- types, and the library's field rules through taskdb.check_task) and
-- writes nothing: the first bad line is reported by number, exit status 1.
-- The second re-reads the input (rewound, or from a temporary copy when
-- the input cannot seek, e.g. a pipe) and creates the tasks with
-- db:create_tasks in batches inside one db:transaction, so memory stays
-- bounded and a failure leaves the database as it was.  A summary goes to
-- stderr; a progress bar too, but only when stderr is a terminal.

local taskdb = require("taskdb")
local cjson = require("cjson")
local progress = require("taskshell.progress")

local BATCH = 10000

local USAGE = "usage: taskshell scripts/import.lua [file]\n"
  .. "  Creates the tasks in file (JSON Lines; stdin without it, or with \"-\") in one transaction.\n"

local cli = require("taskshell.cli").new("import", USAGE)
local fail = cli.fail

-- A private decoder instance, strict about what JSON is.
local json = cjson.new and cjson.new() or cjson
if json.decode_invalid_numbers then json.decode_invalid_numbers(false) end
local NULL = json.null

local clock
do
  local ok, host = pcall(require, "taskshell.host")
  clock = ok and host.clock or os.time
end

-- --- one record -------------------------------------------------------------

local KNOWN = { user_id = true, title = true, description = true, completed = true,
                id = true, created_at = true, updated_at = true }

local function json_type(v)
  if v == NULL then return "null" end
  local t = type(v)
  if t == "table" then return "an object or array" end
  if t == "boolean" then return "a boolean" end
  if t == "number" then return "a number" end
  return "a " .. t
end

-- JSON's types, said in JSON's words; the field rules are the library's own.
local function check_string(name, value)
  if type(value) ~= "string" then
    return string.format("%s must be a string, not %s", name, json_type(value))
  end
  return nil
end

-- A non-blank line -> a task table for create_tasks, or nil and the reason.
local function parse_record(line)
  local ok, value = pcall(json.decode, line)
  if not ok then
    return nil, "invalid JSON: " .. tostring(value):gsub("^.-:%d+: ", "")
  end
  -- cjson decodes [] and {} alike; only an object is a record.
  if type(value) ~= "table" or not line:find("^%s*{") then
    return nil, "expected a JSON object, got " .. json_type(value):gsub("an object or array", "an array")
  end
  local unknown = {}
  for key in pairs(value) do
    if not KNOWN[key] then unknown[#unknown + 1] = string.format("%q", key) end
  end
  if #unknown > 0 then
    table.sort(unknown)
    return nil, string.format("unknown key%s %s (allowed: user_id, title, description, completed;"
      .. " id, created_at, updated_at are ignored)", #unknown > 1 and "s" or "",
      table.concat(unknown, ", "))
  end
  if value.user_id == nil then return nil, "user_id is missing" end
  if value.title == nil then return nil, "title is missing" end
  local task = { user_id = value.user_id, title = value.title }
  local reason = check_string("user_id", value.user_id) or check_string("title", value.title)
  if reason then return nil, reason end
  local description = value.description
  if description ~= nil and description ~= NULL then
    reason = check_string("description", description)
    if reason then return nil, reason end
    task.description = description
  end
  local completed = value.completed
  if completed ~= nil then
    if type(completed) ~= "boolean" then
      return nil, "completed must be true or false, not " .. json_type(completed)
    end
    task.completed = completed
  end
  -- The library's field rules (UTF-8, NUL bytes, lengths, blanks), exactly
  -- as create_tasks applies them, nothing sent.
  local valid, err = pcall(taskdb.check_task, task)
  if not valid then
    if type(err) == "table" and err.message then return nil, err.message end
    error(err, 0)
  end
  return task
end

local function is_blank(line)
  return not line:find("[^ \t\n\r\f\v]")
end

-- --- arguments and input ----------------------------------------------------

local args = cli.arguments({ ... }, 0, 1)
local path = args[1]

local input, name
if path == nil or path == "-" then
  input, name = io.stdin, "stdin"
else
  local err
  input, err = io.open(path, "rb")
  if not input then fail("cannot open " .. err) end
  name = path
end

-- A second pass needs the input again: rewind it if it is a regular file,
-- else keep a copy of what pass 1 reads in a temporary file.
local spool
if not input:seek("cur") then
  local err
  spool, err = io.tmpfile()
  if not spool then fail("cannot create a temporary file: " .. tostring(err)) end
end

-- --- pass 1: check everything, write nothing --------------------------------

-- Like f:lines(), but a read error (EIO, a directory) is raised as a
-- plain message rather than with a traceback.
local function lines_of(f)
  return function()
    local line, err = f:read("l")
    if line == nil and err then error("reading " .. name .. ": " .. tostring(err), 0) end
    return line
  end
end

local started = clock()
local total, lineno = 0, 0
local checked, check_err = pcall(function()
  local bar = progress.new{ label = "checking" }
  for line in lines_of(input) do
    lineno = lineno + 1
    if lineno == 1 then line = line:gsub("^\239\187\191", "") end   -- a UTF-8 byte order mark
    if spool then
      local ok, err = spool:write(line, "\n")
      if not ok then fail("writing a temporary file: " .. tostring(err)) end
    end
    if not is_blank(line) then
      local task, reason = parse_record(line)
      if not task then fail(string.format("%s: line %d: %s", name, lineno, reason)) end
      total = total + 1
      bar:update(total)
    end
  end
  bar:finish()
end)
if not checked then fail(check_err) end

local source = spool or input
local rewound, rewind_err = source:seek("set")
if not rewound then fail("cannot reread " .. name .. ": " .. tostring(rewind_err)) end

-- --- pass 2: one transaction, batches of BATCH rows -------------------------

-- An error carrying the input line it belongs to.
local LineError = {}
LineError.__index = LineError
LineError.__tostring = function(e) return string.format("%s: line %d: %s", name, e.line, e.message) end

local function import_all(db)
  local bar = progress.new{ total = total, label = "import" }
  local batch, lines = {}, {}
  local done = 0

  local function flush()
    if #batch == 0 then return end
    local ok, err = pcall(db.create_tasks, db, batch)
    if not ok then
      if type(err) == "table" and err.row and lines[err.row] then
        -- the line's number in place of the batch's row: the same error without its row
        local unplaced = setmetatable({}, getmetatable(err))
        for k, v in pairs(err) do unplaced[k] = v end
        unplaced.row = nil
        error(setmetatable({ line = lines[err.row], message = tostring(unplaced) }, LineError), 0)
      end
      error(err, 0)
    end
    done = done + #batch
    bar:update(done)
    batch, lines = {}, {}
  end

  local n = 0
  for line in lines_of(source) do
    n = n + 1
    if n == 1 then line = line:gsub("^\239\187\191", "") end
    if not is_blank(line) then
      local task, reason = parse_record(line)
      if not task then
        error(setmetatable({ line = n, message = reason .. " (the input changed while importing)" },
          LineError), 0)
      end
      batch[#batch + 1] = task
      lines[#batch] = n
      if #batch == BATCH then flush() end
    end
  end
  flush()
  bar:finish()
  if done ~= total then
    error(string.format("%s changed while importing (%d records checked, %d read)", name, total, done), 0)
  end
end

local body_done = false
local ok, err = pcall(function()
  local db <close> = taskdb.connect()
  db:init_db()
  db:transaction(function(tx)
    import_all(tx)
    body_done = true
  end)
end)
if not ok then
  -- An error raised before the commit rolled everything back; a failed
  -- commit is reported as the library words it (its outcome may be unknown).
  fail(tostring(err) .. (body_done and "" or " (nothing was imported)"))
end

io.stderr:write(string.format("imported %d tasks in %.2f s\n", total, clock() - started))

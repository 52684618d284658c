-- taskshell.repl — the Lua half of taskshell's interactive prompt.
--
-- The host calls repl.start(version_line) once, prints the banner it
-- returns, prints every result through repl.show, and asks repl.complete
-- for the Tab key's candidates.  start() sets the globals `taskdb` and,
-- when a DATABASE_URL is configured, `db`: a stand-in that connects on
-- first use, so the prompt comes up at once even when the database is
-- slow, asleep or down, and the failure shows where it matters.

local format = require("taskshell.format")

local repl = {}

-- Where taskdb.connect() will find DATABASE_URL: "environment" or ".env";
-- or nil and the reason (the `config` error connect() would raise).  The
-- binding answers with the core's own lookup: the same rules (an empty
-- value is no value), one parser.
function repl.database_url_source(taskdb)
  local url, where = taskdb.database_url()
  if url == nil then return nil, where end
  return where
end

-- The methods of a taskdb connection, for completing `db:` before it has
-- connected.  Read from the handle's metatable, so nothing is listed twice.
local function connection_methods()
  local ok, registry = pcall(function() return debug.getregistry() end)
  local mt = ok and type(registry) == "table" and rawget(registry, "taskdb.Connection")
  local index = type(mt) == "table" and rawget(mt, "__index")
  return type(index) == "table" and index or {}
end

-- A table that stands for the connection `connect()` returns, calling it on
-- the first field access.  A failed attempt raises connect's own error (a
-- taskdb error table, with its kind and sqlstate) and is retried on the
-- next use (the server may have come up since).
function repl.lazy_connection(connect)
  local conn
  local proxy = {}

  local function connection()
    if conn == nil then
      local ok, result = pcall(connect)
      if not ok then error(result, 0) end
      conn = result
      -- from now on the global is the connection itself: plain tracebacks
      if rawget(_G, "db") == proxy then _G.db = conn end
    end
    return conn
  end

  return setmetatable(proxy, {
    __name = "taskshell.LazyConnection",
    __index = function(_, key)
      local value = connection()[key]
      if type(value) ~= "function" then return value end
      -- db:method(...) passes the proxy as self; the binding needs the handle
      return function(self, ...)
        local c = connection()
        if self == proxy then self = c end
        -- not a tail call, so a traceback still shows the caller's line
        return select(1, c[key](self, ...))
      end
    end,
    __tostring = function()
      if conn == nil then return "db (connects on first use)" end
      return tostring(conn)
    end,
    -- what `db:<Tab>` offers, without connecting
    __complete = function() return conn and getmetatable(conn).__index or connection_methods() end,
    __close = function()
      if conn ~= nil then conn:close() end
    end,
  })
end

-- Sets the session's globals (never replacing ones a script already set)
-- and returns the banner.
function repl.start(version_line)
  local lines = { version_line }
  local ok, taskdb = pcall(require, "taskdb")
  if not ok then
    lines[#lines + 1] = "taskdb could not be loaded: " .. tostring(taskdb)
    return table.concat(lines, "\n")
  end
  if rawget(_G, "taskdb") == nil then _G.taskdb = taskdb end
  local source, reason = repl.database_url_source(taskdb)
  if rawget(_G, "db") ~= nil then
    lines[#lines + 1] = "db: already set by the code run before this prompt"
  elseif source then
    _G.db = repl.lazy_connection(function() return taskdb.connect() end)
    lines[#lines + 1] = string.format(
      "db: ready, connects on first use (DATABASE_URL from %s); try  = db:get_tasks{ limit = 10 }",
      source == "environment" and "the environment" or "./" .. source)
  else
    local why = type(reason) == "table" and reason.message or tostring(reason)
    lines[#lines + 1] = "db: not available; use taskdb.connect(url) (" .. why .. ")"
  end
  return table.concat(lines, "\n")
end

-- Prints results as lua5.4 does (tab-separated), except that a task or a
-- list of tasks is shown as a table, an empty table as "(no tasks)" and
-- other tables readably (format.value).  When one of them takes several
-- lines, each value starts a line of its own: a page's cursor comes after
-- its table, not beside the last row.
function repl.show(...)
  local parts, multiline = {}, false
  for i = 1, select("#", ...) do
    parts[i] = format.value((select(i, ...)))
    multiline = multiline or parts[i]:find("\n", 1, true) ~= nil
  end
  io.stdout:write(table.concat(parts, multiline and "\n" or "\t"), "\n")
  io.stdout:flush()
end

-- ---------------------------------------------------------------------------
-- Tab completion

local KEYWORDS = { "and", "break", "do", "else", "elseif", "end", "false", "for",
  "function", "goto", "if", "in", "local", "nil", "not", "or", "repeat", "return",
  "then", "true", "until", "while" }

-- Calls add(name, value) for every string key of `v`: its own fields, then
-- those its metatable lends through an __index table (or a __complete
-- function, for proxies whose __index is code).  Nothing that runs user
-- code or touches the database is called, __complete aside.
local function each_field(v, add, depth)
  depth = depth or 0
  if depth > 8 then return end
  if type(v) == "table" then
    for k, x in next, v do
      if type(k) == "string" then add(k, x) end
    end
  end
  local mt = getmetatable(v)
  if type(mt) ~= "table" then return end
  local complete = rawget(mt, "__complete")
  if type(complete) == "function" then
    local ok, fields = pcall(complete, v)
    if ok and type(fields) == "table" then each_field(fields, add, depth + 1) end
    return
  end
  local index = rawget(mt, "__index")
  if type(index) == "table" then each_field(index, add, depth + 1) end
end

-- v[name] without running __index code: raw, then through __index tables.
local function field(v, name, depth)
  depth = depth or 0
  if depth > 8 then return nil end
  if type(v) == "table" then
    local x = rawget(v, name)
    if x ~= nil then return x end
  end
  local mt = getmetatable(v)
  if type(mt) ~= "table" then return nil end
  local index = rawget(mt, "__index")
  if type(index) == "table" then return field(index, name, depth + 1) end
  return nil
end

-- The candidates for the word before the cursor, each the whole word:
--   "pri"            -> "print", "printf" ... (globals and keywords)
--   "taskdb.con"     -> "taskdb.connect"     (fields, through __index tables)
--   "db:get_"        -> "db:get_task", "db:get_tasks" (methods only)
-- Sorted, without repeats; {} when the word is not a name path.
function repl.complete(word, env)
  env = env or _G
  local found, list = {}, {}
  local function offer(candidate)
    if not found[candidate] then
      found[candidate] = true
      list[#list + 1] = candidate
    end
  end
  local path, sep, partial = word:match("^([%a_][%w_%.]*)([%.:])([%a_]?[%w_]*)$")
  if path then
    local v = env
    for name in path:gmatch("[^.]+") do
      v = field(v, name)
      if v == nil then return list end
    end
    each_field(v, function(name, x)
      if name:sub(1, #partial) == partial and name:match("^[%a_][%w_]*$")
        and (sep == "." or type(x) == "function") then
        offer(path .. sep .. name)
      end
    end)
  elseif word:match("^[%a_]?[%w_]*$") then
    each_field(env, function(name)
      if name:sub(1, #word) == word and name:match("^[%a_][%w_]*$") then offer(name) end
    end)
    for _, k in ipairs(KEYWORDS) do
      if k:sub(1, #word) == word then offer(k) end
    end
  end
  table.sort(list)
  return list
end

return repl

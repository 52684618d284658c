-- taskshell.repl — the Lua half of taskshell's interactive prompt.
--
-- The host calls repl.start(version_line) once, prints the banner it
-- returns, and prints every result through repl.show.  start() sets the
-- globals `taskdb` and, when a DATABASE_URL is configured, `db`: a stand-in
-- that connects on first use, so the prompt comes up at once even when the
-- database is slow, asleep or down, and the failure shows where it matters.

local format = require("taskshell.format")

local repl = {}

-- Where taskdb.connect() will find DATABASE_URL: "environment", ".env", or
-- nil.  Only looks; connect() itself reads and applies the value.
function repl.database_url_source()
  local url = os.getenv("DATABASE_URL")
  if url and url ~= "" then return "environment" end
  local file = io.open(".env", "r")
  if not file then return nil end
  local found = false
  for line in file:lines() do
    if line:match("^%s*export%s+DATABASE_URL%s*=") or line:match("^%s*DATABASE_URL%s*=") then
      found = true
      break
    end
  end
  file:close()
  return found and ".env" or nil
end

-- A table that stands for the connection `connect()` returns, calling it on
-- the first field access.  A failed attempt is reported there and retried
-- on the next use (the server may have come up since).
function repl.lazy_connection(connect)
  local conn
  local proxy = {}

  local function connection()
    if conn == nil then
      local ok, result = pcall(connect)
      if not ok then
        -- level 3: the user's line that touched `db`, past __index
        error("db: could not connect to the database: " .. tostring(result), 3)
      end
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
  local source = repl.database_url_source()
  if rawget(_G, "db") ~= nil then
    lines[#lines + 1] = "db: already set by the code run before this prompt"
  elseif source then
    _G.db = repl.lazy_connection(function() return taskdb.connect() end)
    lines[#lines + 1] = string.format(
      "db: ready, connects on first use (DATABASE_URL from %s); try  = db:get_tasks{ limit = 10 }",
      source == ".env" and "./.env" or "the environment")
  else
    lines[#lines + 1] =
      "db: not available (no DATABASE_URL in the environment or ./.env); use taskdb.connect(url)"
  end
  return table.concat(lines, "\n")
end

-- Prints results as lua5.4 does (tab-separated, via tostring), except that
-- a task or a list of tasks is shown as a table.
function repl.show(...)
  local parts = {}
  for i = 1, select("#", ...) do
    parts[i] = format.value((select(i, ...)))
  end
  io.stdout:write(table.concat(parts, "\t"), "\n")
  io.stdout:flush()
end

return repl

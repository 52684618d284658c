-- Shared helpers for the busted specs.
--
--   local helper = require("spec.helper")
--
-- Specs run from the project root through the host:
--   build/taskshell /usr/bin/busted spec/<file>_spec.lua
-- with the variables of spec/support/testenv.sh exported (spec/run.sh does
-- that).  Every spec makes its rows under its own user ids (helper.uid), so
-- no spec depends on an empty table and specs may run in parallel.

if not package.path:find("./?.lua", 1, true) then
  package.path = "./?.lua;" .. package.path
end

local taskdb = require("taskdb")
local luassert = require("luassert")
local system = require("system")   -- luasystem, busted's own dependency: gettime, sleep

local helper = { taskdb = taskdb }

-- ---------------------------------------------------------------------------
-- Small utilities

local function shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
helper.shell_quote = shell_quote

local function read_all(f)
  local text = f:read("a")
  f:close()
  return text
end

function helper.read_file(path)
  return read_all(assert(io.open(path, "rb")))
end

-- nil when the file cannot be opened (one a child has not written yet).
function helper.try_read_file(path)
  local f = io.open(path, "rb")
  return f and read_all(f)
end

function helper.write_file(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

local function trim(s)
  return (s:gsub("^%s+", ""):gsub("%s+$", ""))
end
helper.trim = trim

local function getenv(name)
  local v = os.getenv(name)
  if v == "" then return nil end
  return v
end

local function command_output(cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  p:close()
  return trim(out)
end

helper.project_dir = getenv("TASKDB_PROJECT_DIR") or command_output("pwd")

local function absolute(path)
  if path:sub(1, 1) == "/" then return path end
  return helper.project_dir .. "/" .. path
end

helper.build_dir = absolute(getenv("TASKDB_BUILD") or "build")
helper.host = helper.build_dir .. "/taskshell"
helper.pgctl = helper.project_dir .. "/spec/support/pgctl.sh"

-- Unique names: "<prefix>-<random per process>-<counter>".
local run_tag = string.format("%08x", math.random(0, 0x7fffffff))
local counter = 0
function helper.uid(prefix)
  counter = counter + 1
  return string.format("%s-%s-%d", prefix or "u", run_tag, counter)
end

-- A name usable as an SQL identifier (database names, application names).
function helper.ident(prefix)
  counter = counter + 1
  return string.format("%s_%s_%d", prefix or "t", run_tag, counter)
end

-- ---------------------------------------------------------------------------
-- The scratch database

function helper.url()
  local url = getenv("TASKDB_TEST_URL")
  if not url then
    error("TASKDB_TEST_URL is not set: run the specs through spec/run.sh "
      .. "(or source spec/support/testenv.sh first)", 2)
  end
  return url
end

function helper.tcp_url()
  local url = getenv("TASKDB_TEST_TCP_URL")
  if not url then
    error("TASKDB_TEST_TCP_URL is not set: run the specs through spec/run.sh", 2)
  end
  return url
end

function helper.password()
  return getenv("TASKDB_TEST_PASSWORD") or helper.tcp_url():match("^%a+://[^:/@]*:([^@]*)@")
end

-- `url` with its database name replaced (URI or key=value form).
function helper.url_with_db(url, dbname)
  local scheme_auth, rest = url:match("^(postgres%a*://[^/?]*)(.*)$")
  if scheme_auth then
    local query = rest:match("%?.*$") or ""
    return scheme_auth .. "/" .. dbname .. query
  end
  if url:find("dbname%s*=") then
    return (url:gsub("dbname%s*=%s*'[^']*'", "dbname=" .. dbname)
      :gsub("dbname%s*=%s*[^%s']+", "dbname=" .. dbname))
  end
  return url .. " dbname=" .. dbname
end

-- `url` with one query parameter added (URI form) or keyword (key=value form).
function helper.url_with_param(url, key, value)
  if url:match("^postgres%a*://") then
    return url .. (url:find("?", 1, true) and "&" or "?") .. key .. "=" .. value
  end
  return url .. " " .. key .. "=" .. value
end

-- A superuser URL of the scratch database that bypasses any pooler
-- (TASKDB_TEST_DIRECT_URL, else the test server's Unix socket).
function helper.direct_url(...)
  assert(select("#", ...) == 0, "direct_url takes no argument: see direct_db_url and direct_app_url")
  local url = getenv("TASKDB_TEST_DIRECT_URL")
  if not url then
    local sock, port = getenv("TASKDB_TEST_SOCKDIR"), getenv("TASKDB_TEST_PGPORT")
    if sock and port then
      url = string.format("postgresql:///taskdb_test?host=%s&port=%s&user=postgres", sock, port)
    else
      url = helper.url()
    end
  end
  return url
end

-- direct_url, for another database of the test server.
function helper.direct_db_url(dbname)
  return helper.url_with_db(helper.direct_url(), dbname)
end

-- direct_url, its sessions named `app` (application_name), so that
-- pg_stat_activity tells them apart.
function helper.direct_app_url(app)
  return helper.url_with_param(helper.direct_url(), "application_name", app)
end

-- Connects to the scratch database.  opts: the options of taskdb.connect.
function helper.connect(opts)
  local o = {}
  for k, v in pairs(opts or {}) do o[k] = v end
  if o.url == nil then o.url = helper.url() end
  return taskdb.connect(o)
end

-- Connects and makes sure the tasks table exists.  The table is NOT
-- emptied: tests use their own user ids (helper.uid), so they never depend
-- on an empty table; helper.truncate() exists for the rare exception.
function helper.fresh_db(opts)
  local db = helper.connect(opts)
  db:init_db()
  return db
end

-- A connection for the tests of the describe block this is called in (as
-- fresh_db: the tasks table made): opened now, while busted runs the block's
-- body, and closed by a teardown once the block's tests have run.
--   describe("...", function()
--     local db = helper.db_for_block()
function helper.db_for_block(opts)
  local db = helper.fresh_db(opts)
  require("busted").teardown(function() db:close() end)
  return db
end

local function psql_binary()
  local bin = getenv("TASKDB_TEST_PGBIN")
  if bin then return bin .. "/psql" end
  return "psql"
end

-- Runs SQL as the server's superuser, never through a pooler, and returns
-- its unaligned, tuples-only output (rows on lines, columns separated by
-- "|"), trimmed.  Raises with psql's message if the SQL fails.
-- opts.dbname runs it in another database of the test server.
-- SQL is for verifying server state and for breaking things; the library
-- under test never exposes SQL.
function helper.psql(sql, opts)
  opts = opts or {}
  local errfile = os.tmpname()
  local cmd
  if getenv("TASKDB_TEST_DIR") and not opts.dbname and not opts.url then
    cmd = string.format("sh %s psql %s 2>%s", shell_quote(helper.pgctl), shell_quote(sql), errfile)
  else
    local url = opts.url or (opts.dbname and helper.direct_db_url(opts.dbname)) or helper.direct_url()
    cmd = string.format("%s -X -A -t -q -v ON_ERROR_STOP=1 -v VERBOSITY=verbose -d %s -c %s 2>%s",
      shell_quote(psql_binary()), shell_quote(url), shell_quote(sql), errfile)
  end
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  local ok, _, code = p:close()
  local err = helper.read_file(errfile)
  os.remove(errfile)
  if not ok then
    error(string.format("psql failed (exit %s) running %q:\n%s%s", tostring(code), sql, err, out), 2)
  end
  return trim(out)
end

-- Removes every row (only for a spec that truly needs an empty table).
function helper.truncate()
  return helper.psql("TRUNCATE public.tasks RESTART IDENTITY")
end

-- A new, empty database on the test server (UTF8, from template0), named
-- after `prefix`.  Returns its name and a direct URL to it: a pooler knows
-- only the scratch database.
function helper.create_database(prefix)
  local name = helper.ident(prefix)
  helper.psql("CREATE DATABASE " .. name .. " ENCODING 'UTF8' TEMPLATE template0")
  return name, helper.direct_db_url(name)
end

function helper.drop_database(name)
  helper.psql("DROP DATABASE IF EXISTS " .. name .. " WITH (FORCE)")
end

-- For a describe block: returns a function that makes a database (as
-- create_database), and the block's teardown drops all it made.
function helper.databases_for_block(prefix)
  local made = {}
  require("busted").teardown(function()
    for _, name in ipairs(made) do pcall(helper.drop_database, name) end
  end)
  return function()
    local name, url = helper.create_database(prefix)
    made[#made + 1] = name
    return name, url
  end
end

-- Polls fn() every 20 ms until it returns a true value, and returns that;
-- raises "<what>: did not happen within <timeout> s" at the deadline.
function helper.wait_for(what, timeout, fn)
  assert(type(what) == "string" and type(timeout) == "number" and type(fn) == "function",
    "usage: helper.wait_for(what, timeout, fn)")
  local deadline = system.gettime() + timeout
  repeat
    local v = fn()
    if v then return v end
    system.sleep(0.02)
  until system.gettime() > deadline
  error(what .. ": did not happen within " .. timeout .. " s", 2)
end

-- ---------------------------------------------------------------------------
-- Subprocesses

-- Runs `script_text` with build/taskshell in a subprocess and returns
-- exit status, stdout, stderr.
--   env:  { NAME = "value" | false }  set (or, with false, unset) variables
--   opts: { cwd = dir, args = { ... }, clean = true (start from `env -i`
--           with only PATH and HOME), stdin = text }
function helper.taskshell(script_text, env, opts)
  opts = opts or {}
  local script = os.tmpname()
  local out, err, input = os.tmpname(), os.tmpname(), "/dev/null"
  helper.write_file(script, script_text)
  if opts.stdin then
    input = os.tmpname()
    helper.write_file(input, opts.stdin)
  end
  local envargs = {}
  if opts.clean then
    envargs[#envargs + 1] = "-i"
    envargs[#envargs + 1] = shell_quote("PATH=" .. (os.getenv("PATH") or "/usr/bin:/bin"))
    envargs[#envargs + 1] = shell_quote("HOME=" .. (os.getenv("HOME") or "/tmp"))
  end
  local names = {}
  for k in pairs(env or {}) do names[#names + 1] = k end
  table.sort(names)
  for _, k in ipairs(names) do
    local v = env[k]
    if v == false then
      if not opts.clean then envargs[#envargs + 1] = "-u " .. shell_quote(k) end
    else
      envargs[#envargs + 1] = shell_quote(k .. "=" .. tostring(v))
    end
  end
  local args = {}
  for i, a in ipairs(opts.args or {}) do args[i] = shell_quote(a) end
  local cmd = string.format("%senv %s %s %s %s < %s > %s 2> %s",
    opts.cwd and ("cd " .. shell_quote(opts.cwd) .. " && ") or "",
    table.concat(envargs, " "), shell_quote(helper.host), shell_quote(script),
    table.concat(args, " "), input, out, err)
  local _, _, code = os.execute(cmd)
  local stdout, stderr = helper.read_file(out), helper.read_file(err)
  os.remove(script); os.remove(out); os.remove(err)
  if input ~= "/dev/null" then os.remove(input) end
  return code, stdout, stderr
end

-- A fresh temporary directory; removed by helper.rmdir.
function helper.tmpdir()
  local dir = command_output("mktemp -d /tmp/taskdb-spec.XXXXXX")
  assert(dir ~= "", "mktemp -d failed")
  return dir
end

function helper.rmdir(dir)
  assert(dir:match("^/tmp/taskdb%-spec%."), "refusing to remove " .. dir)
  os.execute("rm -rf " .. shell_quote(dir))
end

-- Each process connects, then waits for the start file, so that all race
-- for init_db together.
local INIT_DB_RACER = [[
  local db = require("taskdb").connect(os.getenv("SPEC_URL"))
  local go = os.getenv("SPEC_GO")
  local deadline = os.time() + 20
  while not io.open(go) do
    if os.time() > deadline then error("start file never appeared") end
  end
  assert(db:init_db() == true)
  db:close()
]]

-- Runs init_db on `url` from `procs` taskshell processes at once.  Returns
-- one line per process that failed (its exit status and output): an empty
-- list when all succeeded.
function helper.init_db_race(url, procs)
  local dir = helper.tmpdir()
  local script, go = dir .. "/init.lua", dir .. "/go"
  helper.write_file(script, INIT_DB_RACER)
  local parts = {}
  for i = 1, procs do
    parts[#parts + 1] = string.format("( SPEC_URL=%s SPEC_GO=%s %s %s > %s/out.%d 2>&1; echo $? > %s/rc.%d ) &",
      shell_quote(url), shell_quote(go), shell_quote(helper.host), shell_quote(script), dir, i, dir, i)
  end
  parts[#parts + 1] = "sleep 0.3; : > " .. shell_quote(go) .. "; wait"
  os.execute(table.concat(parts, "\n"))
  local failures = {}
  for i = 1, procs do
    local rc = trim(helper.read_file(string.format("%s/rc.%d", dir, i)))
    if rc ~= "0" then
      failures[#failures + 1] = string.format("process %d exit %s: %s", i, rc,
        helper.read_file(string.format("%s/out.%d", dir, i)))
    end
  end
  helper.rmdir(dir)
  return failures
end

-- ---------------------------------------------------------------------------
-- Errors

local KINDS = {
  invalid = true, config = true, connection = true, timeout = true,
  closed = true, schema = true, database = true,
}

-- Asserts that `e` is a taskdb error object (not a string) and returns it.
function helper.check_error_object(e)
  luassert.is_table(e, "expected a taskdb error table, got " .. type(e) .. ": " .. tostring(e))
  local mt = getmetatable(e)
  luassert.is_table(mt, "the error table has no metatable")
  luassert.are.equal("taskdb.Error", mt.__name)
  luassert.is_function(mt.__tostring)
  luassert.is_true(KINDS[e.kind] == true, "unknown error kind " .. tostring(e.kind))
  luassert.is_string(e.message)
  luassert.is_true(#e.message > 0, "empty error message")
  return e
end

-- Calls fn(...) and asserts it raises a taskdb error of `kind` whose
-- `field` is `field` (nil: field not checked; false: no field).
-- Returns the error.
function helper.expect_error(kind, field, fn, ...)
  local ok, e = pcall(fn, ...)
  luassert.is_false(ok, "expected a taskdb " .. kind .. " error, but the call succeeded")
  helper.check_error_object(e)
  luassert.are.equal(kind, e.kind, "wrong kind; the error was: " .. tostring(e))
  if field == false then
    luassert.is_nil(e.field, "unexpected field; the error was: " .. tostring(e))
  elseif field ~= nil then
    luassert.are.equal(field, e.field, "wrong field; the error was: " .. tostring(e))
  end
  return e
end

-- ---------------------------------------------------------------------------
-- Task checks

helper.TIMESTAMP = "^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%d%d%d%dZ$"

-- Asserts the shape of a task table; returns it.
function helper.check_task(t)
  luassert.is_table(t)
  luassert.is_true(math.type(t.id) == "integer", "id is not an integer")
  luassert.is_string(t.user_id)
  luassert.is_string(t.title)
  luassert.is_true(t.description == nil or type(t.description) == "string",
    "description is neither nil nor a string")
  luassert.is_boolean(t.completed)
  luassert.is_string(t.created_at)
  luassert.is_string(t.updated_at)
  luassert.is_truthy(t.created_at:match(helper.TIMESTAMP), "bad created_at " .. t.created_at)
  luassert.is_truthy(t.updated_at:match(helper.TIMESTAMP), "bad updated_at " .. t.updated_at)
  for k in pairs(t) do
    luassert.is_truthy(({ id = 1, user_id = 1, title = 1, description = 1, completed = 1,
      created_at = 1, updated_at = 1 })[k], "unexpected key in task: " .. tostring(k))
  end
  return t
end

-- A plain copy of a task, for comparing before and after.
function helper.copy(t)
  if t == nil then return nil end
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

-- Ids of a list of tasks, in order.
function helper.ids(list)
  local r = {}
  for i, t in ipairs(list) do r[i] = t.id end
  return r
end

return helper

-- The taskshell REPL on a real pseudo-terminal, driven through tmux
-- (spec/support/terminal.lua).
-- Run from the project root: build/taskshell /usr/bin/busted spec/repl_spec.lua
-- TASKDB_BUILD names the build directory (default "build").  Needs tmux.
-- Tests tagged #binding need the real taskdb binding linked in.

local function shell_quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

local function command_output(cmd)
  local pipe = assert(io.popen(cmd))
  local out = pipe:read("a")
  local ok = pipe:close()
  return (out:gsub("\n$", "")), ok
end

local function read_file(path)
  local file = io.open(path, "rb")
  if not file then return nil end
  local text = file:read("a")
  file:close()
  return text
end

local project = command_output("pwd")
local build = os.getenv("TASKDB_BUILD") or "build"
if build:sub(1, 1) ~= "/" then build = project .. "/" .. build end
local HOST = build .. "/taskshell"

local terminal = require("spec.support.terminal")

-- One taskshell running on its own terminal, with its own HOME and working
-- directory (no ./.env, no history of the person running tests).
-- env: extra arguments for env(1), e.g. "-u DATABASE_URL".  `after`, an
-- ended session, lends its directories (and so its HOME and history).
-- files: name -> text, written into the working directory first.
local function start(env, after, files)
  local dir = after and after.dir or command_output("mktemp -d")
  local home, cwd = dir .. "/home", dir .. "/cwd"
  os.execute("mkdir -p " .. shell_quote(home) .. " " .. shell_quote(cwd))
  for name, text in pairs(files or {}) do
    local file = assert(io.open(cwd .. "/" .. name, "wb"))
    file:write(text)
    file:close()
  end
  local self = terminal.start(string.format("env %s HOME=%s %s", env, shell_quote(home), shell_quote(HOST)),
                              { cwd = cwd })
  self.dir, self.home, self.cwd = dir, home, cwd
  -- closing a session also removes its directories; stop_server keeps them
  self.stop_server = getmetatable(self).__index.close
  self.close = function(s)
    s:stop_server()
    os.execute("rm -rf " .. shell_quote(s.dir))
  end
  return self
end

local session

setup(function()
  assert(io.open(HOST, "rb"), "no host binary at " .. HOST .. " (run make, or set TASKDB_BUILD)"):close()
  terminal.require_tmux()
end)

after_each(function()
  if session then session:close() end
  session = nil
end)

describe("the REPL on a terminal", function()
  it("evaluates expressions, statements and multi-line chunks, and keeps history", function()
    session = start("-u DATABASE_URL")
    session:wait_for("taskshell %d+%.%d+")
    session:wait_for("\ndb: not available")

    session:line("1+1")
    session:wait_for("\n> 1%+1\n2\n")

    session:line('= "x" .. "y"')
    session:wait_for('\n> = "x" %.%. "y"\nxy\n')

    session:line("for i=1,2 do")
    session:wait_for("\n> for i=1,2 do\n>>%s*$")
    session:line("print(i)")
    session:wait_for("\n>> print%(i%)\n>>%s*$")
    session:line("end")
    session:wait_for("\n>> end\n1\n2\n>%s*$")

    session:line('{ id = 7, user_id = "u-1", title = "Walk the dog", completed = true, created_at = "2026-11-24T10:15:30.5Z" }')
    session:wait_for("\n%s*id%s+user_id%s+title%s+completed%s+created_at\n")
    session:wait_for("\n%s*7%s+u%-1%s+Walk the dog%s+%[x%]%s+2026%-11%-24T10:15:30Z\n")

    session:line('error("oops")')
    session:wait_for("\nstdin:1: oops\nstack traceback:")
    session:line('print("still" .. "here")')
    session:wait_for("\nstillhere\n")

    session:key("C-d")
    session:wait_exit()

    local history = read_file(session.home .. "/.taskshell_history")
    assert.is_not_nil(history, "no ~/.taskshell_history")
    for _, line in ipairs({ "1+1", '= "x" .. "y"', "for i=1,2 do", "print(i)", "end", 'print("still" .. "here")' }) do
      assert.truthy(("\n" .. history):find("\n" .. line .. "\n", 1, true), "history lacks " .. line)
    end
  end)

  it("recalls the previous session's lines with the up arrow", function()
    session = start("-u DATABASE_URL")
    session:wait_for("taskshell %d")
    session:line('print("first" .. "session")')
    session:wait_for("\nfirstsession\n")
    session:line("os.exit()")
    session:wait_exit()

    session:stop_server()
    session = start("-u DATABASE_URL", session)  -- same HOME
    session:wait_for("taskshell %d")
    session:key("Up")
    session:key("Up")
    session:key("Enter")
    session:wait_for("\nfirstsession\n")
  end)

  it("drops the line being typed on Ctrl-C and keeps running", function()
    session = start("-u DATABASE_URL")
    session:wait_for("taskshell %d")
    session:type('print("dropped")')
    session:wait_for('\n> print%("dropped"%)')
    session:key("C-c")
    -- The fresh prompt must be up before typing, or keys race readline's reset.
    session:wait_for('%^C\n>')
    session:line('print("kept")')
    local screen = session:wait_for("\nkept\n")
    assert.is_nil(screen:find("\ndropped\n"), "the interrupted line ran")
    assert.is_true(session:running())
  end)

  it("interrupts running code on Ctrl-C and keeps running", function()
    session = start("-u DATABASE_URL")
    session:wait_for("taskshell %d")
    session:line("while true do end")
    session:wait_for("\n> while true do end\n")
    os.execute("sleep 0.2")
    session:key("C-c")
    session:wait_for("interrupted!")
    session:line('print("after" .. "wards")')
    session:wait_for("\nafterwards\n")
  end)

  it("starts with an unreachable DATABASE_URL; `db` fails on first use only #binding", function()
    session = start("DATABASE_URL=" .. shell_quote("postgresql://u@127.0.0.1:1/x?connect_timeout=1"))
    session:wait_for("\ndb: ready, connects on first use")
    session:line("db:ping()")
    -- the binding retries a refused connection a few times before giving up
    session:wait_for("taskdb connection error: could not connect", 60)
    session:line('print("still" .. "alive")')
    session:wait_for("\nstillalive\n")
    session:line("print(type(taskdb.connect))")
    session:wait_for("\nfunction\n")
    session:line("os.exit()")
    session:wait_exit()
  end)

  it("keeps a failed first connect's error table: kind, sqlstate, taskdb.Error #binding", function()
    session = start("DATABASE_URL=" .. shell_quote("postgresql://u@127.0.0.1:1/x?connect_timeout=1"))
    session:wait_for("\ndb: ready")
    session:line("ok, e = pcall(function() return db:ping() end)")
    session:line('= ok, type(e), e.kind, getmetatable(e).__name')
    session:wait_for("\nfalse%s+table%s+connection%s+taskdb%.Error\n", 60)
    session:line("= db")   -- still the stand-in: the next use tries again
    session:wait_for("\ndb %(connects on first use%)\n")
  end)

  it("says db is not available for an empty DATABASE_URL, in the environment or in ./.env #binding", function()
    session = start("DATABASE_URL=")
    session:wait_for("\ndb: not available; use taskdb%.connect%(url%) %(DATABASE_URL is not set")
    session:line("= db")
    session:wait_for("\n> = db\nnil\n")
    session:close()
    session = start("DATABASE_URL=", nil, { [".env"] = "# empty on purpose\nDATABASE_URL=\n" })
    session:wait_for("\ndb: not available; use taskdb%.connect%(url%) %(DATABASE_URL is not set")
  end)

  it("names a broken ./.env as the reason db is not available #binding", function()
    session = start("-u DATABASE_URL", nil, { [".env"] = "DATABASE_URL=\"postgresql://u@h/x\n" })
    session:wait_for("\ndb: not available; [^\n]*%.env line 1: unterminated quote in DATABASE_URL%)")
  end)

  it("reads ./.env as taskdb does: export, quotes, comments #binding", function()
    session = start("-u DATABASE_URL", nil,
      { [".env"] = "export DATABASE_URL = 'postgresql://u@127.0.0.1:1/x?connect_timeout=1'  # quoted\n" })
    session:wait_for("\ndb: ready, connects on first use %(DATABASE_URL from %./%.env%)")
  end)

  it("completes globals, fields and methods on Tab, without connecting #binding", function()
    session = start("DATABASE_URL=" .. shell_quote("postgresql://u@127.0.0.1:1/x?connect_timeout=1"))
    session:wait_for("\ndb: ready")
    session:type("db:get_")
    session:key("Tab")
    session:wait_for("\n> db:get_task%s*$")       -- the common part of get_task, get_tasks
    session:key("Tab")
    session:key("Tab")
    session:wait_for("\ndb:get_task%s+db:get_tasks%s*\n")
    session:key("C-u")
    session:type("taskdb.conn")
    session:key("Tab")
    session:wait_for("\n> taskdb%.connect%s*$")
    session:key("C-u")
    session:type("collectga")
    session:key("Tab")
    session:wait_for("\n> collectgarbage%s*$")
    session:key("C-u")
    session:type("string.for")
    session:key("Tab")
    session:wait_for("\n> string%.format%s*$")
    session:key("C-u")
    session:line("= db")   -- completion never touched the connection
    session:wait_for("\ndb %(connects on first use%)\n")
  end)

  it("prints = expr and plain tables readably, an empty list as (no tasks)", function()
    session = start("-u DATABASE_URL")
    session:wait_for("taskshell %d")
    session:line("= {}")
    session:wait_for("\n> = {}\n%(no tasks%)\n")
    session:line("{ a = 1, b = { 1, 2 }, s = \"x\" }")
    session:wait_for('\n{ a = 1, b = { 1, 2 }, s = "x" }\n')
    local screen = session:screen()
    assert.is_nil(screen:find("table: 0x", 1, true), screen)
  end)

  it("lines up wide titles by display width on the terminal", function()
    package.path = project .. "/lua/?.lua;" .. package.path
    local width = require("taskshell.format").width
    session = start("-u DATABASE_URL")
    session:wait_for("taskshell %d")
    session:line('= { { id = 1, user_id = "u", title = "日本の旅", completed = false },'
      .. ' { id = 2, user_id = "u", title = "tea ☕ 🎉", completed = true },'
      .. ' { id = 3, user_id = "u", title = "plain", completed = false } }')
    local screen = session:wait_for("%(3 tasks%)")
    local header = screen:match("\n(%s*id%s+user_id%s+title%s+completed[^\n]*)\n")
    local want = width(header:sub(1, header:find("completed") - 1))
    local rows = 0
    for line in screen:gmatch("[^\n]+") do
      if line:find("%[[ x]%]") then
        rows = rows + 1
        assert.are.equal(want, width(line:sub(1, line:find("%[[ x]%]") - 1)), line)
      end
    end
    assert.are.equal(3, rows)
  end)

  it("offers `db` when DATABASE_URL is in ./.env", function()
    session = start("-u DATABASE_URL", nil,
      { [".env"] = "# local settings\nDATABASE_URL=postgresql://u@127.0.0.1:1/x?connect_timeout=1\n" })
    session:wait_for("\ndb: ready, connects on first use %(DATABASE_URL from %./%.env%)")
    session:line("db")
    session:wait_for("\ndb %(connects on first use%)\n")
  end)
end)

-- The REPL against the test database: spec/run.sh sets TASKDB_TEST_URL.
describe("the REPL with a database", function()
  local helper = require("spec.helper")
  local H = require("spec.support.procs")
  teardown(H.cleanup)

  it("shows a page, then its cursor on a line of its own; an empty listing as (no tasks)", function()
    local db <close> = helper.fresh_db()
    local u = helper.uid("repl-page")
    for i = 1, 3 do db:create_task{ user_id = u, title = "page " .. i } end
    session = start("DATABASE_URL=" .. shell_quote(helper.url()))
    session:wait_for("\ndb: ready")
    session:line(string.format("= db:get_tasks{ user_id = %q, limit = 2 }", u))
    local screen = session:wait_for("%(2 tasks%)\n[^\n]+\n>")
    local cursor = screen:match("%(2 tasks%)\n([^\n]+)\n")
    assert.matches("^%d%d%d%d%-%d%d%-%d%dT[^/]+/%d+$", cursor)
    session:line(string.format("= db:get_tasks{ user_id = %q }", helper.uid("repl-nobody")))
    session:wait_for("\n%(no tasks%)\n")
  end)

  it("cancels a statement blocked behind a lock on the server when Ctrl-C is pressed", function()
    local db <close> = helper.fresh_db()
    local u = helper.uid("repl-cancel")
    local t = db:create_task{ user_id = u, title = "before" }
    local holder = helper.ident("repl_lock")
    H.hold_row_lock(holder, t.id, 60)
    local ok, err = pcall(function()
      session = start("DATABASE_URL=" .. shell_quote(helper.url()))
      session:wait_for("\ndb: ready")
      session:line("= db:ping()")
      session:wait_for("\ntrue\n")
      session:line(string.format('= db:update_task(%d, { title = "after" })', t.id))
      -- the update is waiting for the holder's row lock
      local blocked = "SELECT count(*) FROM pg_stat_activity w, pg_stat_activity h " ..
        "WHERE h.application_name = '" .. holder .. "' AND w.wait_event_type = 'Lock' " ..
        "AND h.pid = ANY (pg_blocking_pids(w.pid))"
      H.wait_for("the update to wait for the lock", 20, function() return helper.psql(blocked) == "1" end)
      local pressed = H.now()
      session:key("C-c")
      session:wait_for("taskdb timeout error: [%w_]+: interrupted; cancelled on the server; " ..
        "nothing was applied %[sqlstate 57014%]", 10)
      session:wait_for("\n>%s*$", 10)
      -- back long before the holder lets go, and nothing waits on the server any more
      assert.is_true(H.now() - pressed < 10)
      assert.are.equal("0", helper.psql(blocked))
      assert.are.equal("1", helper.psql("SELECT count(*) FROM pg_stat_activity WHERE application_name = '" ..
        holder .. "' AND wait_event = 'PgSleep'"), "the lock holder is gone: the test proves nothing")
      -- the connection is still usable, and the update was not applied
      session:line(string.format("= db:get_task(%d).title", t.id))
      session:wait_for("\nbefore\n")
    end)
    H.terminate(holder)
    if not ok then error(err, 0) end
    assert.are.equal("before", db:get_task(t.id).title)
  end)
end)


describe("taskshell.repl helpers", function()
  package.path = project .. "/lua/?.lua;" .. package.path
  local repl = require("taskshell.repl")

  -- A stand-in for a taskdb connection: methods that check their self.
  local function fake_connection()
    local conn = {}
    return setmetatable(conn, { __index = {
      ping = function(self) assert(self == conn, "wrong self") return true end,
      count_tasks = function(self, opts) assert(self == conn) return opts.n end,
    } })
  end

  local saved_db
  before_each(function() saved_db = rawget(_G, "db") end)
  after_each(function() _G.db = saved_db end)

  it("connects on first use only, then forwards methods to the connection", function()
    local calls, conn = 0, fake_connection()
    local db = repl.lazy_connection(function() calls = calls + 1 return conn end)
    assert.are.equal("db (connects on first use)", tostring(db))
    assert.are.equal(0, calls)
    assert.is_true(db:ping())
    assert.are.equal(7, db:count_tasks{ n = 7 })
    assert.are.equal(1, calls)
  end)

  it("replaces the global `db` with the connection once connected", function()
    local conn = fake_connection()
    _G.db = repl.lazy_connection(function() return conn end)
    assert.is_true(db:ping())
    assert.are.equal(conn, rawget(_G, "db"))
  end)

  it("raises a failed connection's own error on use, and tries again next time", function()
    local attempts = 0
    local refused = setmetatable({ kind = "connection", message = "refused" },
      { __tostring = function(e) return "taskdb connection: " .. e.message end })
    local db = repl.lazy_connection(function()
      attempts = attempts + 1
      if attempts == 1 then error(refused) end
      return fake_connection()
    end)
    local ok, err = pcall(function() return db:ping() end)
    assert.is_false(ok)
    assert.are.equal(refused, err)   -- the very table: kind and all
    assert.is_true(db:ping())
    assert.are.equal(2, attempts)
  end)

  it("asks the binding where DATABASE_URL comes from, one parser for .env", function()
    local fake = { database_url = function() return "postgresql://x", ".env" end }
    assert.are.equal(".env", repl.database_url_source(fake))
    local missing = { kind = "config", message = "DATABASE_URL is not set" }
    fake.database_url = function() return nil, missing end
    local source, why = repl.database_url_source(fake)
    assert.is_nil(source)
    assert.are.equal(missing, why)
  end)

  it("completes names, fields through __index tables, and methods after ':'", function()
    local env = {
      print = print, taskdb = { connect = 1, cursor = 2, null = 3 },
      obj = setmetatable({ own = 1 }, { __index = { method = function() end, field = 1 } }),
      proxy = setmetatable({}, { __index = function() error("must not run") end,
                                 __complete = function() return { get_task = print, get_tasks = print, ping = print } end }),
    }
    assert.are.same({ "print" }, repl.complete("pri", env))
    assert.are.same({ "taskdb.connect", "taskdb.cursor" }, repl.complete("taskdb.c", env))
    assert.are.same({ "obj.field", "obj.method", "obj.own" }, repl.complete("obj.", env))
    assert.are.same({ "obj:method" }, repl.complete("obj:", env))         -- functions only
    assert.are.same({ "proxy:get_task", "proxy:get_tasks" }, repl.complete("proxy:get_", env))
    assert.are.same({ "while" }, repl.complete("whi", env))              -- keywords too
    assert.are.same({}, repl.complete("nothing.here", env))
    assert.are.same({}, repl.complete("a b", env))
  end)

  it("lists a lazy connection's methods from taskdb's own metatable, before connecting #binding", function()
    require("taskdb")
    local db = repl.lazy_connection(function() error("must not connect") end)
    local names = repl.complete("db:", { db = db })
    for _, want in ipairs({ "db:get_task", "db:get_tasks", "db:create_tasks", "db:transaction", "db:ping" }) do
      assert.truthy(table.concat(names, " "):find(want, 1, true), want .. " missing from " .. table.concat(names, " "))
    end
  end)

  it("puts each value on a line of its own when one of them is a table", function()
    local written = {}
    local real_stdout = io.stdout
    io.stdout = { write = function(self, ...) for _, x in ipairs({ ... }) do written[#written + 1] = x end return self end,
                  flush = function() end }
    local task = { id = 1, user_id = "u", title = "t", completed = false, created_at = "2026-11-24T10:15:30Z" }
    local ok, err = pcall(repl.show, { task }, "2026-11-24T10:15:30.000000Z/1")
    io.stdout = real_stdout
    assert(ok, err)
    assert.matches("%(1 task%)\n2026%-11%-24T10:15:30%.000000Z/1\n$", table.concat(written))
  end)

  it("shows values as the REPL prints them", function()
    local written = {}
    local real_stdout = io.stdout
    local capture = { write = function(self, ...) for _, s in ipairs({ ... }) do written[#written + 1] = s end return self end,
                      flush = function() end }
    io.stdout = capture
    local ok, err = pcall(repl.show, 1, nil, "a")
    io.stdout = real_stdout
    assert(ok, err)
    assert.are.equal("1\tnil\ta\n", table.concat(written))
  end)
end)

-- scripts/export.lua, scripts/import.lua and scripts/seed.lua, run as a user
-- runs them: `build/taskshell scripts/<name>.lua args` in a subprocess, with
-- DATABASE_URL = the scratch database (TASKDB_TEST_URL).
-- Run from the project root: build/taskshell /usr/bin/busted spec/scripts_spec.lua
--
-- Rows live under unique user ids (helper.uid).  The round trip and the seed
-- check, which need an empty table, each get a database of their own,
-- created here and dropped at the end.

local helper = require("spec.helper")
local cjson = require("cjson")

local q = helper.shell_quote
local FIELDS = { "id", "user_id", "title", "description", "completed", "created_at", "updated_at" }

-- Runs `taskshell scripts/<script> args...`.
--   opts.url:   DATABASE_URL (default: the scratch database); false: unset
--   opts.stdin: text for stdin (default /dev/null)
--   opts.stdin_pipe: text piped in through `cat` (stdin cannot seek)
--   opts.cwd:   working directory (default: the project)
-- Returns exit code, stdout, stderr.
local function run(script, args, opts)
  opts = opts or {}
  local out, err = os.tmpname(), os.tmpname()
  local input
  if opts.stdin or opts.stdin_pipe then
    input = os.tmpname()
    helper.write_file(input, opts.stdin or opts.stdin_pipe)
  end
  local url = opts.url
  if url == nil then url = helper.url() end
  local quoted = {}
  for i, a in ipairs(args or {}) do quoted[i] = q(a) end
  -- TERM is set so that only stderr not being a terminal keeps progress quiet.
  local cmd = string.format("cd %s && %s env %s TERM=xterm %s %s %s %s > %s 2> %s",
    q(opts.cwd or helper.project_dir),
    opts.stdin_pipe and ("cat " .. q(input) .. " |") or "",
    url and ("DATABASE_URL=" .. q(url)) or "-u DATABASE_URL",
    q(helper.host), q(helper.project_dir .. "/scripts/" .. script), table.concat(quoted, " "),
    opts.stdin and ("< " .. q(input)) or (opts.stdin_pipe and "" or "< /dev/null"),
    q(out), q(err))
  local _, _, code = os.execute(cmd)
  local stdout, stderr = helper.read_file(out), helper.read_file(err)
  os.remove(out); os.remove(err)
  if input then os.remove(input) end
  return code, stdout, stderr
end

-- JSON Lines text -> array of decoded objects (asserting each line parses).
local function decode_lines(text)
  local records = {}
  local n = 0
  for line in text:gmatch("([^\n]*)\n") do
    n = n + 1
    local ok, value = pcall(cjson.decode, line)
    assert.is_true(ok, "line " .. n .. " is not JSON: " .. line)
    assert.is_table(value, "line " .. n .. " is not an object")
    records[#records + 1] = value
  end
  assert.are.equal("", (text:gsub("[^\n]*\n", "")), "output does not end with a newline")
  return records
end

local function jsonl(records)
  local lines = {}
  for i, r in ipairs(records) do
    lines[i] = type(r) == "string" and r or cjson.encode(r)
  end
  return table.concat(lines, "\n") .. "\n"
end

-- The fields that survive an export/import: everything but id and timestamps.
local function portable(record)
  local description = record.description
  if description == cjson.null then description = nil end
  return { user_id = record.user_id, title = record.title, description = description,
           completed = record.completed }
end

local function count_for(db, users)
  local n = 0
  for _, u in ipairs(users) do n = n + db:count_tasks{ user_id = u } end
  return n
end

local SUMMARY = "^imported (%d+) tasks in %d+%.%d+ s\n$"

-- A database of its own on the test server; returns its name and URL.
-- Reached directly (not through a pooler, which knows only the scratch db),
-- as is the psql that makes it: with TASKDB_TEST_SOCKDIR/PGPORT that is the
-- server's socket, else TASKDB_TEST_URL, so the spec also runs with nothing
-- but TASKDB_TEST_URL set.
local function admin(sql)
  return helper.psql(sql, { url = helper.direct_url() })
end

local function create_database()
  local name = helper.ident("scripts")
  admin("CREATE DATABASE " .. name)
  return name, helper.direct_db_url(name)
end

local function drop_database(name)
  admin("DROP DATABASE IF EXISTS " .. name .. " WITH (FORCE)")
end

-- Values that are easy to get wrong on the way through JSON.
local function tricky_tasks(u1, u2)
  return {
    { user_id = u1, title = "Ünïcödé ✓ 日本語 🎉 café", description = nil, completed = false },
    { user_id = u1, title = 'quotes " and \\ backslash / slash',
      description = 'line one\nline two\ttabbed "quoted" \\back\\slash\\ /path/ \r\n end',
      completed = true },
    { user_id = u1, title = "control \1\31\127 characters", description = "", completed = false },
    { user_id = u1, title = string.rep("é", 200), description = string.rep("ß", 1000), completed = true },
    { user_id = u2, title = "second user's task", description = "{\"not\": \"json\"}", completed = false },
    { user_id = u2, title = "\u{2028}separators\u{2029}", description = "emoji 👍🏽", completed = true },
  }
end

describe("scripts/export.lua", function()
  local db
  setup(function() db = helper.fresh_db() end)
  teardown(function() db:close() end)

  it("writes one user's tasks as JSON lines with every field", function()
    local u, other = helper.uid("export"), helper.uid("export-other")
    local created = {}
    for i, t in ipairs(tricky_tasks(u, u)) do
      created[i] = db:create_task{ user_id = t.user_id, title = t.title, description = t.description }
      if t.completed then created[i] = db:toggle_complete(created[i].id) end
    end
    db:create_task{ user_id = other, title = "not exported" }

    local code, out, err = run("export.lua", { u })
    assert.are.equal(0, code, err)
    assert.are.equal("", err)
    local records = decode_lines(out)
    assert.are.equal(#created, #records)
    for i, r in ipairs(records) do
      local t = created[i]
      local keys = {}
      for k in pairs(r) do keys[#keys + 1] = k end
      table.sort(keys)
      local want = { table.unpack(FIELDS) }
      table.sort(want)
      assert.are.same(want, keys)
      assert.are.equal(t.id, math.tointeger(r.id))
      assert.are.equal(t.user_id, r.user_id)
      assert.are.equal(t.title, r.title)
      if t.description == nil then
        assert.are.equal(cjson.null, r.description)
      else
        assert.are.equal(t.description, r.description)
      end
      assert.are.equal(t.completed, r.completed)
      assert.are.equal(t.created_at, r.created_at)
      assert.are.equal(t.updated_at, r.updated_at)
    end
    -- Fixed key order, an integer id, a JSON null: one line is exactly this.
    local first = out:match("^[^\n]*")
    assert.matches('^{"id":' .. created[1].id .. ',"user_id":"[^"]+","title":"[^"]+","description":null,'
      .. '"completed":false,"created_at":"[^"]+","updated_at":"[^"]+"}$', first)
  end)

  it("writes every user's tasks without an argument", function()
    local u1, u2 = helper.uid("export-all"), helper.uid("export-all")
    local a = db:create_task{ user_id = u1, title = "one" }
    local b = db:create_task{ user_id = u2, title = "two" }
    local code, out, err = run("export.lua", {})
    assert.are.equal(0, code, err)
    -- The scratch table holds other specs' rows too: decode only ours.
    local seen = {}
    for line in out:gmatch("[^\n]+") do
      if line:find(u1, 1, true) or line:find(u2, 1, true) then
        local r = cjson.decode(line)
        seen[math.tointeger(r.id)] = r.user_id
      end
    end
    assert.are.equal("\n", out:sub(-1))
    assert.are.equal(u1, seen[a.id])
    assert.are.equal(u2, seen[b.id])
  end)

  it("writes nothing for a user with no tasks", function()
    local code, out, err = run("export.lua", { helper.uid("export-none") })
    assert.are.equal(0, code, err)
    assert.are.equal("", out)
    assert.are.equal("", err)
  end)

  it("reports errors on stderr with exit status 1 and no traceback", function()
    local code, out, err = run("export.lua", { "" })
    assert.are.equal(1, code)
    assert.are.equal("", out)
    assert.matches("^export: taskdb invalid error: user_id", err)
    assert.is_nil(err:find("traceback", 1, true))

    local dir = helper.tmpdir()  -- no .env here
    code, out, err = run("export.lua", {}, { url = false, cwd = dir })
    helper.rmdir(dir)
    assert.are.equal(1, code)
    assert.matches("^export: taskdb config error: .*DATABASE_URL", err)

    code, out, err = run("export.lua", { "a", "b" })
    assert.are.equal(2, code)
    assert.matches("too many arguments", err)
    assert.matches("usage: taskshell scripts/export.lua %[user_id%]", err)
  end)
end)

describe("scripts/import.lua", function()
  local db
  setup(function() db = helper.fresh_db() end)
  teardown(function() db:close() end)

  it("round-trips an export into an empty database, every field but ids and timestamps", function()
    local u1, u2 = helper.uid("trip"), helper.uid("trip")
    local originals = tricky_tasks(u1, u2)
    for _, t in ipairs(originals) do
      local task = db:create_task{ user_id = t.user_id, title = t.title, description = t.description }
      if t.completed then db:toggle_complete(task.id) end
    end
    local code1, out1, err1 = run("export.lua", { u1 })
    local code2, out2, err2 = run("export.lua", { u2 })
    assert.are.equal(0, code1, err1)
    assert.are.equal(0, code2, err2)
    local dump = out1 .. out2

    local name, url = create_database()
    local ok, failure = pcall(function()
      local file = os.tmpname()
      helper.write_file(file, dump)
      local code, out, err = run("import.lua", { file }, { url = url })
      os.remove(file)
      assert.are.equal(0, code, err)
      assert.are.equal("", out)
      assert.are.equal(tostring(#originals), err:match(SUMMARY), err)

      -- Everything in the new database is what was exported, in order.
      local copy_code, copy, copy_err = run("export.lua", {}, { url = url })
      assert.are.equal(0, copy_code, copy_err)
      local before, after = decode_lines(dump), decode_lines(copy)
      assert.are.equal(#originals, #after)
      for i = 1, #originals do
        assert.are.same(portable(before[i]), portable(after[i]))
        local want = originals[i]
        assert.are.same({ user_id = want.user_id, title = want.title,
          description = want.description, completed = want.completed }, portable(after[i]))
        assert.matches(helper.TIMESTAMP, after[i].created_at)
      end
    end)
    drop_database(name)
    if not ok then error(failure, 0) end
  end)

  it("reads stdin, from a pipe and from a redirected file", function()
    for _, how in ipairs{ "stdin_pipe", "stdin" } do
      local u = helper.uid("stdin")
      local records = {
        { user_id = u, title = "first" },
        "",
        { user_id = u, title = "second", description = "d", completed = true },
        "   \t",
        { user_id = u, title = "third", description = cjson.null, completed = false,
          id = 12345, created_at = "2001-01-01T00:00:00Z", updated_at = "x" },
      }
      local code, out, err = run("import.lua", {}, { [how] = jsonl(records) })
      assert.are.equal(0, code, err)
      assert.are.equal("", out)
      assert.matches(SUMMARY, err)
      local tasks = db:get_tasks{ user_id = u }
      assert.are.equal(3, #tasks)
      assert.are.same({ "first", "second", "third" }, { tasks[1].title, tasks[2].title, tasks[3].title })
      assert.are.same({ false, true, false }, { tasks[1].completed, tasks[2].completed, tasks[3].completed })
      assert.are.equal("d", tasks[2].description)
      assert.is_nil(tasks[3].description)
      assert.are_not.equal(12345, tasks[3].id)
      assert.are_not.equal("2001-01-01T00:00:00.000000Z", tasks[3].created_at)
    end
    -- "-" names stdin too
    local u = helper.uid("stdin-dash")
    local code, _, err = run("import.lua", { "-" }, { stdin = jsonl{ { user_id = u, title = "t" } } })
    assert.are.equal(0, code, err)
    assert.are.equal(1, db:count_tasks{ user_id = u })
  end)

  it("prints only the summary on a non-terminal stderr", function()
    local u = helper.uid("quiet")
    local records = {}
    for i = 1, 25000 do records[i] = { user_id = u, title = "task " .. i } end
    local code, out, err = run("import.lua", {}, { stdin_pipe = jsonl(records) })
    assert.are.equal(0, code, err)
    assert.are.equal("", out)
    assert.matches(SUMMARY, err)
    assert.are.equal("25000", err:match(SUMMARY))
    assert.are.equal(25000, db:count_tasks{ user_id = u })
  end)

  -- Writes `lines` (strings) to a file, imports it, and asserts it failed
  -- naming `line` and writing nothing for `users`.  Returns stderr.
  local function expect_rejected(lines, line, users)
    local before = count_for(db, users)
    local file = os.tmpname()
    helper.write_file(file, table.concat(lines, "\n") .. "\n")
    local code, out, err = run("import.lua", { file })
    os.remove(file)
    assert.are.equal(1, code, err)
    assert.are.equal("", out)
    assert.matches("^import: [^\n]*: line " .. line .. ": ", err)
    assert.are.equal(1, select(2, err:gsub("\n", "")), "more than one line on stderr: " .. err)
    assert.are.equal(before, count_for(db, users))
    return err
  end

  it("rejects a bad record on line 3 of 5 and writes nothing", function()
    local u = helper.uid("bad")
    local lines = {
      cjson.encode{ user_id = u, title = "one" },
      cjson.encode{ user_id = u, title = "two" },
      cjson.encode{ user_id = u, title = "   " },
      cjson.encode{ user_id = u, title = "four" },
      cjson.encode{ user_id = u, title = "five" },
    }
    local err = expect_rejected(lines, 3, { u })
    assert.matches("title must not be blank", err)
    assert.are.equal(0, db:count_tasks{ user_id = u })
  end)

  it("names the line of malformed JSON, counting blank lines", function()
    local u = helper.uid("malformed")
    local err = expect_rejected({
      cjson.encode{ user_id = u, title = "one" },
      "",
      cjson.encode{ user_id = u, title = "three" },
      '{"user_id": "' .. u .. '", "title": "four"',
      cjson.encode{ user_id = u, title = "five" },
    }, 4, { u })
    assert.matches("invalid JSON", err)
  end)

  it("names the line and the key of an unknown key", function()
    local u = helper.uid("unknown")
    local err = expect_rejected({
      cjson.encode{ user_id = u, title = "one" },
      cjson.encode{ user_id = u, titel = "typo", title = "two" },
    }, 2, { u })
    assert.matches('unknown key "titel"', err)
  end)

  it("rejects records that are not tasks", function()
    local u = helper.uid("shape")
    local ok = cjson.encode{ user_id = u, title = "fine" }
    local cases = {
      { "[1, 2]", "expected a JSON object" },
      { "null", "expected a JSON object" },
      { '"text"', "expected a JSON object" },
      { "{}", "user_id is missing" },
      { '{"user_id": "' .. u .. '"}', "title is missing" },
      { '{"user_id": 7, "title": "t"}', "user_id must be a string" },
      { '{"user_id": "' .. u .. '", "title": "t", "description": 1}', "description must be a string" },
      { '{"user_id": "' .. u .. '", "title": "t", "completed": "yes"}', "completed must be true or false" },
      { '{"user_id": "' .. u .. '", "title": "t", "completed": null}', "completed must be true or false" },
      { '{"user_id": "' .. u .. '", "title": ""}', "title must not be empty" },
      { '{"user_id": "' .. u .. '", "title": "' .. string.rep("x", 201) .. '"}', "at most 200" },
      { '{"user_id": "' .. u .. '", "title": "t", "description": "' .. string.rep("y", 1001) .. '"}',
        "at most 1000" },
      { '{"user_id": "' .. u .. '", "title": "nul \\u0000 byte"}', "NUL" },
      { '{"user_id": "' .. u .. '", "title": "bad \255 byte"}', "not valid UTF%-8" },
    }
    for _, case in ipairs(cases) do
      local err = expect_rejected({ ok, ok, case[1] }, 3, { u })
      assert.matches(case[2], err)
    end
  end)

  it("rolls back every batch when the database refuses a row late in the import", function()
    -- A trigger (in a database of this test's own) fails the row titled
    -- "boom", which the script's own checks cannot foresee: by then two
    -- batches of 10,000 have been written inside the transaction.
    local name, url = create_database()
    local ok, failure = pcall(function()
      local code, _, err = run("import.lua", {}, { url = url, stdin = "" })  -- runs init_db
      assert.are.equal(0, code, err)
      assert.are.equal("0", err:match(SUMMARY), err)
      helper.psql([[
        CREATE FUNCTION public.refuse_boom() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.title = 'boom' THEN RAISE EXCEPTION 'refusing boom'; END IF;
          RETURN NEW;
        END $$;
        CREATE TRIGGER refuse_boom BEFORE INSERT ON public.tasks
          FOR EACH ROW EXECUTE FUNCTION public.refuse_boom();]], { url = url })
      local u = helper.uid("late")
      local records = {}
      for i = 1, 25000 do records[i] = { user_id = u, title = i == 22222 and "boom" or "task " .. i } end
      local out
      code, out, err = run("import.lua", {}, { url = url, stdin = jsonl(records) })
      assert.are.equal(1, code, err)
      assert.are.equal("", out)
      assert.matches("refusing boom", err)
      assert.matches("nothing was imported", err)
      local db <close> = helper.taskdb.connect(url)
      assert.are.equal(0, db:count_tasks())
    end)
    drop_database(name)
    if not ok then error(failure, 0) end
  end)

  it("rejects bad usage and a missing file", function()
    local code, _, err = run("import.lua", { "a", "b" })
    assert.are.equal(2, code)
    assert.matches("usage: taskshell scripts/import.lua %[file%]", err)
    code, _, err = run("import.lua", { "/nonexistent/tasks.jsonl" })
    assert.are.equal(1, code)
    assert.matches("^import: cannot open /nonexistent/tasks.jsonl", err)
  end)
end)

describe("scripts/seed.lua", function()
  it("creates exactly N tasks over the demo users", function()
    local name, url = create_database()
    local ok, failure = pcall(function()
      local code, out, err = run("seed.lua", { "25", "3" }, { url = url })
      assert.are.equal(0, code, err)
      assert.are.equal("", out)
      assert.matches("^seeded 25 tasks for 3 demo users", err)
      local db <close> = helper.taskdb.connect(url)
      assert.are.equal(25, db:count_tasks())
      assert.are.same({ 9, 8, 8 }, { db:count_tasks{ user_id = "demo-user-1" },
        db:count_tasks{ user_id = "demo-user-2" }, db:count_tasks{ user_id = "demo-user-3" } })
      local titles, described, completed = {}, 0, 0
      for t in db:each_task() do
        titles[t.title] = true
        if t.description then described = described + 1 end
        if t.completed then completed = completed + 1 end
      end
      local distinct = 0
      for _ in pairs(titles) do distinct = distinct + 1 end
      assert.are.equal(25, distinct)
      assert.is_true(described > 0 and described < 25)
      assert.is_true(completed > 0 and completed < 25)

      -- default: 10 users, and a second run adds N more
      code, out, err = run("seed.lua", { "15" }, { url = url })
      assert.are.equal(0, code, err)
      assert.are.equal(40, db:count_tasks())
      assert.are.equal(1, db:count_tasks{ user_id = "demo-user-10" })
    end)
    drop_database(name)
    if not ok then error(failure, 0) end
  end)

  it("rejects bad arguments", function()
    for _, args in ipairs{ {}, { "x" }, { "1.5" }, { "-3" }, { "5", "0" }, { "1", "2", "3" } } do
      local code, out, err = run("seed.lua", args)
      assert.are.equal(2, code, table.concat(args, " "))
      assert.are.equal("", out)
      assert.matches("usage: taskshell scripts/seed.lua N %[users%]", err)
    end
  end)
end)

-- ---------------------------------------------------------------------------
-- Every script's exit status: 0 done (or --help), 1 failed, 2 misuse, 130 Ctrl-C

local terminal = require("spec.support.terminal")
local H = require("spec.support.procs")

local SCRIPTS = {
  { name = "quickstart", usage = "usage: taskshell scripts/quickstart.lua\n", extra = { "extra" }, args = {} },
  { name = "export", usage = "usage: taskshell scripts/export.lua [user_id]\n", extra = { "a", "b" }, args = {} },
  { name = "import", usage = "usage: taskshell scripts/import.lua [file]\n", extra = { "a", "b" }, args = {} },
  { name = "seed", usage = "usage: taskshell scripts/seed.lua N [users]\n", extra = { "1", "2", "3" }, args = { "5" } },
  { name = "repair_schema", usage = "usage: taskshell scripts/repair_schema.lua [--dry-run]\n",
    extra = { "--dry-run", "x" }, args = { "--dry-run" }, no_wait = true },
}

describe("every script's exit status", function()
  for _, s in ipairs(SCRIPTS) do
    it(s.name .. ".lua: -h and --help print the usage on stdout, run nothing and exit 0", function()
      for _, flag in ipairs({ "-h", "--help" }) do
        local code, out, err = run(s.name .. ".lua", { flag }, { url = false })
        assert.are.equal(0, code, err)
        assert.are.equal("", err)
        assert.are.equal(s.usage, out:sub(1, #s.usage))
        assert.is_nil(out:find("SC%-00"), out)   -- quickstart checked nothing
      end
    end)

    it(s.name .. ".lua: misuse (an unknown option, too many arguments) exits 2 with the usage", function()
      for _, args in ipairs({ { "--bogus" }, s.extra }) do
        local code, out, err = run(s.name .. ".lua", args, { url = false })
        assert.are.equal(2, code, err)
        assert.are.equal("", out)
        assert.matches("^" .. s.name .. ": [^\n]+\n" .. s.usage:gsub("%p", "%%%0"), err)
      end
    end)

    it(s.name .. ".lua: a failure (no DATABASE_URL anywhere) exits 1 with no traceback", function()
      local dir = helper.tmpdir()   -- no .env here
      local code, out, err = run(s.name .. ".lua", s.args, { url = false, cwd = dir })
      helper.rmdir(dir)
      assert.are.equal(1, code, out .. err)
      assert.matches("DATABASE_URL is not set", out .. err)
      assert.is_nil((out .. err):find("traceback", 1, true))
    end)
  end
end)

-- A database of its own, its table locked by a psql session while a script
-- runs on a terminal; Ctrl-C must cancel the waiting statement and exit 130.
describe("every script on Ctrl-C", function()
  local name, url, session
  setup(function()
    terminal.require_tmux()
    name, url = create_database()
    local db <close> = helper.taskdb.connect(url)
    db:init_db()
    db:create_task{ user_id = "ctrl-c", title = "exported before the lock" }
  end)
  after_each(function()
    if session then session:close() end
    session = nil
  end)
  teardown(function()
    drop_database(name)
    H.cleanup()
  end)

  -- `seconds` of ACCESS EXCLUSIVE on the database's tasks table.
  local function hold_lock(app, seconds)
    os.execute("timeout -k 2 " .. (seconds + 20) .. " " .. H.psql_bin .. " -X -q -d " ..
      q(helper.url_with_param(url, "application_name", app)) .. " -c " ..
      q("BEGIN; LOCK TABLE public.tasks IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(" .. seconds .. "); COMMIT;") ..
      " >/dev/null 2>&1 &")
    H.wait_for("the lock held by " .. app, 10, function()
      return admin("SELECT count(*) FROM pg_stat_activity WHERE application_name = '" .. app ..
        "' AND wait_event = 'PgSleep'") == "1"
    end)
  end

  local function waiting_on_lock()
    return tonumber(admin("SELECT count(*) FROM pg_stat_activity WHERE datname = '" .. name ..
      "' AND wait_event_type = 'Lock'"))
  end

  -- Runs the script on a terminal; the shell then prints its exit status.
  local function start_script(script, args, opts)
    local quoted = {}
    for i, a in ipairs(args) do quoted[i] = q(a) end
    local command = string.format("cd %s && env DATABASE_URL=%s TERM=xterm %s %s %s%s; echo \"exit=$?\"; sleep 60",
      q(helper.project_dir), q(url), q(helper.host), q(helper.project_dir .. "/scripts/" .. script),
      table.concat(quoted, " "), (opts and opts.redirect) or "")
    return terminal.start(command, { width = opts and opts.width })
  end

  for _, s in ipairs(SCRIPTS) do
    if s.no_wait then goto next_script end   -- reads only the catalogue: nothing to wait behind
    it(s.name .. ".lua: Ctrl-C while a statement waits cancels it on the server and exits 130", function()
      local app = helper.ident("ctrlc_" .. s.name)
      local args = s.args
      if s.name == "import" then
        local file = H.tmpfile("import.jsonl")
        helper.write_file(file, jsonl{ { user_id = "ctrl-c-import", title = "one" } })
        args = { file }
      end
      hold_lock(app, 60)
      local ok, err = pcall(function()
        session = start_script(s.name .. ".lua", args, { redirect = s.name == "export" and " >/dev/null" or "" })
        H.wait_for(s.name .. " to wait for the lock", 20, function() return waiting_on_lock() == 1 end)
        session:key("C-c")
        local screen = "\n" .. session:wait_for("\nexit=%d+\n", 15)
        assert.matches("\nexit=130\n", screen)
        -- the terminal echoes ^C where the cursor was; the message follows it
        assert.matches("\n%^?C?" .. s.name .. ": interrupted\nexit=130\n", screen)
        assert.is_nil(screen:find("traceback", 1, true), screen)
        assert.are.equal(0, waiting_on_lock())   -- cancelled on the server, not left waiting
        assert.are.equal("1", admin("SELECT count(*) FROM pg_stat_activity WHERE application_name = '" ..
          app .. "' AND wait_event = 'PgSleep'"), "the lock holder is gone: the test proves nothing")
      end)
      helper.psql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = '" ..
        app .. "'", { url = helper.direct_url() })
      if not ok then error(err, 0) end
    end)
    ::next_script::
  end

  it("seed.lua: the bar fits a 50-column terminal, and Ctrl-C ends its line, exits 130 and writes nothing", function()
    session = start_script("seed.lua", { "3000000", "3" }, { width = 50 })
    session:wait_for("seed %[[#.]+%]", 60)
    os.execute("sleep 0.5")   -- a few redraws
    local rows = session:screen(true)
    local bar_rows = 0
    for row in rows:gmatch("[^\n]+") do
      if row:find("seed", 1, true) or row:find("%d/s") then
        bar_rows = bar_rows + 1
        assert.is_true(#row < 50, "a redraw does not fit 50 columns: " .. row)
      end
    end
    assert.are.equal(1, bar_rows, "redraws wrapped onto more rows:\n" .. rows)
    session:key("C-c")
    local screen = "\n" .. session:wait_for("\nexit=%d+\n", 30)
    assert.matches("\nseed %[[^\n]*\nseed: interrupted\nexit=130\n", screen)
    local db <close> = helper.taskdb.connect(url)
    assert.are.equal(0, db:count_tasks{ user_id = "demo-user-1" })
  end)

  it("export.lua: a bar and a summary on a terminal, the data on stdout", function()
    local out = H.tmpfile("export.jsonl")
    session = start_script("export.lua", { "ctrl-c" }, { redirect = " >" .. q(out) })
    local screen = session:wait_for("\nexit=%d+\n", 30)
    assert.matches("export %[#+%] 100%% 1/1", screen)
    assert.matches("\nexported 1 task in %d+%.%d%d s\nexit=0\n", screen)
    local records = decode_lines(helper.read_file(out))
    assert.are.equal(1, #records)
    assert.are.equal("exported before the lock", records[1].title)
  end)
end)

describe("scripts/quickstart.lua on copies of its demo tasks", function()
  -- Runs quickstart against `db_url`; returns its SC-001 line.
  local function sc001(db_url)
    local code, out, err = run("quickstart.lua", {}, { url = db_url })
    assert.are.equal(0, code, out .. err)
    return out:match("\nPASS SC%-001[^\n]*") or out:match("^PASS SC%-001[^\n]*") or error(out)
  end

  it("names an export and import of every user as later copies, not concurrent first runs", function()
    local name, db_url = create_database()
    local ok, err = pcall(function()
      sc001(db_url)                      -- the first run leaves the demo tasks
      os.execute("sleep 2.2")            -- past the window of a concurrent first run
      local file = os.tmpname()
      local code, out, e = run("export.lua", {}, { url = db_url })
      assert.are.equal(0, code, e)
      helper.write_file(file, out)
      code, _, e = run("import.lua", { file }, { url = db_url })
      os.remove(file)
      assert.are.equal(0, code, e)
      local line = sc001(db_url)
      assert.matches("found 2 tasks left by an earlier run", line)
      assert.matches("2 later copies %(#%d+, #%d+%) made by something other than quickstart, "
        .. "such as an import of exported tasks", line)
      assert.is_nil(line:find("concurrent", 1, true), line)
    end)
    drop_database(name)
    if not ok then error(err, 0) end
  end)

  it("still names copies made at the same moment as duplicates from concurrent first runs", function()
    local name, db_url = create_database()
    local ok, err = pcall(function()
      local db <close> = helper.taskdb.connect(db_url)
      db:init_db()
      local description = "quickstart demo task: left in place to show that data persists"
      db:create_task{ user_id = "quickstart-alice", title = "Buy groceries", description = description }
      local twin = db:create_task{ user_id = "quickstart-alice", title = "Buy groceries", description = description }
      db:create_task{ user_id = "quickstart-bob", title = "Water the plants", description = description }
      local line = sc001(db_url)
      assert.matches("; 1 duplicate from concurrent first runs %(#" .. twin.id .. "%)%)$", line)
      assert.is_nil(line:find("later cop", 1, true), line)
    end)
    drop_database(name)
    if not ok then error(err, 0) end
  end)
end)

-- Configuration: DATABASE_URL from the environment, else from ./.env
-- (dotenv rules, the environment wins), else a config error that says what
-- to do; malformed URLs; and no failure message ever showing a password.
-- Each case runs build/taskshell in a subprocess with a clean environment
-- (env -i PATH HOME) in a temporary directory.
-- Run: build/taskshell /usr/bin/busted spec/config_spec.lua  (through spec/run.sh)

local helper = require("spec.helper")
local taskdb = require("taskdb")
local H = require("spec.support.procs")

local SECRET = "hunter2secret"

-- Passwords that break a URL when written raw ('@' and '/', a quote, '%'
-- with no hex digits, a space, key=value syntax), and every 3-character
-- piece of their letter/digit runs: what a parser would spill into a host
-- name, a port or an error message.
local HOSTILE = {
  "Qx7@Zk9/Wm3Hy5",
  'Rt5"Vb8%zzNm2 Lp4Kq',
  "Jh6'Gf3\\Dz1 Xc9=Ty2",
  "Ab3?Cd4#Ef5&Gh6=Ij7",
}

local function pieces(pw)
  local list = {}
  for run in pw:gmatch("%w+") do
    for i = 1, #run - 2 do list[#list + 1] = run:sub(i, i + 2) end
  end
  return list
end

local function assert_no_piece(text, pw, what)
  for _, piece in ipairs(pieces(pw)) do
    assert.is_nil(text:find(piece, 1, true),
      string.format("%s holds %q, a piece of the password %q: %s", what, piece, pw, text))
  end
end

-- The forms a password takes in a URL, raw (not encoded or quoted), with
-- nothing listening on the port (127.0.0.1:1 refuses at once).
local FORMS = {
  { "a URI's user info", function(pw)
      return "postgresql://someone:" .. pw .. "@127.0.0.1:1/nowhere?sslmode=disable" end },
  { "a URI's query", function(pw)
      return "postgresql://127.0.0.1:1/nowhere?sslmode=disable&user=someone&password=" .. pw end },
  { "key=value form, last", function(pw)
      return "host=127.0.0.1 port=1 user=someone dbname=nowhere sslmode=disable password=" .. pw end },
  { "key=value form, first", function(pw)
      return "password=" .. pw .. " host=127.0.0.1 port=1 user=someone dbname=nowhere sslmode=disable" end },
}

-- Connects with `connect_args` (Lua source) and prints one of
--   OK <dbname>
--   ERR <kind>\n<message>\n<tostring>
local function probe(connect_args)
  return [[
    local taskdb = require("taskdb")
    local ok, db = pcall(taskdb.connect]] .. (connect_args and (", " .. connect_args) or "") .. [[)
    if ok then
      assert(db:ping())
      io.write("OK ", tostring(db:info().dbname))
      db:close()
    elseif type(db) == "table" then
      io.write("ERR ", tostring(db.kind), "\n", tostring(db.message), "\n", tostring(db))
    else
      io.write("ERR string\n", tostring(db), "\n", tostring(db))
    end
  ]]
end

-- A URL nothing listens on (port 1 on loopback: refused at once).
local function refused_url(password)
  return string.format("postgresql://someone%s@127.0.0.1:1/nowhere?sslmode=disable",
    password and (":" .. password) or "")
end

-- Single letters, and a word every message holds: a message is never
-- masked, so it reads exactly as it would with no password at all.
local SHORT = { "s", "p", "o", "e", "password" }

describe("messages are not masked", function()
  local function same_as_without(with_pw, without_pw)
    local ok1, e1 = pcall(taskdb.connect, { url = with_pw, retries = 0 })
    local ok2, e2 = pcall(taskdb.connect, { url = without_pw, retries = 0 })
    assert.is_false(ok1)
    assert.is_false(ok2)
    assert.are.equal("connection", e1.kind, tostring(e1))
    assert.are.equal(e2.message, e1.message)
    assert.are.equal(tostring(e2), tostring(e1))
    assert.is_truthy(e1.message:find("server", 1, true), e1.message)
    assert.is_truthy(e1.message:find("port", 1, true), e1.message)
  end

  for _, pw in ipairs(SHORT) do
    it(string.format("password %q in a URI: the refusal reads as without it", pw), function()
      same_as_without("postgresql://someone:" .. pw .. "@127.0.0.1:1/nowhere?sslmode=disable",
                      "postgresql://someone@127.0.0.1:1/nowhere?sslmode=disable")
    end)

    it(string.format("password %q in key=value form: the refusal reads as without it", pw), function()
      same_as_without("host=127.0.0.1 port=1 user=someone dbname=nowhere sslmode=disable password=" .. pw,
                      "host=127.0.0.1 port=1 user=someone dbname=nowhere sslmode=disable")
    end)

    it(string.format("password %q, wrong, over TCP: the server's words are whole", pw), function()
      local url = helper.tcp_url():gsub("^(%a+://[^:/@]*:)[^@]*@", "%1" .. pw .. "@", 1)
      local ok, e = pcall(taskdb.connect, { url = url, retries = 0 })
      assert.is_false(ok)
      assert.are.equal("connection", e.kind, tostring(e))
      assert.are.equal("28P01", e.sqlstate)
      assert.is_truthy(e.message:find('password authentication failed for user "' ..
        helper.tcp_url():match("^%a+://([^:/@]*)") .. '"', 1, true), e.message)
    end)
  end

  it("a URL error names the unknown option instead of blanking every quoted word", function()
    local ok, e = pcall(taskdb.connect, "host=127.0.0.1 nosuchoption=1 password=s")
    assert.is_false(ok)
    assert.are.equal("config", e.kind)
    assert.is_truthy(e.message:find('unknown option "nosuchoption"', 1, true), e.message)
    assert.is_nil(e.message:find("***", 1, true), e.message)
  end)
end)

describe("a malformed option", function()
  -- Each is refused by reading the URL, before anything is dialled: config,
  -- not connection, and never retried.
  local cases = {
    { "sslmode=bogus", "postgresql://someone@127.0.0.1:1/db?sslmode=bogus", "sslmode" },
    { "port notaport", "postgresql://someone@127.0.0.1:notaport/db", "port" },
    { "port notaport (key=value)", "host=127.0.0.1 port=notaport dbname=db", "port" },
    { "target_session_attrs=bogus", "postgresql://someone@127.0.0.1:1/db?target_session_attrs=bogus",
      "target_session_attrs" },
    { "an empty URL", "", "empty" },
    { "a blank URL", "   ", "empty" },
    { "hostaddr holding a name", "hostaddr=db.example.com dbname=db", "hostaddr" },
    { "more ports than hosts", "postgresql://a:1,b:2/db?port=1,2,3", "port" },
  }
  for _, c in ipairs(cases) do
    it(c[1] .. " is a config error at once, not retried", function()
      local elapsed, ok, e = H.timed(taskdb.connect, { url = c[2], retries = 3, connect_timeout = 5 })
      assert.is_false(ok)
      helper.check_error_object(e)
      assert.are.equal("config", e.kind, tostring(e))
      assert.is_truthy(e.message:find(c[3], 1, true), e.message)
      assert.is_nil(e.message:find("attempts", 1, true), e.message)
      assert.is_true(elapsed < 0.5, "took " .. elapsed .. " s")
    end)
  end

  it("url = \"\" in the options table is a config error too (not the default socket)", function()
    local ok, e = pcall(taskdb.connect, { url = "" })
    assert.is_false(ok)
    assert.are.equal("config", e.kind, tostring(e))
  end)
end)

describe("configuration", function()
  local dir

  before_each(function()
    dir = helper.tmpdir()
  end)

  after_each(function()
    if dir then helper.rmdir(dir) end
  end)

  -- Runs a probe in `dir` (or opts.cwd) with only PATH, HOME and `env` set.
  -- Returns ok (boolean), the result table { kind, message, text }, and the
  -- raw code, stdout, stderr.
  local function run(connect_args, env, opts)
    opts = opts or {}
    local e = { HOME = dir }
    for k, v in pairs(env or {}) do e[k] = v end
    local code, out, err = helper.taskshell(probe(connect_args), e,
      { clean = true, cwd = opts.cwd or dir })
    assert.are.equal(0, code, "the probe script itself failed: " .. out .. err)
    if out:match("^OK ") then
      return true, { dbname = out:match("^OK (.*)$") }, code, out, err
    end
    local kind, message, text = out:match("^ERR ([^\n]*)\n(.-)\n(.*)$")
    assert.is_truthy(kind, "unexpected probe output: " .. out .. err)
    return false, { kind = kind, message = message, text = text }, code, out, err
  end

  local function write_dotenv(text, where)
    helper.write_file((where or dir) .. "/.env", text)
  end

  local function assert_connected(ok, r)
    assert.is_true(ok, r.text and ("expected a connection, got: " .. r.text) or nil)
  end

  describe("DATABASE_URL", function()
    it("is read from the environment", function()
      local ok, r = run(nil, { DATABASE_URL = helper.url() })
      assert_connected(ok, r)
    end)

    it("is read from the environment by the options-table form too", function()
      local ok, r = run("{ connect_timeout = 5 }", { DATABASE_URL = helper.url() })
      assert_connected(ok, r)
    end)

    it("is read from ./.env when the environment has none", function()
      write_dotenv("DATABASE_URL=" .. helper.url() .. "\n")
      local ok, r = run(nil, {})
      assert_connected(ok, r)
    end)
  end)

  describe("the .env file", function()
    local variants = {
      { "with an `export ` prefix", function(u) return "export DATABASE_URL=" .. u .. "\n" end },
      { "with double quotes", function(u) return 'DATABASE_URL="' .. u .. '"\n' end },
      { "with single quotes", function(u) return "DATABASE_URL='" .. u .. "'\n" end },
      { "with `export` and double quotes", function(u) return 'export DATABASE_URL="' .. u .. '"\n' end },
      { "after comment lines and blank lines", function(u)
        return "# the database\n\n   # indented comment\nOTHER=1\n\nDATABASE_URL=" .. u .. "\n" end },
      { "with a trailing comment", function(u) return "DATABASE_URL=" .. u .. " # local cluster\n" end },
      { "with a trailing comment after quotes", function(u)
        return 'DATABASE_URL="' .. u .. '"   # quoted, then a comment\n' end },
      { "with a commented-out earlier value", function(u)
        return "# DATABASE_URL=" .. refused_url(SECRET) .. "\nDATABASE_URL=" .. u .. "\n" end },
      { "with Windows line endings", function(u) return "OTHER=1\r\nDATABASE_URL=" .. u .. "\r\n" end },
      { "without a final newline", function(u) return "DATABASE_URL=" .. u end },
      { "with other variables around it", function(u)
        return "A=1\nDATABASE_URL_OLD=nonsense\nDATABASE_URL=" .. u .. "\nB=2\n" end },
    }
    for _, v in ipairs(variants) do
      it("is understood " .. v[1], function()
        write_dotenv(v[2](helper.url()))
        local ok, r = run(nil, {})
        assert_connected(ok, r)
      end)
    end

    it("is only read from the current directory, not a parent", function()
      write_dotenv("DATABASE_URL=" .. helper.url() .. "\n")
      os.execute("mkdir " .. helper.shell_quote(dir .. "/sub"))
      local ok, r = run(nil, {}, { cwd = dir .. "/sub" })
      assert.is_false(ok)
      assert.are.equal("config", r.kind)
    end)

    it("without a DATABASE_URL line gives a config error", function()
      write_dotenv("# DATABASE_URL=" .. helper.url() .. "\nOTHER=1\n")
      local ok, r = run(nil, {})
      assert.is_false(ok)
      assert.are.equal("config", r.kind)
    end)

    it("has lines of any length: a commented-out URL at the end of a long comment stays a comment", function()
      for _, fill in ipairs{ 8189, 8190, 20000 } do
        write_dotenv("DATABASE_URL=" .. helper.url() .. "\n# " .. string.rep("x", fill) ..
                     "DATABASE_URL=" .. refused_url() .. "\n")
        local ok, r = run("{ retries = 0 }", {})
        assert_connected(ok, r)
      end
    end)

    it("copied unchanged from .env.example: config at once, saying the placeholders were not filled in", function()
      helper.write_file(dir .. "/.env", helper.read_file(helper.project_dir .. "/.env.example"))
      local t0 = H.now()
      local ok, r = run(nil, {})
      local elapsed = H.now() - t0
      assert.is_false(ok)
      assert.are.equal("config", r.kind, r.text)
      assert.is_truthy(r.message:find("placeholder", 1, true), r.message)
      assert.is_truthy(r.message:find("HOST", 1, true), r.message)
      assert.is_nil(r.message:find("attempts", 1, true), r.message)
      assert.is_true(elapsed < 2, "took " .. elapsed .. " s")
    end)

    it("that is a directory: config, saying so (not 'not set')", function()
      os.execute("mkdir " .. helper.shell_quote(dir .. "/.env"))
      local ok, r = run(nil, {})
      assert.is_false(ok)
      assert.are.equal("config", r.kind, r.text)
      assert.is_truthy(r.message:find("directory", 1, true), r.message)
      assert.is_nil(r.message:find("not set", 1, true), r.message)
    end)

    it("that is a FIFO with no writer: config at once, never a hang", function()
      assert.is_true(os.execute("mkfifo " .. helper.shell_quote(dir .. "/.env")) == true)
      local out, errf = dir .. "/out", dir .. "/err"
      local t0 = H.now()
      -- `timeout` so that a blocking open fails this test instead of hanging the suite
      local _, _, code = os.execute(string.format(
        "cd %s && timeout -k 2 10 env -i PATH=%s HOME=%s %s -e %s >%s 2>%s",
        helper.shell_quote(dir), helper.shell_quote(os.getenv("PATH") or "/usr/bin:/bin"),
        helper.shell_quote(dir), helper.shell_quote(helper.host),
        helper.shell_quote('require("taskdb").connect{ connect_timeout = 2 }'),
        helper.shell_quote(out), helper.shell_quote(errf)))
      local elapsed = H.now() - t0
      local stderr = helper.read_file(errf)
      assert.are_not.equal(124, code, "connect hung on the FIFO")
      assert.are_not.equal(0, code)
      assert.is_true(elapsed < 2, "took " .. elapsed .. " s")
      assert.is_truthy(stderr:find("config", 1, true), stderr)
      assert.is_truthy(stderr:find("not a regular file", 1, true), stderr)
    end)

    it("with an unterminated quote gives a config error that shows no password", function()
      write_dotenv('DATABASE_URL="' .. refused_url(SECRET) .. "\n")
      local ok, r = run(nil, {})
      assert.is_false(ok)
      assert.are.equal("config", r.kind)
      assert.is_falsy(r.text:find(SECRET, 1, true), r.text)
    end)
  end)

  describe("the environment wins over .env", function()
    it("a working URL in the environment is used though .env names a dead server", function()
      write_dotenv("DATABASE_URL=" .. refused_url() .. "\n")
      local ok, r = run("{ retries = 0 }", { DATABASE_URL = helper.url() })
      assert_connected(ok, r)
    end)

    it("a dead URL in the environment is used though .env names a working server", function()
      write_dotenv("DATABASE_URL=" .. helper.url() .. "\n")
      local ok, r = run("{ retries = 0 }", { DATABASE_URL = refused_url() })
      assert.is_false(ok)
      assert.are.equal("connection", r.kind)
    end)

    it("a URL passed to connect wins over both", function()
      write_dotenv("DATABASE_URL=" .. refused_url() .. "\n")
      local ok, r = run(string.format("%q", helper.url()), { DATABASE_URL = refused_url() })
      assert_connected(ok, r)
    end)
  end)

  describe("with neither the environment nor .env", function()
    it("raises kind config with a message that says what to do", function()
      local ok, r = run(nil, {})
      assert.is_false(ok)
      assert.are.equal("config", r.kind)
      assert.is_truthy(r.message:find("DATABASE_URL", 1, true), r.message)
      assert.is_truthy(r.message:find(".env", 1, true), r.message)
      assert.is_falsy(r.text:find("\n", 1, true), r.text)
    end)

    it("an uncaught config error exits non-zero and explains itself on stderr", function()
      local code, out, err = helper.taskshell('require("taskdb").connect()', { HOME = dir },
        { clean = true, cwd = dir })
      assert.are_not.equal(0, code)
      assert.are.equal("", out)
      assert.is_truthy(err:find("config", 1, true), err)
      assert.is_truthy(err:find("DATABASE_URL", 1, true), err)
    end)
  end)

  describe("a malformed URL", function()
    local malformed = {
      { "an unterminated IPv6 host", "postgresql://someone:" .. SECRET .. "@[::1/db" },
      { "an unknown URI parameter", "postgresql://someone:" .. SECRET .. "@127.0.0.1/db?nosuchoption=1" },
      { "a key=value string without '='", "not a url at all" },
      { "an unterminated quote in key=value form", "host=127.0.0.1 password='" .. SECRET },
      { "an unknown keyword in key=value form", "host=127.0.0.1 nosuchkeyword=1 password=" .. SECRET },
    }
    for _, case in ipairs(malformed) do
      it("raises kind config for " .. case[1] .. " given to connect, showing no password", function()
        local ok, e = pcall(taskdb.connect, case[2])
        assert.is_false(ok)
        helper.check_error_object(e)
        assert.are.equal("config", e.kind, tostring(e))
        assert.is_falsy(tostring(e):find(SECRET, 1, true), tostring(e))
        assert.is_falsy(e.message:find(SECRET, 1, true), e.message)
      end)

      it("raises kind config for " .. case[1] .. " in DATABASE_URL", function()
        local ok, r = run(nil, { DATABASE_URL = case[2] })
        assert.is_false(ok)
        assert.are.equal("config", r.kind, r.text)
        assert.is_falsy(r.text:find(SECRET, 1, true), r.text)
      end)
    end

    it("raises kind config for a malformed URL in .env", function()
      write_dotenv("DATABASE_URL=postgresql://someone:" .. SECRET .. "@[::1/db\n")
      local ok, r = run(nil, {})
      assert.is_false(ok)
      assert.are.equal("config", r.kind, r.text)
      assert.is_falsy(r.text:find(SECRET, 1, true), r.text)
    end)
  end)

  describe("no failure shows a password", function()
    local function wrong_password_url()
      local url = helper.tcp_url()
      local user_part = url:match("^(%a+://[^:/@]*:)[^@]*@")
      assert.is_truthy(user_part, "TASKDB_TEST_TCP_URL has no password: " .. url)
      return (url:gsub("^%a+://[^:/@]*:[^@]*@", user_part .. "wrong-" .. SECRET .. "@", 1))
    end

    it("a wrong password: connection error, neither the given nor the real password shown", function()
      local ok, r, _, out, err = run(nil, { DATABASE_URL = wrong_password_url() })
      assert.is_false(ok)
      assert.are.equal("connection", r.kind, r.text)
      for _, s in ipairs({ r.text, out, err }) do
        assert.is_falsy(s:find(SECRET, 1, true), s)
        assert.is_falsy(s:find(helper.password(), 1, true), s)
      end
    end)

    it("a wrong password given to connect in-process: not in the message or tostring", function()
      local ok, e = pcall(taskdb.connect, { url = wrong_password_url(), connect_timeout = 5 })
      assert.is_false(ok)
      helper.check_error_object(e)
      assert.are.equal("connection", e.kind)
      assert.is_falsy(tostring(e):find(SECRET, 1, true), tostring(e))
    end)

    it("an unreachable host with a password in the URL, after retries", function()
      local ok, r, _, out, err = run(nil, { DATABASE_URL = refused_url(SECRET) })
      assert.is_false(ok)
      assert.are.equal("connection", r.kind, r.text)
      assert.is_falsy(out:find(SECRET, 1, true), out)
      assert.is_falsy(err:find(SECRET, 1, true), err)
    end)

    it("an unreachable host with a percent-encoded password: neither form shown", function()
      local ok, r = run("{ retries = 0 }",
        { DATABASE_URL = refused_url("hunter2%73ecret%21") })
      assert.is_false(ok)
      assert.are.equal("connection", r.kind, r.text)
      assert.is_falsy(r.text:find(SECRET, 1, true), r.text)
      assert.is_falsy(r.text:find("hunter2%73ecret", 1, true), r.text)
    end)

    it("an unreachable host with a password in key=value form", function()
      local ok, r = run("{ retries = 0 }", {
        DATABASE_URL = "host=127.0.0.1 port=1 user=someone dbname=nowhere sslmode=disable password=" .. SECRET })
      assert.is_false(ok)
      assert.are.equal("connection", r.kind, r.text)
      assert.is_falsy(r.text:find(SECRET, 1, true), r.text)
    end)

    it("an unreachable host with the password in .env", function()
      write_dotenv("DATABASE_URL='" .. refused_url(SECRET) .. "'\n")
      local ok, r = run("{ retries = 0 }", {})
      assert.is_false(ok)
      assert.are.equal("connection", r.kind, r.text)
      assert.is_falsy(r.text:find(SECRET, 1, true), r.text)
    end)

    for _, pw in ipairs(HOSTILE) do
      for _, form in ipairs(FORMS) do
        local url = form[2](pw)
        it(string.format("password %q raw in %s: no piece of it in message, tostring or stderr", pw, form[1]), function()
          local ok, e = pcall(taskdb.connect, { url = url, retries = 0 })
          assert.is_false(ok)
          helper.check_error_object(e)
          assert.is_truthy(e.kind == "config" or e.kind == "connection", tostring(e))
          assert_no_piece(e.message, pw, "err.message")
          assert_no_piece(tostring(e), pw, "tostring(err)")
          for k, v in pairs(e) do assert_no_piece(tostring(v), pw, "err." .. tostring(k)) end
          local code, out, err = helper.taskshell('require("taskdb").connect{ retries = 0 }',
            { HOME = dir, DATABASE_URL = url }, { clean = true, cwd = dir })
          assert.are_not.equal(0, code)
          assert.is_truthy(err:find(e.kind, 1, true), err)
          assert_no_piece(err, pw, "taskshell's stderr")
          assert_no_piece(out, pw, "taskshell's stdout")
        end)
      end
    end

    it("the password that leaked as a host name and a port is refused before connecting", function()
      for _, url in ipairs{ "postgresql://app:Qx7@Zk9/Wm3Hy5@127.0.0.1/db",
                            "postgresql://Qx7@Zk9/Wm3Hy5@127.0.0.1:5432/db" } do
        local elapsed, ok, e = H.timed(taskdb.connect, { url = url, retries = 3 })
        assert.is_false(ok)
        assert.are.equal("config", e.kind, tostring(e))
        assert.is_true(elapsed < 0.5, "took " .. elapsed .. " s")
        assert.is_truthy(e.message:find("%40", 1, true), e.message)
        assert_no_piece(tostring(e), "Qx7@Zk9/Wm3Hy5", "tostring(err)")
      end
    end)

    it("an uncaught connection error: stderr shows no password", function()
      local code, out, err = helper.taskshell(
        'require("taskdb").connect{ retries = 0 }',
        { HOME = dir, DATABASE_URL = refused_url(SECRET) }, { clean = true, cwd = dir })
      assert.are_not.equal(0, code)
      assert.is_truthy(err:find("connection", 1, true), err)
      assert.is_falsy(err:find(SECRET, 1, true), err)
      assert.is_falsy(out:find(SECRET, 1, true), out)
    end)
  end)
end)

teardown(H.cleanup)

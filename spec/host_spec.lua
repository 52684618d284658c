-- The taskshell host, run as a subprocess the way a user runs it.
-- Run from the project root: build/taskshell /usr/bin/busted spec/host_spec.lua
-- TASKDB_BUILD names the build directory (default "build").
-- Tests tagged #binding need the real taskdb binding linked in.

local function shell_quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

local function read_all(path)
  local file = assert(io.open(path, "rb"))
  local text = file:read("a")
  file:close()
  return text
end

local function write_file(path, text)
  local file = assert(io.open(path, "wb"))
  file:write(text)
  file:close()
end

local function command_output(cmd)
  local pipe = assert(io.popen(cmd))
  local out = pipe:read("a")
  pipe:close()
  return (out:gsub("\n$", ""))
end

local project = command_output("pwd")
local build = os.getenv("TASKDB_BUILD") or "build"
if build:sub(1, 1) ~= "/" then build = project .. "/" .. build end
local HOST = build .. "/taskshell"

-- Runs `taskshell <args>` (args already shell-quoted) and returns
-- { out =, err =, code = }.  opts: stdin (text; else /dev/null so the host
-- never waits on a terminal), cwd, env (a "VAR=value ..." prefix for env).
local function run(args, opts)
  opts = opts or {}
  local out, err, input = os.tmpname(), os.tmpname(), "/dev/null"
  if opts.stdin then
    input = os.tmpname()
    write_file(input, opts.stdin)
  end
  local cmd = string.format("%senv %s %s %s < %s > %s 2> %s",
    opts.cwd and ("cd " .. shell_quote(opts.cwd) .. " && ") or "",
    opts.env or "", shell_quote(HOST), args, input, out, err)
  local _, _, code = os.execute(cmd)
  local result = { out = read_all(out), err = read_all(err), code = code }
  os.remove(out)
  os.remove(err)
  if opts.stdin then os.remove(input) end
  return result
end

local function q(s) return shell_quote(s) end

local scratch  -- a private directory for scripts and modules

setup(function()
  assert(io.open(HOST, "rb"), "no host binary at " .. HOST .. " (run make, or set TASKDB_BUILD)"):close()
  scratch = command_output("mktemp -d")
end)

teardown(function()
  if scratch then os.execute("rm -rf " .. shell_quote(scratch)) end
end)

describe("taskshell options", function()
  it("-v names taskshell, taskdb and Lua, and exits 0", function()
    local r = run("-v")
    assert.are.equal(0, r.code)
    assert.matches("^taskshell %d+%.%d+%.%d+ %(taskdb [^)]+%) %- Lua 5%.4%.%d+", r.out)
  end)

  it("--version is -v's long form", function()
    local long, short = run("--version"), run("-v")
    assert.are.equal(0, long.code)
    assert.are.equal(short.out, long.out)
    assert.matches("^taskshell %d+%.%d+%.%d+ %(taskdb ", long.out)
  end)

  it("exits 130 when Ctrl-C (SIGINT) stops a script, after saying so", function()
    local script = scratch .. "/spin.lua"
    local ready = scratch .. "/spin.ready"
    write_file(script, 'io.open(arg[1], "w"):close()\nwhile true do end\n')
    local out = command_output(string.format(
      "%s %s %s 2>%s & pid=$!; i=0; while [ ! -e %s ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done; " ..
      "kill -INT $pid; wait $pid; echo $?",
      shell_quote(HOST), shell_quote(script), shell_quote(ready), shell_quote(scratch .. "/spin.err"),
      shell_quote(ready)))
    assert.are.equal("130", out)
    assert.matches("interrupted!", read_all(scratch .. "/spin.err"))
  end)

  it("-e runs chunks in order", function()
    local r = run("-e " .. q("x = 40") .. " -e " .. q("print(x + 2)"))
    assert.are.equal(0, r.code)
    assert.are.equal("42\n", r.out)
  end)

  it("-l mod and -l g=mod require into globals", function()
    write_file(scratch .. "/greeting.lua", 'return { text = "hello" }\n')
    local r = run("-l greeting -l fmt=taskshell.format -e " ..
      q("print(greeting.text, type(fmt.task_line))"), { cwd = scratch })
    assert.are.equal(0, r.code, r.err)
    assert.are.equal("hello\tfunction\n", r.out)
  end)

  it("passes arguments as `arg` (script at 0, options negative) and `...`", function()
    local script = scratch .. "/args.lua"
    write_file(script, 'print(select("#", ...), ...)\nprint(arg[0], arg[1], arg[2], arg[-1], arg[-2], arg[-3] ~= nil)\n')
    local r = run("-e " .. q("") .. " " .. q(script) .. " one " .. q("two words"))
    assert.are.equal(0, r.code, r.err)
    assert.are.equal("2\tone\ttwo words\n" .. script .. "\tone\ttwo words\t\t-e\ttrue\n", r.out)
  end)

  it("- runs standard input as the script, with arguments", function()
    local r = run("- x y", { stdin = 'print("from stdin", ...)\n' })
    assert.are.equal(0, r.code, r.err)
    assert.are.equal("from stdin\tx\ty\n", r.out)
  end)

  it("runs standard input as a script when it is not a terminal", function()
    local r = run("", { stdin = "print(6 * 7)\n" })
    assert.are.equal(0, r.code, r.err)
    assert.are.equal("42\n", r.out)
  end)

  it("-- ends the options", function()
    local script = scratch .. "/dash.lua"
    write_file(script, "print(...)\n")
    local r = run("-- " .. q(script) .. " -v")
    assert.are.equal(0, r.code, r.err)
    assert.are.equal("-v\n", r.out)
  end)

  it("-h and --help list every option and point to the cookbook", function()
    for _, flag in ipairs({ "-h", "--help" }) do
      local r = run(flag)
      assert.are.equal(0, r.code)
      assert.matches("^usage: taskshell %[options%] %[script %[args%]%]", r.out)
      for _, option in ipairs({ "-e", "-i", "-l", "-v", "-E", "-W", "-h", "--help", "--", "-" }) do
        local pattern = option:gsub("%-", "%%-") .. "[%s,]"
        local listed = r.out:find("\n%s+" .. pattern) or r.out:find(", " .. pattern)
        assert.truthy(listed, flag .. " does not list " .. option)
      end
      assert.matches("\nCookbook: [^\n]+\n", r.out)
    end
  end)

  it("rejects an unknown option or a missing argument with the usage", function()
    local r = run("-x")
    assert.are_not.equal(0, r.code)
    assert.matches("unrecognized option '%-x'", r.err)
    assert.matches("usage: taskshell", r.err)
    r = run("-e")
    assert.are_not.equal(0, r.code)
    assert.matches("'%-e' needs argument", r.err)
  end)

  it("-W turns warnings on", function()
    local r = run("-W -e " .. q('warn("careful")'))
    assert.are.equal(0, r.code)
    assert.matches("Lua warning: careful", r.err)
  end)

  it("keeps warnings off until @on, joins a warning's pieces, and @off silences them again", function()
    local r = run("-e " .. q('warn("hidden"); warn("@on"); warn("one ", "warning"); ' ..
                            'warn("@unknown"); warn("@off"); warn("hidden too")'))
    assert.are.equal(0, r.code)
    assert.are.equal("Lua warning: one warning\n", r.err)
  end)

  it("runs scripts that churn through many small objects (the host's allocator)", function()
    local r = run("-e " .. q([[
      local keep = {}
      for round = 1, 20 do
        local t = {}
        for i = 1, 20000 do t[i] = { id = i, s = ("x"):rep(i % 300), n = tostring(i) } end
        keep[round % 3] = t
        for i = 1, 20000, 997 do assert(t[i].id == i and #t[i].s == i % 300) end
      end
      collectgarbage()
      print(#keep[1], #keep[2], #keep[0])]]))
    assert.are.equal(0, r.code, r.err)
    assert.are.equal("20000\t20000\t20000\n", r.out)
  end)

  it("runs LUA_INIT first, and -E ignores it", function()
    local r = run("-e " .. q("print(x)"), { env = "-u LUA_INIT_5_4 LUA_INIT='x = 42'" })
    assert.are.equal("42\n", r.out)
    r = run("-e " .. q("print(x)"), { env = "LUA_INIT_5_4='x = 54' LUA_INIT='x = 42'" })
    assert.are.equal("54\n", r.out)
    r = run("-E -e " .. q("print(x)"), { env = "-u LUA_INIT_5_4 LUA_INIT='x = 42'" })
    assert.are.equal("nil\n", r.out)
  end)

  it("exits with os.exit's status", function()
    assert.are.equal(3, run("-e " .. q("os.exit(3)")).code)
  end)
end)

describe("taskshell errors", function()
  it("a string error goes to stderr with a traceback, exit non-zero", function()
    local script = scratch .. "/fail.lua"
    write_file(script, 'local function inner() error("plain failure") end\ninner()\n')
    local r = run(q(script))
    assert.are_not.equal(0, r.code)
    assert.are.equal("", r.out)
    assert.matches("plain failure", r.err)
    assert.matches("stack traceback:", r.err)
    assert.matches("in local 'inner'", r.err)
  end)

  it("a table error shows its __tostring and a traceback", function()
    local script = scratch .. "/fail_table.lua"
    write_file(script, 'error(setmetatable({kind="invalid", message="boom"}, ' ..
      '{__tostring=function(e) return "taskdb invalid: "..e.message end}))\n')
    local r = run(q(script))
    assert.are_not.equal(0, r.code)
    assert.matches("taskdb invalid: boom", r.err)
    assert.matches("stack traceback:", r.err)
  end)

  it("an error value without __tostring is named by its type", function()
    local r = run("-e " .. q("error({})"))
    assert.are_not.equal(0, r.code)
    assert.matches("%(error object is a table value%)", r.err)
    assert.matches("stack traceback:", r.err)
  end)

  it("a syntax error or a missing script fails", function()
    local script = scratch .. "/syntax.lua"
    write_file(script, "x = = 1\n")
    local r = run(q(script))
    assert.are_not.equal(0, r.code)
    assert.matches("unexpected symbol", r.err)
    r = run(q(scratch .. "/missing.lua"))
    assert.are_not.equal(0, r.code)
    assert.matches("cannot open", r.err)
  end)

  it("an error in -e or -l stops before the script", function()
    local script = scratch .. "/never.lua"
    write_file(script, 'print("ran")\n')
    local r = run("-l no_such_module_here " .. q(script))
    assert.are_not.equal(0, r.code)
    assert.matches("module 'no_such_module_here' not found", r.err)
    assert.are.equal("", r.out)
  end)
end)

describe("taskshell modules", function()
  it("finds the project's lua/ modules from any working directory", function()
    local r = run("-e " .. q('print(require("taskshell.format").task_line{ id = 1, user_id = "u", title = "t", completed = true })'),
      { cwd = "/" })
    assert.are.equal(0, r.code, r.err)
    assert.are.equal("#1 [x] t (u)\n", r.out)
  end)

  it("TASKSHELL_LUA_DIR overrides the module directory; -E ignores it", function()
    os.execute("mkdir -p " .. shell_quote(scratch .. "/alt/taskshell"))
    write_file(scratch .. "/alt/taskshell/format.lua", 'return "alternative"\n')
    local probe = "-e " .. q('print(type(require("taskshell.format")))')
    local env = "TASKSHELL_LUA_DIR=" .. shell_quote(scratch .. "/alt")
    assert.are.equal("string\n", run(probe, { env = env }).out)
    assert.are.equal("table\n", run("-E " .. probe, { env = env }).out)
  end)

  it("taskshell.host answers width and Ctrl-C questions: no terminal, no width; no Ctrl-C yet", function()
    local r = run("-e " .. q('local h = require("taskshell.host") ' ..
      'print(h.columns(io.stderr), h.columns(1), h.isatty(io.stdout), h.interrupted())'))
    assert.are.equal(0, r.code, r.err)
    assert.are.equal("nil\tnil\tfalse\tfalse\n", r.out)
  end)

  it("progress prints nothing when stderr is not a terminal", function()
    local r = run("-e " .. q('local p = require("taskshell.progress").new{ total = 10, label = "x" } ' ..
      'for _ = 1, 10 do p:add() end p:finish() print(p.enabled)'), { env = "TERM=xterm" })
    assert.are.equal(0, r.code, r.err)
    assert.are.equal("false\n", r.out)
    assert.are.equal("", r.err)
  end)

  it("-i runs the script, then reads statements, printing values and tasks", function()
    local script = scratch .. "/before.lua"
    write_file(script, 'greeting = "hi"\n')
    local input = 'greeting\n1+1\n= "x" .. "y"\nfor i = 1, 2 do\nprint(i)\nend\n' ..
      '{ id = 5, user_id = "u", title = "Walk", completed = false, created_at = "2026-11-24T10:15:30Z" }\n'
    local r = run("-i " .. q(script), { stdin = input, env = "-u DATABASE_URL", cwd = scratch })
    assert.are.equal(0, r.code, r.err)
    assert.matches("^taskshell %d", r.out)
    assert.matches("\n> hi\n", r.out)
    assert.matches("\n> 2\n", r.out)
    assert.matches("\n> xy\n", r.out)
    assert.matches(">> >> 1\n2\n", r.out)
    assert.matches("id%s+user_id%s+title%s+completed%s+created_at\n", r.out)
    assert.matches("\n%s*5%s+u%s+Walk%s+%[ %]", r.out)
  end)

  it("requires the taskdb binding #binding", function()
    local r = run("-e " .. q('local t = require("taskdb") print(type(t.connect), t.version)'))
    assert.are.equal(0, r.code, r.err)
    local version = run("-v").out:match("%(taskdb ([^)]+)%)")
    assert.are.equal("function\t" .. version .. "\n", r.out)
  end)
end)

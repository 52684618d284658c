-- Installing: `make install` into a staging DESTDIR, then each installed
-- piece at work (taskshell, the module under a stock lua5.4, a C program
-- built with pkg-config), `make uninstall`, `luarocks make` into a local
-- tree, and a plain `busted` under the project's .busted.
--
-- Everything is built afresh in a private build directory with the
-- Makefile's defaults (not the sanitizer build `make asan` tests), as a
-- user's `make install` would.  Building does not depend on the path to
-- the server, so these run once (#direct_only), not again through the pooler.

local helper = require("spec.helper")

local q = helper.shell_quote
local project = helper.project_dir
local VERSION = helper.taskdb.version

-- Runs a shell command with the make variables of an enclosing `make test`
-- removed (its jobserver is not ours); returns ok, stdout + stderr.
local function sh(cmd)
  local pipe = assert(io.popen("env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS sh -c " .. q(cmd) .. " 2>&1"))
  local out = pipe:read("a")
  local ok = pipe:close()
  return ok == true, out
end

local function must(cmd)
  local ok, out = sh(cmd)
  assert(ok, "failed: " .. cmd .. "\n" .. out)
  return out
end

-- Every regular file under `root`, as paths relative to it, sorted.
local function files_under(root)
  local list = {}
  for path in must("cd " .. q(root) .. " && find . -type f | sort"):gmatch("[^\n]+") do
    list[#list + 1] = path:sub(3)
  end
  return list
end

local function lua_modules()
  local names = {}
  for path in must("cd " .. q(project) .. " && ls lua/taskshell/*.lua"):gmatch("[^\n]+") do
    names[#names + 1] = path:match("([^/]+)$")
  end
  return names
end

-- The ```c block of the README: the C example users copy.
local function readme_c_example()
  local readme = helper.read_file(project .. "/README.md")
  return assert(readme:match("```c\n(.-)```"), "README.md has no ```c block")
end

local dir, build, stage, prefix

describe("installing #direct_only", function()

setup(function()
  dir = helper.tmpdir()
  build = dir .. "/build"
  stage = dir .. "/stage"
  prefix = stage .. "/usr/local"
  must(string.format("cd %s && make -j2 --no-print-directory BUILD=%s DESTDIR=%s install",
    q(project), q(build), q(stage)))
end)

teardown(function()
  if dir then helper.rmdir(dir) end
end)

describe("make install into a staging DESTDIR", function()
  it("installs exactly the host, the module, the Lua modules, the core, its headers, taskdb.pc and the man page", function()
    local want = {
      "usr/local/bin/taskshell",
      "usr/local/include/taskdb/taskdb.h",
      "usr/local/lib/libtaskdb.a",
      "usr/local/lib/lua/5.4/taskdb.so",
      "usr/local/lib/pkgconfig/taskdb.pc",
      "usr/local/share/man/man1/taskshell.1",
    }
    -- every header of the core but those the Makefile names internal
    local internal = {}
    for name in helper.read_file(project .. "/Makefile"):match("\nINTERNAL_HEADERS%s*=%s*([^\n]*)"):gmatch("%S+") do
      internal[name] = true
    end
    for path in must("cd " .. q(project) .. " && ls src/core/*.h"):gmatch("[^\n]+") do
      local h = path:match("([%w_]+)%.h$")
      if not internal[h] then want[#want + 1] = "usr/local/include/taskdb/taskdb_" .. h .. ".h" end
    end
    assert.is_true(#want > 12)
    for _, m in ipairs(lua_modules()) do want[#want + 1] = "usr/local/share/lua/5.4/taskshell/" .. m end
    table.sort(want)
    assert.are.same(want, files_under(stage))
  end)

  it("gives the installed taskshell its modules from the installed tree, not the source tree", function()
    local out = must(q(prefix .. "/bin/taskshell") .. " --version")
    assert.are.equal("taskshell " .. VERSION .. " (taskdb " .. VERSION .. ")", out:match("^[^-]+"):gsub("%s+$", ""))
    out = must("cd / && " .. q(prefix .. "/bin/taskshell") ..
      " -e 'print(package.searchpath(\"taskshell.repl\", package.path))'")
    assert.are.equal(prefix .. "/share/lua/5.4/taskshell/repl.lua\n", out)
    -- the REPL's helpers load: no "REPL helpers unavailable"
    out = must("cd / && env -u DATABASE_URL " .. q(prefix .. "/bin/taskshell") .. " -i </dev/null")
    assert.is_nil(out:find("unavailable", 1, true), out)
    assert.matches("\ndb: not available", out)
  end)

  it("works with the database, from anywhere", function()
    local out = must("cd / && env DATABASE_URL=" .. q(helper.url()) .. " " .. q(prefix .. "/bin/taskshell") ..
      " -e 'local db = require(\"taskdb\").connect(); db:init_db(); print(db:ping(), db:count_tasks{ user_id = \"nobody-here\" })'")
    assert.are.equal("true\t0\n", out)
  end)

  it("lets a stock lua5.4 require the installed module and helpers", function()
    local u = helper.uid("installed-lua")
    local out = must(string.format(
      "cd / && env LUA_CPATH=%s LUA_PATH=%s DATABASE_URL=%s lua5.4 -e %s",
      q(prefix .. "/lib/lua/5.4/?.so"), q(prefix .. "/share/lua/5.4/?.lua"), q(helper.url()),
      q(string.format([[
        local taskdb = require("taskdb")
        local db <close> = taskdb.connect()
        local t = db:create_task{ user_id = %q, title = "from stock lua" }
        print(taskdb._VERSION, package.searchpath("taskdb", package.cpath),
              require("taskshell.format").task_line(db:get_task(t.id)))]], u))))
    assert.are.equal(string.format("taskdb %s\t%s\t#", VERSION, prefix .. "/lib/lua/5.4/taskdb.so"),
      out:sub(1, #("taskdb " .. VERSION .. "\t" .. prefix .. "/lib/lua/5.4/taskdb.so\t#")))
    assert.matches("%[ %] from stock lua %(" .. u:gsub("%p", "%%%0") .. "%)\n$", out)
  end)

  it("builds the README's C example with pkg-config from the staged tree, and runs it", function()
    local pc = "PKG_CONFIG_PATH=" .. q(prefix .. "/lib/pkgconfig") .. " pkg-config"
    assert.are.equal(VERSION .. "\n", must(pc .. " --modversion taskdb"))
    helper.write_file(dir .. "/app.c", readme_c_example())
    must(string.format("cc -std=c11 -Wall -Wextra -Werror %s -o %s $(%s --cflags --libs taskdb)",
      q(dir .. "/app.c"), q(dir .. "/app"), pc))
    local out = must("env DATABASE_URL=" .. q(helper.url()) .. " " .. q(dir .. "/app"))
    assert.are.equal("taskdb " .. VERSION .. ": ready\n", out)
    -- libtaskdb.a is the core alone: no Lua in it
    assert.is_nil(must("nm " .. q(prefix .. "/lib/libtaskdb.a")):find("lua_", 1, true))
  end)

  it("installs headers with namespaced names, each compiling on its own", function()
    local cflags = must("PKG_CONFIG_PATH=" .. q(prefix .. "/lib/pkgconfig") .. " pkg-config --cflags taskdb")
      :gsub("\n", "")
    for _, name in ipairs(files_under(prefix .. "/include/taskdb")) do
      assert.matches("^taskdb[%w_]*%.h$", name)
      local text = helper.read_file(prefix .. "/include/taskdb/" .. name)
      for included in text:gmatch('#include "([^"]+)"') do
        assert.is_truthy(included == "libpq-fe.h" or included:match("^taskdb_[%w_]+%.h$"),
          name .. " includes " .. included)
      end
      must(string.format("printf '#include <taskdb/%s>\\n' | cc -std=c11 -Wall -Wextra -Werror -fsyntax-only %s -x c -",
        name, cflags))
    end
  end)

  it("installs a man page that renders cleanly and documents every option of --help", function()
    local page = must("LC_ALL=C MANWIDTH=80 man --warnings -P cat -l " ..
      q(prefix .. "/share/man/man1/taskshell.1"))
    assert.matches("taskshell " .. VERSION:gsub("%.", "%%."), page)
    local help = must(q(prefix .. "/bin/taskshell") .. " --help")
    for option in help:gmatch("\n%s+(%-%-?%a*)") do
      assert.truthy(page:find("\n%s+" .. option:gsub("%-", "%%-") .. "[%s,]"), "man page lacks " .. option)
    end
  end)

  it("honours PREFIX: the tree moves as a whole", function()
    local stage2 = dir .. "/stage2"
    must(string.format("cd %s && make --no-print-directory BUILD=%s PREFIX=/opt/taskdb DESTDIR=%s install",
      q(project), q(build), q(stage2)))
    local out = must("cd / && " .. q(stage2 .. "/opt/taskdb/bin/taskshell") ..
      " -e 'print(package.searchpath(\"taskshell.format\", package.path))'")
    assert.are.equal(stage2 .. "/opt/taskdb/share/lua/5.4/taskshell/format.lua\n", out)
    assert.matches("prefix=%${pcfiledir}/%.%./%.%.\n", helper.read_file(stage2 .. "/opt/taskdb/lib/pkgconfig/taskdb.pc"))
  end)

  it("make uninstall removes what install put there, and nothing else", function()
    helper.write_file(prefix .. "/share/lua/5.4/someone_elses.lua", "return 1\n")
    must("mkdir -p " .. q(prefix .. "/include/other") .. " && touch " .. q(prefix .. "/include/other/other.h"))
    must(string.format("cd %s && make --no-print-directory BUILD=%s DESTDIR=%s uninstall",
      q(project), q(build), q(stage)))
    assert.are.same({ "usr/local/include/other/other.h", "usr/local/share/lua/5.4/someone_elses.lua" },
      files_under(stage))
    assert.is_false(sh("test -e " .. q(prefix .. "/include/taskdb")))
    assert.is_false(sh("test -e " .. q(prefix .. "/share/lua/5.4/taskshell")))
  end)
end)

describe("luarocks make", function()
  local tree, home
  setup(function()
    tree = dir .. "/rocks"
    home = dir .. "/home"   -- luarocks' cache and config, not the tester's
    must("mkdir -p " .. q(home))
  end)

  local function luarocks(args)
    return "env HOME=" .. q(home) .. " luarocks --lua-version 5.4 --tree " .. q(tree) .. " " .. args
  end

  it("builds and installs the module against libpq into a local tree", function()
    local out = must("cd " .. q(project) .. " && " .. luarocks("make PQ_INCDIR=\"$(pg_config --includedir)\""))
    assert.matches("taskdb " .. VERSION:gsub("%.", "%%.") .. "%-1 is now installed", out)
    assert.matches("taskdb%s+" .. VERSION:gsub("%.", "%%.") .. "%-1", must(luarocks("list")))
  end)

  it("lets a stock lua5.4 require it from that tree and reach the database", function()
    local out = must("eval \"$(" .. luarocks("path") .. ")\" && cd / && env DATABASE_URL=" .. q(helper.url()) ..
      " lua5.4 -e 'local taskdb = require(\"taskdb\"); print(taskdb.version, taskdb.connect():ping(), " ..
      "package.searchpath(\"taskdb\", package.cpath), type(require(\"taskshell.progress\").new))'")
    assert.are.equal(VERSION .. "\ttrue\t" .. tree .. "/lib/lua/5.4/taskdb.so\tfunction\n", out)
  end)

  it("is the same release as the module", function()
    local rockspec = helper.read_file(project .. "/taskdb-" .. VERSION .. "-1.rockspec")
    assert.matches('\nversion = "' .. VERSION:gsub("%.", "%%.") .. '%-1"\n', rockspec)
    assert.matches('license = "MIT"', rockspec)
    assert.matches('header = "libpq%-fe%.h"', rockspec)
    assert.matches('library = "pq"', rockspec)
  end)

  it("removes it again", function()
    must(luarocks("remove taskdb"))
    assert.is_false(sh("test -e " .. q(tree .. "/lib/lua/5.4/taskdb.so")))
  end)
end)

describe("a plain busted in the project", function()
  it("runs under Lua 5.4 with the built module and lua/, as .busted pins", function()
    -- A copy of the project's layout around the build made above: .busted
    -- as it is, lua/ and the build directory where .busted looks for them.
    local tree = dir .. "/busted-project"
    must(string.format("mkdir -p %s/spec && cp %s %s/ && ln -s %s %s/lua && ln -s %s %s/build",
      q(tree), q(project .. "/.busted"), q(tree), q(project .. "/lua"), q(tree), q(build), q(tree)))
    helper.write_file(tree .. "/spec/probe_spec.lua", [[
      describe("the interpreter busted runs under", function()
        it("is Lua 5.4 with taskdb and the taskshell modules", function()
          assert.are.equal("Lua 5.4", _VERSION)
          assert.are.equal("]] .. VERSION .. [[", require("taskdb").version)
          assert.are.equal("function", type(require("taskshell.format").table))
        end)
      end)
    ]])
    -- `busted` as a user types it: its shebang picks whatever `lua` is
    local out = must("cd " .. q(tree) .. " && busted -o TAP")
    assert.matches("\nok 1 %- the interpreter busted runs under is Lua 5%.4", "\n" .. out)
    assert.matches("\n1%.%.1\n", "\n" .. out)
  end)
end)

end)

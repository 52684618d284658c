-- The repository as a whole: self-contained (nothing points outside it),
-- README snippets that run as written, one place for each fact (.env is
-- parsed by taskdb only), a license.

local helper = require("spec.helper")

local project = helper.project_dir

local function lines_of(cmd)
  local list = {}
  local pipe = assert(io.popen(cmd))
  for line in pipe:lines() do list[#list + 1] = line end
  pipe:close()
  return list
end

-- The project's text files (what git tracks, or what a checkout holds).
local function text_files()
  local files = lines_of("cd " .. helper.shell_quote(project) ..
    " && { git ls-files 2>/dev/null || find . -type f -not -path './.git/*' | sed 's|^\\./||'; }" ..
    " | grep -v -e '^build' -e '^\\.taskdb/'")
  local texts = {}
  for _, path in ipairs(files) do
    local f = io.open(project .. "/" .. path, "rb")
    if f then
      local text = f:read("a")
      f:close()
      if not text:find("\0", 1, true) then texts[path] = text end
    end
  end
  return texts
end

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

describe("the repository", function()
  local texts = text_files()

  it("holds the documents it relies on", function()
    for _, path in ipairs({ "README.md", "docs/API.md", "bench/WORKLOAD.md", "LICENSE", "man/taskshell.1" }) do
      assert.truthy(texts[path], path .. " is missing")
    end
  end)

  it("never points to a file outside itself", function()
    local n = 0
    for path, text in pairs(texts) do
      n = n + 1
      if path ~= "spec/repository_spec.lua" then
        for _, outside in ipairs({ "../shared", "shared/bench", "DESIGN.md", "STYLE.md" }) do
          assert.is_nil(text:find(outside, 1, true), path .. " mentions " .. outside)
        end
        -- every path-like mention of a Markdown file names one that is here
        for mention in text:gmatch("[%w_%-]+/[%w_%-/.]*%.md") do
          local dir = path:match("^(.*)/") or "."
          assert.is_true(exists(project .. "/" .. mention) or exists(project .. "/" .. dir .. "/" .. mention),
            path .. " points to " .. mention .. ", which is not in the repository")
        end
      end
    end
    assert.is_true(n > 50, "found only " .. n .. " files")
  end)

  it("is licensed under MIT, and the rockspec says so", function()
    assert.matches("^MIT License\n", texts["LICENSE"])
    assert.truthy(texts["LICENSE"]:find("Permission is hereby granted, free of charge", 1, true))
    local rockspec = texts["taskdb-" .. helper.taskdb.version .. "-1.rockspec"]
    assert.truthy(rockspec, "no rockspec for release " .. helper.taskdb.version)
    assert.matches('license = "MIT"', rockspec)
  end)

  it("parses .env in one place: neither the REPL nor the Makefile reads it", function()
    local repl = texts["lua/taskshell/repl.lua"]
    assert.is_nil(repl:find("io.open", 1, true), "lua/taskshell/repl.lua opens a file")
    assert.truthy(repl:find("database_url()", 1, true), "the REPL does not ask taskdb.database_url()")
    for line in texts["Makefile"]:gmatch("[^\n]+") do
      if not line:find("^%s*#") then
        assert.is_nil(line:find(".env", 1, true), "the Makefile reads .env: " .. line)
      end
    end
  end)
end)

describe("the README's Lua snippets", function()
  -- Globals a snippet may read: Lua's own, and busted's in the spec example.
  local KNOWN = {}
  for name in pairs(_G) do KNOWN[name] = true end
  for _, name in ipairs({ "describe", "it", "setup", "teardown", "before_each", "after_each",
                          "assert", "spy", "stub", "mock", "pending" }) do
    KNOWN[name] = true
  end

  local readme = helper.read_file(project .. "/README.md")
  local blocks = {}
  for code in readme:gmatch("```lua\n(.-)```") do blocks[#blocks + 1] = code end

  it("compile, read in order as one program", function()
    assert.is_true(#blocks >= 5, "found " .. #blocks .. " ```lua blocks")
    local program = table.concat(blocks, "\n")
    local chunk, err = load(program, "=README.md", "t")
    assert.is_not_nil(chunk, err)
  end)

  it("read no variable that is neither defined in them nor Lua's own", function()
    local file = os.tmpname()
    helper.write_file(file, table.concat(blocks, "\n"))
    local listing = lines_of("luac5.4 -p -l -l " .. helper.shell_quote(file) .. " 2>&1")
    os.remove(file)
    local unknown = {}
    for _, line in ipairs(listing) do
      local name = line:match("GETTABUP.*_ENV \"([%w_]+)\"")
      if name and not KNOWN[name] then unknown[#unknown + 1] = name end
    end
    assert.are.same({}, unknown)
  end)
end)

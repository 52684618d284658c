-- taskshell.cli: the scripts' shared error and usage output, and their exit
-- statuses (1 failed, 2 misuse, 130 Ctrl-C).
package.path = "lua/?.lua;" .. package.path
local cli_module = require("taskshell.cli")

local function capture()
  local out = { text = "" }
  function out:write(...)
    for _, s in ipairs({ ... }) do self.text = self.text .. s end
  end
  return out
end

describe("taskshell.cli", function()
  it("fail writes 'name: message' to stderr and exits 1", function()
    local err, code = capture(), nil
    local cli = cli_module.new("import", "usage: x\n", { stderr = err, exit = function(c) code = c end })
    cli.fail(setmetatable({}, { __tostring = function() return "boom" end }))   -- an error object
    assert.equal("import: boom\n", err.text)
    assert.equal(1, code)
  end)

  it("usage_error adds the usage text and exits 2", function()
    local err, code = capture(), nil
    local cli = cli_module.new("seed", "usage: taskshell scripts/seed.lua N\n",
                               { stderr = err, exit = function(c) code = c end })
    cli.usage_error("N must be a positive integer")
    assert.equal("seed: N must be a positive integer\nusage: taskshell scripts/seed.lua N\n", err.text)
    assert.equal(2, code)
  end)

  it("fail after Ctrl-C says 'interrupted' and exits 130", function()
    local err, code = capture(), nil
    local cli = cli_module.new("export", "usage: x\n", { stderr = err, exit = function(c) code = c end,
                                                        interrupted = function() return true end })
    cli.fail("stdin:3: interrupted!")
    assert.equal("export: interrupted\n", err.text)
    assert.equal(130, code)
  end)

  it("recognises lua5.4's own interruption message without the host", function()
    assert.is_true(cli_module.interrupted("interrupted!"))
    assert.is_true(cli_module.interrupted("stdin:1: interrupted!"))
  end)

  it("ends a progress line still on screen before writing the message", function()
    package.loaded["taskshell.progress"] = nil
    local progress = require("taskshell.progress")
    local err, code = capture(), nil
    local bar = progress.new{ total = 10, label = "seed", stream = err, enabled = true,
                              clock = function() return 0 end, columns = 80 }
    bar:update(3)
    local cli = cli_module.new("seed", "usage\n", { stderr = err, exit = function(c) code = c end,
                                                   interrupted = function() return true end })
    cli.fail("interrupted!")
    assert.matches("^\rseed %[[#.]+%]  30%% 3/10\27%[K\nseed: interrupted\n$", err.text)
    assert.equal(130, code)
    bar:update(5)   -- abandoned: nothing more is drawn
    assert.matches("seed: interrupted\n$", err.text)
  end)

  it("arguments: --help prints the usage and exits 0; -- is dropped; counts are checked", function()
    local out, err, codes = capture(), capture(), {}
    local cli = cli_module.new("export", "usage: e\n",
                               { stdout = out, stderr = err, exit = function(c) codes[#codes + 1] = c end })
    cli.arguments({ "--help" }, 0, 1)
    assert.equal("usage: e\n", out.text)
    assert.same({ 0 }, codes)
    assert.same({ "-x" }, cli.arguments({ "--", "-x" }, 0, 1))
    assert.same({ 0 }, codes)
    cli.arguments({ "a", "b" }, 0, 1)
    assert.equal("export: too many arguments\nusage: e\n", err.text)
    cli.arguments({}, 1, 2, "N is required")
    assert.truthy(err.text:find("export: N is required", 1, true))
    cli.arguments({ "--verbose" }, 0, 1)
    assert.truthy(err.text:find("export: unknown option --verbose", 1, true))
    assert.same({ "-" }, cli.arguments({ "-" }, 0, 1))   -- "-" is stdin, not an option
    assert.same({ "-3" }, cli.arguments({ "-3" }, 0, 1)) -- a negative number is left to the script
    assert.same({ 0, 2, 2, 2 }, codes)
  end)

  it("arguments: an option the script declares is left to it; any other is misuse", function()
    local err, codes = capture(), {}
    local cli = cli_module.new("fix", "usage: f\n", { stderr = err, options = { "--dry-run" },
                                                     exit = function(c) codes[#codes + 1] = c end })
    assert.same({ "--dry-run" }, cli.arguments({ "--dry-run" }, 0, 1))
    assert.same({}, codes)
    cli.arguments({ "--dry-rum" }, 0, 1)
    assert.truthy(err.text:find("fix: unknown option --dry-rum", 1, true))
    assert.same({ 2 }, codes)
  end)
end)


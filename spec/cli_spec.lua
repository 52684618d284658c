-- taskshell.cli: the scripts' shared error and usage output.
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

  it("usage_error adds the usage text", function()
    local err, code = capture(), nil
    local cli = cli_module.new("seed", "usage: taskshell scripts/seed.lua N\n",
                               { stderr = err, exit = function(c) code = c end })
    cli.usage_error("N must be a positive integer")
    assert.equal("seed: N must be a positive integer\nusage: taskshell scripts/seed.lua N\n", err.text)
    assert.equal(1, code)
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
    assert.same({ 0, 1, 1 }, codes)
  end)
end)


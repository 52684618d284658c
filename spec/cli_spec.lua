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
end)

-- taskshell.cli — what the scripts share for talking to a user: errors on
-- stderr prefixed by the script's name, exit status 1, usage on misuse.
--
--   local cli = require("taskshell.cli").new("import", USAGE)
--   cli.fail(err)            -- "import: <err>" then exit 1
--   cli.usage_error("...")   -- "import: ...", the usage text, then exit 1
local M = {}

function M.new(name, usage, opts)
  opts = opts or {}
  local stderr = opts.stderr or io.stderr
  local exit = opts.exit or os.exit
  local cli = {}

  function cli.fail(message)
    stderr:write(name, ": ", tostring(message), "\n")
    exit(1)
  end

  function cli.usage_error(message)
    stderr:write(name, ": ", tostring(message), "\n", usage)
    exit(1)
  end

  return cli
end

return M

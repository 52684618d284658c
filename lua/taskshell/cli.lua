-- taskshell.cli — what the scripts share for talking to a user: errors on
-- stderr prefixed by the script's name, exit status 1, usage on misuse.
--
--   local cli = require("taskshell.cli").new("import", USAGE)
--   cli.fail(err)            -- "import: <err>" then exit 1
--   cli.usage_error("...")   -- "import: ...", the usage text, then exit 1
--   local args = cli.arguments({ ... }, 0, 1)   -- -h/--help, "--", counts
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

  -- The positional arguments: -h/--help prints the usage and exits 0, a
  -- leading "--" is dropped, fewer than `min` or more than `max` is misuse.
  function cli.arguments(args, min, max, missing)
    if args[1] == "-h" or args[1] == "--help" then
      (opts.stdout or io.stdout):write(usage)
      exit(0)
      return args
    end
    if args[1] == "--" then table.remove(args, 1) end
    if #args < min then cli.usage_error(missing or "too few arguments") end
    if #args > max then cli.usage_error("too many arguments") end
    return args
  end

  return cli
end

return M

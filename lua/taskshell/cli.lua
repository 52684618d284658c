-- taskshell.cli — what the scripts share for talking to a user: errors on
-- stderr prefixed by the script's name, and the exit statuses of a Unix
-- command: 1 when the work failed, 2 on misuse (usage text included), 130
-- when Ctrl-C stopped it.
--
--   local cli = require("taskshell.cli").new("import", USAGE)
--   local cli = require("taskshell.cli").new("fix", USAGE, { options = { "--dry-run" } })
--   cli.fail(err)            -- "import: <err>" then exit 1 (130 after Ctrl-C)
--   cli.usage_error("...")   -- "import: ...", the usage text, then exit 2
--   local args = cli.arguments({ ... }, 0, 1)   -- -h/--help, "--", counts
--   if cli.interrupted(err) then ... end        -- did Ctrl-C raise err?
--
-- Before anything is written, a progress bar still on screen has its line
-- ended, so the message starts a line of its own.
local M = {}

M.EXIT_FAILURE = 1
M.EXIT_USAGE = 2
M.EXIT_INTERRUPTED = 130   -- 128 + SIGINT, what a shell reports for Ctrl-C

-- taskshell knows whether SIGINT stopped the code; a stock lua5.4 says so
-- only in its error message.
local host
do
  local ok, module = pcall(require, "taskshell.host")
  host = ok and type(module) == "table" and module or nil
end

-- Was `err` raised because the user pressed Ctrl-C?
function M.interrupted(err)
  if host and host.interrupted and host.interrupted() then return true end
  return type(err) == "string" and err:find("interrupted!$") ~= nil
end

-- Ends the line of any progress bar still drawn (only if the scripts
-- loaded the progress module at all).
local function end_progress_lines()
  local progress = package.loaded["taskshell.progress"]
  if type(progress) == "table" and progress.abandon then progress.abandon() end
end

function M.new(name, usage, opts)
  opts = opts or {}
  local stderr = opts.stderr or io.stderr
  local exit = opts.exit or os.exit
  local interrupted = opts.interrupted or M.interrupted
  local cli = {}

  function cli.fail(message)
    end_progress_lines()
    if interrupted(message) then
      stderr:write(name, ": interrupted\n")
      return exit(M.EXIT_INTERRUPTED)
    end
    stderr:write(name, ": ", tostring(message), "\n")
    return exit(M.EXIT_FAILURE)
  end

  function cli.usage_error(message)
    end_progress_lines()
    stderr:write(name, ": ", tostring(message), "\n", usage)
    return exit(M.EXIT_USAGE)
  end

  cli.interrupted = interrupted

  -- Options the script takes (opts.options), left among the arguments.
  local known = {}
  for _, option in ipairs(opts.options or {}) do known[option] = true end

  -- The arguments: -h/--help prints the usage and exits 0, a leading "--"
  -- is dropped; an option the script did not declare, fewer than `min` or
  -- more than `max` arguments is misuse.
  function cli.arguments(args, min, max, missing)
    if args[1] == "-h" or args[1] == "--help" then
      (opts.stdout or io.stdout):write(usage)
      exit(0)
      return args
    end
    if args[1] == "--" then
      table.remove(args, 1)
    else
      for _, a in ipairs(args) do
        if type(a) == "string" and a:match("^%-.") and not a:match("^%-%d") and not known[a] then
          cli.usage_error("unknown option " .. a)
          return args
        end
      end
    end
    if #args < min then cli.usage_error(missing or "too few arguments") end
    if #args > max then cli.usage_error("too many arguments") end
    return args
  end

  return cli
end

return M

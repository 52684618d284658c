-- export.lua — every task of one user (or of every user) as JSON Lines.
--
--   taskshell scripts/export.lua [user_id] > tasks.jsonl
--
-- One object per line, keys always in this order:
--   {"id":1,"user_id":"u","title":"t","description":null,"completed":false,
--    "created_at":"2026-11-24T10:15:30.123456Z","updated_at":"..."}
-- Rows come from db:each_task (keyset pages), ordered by created_at then id,
-- so memory stays flat however many tasks there are.  DATABASE_URL comes
-- from the environment or ./.env.  When stderr is a terminal, a progress
-- bar (the total counted first) and a summary go there; otherwise stderr
-- stays silent.  Errors go to stderr with exit status 1 (2 on misuse, 130
-- after Ctrl-C).

local taskdb = require("taskdb")
local cjson = require("cjson")
local progress = require("taskshell.progress")
local json = cjson.new and cjson.new() or cjson   -- settings stay private

local USAGE = "usage: taskshell scripts/export.lua [user_id]\n"
  .. "  Writes the tasks of user_id (every user's without it) to stdout as JSON Lines.\n"

local cli = require("taskshell.cli").new("export", USAGE)
local fail = cli.fail

local clock
do
  local ok, host = pcall(require, "taskshell.host")
  clock = ok and host.clock or os.time
end

-- lua-cjson escapes "/" as "\/" unless told not to; both are valid JSON,
-- the unescaped form is easier to read and grep.
if json.encode_escape_forward_slash then json.encode_escape_forward_slash(false) end

-- Strings go through cjson (escapes, control characters).  The id is
-- formatted here: cjson writes numbers as doubles with 14 significant
-- digits, which would round a large bigint.
local format = string.format
local encode = json.encode
if encode("/") ~= '"/"' then
  -- lua-cjson 2.1.0 (Debian 12) escapes "/" and has no switch for it.  Every
  -- "/" in its output is then escaped, so each "\/" is exactly one such
  -- escape and undoing it cannot touch an escaped backslash.
  local cjson_encode = encode
  encode = function(s)
    return (cjson_encode(s):gsub("\\/", "/"))
  end
end

local function task_line(t)
  local description = t.description
  return format('{"id":%d,"user_id":%s,"title":%s,"description":%s,"completed":%s,'
      .. '"created_at":%s,"updated_at":%s}\n',
    t.id, encode(t.user_id), encode(t.title),
    description == nil and "null" or encode(description),
    t.completed and "true" or "false",
    encode(t.created_at), encode(t.updated_at))
end

local args = cli.arguments({ ... }, 0, 1)
local user_id = args[1]

local started = clock()
local ok, err = pcall(function()
  local db <close> = taskdb.connect()
  db:init_db()
  local bar = progress.new{ label = "export" }
  -- One count first, only for someone watching: the bar gets a total and an ETA.
  if bar.enabled then bar.total = db:count_tasks{ user_id = user_id } end
  local out = io.stdout
  out:setvbuf("full")
  local exported = 0
  for task in db:each_task{ user_id = user_id } do
    local written, werr = out:write(task_line(task))
    if not written then error("writing to stdout: " .. tostring(werr), 0) end
    exported = exported + 1
    bar:update(exported)
  end
  local flushed, ferr = out:flush()
  if not flushed then error("writing to stdout: " .. tostring(ferr), 0) end
  bar:finish()
  if bar.enabled then
    io.stderr:write(string.format("exported %d task%s in %.2f s\n", exported,
      exported == 1 and "" or "s", clock() - started))
  end
end)
if not ok then fail(err) end

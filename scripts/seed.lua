-- seed.lua — demo data: N tasks spread over a few demo users.
--
--   taskshell scripts/seed.lua N [users]      (users defaults to 10)
--
-- Task k (1..N) belongs to "demo-user-<((k - 1) % users) + 1>", so the users
-- get N // users tasks each, the first N % users one more.  Titles are varied
-- (a few non-ASCII), every third task has a description (some span lines),
-- every fourth is completed.  The data is the same on every run, only the
-- ids and timestamps differ; running twice adds N more.  Rows are written
-- with db:create_tasks in batches inside one transaction: all N or none.
-- A summary goes to stderr; a progress bar too when stderr is a terminal.

local taskdb = require("taskdb")
local progress = require("taskshell.progress")

local BATCH = 10000

local USAGE = "usage: taskshell scripts/seed.lua N [users]\n"
  .. "  Creates N demo tasks spread over users (default 10) users demo-user-1 .. demo-user-<users>.\n"

local cli = require("taskshell.cli").new("seed", USAGE)
local fail, usage_error = cli.fail, cli.usage_error

local clock
do
  local ok, host = pcall(require, "taskshell.host")
  clock = ok and host.clock or os.time
end

-- "12" -> 12; "1.5", "1e3", "x", "" -> nil
local function whole_number(s)
  if s == nil or not s:find("^%d+$") then return nil end
  return math.tointeger(tonumber(s))
end

local args = cli.arguments({ ... }, 1, 2, "N is required")
local n = whole_number(args[1])
if not n then usage_error("N must be a whole number, not " .. string.format("%q", args[1])) end
local users = 10
if args[2] ~= nil then
  users = whole_number(args[2])
  if not users or users < 1 then
    usage_error("users must be a whole number of at least 1, not " .. string.format("%q", args[2]))
  end
end

-- --- the demo data ----------------------------------------------------------

local VERBS = { "Buy", "Call", "Email", "Review", "Fix", "Plan", "Book", "Clean",
                "Write", "Read", "Pay", "Return", "Order", "Schedule", "Prepare", "Réviser" }
local THINGS = { "groceries", "the dentist", "the quarterly report", "the leaking tap",
                 "flights to Lisbon", "the garage", "a birthday card for Mum", "the electricity bill",
                 "library books", "the team offsite", "café supplies ☕", "the car's MOT",
                 "slides for Monday", "the garden fence", "Zoë's school form", "the 日本 trip" }
local DESCRIPTIONS = {
  "Before Friday.",
  "Milk, eggs, bread\nand something for dinner.",
  "Ask about the \"premium\" option; compare prices first.",
  "See the shared folder: /projects/2026/notes.txt",
  "Low priority.\tDo it when there is time.",
  "Ring back if nobody answers — they close at 5.",
}

local function demo_task(k)
  local task = {
    user_id = "demo-user-" .. ((k - 1) % users + 1),
    -- two coprime strides, so titles vary along with the user
    title = string.format("%s %s (#%d)", VERBS[(k - 1) % #VERBS + 1],
      THINGS[(k * 7 - 1) % #THINGS + 1], k),
  }
  if k % 3 == 0 then task.description = DESCRIPTIONS[(k // 3 - 1) % #DESCRIPTIONS + 1] end
  if k % 4 == 0 then task.completed = true end
  return task
end

-- --- write ------------------------------------------------------------------

local started = clock()
local ok, err = pcall(function()
  local db <close> = taskdb.connect()
  db:init_db()
  local bar = progress.new{ total = n, label = "seed" }
  db:transaction(function(tx)
    local k = 0
    while k < n do
      local batch = {}
      for i = 1, math.min(BATCH, n - k) do batch[i] = demo_task(k + i) end
      tx:create_tasks(batch)
      k = k + #batch
      bar:update(k)
    end
  end)
  bar:finish()
end)
if not ok then fail(err) end

local owners = math.min(n, users)
io.stderr:write(string.format("seeded %d tasks for %d demo users%s in %.2f s\n", n, owners,
  owners > 0 and string.format(" (demo-user-1 .. demo-user-%d)", owners) or "", clock() - started))

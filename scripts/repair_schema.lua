-- repair_schema.lua — bring a tasks table made by taskshell's earlier
-- versions up to date, on request.
--
--   taskshell scripts/repair_schema.lua [--dry-run]
--
-- Those versions gave the table two CHECKs that this one refuses (init_db
-- says so and changes nothing):
--   - the blank checks on user_id and title trimmed E' \t\n\r\f\v', and
--     PostgreSQL reads \v as the letter v: a title "v" was refused, a title
--     of only NBSP let through;
--   - CHECK (updated_at >= created_at) failed any client whose clock is
--     behind the server's.
-- This prints the statements it will run, then runs them in one
-- transaction (nothing changes if any of them fails), then runs init_db.
-- Rows the new CHECKs would refuse (a title of only white space) are named
-- and nothing is changed.  --dry-run only prints.  It is the only thing in
-- taskshell that alters the table; the statements are taskdb's own.

local taskdb = require("taskdb")

local USAGE = "usage: taskshell scripts/repair_schema.lua [--dry-run]\n"
  .. "  Replaces the CHECKs of a tasks table made by taskshell's earlier versions,\n"
  .. "  in one transaction, after printing the statements (--dry-run: print only).\n"

local cli = require("taskshell.cli").new("repair_schema", USAGE, { options = { "--dry-run" } })
local fail, usage_error = cli.fail, cli.usage_error

local args = cli.arguments({ ... }, 0, 1)
local dry_run = false
if args[1] == "--dry-run" then
  dry_run = true
elseif args[1] ~= nil then
  usage_error("unknown argument " .. string.format("%q", args[1]))
end

local ok, db = pcall(taskdb.connect)
if not ok then fail(db) end

local ok_plan, plan = pcall(db.repair_schema, db, { dry_run = true })
if not ok_plan then fail(plan) end
if #plan.steps == 0 then
  print("repair_schema: public.tasks has none of the earlier versions' CHECKs; nothing to repair")
else
  print(string.format("repair_schema: %s in one transaction:", dry_run and "would run" or "running"))
  for _, sql in ipairs(plan.steps) do print("  " .. sql .. ";") end
  if #plan.blank_rows > 0 then
    print("repair_schema: rows with a user_id or title of only white space (the new CHECKs refuse "
      .. "them; fix or delete them first): ids " .. table.concat(plan.blank_rows, ", "))
  end
  if dry_run then
    db:close()
    return
  end
  io.stdout:flush()
  local ok_repair, done = pcall(db.repair_schema, db)
  if not ok_repair then fail(done) end
  print(string.format("repair_schema: done (%d statement%s committed)", #done.steps,
    #done.steps == 1 and "" or "s"))
end
if dry_run then
  db:close()
  return
end
local ok_init, err = pcall(db.init_db, db)
if not ok_init then fail(err) end
print("repair_schema: init_db accepts public.tasks")
db:close()

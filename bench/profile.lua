-- bench/profile.lua — one kind of operation in a loop, for bench/profile.sh
-- (callgrind, strace).  Runs against DATABASE_URL holding the W1 rows
-- (20,000 tasks of bench-user-0..199) and 100,000 tasks of bench-bulk.
--
--   taskshell bench/profile.lua OP N
--
-- OP: get list create update toggle delete bulk; OP+trace: the same with a
-- trace function (one that counts the events).  The set-up (handles, the
-- ids, argument strings) is the same whatever N, so the cost of N
-- operations is the run with N minus the run with 0.
local taskdb = require("taskdb")
local op, n = arg[1], tonumber(arg[2])
assert(op and n, "usage: profile.lua OP[+trace] N")
local traced = op:find("+trace", 1, true) ~= nil
op = op:gsub("%+trace$", "")

local events = 0
local db = taskdb.connect(traced and { trace = function() events = events + 1 end } or nil)
local DESC = "benchmark description " .. string.rep("0", 38)
local users, ids = {}, {}
for u = 0, 199 do
  users[u] = db:user("bench-user-" .. u)
  for _, t in ipairs(users[u]:get_tasks{ limit = 50 }) do ids[#ids + 1] = { u, t.id } end
end
local titles = {}
for j = 1, math.max(n, 1) do titles[j] = "task " .. j .. " renamed" end
local rows
if op == "bulk" then
  rows = {}
  for i = 1, n do rows[i] = { user_id = "bench-bulk-2", title = titles[i], description = DESC } end
end
math.randomseed(1)
local pick = {}
for j = 1, n do pick[j] = ids[math.random(1, #ids)] end

if op == "get" then
  for j = 1, n do local p = pick[j]; users[p[1]]:get_task(p[2]) end
elseif op == "list" then
  for j = 1, n do users[pick[j][1]]:get_tasks() end
elseif op == "create" then
  for j = 1, n do
    db:create_task{ user_id = "bench-user-" .. (j % 200), title = titles[j], description = DESC }
  end
elseif op == "update" then
  for j = 1, n do local p = pick[j]; users[p[1]]:update_task(p[2], { title = titles[j] }) end
elseif op == "toggle" then
  for j = 1, n do local p = pick[j]; users[p[1]]:toggle_complete(p[2]) end
elseif op == "delete" then
  for j = 1, n do local p = ids[j]; users[p[1]]:delete_task(p[2]) end
elseif op == "bulk" then
  if n > 0 then db:create_tasks(rows) end
else
  error("unknown op " .. op)
end
db:close()

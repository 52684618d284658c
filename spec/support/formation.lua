-- spec/support/formation.lua — the pg_auto_failover formation that
-- spec/run.sh starts (spec/support/formation.sh) whenever a spec requires
-- this module: a monitor and two Postgres nodes, node1 and node2, on
-- 127.0.0.1.  Which node is primary changes as specs fail over; ask.
--
--   local F = require("spec.support.formation")
--   F.url                 the formation's URL: both nodes,
--                         target_session_attrs=read-write, user postgres
--   F.monitor_url         the monitor (user autoctl_node)
--   F.node("node1")       { name =, port =, url = } (url: that node alone)
--   F.url_for(ports, q)   a multi-host URL on 127.0.0.1 for the ports listed
--   F.states()            { node1 = { reported =, assigned = }, ... } (monitor)
--   F.state()             `pg_autoctl show state --json`, decoded
--   F.primary(), F.secondary()   the node settled in that role, or nil
--   F.writable()          the primary, or a node promoted with no standby
--                         yet (wait_primary), or nil
--   F.wait_stable(t)      waits for one primary and one secondary, settled;
--                         returns primary, secondary
--   F.wait_state(want, t) want = { node1 = "primary", ... } or function(states)
--   F.failover()          `pg_autoctl perform failover`; returns once done
--   F.spawn_failover()    the same in the background: job.done(), job.wait()
--   F.crash(name)         kill -9 the node's keeper, postmaster and backends
--                         at once (a machine that dies); the monitor promotes
--                         the other node within seconds
--   F.kill_postmaster(name)  kill -9 the postmaster alone: its keeper
--                         restarts it in place, no failover
--   F.stop(name), F.start(name), F.running(name)
--   F.restore(t)          starts any stopped node, then F.wait_stable(t)
--   F.replication()       "sync" or "async", from the primary's settings
--   F.set_replication(m)  "async": no node is in the write quorum, commits do
--                         not wait for the standby; "sync": the default
--   F.psql(name, sql)     SQL on a node's taskdb_test ("monitor": the
--                         monitor's pg_auto_failover), as postgres; output
--                         unaligned, tuples only, trimmed
--
-- Temporary files come from spec/support/procs.lua: a spec using this
-- module has `teardown(H.cleanup)` like any spec using procs.

if not package.path:find("./?.lua", 1, true) then
  package.path = "./?.lua;" .. package.path
end

local helper = require("spec.helper")
local H = require("spec.support.procs")
local cjson = require("cjson")

local F = {}

local function env(name)
  local v = os.getenv(name)
  assert(v and v ~= "", name .. " is not set: run the specs through spec/run.sh, " ..
         "which starts the formation when a spec requires spec.support.formation")
  return v
end

F.url = os.getenv("TASKDB_TEST_FORMATION_URL")
F.monitor_url = os.getenv("TASKDB_TEST_FORMATION_MONITOR_URL")
F.names = { "node1", "node2" }

-- Runs formation_ctl in a shell that sourced testenv.sh and formation.sh.
local function ctl(limit, ...)
  local args = { ... }
  for i, a in ipairs(args) do args[i] = H.shq(a) end
  local cmd = "timeout -k 5 " .. limit .. " sh -c " ..
    H.shq('. "$1" && . "$2" && shift 2 && formation_ctl "$@"') .. " sh " ..
    H.shq(helper.project_dir .. "/spec/support/testenv.sh") .. " " ..
    H.shq(env("TASKDB_TEST_FORMATION_SH")) .. " " .. table.concat(args, " ")
  return H.sh(cmd)
end

local function ctl_ok(limit, ...)
  local ok, out, err = ctl(limit, ...)
  if not ok then
    error("formation_ctl " .. table.concat({ ... }, " ") .. " failed: " .. out .. err, 3)
  end
  return helper.trim(out)
end

function F.node(name)
  local key = ({ node1 = "NODE1", node2 = "NODE2" })[name]
  assert(key, "no formation node " .. tostring(name))
  return { name = name, port = tonumber(env("TASKDB_TEST_FORMATION_" .. key .. "_PORT")),
           url = env("TASKDB_TEST_FORMATION_" .. key .. "_URL") }
end

-- postgresql://127.0.0.1:P1,127.0.0.1:P2/taskdb_test?user=postgres[&query]
function F.url_for(ports, query)
  local hosts = {}
  for i, p in ipairs(ports) do hosts[i] = "127.0.0.1:" .. p end
  return "postgresql://" .. table.concat(hosts, ",") .. "/taskdb_test?user=postgres" ..
         (query and ("&" .. query) or "")
end

function F.psql(name, sql)
  return ctl_ok(60, "psql", name, sql)
end

function F.states()
  local out = ctl_ok(30, "states")
  local s = {}
  for name, reported, assigned in out:gmatch("(%S+) (%S+) (%S+)") do
    s[name] = { reported = reported, assigned = assigned }
  end
  return s
end

function F.state()
  return cjson.decode(ctl_ok(30, "state"))
end

local function settled(s, name, role)
  return s[name] and s[name].reported == role and s[name].assigned == role
end

local function in_role(role, s)
  s = s or F.states()
  for _, name in ipairs(F.names) do
    if settled(s, name, role) then return F.node(name) end
  end
  return nil
end
function F.primary(s) return in_role("primary", s) end
function F.secondary(s) return in_role("secondary", s) end

-- The node that takes writes: a primary, or one alone (wait_primary: its
-- standby is gone, commits no longer wait for one).
function F.writable(s)
  s = s or F.states()
  return in_role("primary", s) or in_role("wait_primary", s) or in_role("single", s)
end

local function describe_states(s)
  local parts = {}
  for _, name in ipairs(F.names) do
    local n = s[name] or {}
    parts[#parts + 1] = string.format("%s %s/%s", name, tostring(n.reported), tostring(n.assigned))
  end
  return table.concat(parts, ", ")
end

function F.wait_state(want, timeout)
  local pred = want
  if type(want) == "table" then
    pred = function(s)
      for name, role in pairs(want) do
        if not settled(s, name, role) then return false end
      end
      return true
    end
  end
  local deadline, s = H.now() + timeout, nil
  repeat
    s = F.states()
    if pred(s) then return s end
    H.sleep(0.2)
  until H.now() > deadline
  error("formation: not in the expected state within " .. timeout .. " s: " .. describe_states(s), 2)
end

function F.wait_stable(timeout)
  local s = F.wait_state(function(s) return F.primary(s) and F.secondary(s) end, timeout or 60)
  return F.primary(s), F.secondary(s)
end

function F.failover()
  return ctl_ok(90, "failover")
end

-- `pg_autoctl perform failover` in the background: job.done() is true once
-- it exited; job.wait(t) returns { ok =, out = } (raises after t seconds).
function F.spawn_failover()
  local out, rc = H.tmpfile("failover.out"), H.tmpfile("failover.rc")
  local cmd = "timeout -k 5 90 sh -c " ..
    H.shq('. "$1" && . "$2" && formation_ctl failover') .. " sh " ..
    H.shq(helper.project_dir .. "/spec/support/testenv.sh") .. " " ..
    H.shq(env("TASKDB_TEST_FORMATION_SH"))
  os.execute("(" .. cmd .. " >" .. H.shq(out) .. " 2>&1; echo $? >" .. H.shq(rc .. ".tmp") ..
             " && mv " .. H.shq(rc .. ".tmp") .. " " .. H.shq(rc) .. ") </dev/null >/dev/null 2>&1 &")
  local job = {}
  function job.done() return H.readfile(rc) ~= nil end
  function job.wait(timeout)
    H.wait_for("pg_autoctl perform failover to exit", timeout or 90, job.done)
    return { ok = helper.trim(H.readfile(rc)) == "0", out = H.readfile(out) or "" }
  end
  return job
end

function F.crash(name) ctl_ok(30, "crash", name) end
function F.kill_postmaster(name) ctl_ok(30, "kill-postmaster", name) end
function F.stop(name) ctl_ok(90, "stop", name) end
function F.start(name) ctl_ok(30, "start", name) end
function F.running(name) return (ctl(30, "running", name)) end

function F.restore(timeout)
  for _, name in ipairs(F.names) do
    if not F.running(name) then F.start(name) end
  end
  return F.wait_stable(timeout or 120)
end

function F.replication()
  local p = assert(F.primary(), "formation: no settled primary")
  return F.psql(p.name, "SHOW synchronous_standby_names") == "" and "async" or "sync"
end

function F.set_replication(mode)
  ctl_ok(120, "replication", mode)
  return F.replication()
end

return F

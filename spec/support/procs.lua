-- spec/support/procs.lua — extras on top of spec/helper.lua for the specs
-- that drive processes and the server: sub-second clocks, background and
-- parallel taskshell processes, a psql-held lock, backend inspection,
-- stopping and restarting the server.
--
--   local H = require("spec.support.procs")
--
-- Temporary files live in one directory per loading of this module; each
-- spec file removes it with a file-level `teardown(H.cleanup)`.

if not package.path:find("./?.lua", 1, true) then
  package.path = "./?.lua;" .. package.path
end

local helper = require("spec.helper")
local system = require("system")   -- luasystem, busted's own dependency: gettime, sleep

local H = {}
H.shq = helper.shell_quote
H.readfile = helper.try_read_file
H.writefile = helper.write_file
H.wait_for = helper.wait_for
H.direct_url = helper.direct_url
H.direct_app_url = helper.direct_app_url
H.pgctl_script = os.getenv("TASKDB_TEST_PGCTL") or helper.pgctl
local pgbin = os.getenv("TASKDB_TEST_PGBIN")
H.psql_bin = (pgbin and pgbin ~= "") and (pgbin .. "/psql") or "psql"

function H.now() return system.gettime() end
function H.sleep(s) system.sleep(s) end

function H.env(name)
  local v = os.getenv(name)
  assert(v and v ~= "", name .. " is not set: run the specs through spec/run.sh")
  return v
end

local tmpdir, counter = nil, 0
function H.tmpfile(name)
  if not tmpdir then tmpdir = helper.tmpdir() end
  counter = counter + 1
  return string.format("%s/%d-%s", tmpdir, counter, name or "f")
end

-- Removes the temporary directory (a file-level teardown calls it).
function H.cleanup()
  if tmpdir then helper.rmdir(tmpdir) end
  tmpdir = nil
end

-- Runs a shell command; returns ok, stdout, stderr.
function H.sh(cmd)
  local errf = H.tmpfile("stderr")
  local p = io.popen(cmd .. " 2>" .. H.shq(errf), "r")
  local out = p:read("a")
  local ok = p:close()
  local err = H.readfile(errf) or ""
  os.remove(errf)
  return ok == true, out, err
end

function H.pgctl(cmd)
  local ok, out, err = H.sh("timeout -k 5 90 sh " .. H.shq(H.pgctl_script) .. " " .. cmd)
  assert(ok, "pgctl.sh " .. cmd .. " failed: " .. out .. err)
end

function H.server_up()
  return (H.sh("timeout -k 2 10 " .. H.psql_bin .. " -X -q -At -d " ..
               H.shq(H.direct_app_url("taskdb-spec-probe")) .. " -c 'select 1' >/dev/null"))
end

-- After a test that stops the server: make sure it is up again.
function H.ensure_up()
  if not H.server_up() then
    pcall(H.pgctl, "start")
    H.wait_for("server back up", 30, H.server_up)
  end
end

-- Wall time of pcall(fn, ...): returns elapsed, ok, results...
function H.timed(fn, ...)
  local t0 = H.now()
  local r = table.pack(pcall(fn, ...))
  return H.now() - t0, table.unpack(r, 1, r.n)
end

local function envprefix(env)
  local parts = {}
  for k, v in pairs(env or {}) do parts[#parts + 1] = k .. "=" .. H.shq(v) end
  table.sort(parts)
  return #parts > 0 and ("env " .. table.concat(parts, " ") .. " ") or ""
end

-- The shell command that runs `script` in taskshell with `args`, bounded by
-- `limit` seconds; stdout, stderr and the exit status go to files.
local function child(script, args, env, limit)
  local c = { script = H.tmpfile("child.lua"), out = H.tmpfile("out"),
              err = H.tmpfile("err"), rc = H.tmpfile("rc") }
  H.writefile(c.script, script)
  local argv = {}
  for i, a in ipairs(args or {}) do argv[i] = H.shq(a) end
  c.cmd = "(cd " .. H.shq(helper.project_dir) .. " && timeout -k 5 " .. (limit or 120) .. " " ..
          envprefix(env) .. H.shq(helper.host) .. " " .. H.shq(c.script) .. " " ..
          table.concat(argv, " ") .. " </dev/null >" .. H.shq(c.out) .. " 2>" .. H.shq(c.err) ..
          "; echo $? >" .. H.shq(c.rc .. ".tmp") .. " && mv " .. H.shq(c.rc .. ".tmp") ..
          " " .. H.shq(c.rc) .. ")"
  return c
end

local function result(c)
  return { rc = tonumber(helper.trim(H.readfile(c.rc) or "")), out = H.readfile(c.out) or "",
           err = H.readfile(c.err) or "" }
end

-- Starts a Lua script in a background taskshell process: c.done(), c.wait(timeout).
function H.spawn(script, args, env, limit)
  local c = child(script, args, env, limit)
  os.execute(c.cmd .. " >/dev/null 2>&1 &")
  function c.done() return H.readfile(c.rc) ~= nil end
  function c.wait(timeout)
    H.wait_for("child process " .. c.script .. " to exit", timeout or 60, c.done)
    return result(c)
  end
  return c
end

-- Several scripts at once: one shell line, `&` each, then `wait`.
-- jobs: { { script =, args =, env =, limit = }, ... } -> { { rc, out, err }, ... }
function H.run_parallel(jobs)
  local cs, cmds = {}, {}
  for i, j in ipairs(jobs) do
    cs[i] = child(j.script, j.args, j.env, j.limit)
    cmds[i] = cs[i].cmd .. " &"
  end
  os.execute(table.concat(cmds, " ") .. " wait")
  local rs = {}
  for i, c in ipairs(cs) do rs[i] = result(c) end
  return rs
end

-- Backends of the test server, as pg_stat_activity shows them (the
-- inspecting session itself never counts).  `who` picks them: a string is an
-- application_name; a table holds columns and their values
-- ({ application_name = app, wait_event_type = "Lock" }, { pid = n }) and
-- maybe `where`, a condition of another shape, in SQL.
local function backends_where(who)
  if type(who) == "string" then who = { application_name = who } end
  local conds, keys = { "pid <> pg_backend_pid()" }, {}
  for k in pairs(who) do
    if k ~= "where" then keys[#keys + 1] = k end
  end
  table.sort(keys)
  for _, k in ipairs(keys) do
    local v = who[k]
    conds[#conds + 1] = k .. " = " ..
      (math.type(v) and tostring(v) or ("'" .. tostring(v):gsub("'", "''") .. "'"))
  end
  if who.where then conds[#conds + 1] = "(" .. who.where .. ")" end
  return table.concat(conds, " AND ")
end

-- The SQL that selects `what` from the backends `who` (for a psql of its own).
function H.backends_sql(what, who)
  return "SELECT " .. what .. " FROM pg_stat_activity WHERE " .. backends_where(who)
end

-- How many backends `who` names.
function H.backends(who)
  return tonumber(helper.psql(H.backends_sql("count(*)", who)))
end

-- Their pids, in order.
function H.backend_pids(who)
  local pids = {}
  for pid in helper.psql(H.backends_sql("pid", who) .. " ORDER BY pid"):gmatch("%d+") do
    pids[#pids + 1] = tonumber(pid)
  end
  return pids
end

-- Ends the backends `who` names and waits until they are gone.
function H.terminate(who)
  helper.psql(H.backends_sql("count(pg_terminate_backend(pid))", who))
  H.wait_for("backends " .. backends_where(who) .. " to exit", 10,
             function() return H.backends(who) == 0 end)
end

function H.waiting_on_lock(app)
  return H.backends{ application_name = app, wait_event_type = "Lock" } > 0
end

-- A background psql session (application_name `app`) that runs `sql` in a
-- transaction, then sleeps `seconds` before it commits: what `sql` locked
-- stays locked meanwhile.  Returns once it sleeps.
function H.hold(app, sql, seconds)
  os.execute("timeout -k 2 " .. math.ceil(seconds + 20) .. " " .. H.psql_bin ..
    " -X -q -d " .. H.shq(H.direct_app_url(app)) .. " -c " ..
    H.shq("BEGIN; " .. sql .. "; SELECT pg_sleep(" .. seconds .. "); COMMIT;") .. " >/dev/null 2>&1 &")
  H.wait_for(app .. " to hold its locks", 10, function()
    return H.backends{ application_name = app, wait_event = "PgSleep" } == 1
  end)
end

-- A psql session (application_name `app`) that takes ACCESS EXCLUSIVE on
-- public.tasks and holds it for `seconds`; returns once the lock is granted.
function H.hold_lock(app, seconds)
  H.hold(app, "LOCK TABLE public.tasks IN ACCESS EXCLUSIVE MODE", seconds)
end

-- A psql session (application_name `app`) that locks one row of
-- public.tasks FOR UPDATE and holds it for `seconds`; returns once it holds it.
function H.hold_row_lock(app, id, seconds)
  H.hold(app, "SELECT id FROM public.tasks WHERE id = " .. id .. " FOR UPDATE", seconds)
end

-- Rows of a user, counted by the server itself.
function H.count(user_id)
  return tonumber(helper.psql("SELECT count(*) FROM public.tasks WHERE user_id = '" ..
                              user_id .. "'"))
end

-- A BEFORE INSERT OR UPDATE trigger, named by `tag` and `kind`, that runs
-- the PL/pgSQL statement `action` for rows carrying the returned title (only
-- those).  Returns title, install(), remove().
function H.title_trigger(tag, kind, action)
  local fn = "taskdb_" .. tag .. "_spec_" .. kind
  local title = "!!taskdb-" .. tag .. "-spec-" .. kind .. "!!"
  local function install()
    helper.psql([[
      CREATE OR REPLACE FUNCTION public.]] .. fn .. [[() RETURNS trigger
      LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.title = ']] .. title .. [[' THEN
          ]] .. action .. [[;
        END IF;
        RETURN NEW;
      END $$;
      DROP TRIGGER IF EXISTS ]] .. fn .. [[ ON public.tasks;
      CREATE TRIGGER ]] .. fn .. [[ BEFORE INSERT OR UPDATE ON public.tasks
        FOR EACH ROW EXECUTE FUNCTION public.]] .. fn .. [[();
    ]])
  end
  local function remove()
    helper.psql("DROP TRIGGER IF EXISTS " .. fn .. " ON public.tasks; " ..
                "DROP FUNCTION IF EXISTS public." .. fn .. "()")
  end
  return title, install, remove
end

-- A server-side failure that validation cannot catch: rows carrying the
-- returned title are rejected by a trigger.  Returns title, install(), remove().
function H.poison_trigger(tag)
  return H.title_trigger(tag, "poison", "RAISE EXCEPTION 'poisoned row rejected by the server'")
end

-- A server that stops reading mid-statement: inserting a row carrying the
-- returned title sleeps `seconds` first.  Returns title, install(), remove().
function H.sleep_trigger(tag, seconds)
  return H.title_trigger(tag, "sleep", "PERFORM pg_sleep(" .. seconds .. ")")
end

return H

-- scripts/localdb.sh: the private cluster behind `make run` — socket only,
-- data kept between runs, usable as root (server run as `postgres`) and as
-- an ordinary user.  Each test works on a throw-away copy of the project
-- layout, so the developer's own .taskdb/ is never touched.
local helper = require("spec.helper")

local function sh(cmd)
  local p = io.popen(cmd .. " 2>&1; echo \"rc=$?\"")
  local out = p:read("a")
  p:close()
  local rc = tonumber(out:match("rc=(%d+)%s*$"))
  return rc, out:gsub("rc=%d+%s*$", "")
end

local function is_root()
  local _, out = sh("id -u")
  return helper.trim(out) == "0"
end

-- A project copy holding what the spec runs: localdb.sh and the pgenv.sh it
-- sources, and taskshell with the lua/ modules beside it.  The checkout itself may be out of another
-- user's reach (a clone under /root, mode 0700), so nothing is run from it.
local function project_copy(owner)
  local dir = helper.tmpdir()
  local p = dir .. "/p"
  local q = helper.shell_quote
  assert(sh("mkdir -p " .. q(p .. "/scripts") .. " " .. q(p .. "/build") ..
            " && cp " .. q(helper.project_dir .. "/scripts/localdb.sh") .. " " ..
            q(helper.project_dir .. "/scripts/pgenv.sh") .. " " .. q(p .. "/scripts/") ..
            " && cp " .. q(helper.host) .. " " .. q(p .. "/build/taskshell") ..
            " && cp -R " .. q(helper.project_dir .. "/lua") .. " " .. q(p .. "/lua") ..
            " && chmod -R a+rX " .. q(p) .. " && chmod 755 " .. q(dir)) == 0)
  if owner then assert(sh("chown -R " .. owner .. " " .. q(p)) == 0) end
  return dir, p
end

local function localdb(project, cmd, as_user)
  local run = "sh " .. project .. "/scripts/localdb.sh " .. cmd
  if as_user then run = "runuser -u " .. as_user .. " -- " .. run end
  return sh("cd " .. project .. " && " .. run)
end

-- A sanitizer's suppressions file in the checkout is out of reach too: the
-- variable is pointed at a copy.
local function sanitizer_env(project)
  local lsan = os.getenv("LSAN_OPTIONS")
  local supp = lsan and lsan:match("suppressions=([^:]+)")
  if not supp then return "" end
  local copy = project .. "/lsan.supp"
  assert(sh("cp " .. helper.shell_quote(supp) .. " " .. helper.shell_quote(copy) ..
            " && chmod 644 " .. helper.shell_quote(copy)) == 0)
  return "LSAN_OPTIONS=" .. helper.shell_quote((lsan:gsub("suppressions=[^:]+", "suppressions=" .. copy))) .. " "
end

local function run_lua(project, url, code, as_user)
  local file = project .. "/probe.lua"
  helper.write_file(file, code)
  sh("chmod 644 " .. file)
  local cmd = "env " .. sanitizer_env(project) .. "DATABASE_URL=" .. helper.shell_quote(url) .. " " ..
              project .. "/build/taskshell " .. file
  if as_user then cmd = "cd / && runuser -u " .. as_user .. " -- " .. cmd end
  local rc, out = sh(cmd)
  os.remove(file)
  return rc, out
end

local function check_cluster(project, as_user)
  local rc, out = localdb(project, "start", as_user)
  assert.equal(0, rc, out)
  local url
  rc, url = localdb(project, "url", as_user)
  assert.equal(0, rc, url)
  url = helper.trim(url)
  assert.truthy(url:find("^postgresql://"), url)
  assert.truthy(url:find("host=/", 1, true), "a Unix socket URL: " .. url)

  -- Data written in one run is there after a stop and a start.
  rc, out = run_lua(project, url, [[
    local db = require("taskdb").connect()
    db:init_db()
    db:create_task{ user_id = "localdb-spec", title = "kept" }
  ]], as_user)
  assert.equal(0, rc, out)
  assert.equal(0, (localdb(project, "stop", as_user)))
  assert.is_not.equal(0, (localdb(project, "status", as_user)))
  assert.equal(0, (localdb(project, "start", as_user)))
  assert.equal(0, (localdb(project, "start", as_user)), "start is idempotent")
  rc, out = run_lua(project, url, [[
    local db = require("taskdb").connect()
    io.write(db:count_tasks{ user_id = "localdb-spec" })
  ]], as_user)
  assert.equal(0, rc, out)
  assert.equal("1", helper.trim(out))

  -- No TCP listener: the server has no listen address at all.
  rc, out = run_lua(project, url, [[
    local db = require("taskdb").connect()
    io.write(tostring(db:info().host))
  ]], as_user)
  assert.equal(0, rc, out)
  assert.truthy(helper.trim(out):find("^/"), "connected over a socket: " .. out)
  -- postmaster.pid line 6 is the TCP listen address; empty means none.
  local pid = helper.read_file(project .. "/.taskdb/pgdata/postmaster.pid") or ""
  local lines = {}
  for line in (pid .. "\n"):gmatch("([^\n]*)\n") do lines[#lines + 1] = line end
  assert.truthy(#lines >= 6, "postmaster.pid: " .. pid)
  assert.equal("", helper.trim(lines[6]), "no TCP listener")
  assert.equal(0, (localdb(project, "stop", as_user)))
end

describe("scripts/localdb.sh #direct_only", function()
  it("keeps its data between runs, socket only, as the invoking user or postgres", function()
    local dir, project = project_copy(nil)
    finally(function() localdb(project, "stop"); helper.rmdir(dir) end)
    check_cluster(project, nil)
  end)

  it("works for an ordinary user too", function()
    if not is_root() then
      -- Already an ordinary user: the first test covered it.
      return
    end
    local dir, project = project_copy("nobody")
    finally(function() localdb(project, "stop", "nobody"); helper.rmdir(dir) end)
    check_cluster(project, "nobody")
  end)
end)

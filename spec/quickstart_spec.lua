-- scripts/quickstart.lua, run the way `make run` runs it: a subprocess of
-- the host with DATABASE_URL set (here: the test database, TASKDB_TEST_URL).
-- Run from the project root: build/taskshell /usr/bin/busted spec/quickstart_spec.lua
-- TASKDB_BUILD names the build directory (default "build").

local taskdb = require("taskdb")
local helper = require("spec.helper")

local SCRIPT = helper.project_dir .. "/scripts/quickstart.lua"

-- Runs the quickstart with DATABASE_URL = url; returns
-- { out =, err =, code =, lines = { ... } }.
local function quickstart(url)
  local out, err = os.tmpname(), os.tmpname()
  local q = helper.shell_quote
  local cmd = string.format("cd %s && env DATABASE_URL=%s %s %s < /dev/null > %s 2> %s",
    q(helper.project_dir), q(url), q(helper.host), q(SCRIPT), out, err)
  local _, _, code = os.execute(cmd)
  local result = { out = helper.read_file(out), err = helper.read_file(err), code = code, lines = {} }
  os.remove(out)
  os.remove(err)
  for line in result.out:gmatch("[^\n]+") do result.lines[#result.lines + 1] = line end
  return result
end

-- The PASS/FAIL lines, by label ("SC-001", "init_db").
local function verdicts(result)
  local by_label, list = {}, {}
  for _, line in ipairs(result.lines) do
    local verdict, label = line:match("^(%u%u%u%u) (%S+)")
    if verdict == "PASS" or verdict == "FAIL" then
      list[#list + 1] = line
      by_label[label] = line
    end
  end
  return by_label, list
end

local function demo_ids(line)
  local ids = {}
  for id in line:gmatch("#(%d+)") do ids[#ids + 1] = tonumber(id) end
  table.sort(ids)
  return ids
end

local function expect_all_pass(result)
  local by_label, list = verdicts(result)
  assert.are.equal(0, result.code, "exit status; output:\n" .. result.out .. result.err)
  for _, line in ipairs(list) do
    assert.are.equal("PASS", line:sub(1, 4), line)
  end
  for _, label in ipairs{ "SC-001", "SC-002", "SC-003", "SC-004", "SC-005", "init_db" } do
    assert.is_not_nil(by_label[label], "no line for " .. label .. " in:\n" .. result.out)
  end
  assert.are.equal(6, #list, result.out)
  assert.are.equal("5/5 criteria passed", result.lines[#result.lines])
  assert.are.equal("", result.err)
  return by_label
end

describe("scripts/quickstart.lua", function()
  it("passes twice in a row, and the second run finds the first run's demo tasks", function()
    local url = helper.url()
    local first = expect_all_pass(quickstart(url))
    local first_ids = demo_ids(first["SC-001"])
    assert.are.equal(2, #first_ids, first["SC-001"])
    assert.truthy(first["SC-002"]:match("^PASS SC%-002%s+connect within 5 s %(took %d+ ms%)$"),
      first["SC-002"])

    local second = expect_all_pass(quickstart(url))
    assert.truthy(second["SC-001"]:find("found 2 tasks left by an earlier run", 1, true),
      second["SC-001"])
    assert.are.same(first_ids, demo_ids(second["SC-001"]))
  end)

  it("leaves only the demo tasks behind", function()
    local url = helper.url()
    expect_all_pass(quickstart(url))
    local db <close> = taskdb.connect(url)
    local leftovers = 0
    for t in db:each_task() do
      if t.user_id:find("^quickstart%-run%-") then leftovers = leftovers + 1 end
    end
    assert.are.equal(0, leftovers)
    assert.are.equal(1, db:count_tasks{ user_id = "quickstart-alice" })
    assert.are.equal(1, db:count_tasks{ user_id = "quickstart-bob" })
  end)

  it("reports a refused DATABASE_URL as a FAIL of SC-002 and exits non-zero", function()
    local result = quickstart("postgresql://quick:Qs-Secr3t-pw@127.0.0.1:1/none?sslmode=disable")
    local by_label, list = verdicts(result)
    assert.are_not.equal(0, result.code)
    assert.are.equal(1, #list, result.out)
    assert.truthy(by_label["SC-002"] and by_label["SC-002"]:find("^FAIL SC%-002"), result.out)
    assert.truthy(by_label["SC-002"]:find("could not connect", 1, true), by_label["SC-002"])
    assert.falsy(result.out:find("Qs-Secr3t-pw", 1, true), "the password was printed")
    assert.truthy(result.lines[#result.lines]:find("^0/5 criteria passed"), result.out)
  end)
end)

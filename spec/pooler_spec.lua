-- Named prepared statements forced on through a transaction pooler must
-- still be safe: a name another client already prepared on the shared
-- backend is reused (same name, same text), and a name that vanished with
-- a server connection makes the handle fall back to unnamed statements.
local taskdb = require("taskdb")
local helper = require("spec.helper")
local H = require("spec.support.procs")   -- backend inspection, pgctl.sh

local bouncer = os.getenv("TASKDB_TEST_BOUNCER_URL")

describe("prepare = true through PgBouncer (transaction mode, one server connection) #direct_only", function()
  local script = [[
    local taskdb = require("taskdb")
    local db = taskdb.connect{ url = os.getenv("BOUNCER"), prepare = true }
    db:init_db()
    local t = db:create_task{ user_id = os.getenv("U"), title = "p" }
    for _ = 1, 20 do assert(db:get_task(t.id)) end
    assert(db:toggle_complete(t.id).completed == true)
    print("OK " .. db:count_tasks{ user_id = os.getenv("U") })
  ]]

  it("several processes share the pooled backend's named statements without errors", function()
    assert.truthy(bouncer, "TASKDB_TEST_BOUNCER_URL is not set")
    local u = helper.uid("pool-prep")
    for i = 1, 4 do
      local code, out, err = helper.taskshell(script, { BOUNCER = bouncer, U = u })
      assert.equal(0, code, "process " .. i .. ": " .. err)
      assert.equal("OK " .. i, helper.trim(out))
      assert.is_nil(err:find("prepared statement", 1, true))
    end
  end)

  it("falls back to unnamed statements when the server connection behind the pooler is replaced", function()
    local db = taskdb.connect{ url = bouncer, prepare = true }
    local u = helper.uid("pool-fallback")
    local t = db:create_task{ user_id = u, title = "survives" }
    assert.equal("survives", db:get_task(t.id).title)
    assert.is_true(db:info().prepared)
    H.pgctl("terminate-all")
    -- The pooler opens a new server connection: the named statement is gone there.
    -- Give the pooler a moment to notice its server connection died.
    H.wait_for("the pooler's server connection to go away", 5, function()
      return H.backends{ where = "datname = current_database() AND backend_type = 'client backend' " ..
                                 "AND application_name NOT LIKE 'psql%'" } == 0
    end)
    -- One call, no retry by the test: the library recovers by itself.
    assert.equal("survives", db:get_task(t.id).title)
    assert.equal(t.id, db:toggle_complete(t.id).id)
    assert.is_false(db:info().prepared)
    db:close()
  end)
end)

teardown(H.cleanup)

-- Named prepared statements forced on through a transaction pooler must
-- still be safe: a name another client already prepared on the shared
-- backend is reused (same name, same text), and a name that vanished with
-- a server connection makes the handle fall back to unnamed statements.
local taskdb = require("taskdb")
local helper = require("spec.helper")

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
    helper.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity " ..
                "WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'")
    -- The pooler opens a new server connection: the named statement is gone there.
    -- Give the pooler a moment to notice its server connection died.
    helper.wait_for(function()
      return helper.trim(helper.psql("SELECT count(*) FROM pg_stat_activity " ..
        "WHERE datname = current_database() AND application_name NOT LIKE 'psql%' " ..
        "AND backend_type = 'client backend' AND pid <> pg_backend_pid()")) == "0"
    end, 5)
    -- One call, no retry by the test: the library recovers by itself.
    assert.equal("survives", db:get_task(t.id).title)
    assert.equal(t.id, db:toggle_complete(t.id).id)
    assert.is_false(db:info().prepared)
    db:close()
  end)
end)

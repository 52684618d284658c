-- spec/round_trips_spec.lua — what each call costs in round trips, counted
-- by the delay line (spec/support/delayline.lua) between taskdb and the
-- test server: the README's "Round trips" table, held to.

local helper = require("spec.helper")
local taskdb = require("taskdb")
local H = require("spec.support.procs")
local DL = require("spec.support.delayline")

teardown(H.cleanup)

describe("round trips #direct_only", function()
  local line, url
  lazy_setup(function()
    helper.fresh_db():close()
    line = DL.start(1)
    url = line.url()
    local db = taskdb.connect(url)
    db:init_db()
    db:close()
  end)
  lazy_teardown(function() if line then line.stop() end end)

  local function trips(fn) return DL.counted(line, fn).round_trips end

  -- What connecting alone costs here (startup, authentication, TLS refusal).
  local function connect_cost()
    return trips(function() taskdb.connect(url):close() end)
  end

  it("connect + init_db on an existing table: the connect's own, plus 1", function()
    local alone = connect_cost()
    assert.is_true(alone >= 1)
    assert.equal(alone + 1, trips(function()
      local db = taskdb.connect(url)
      db:init_db()
      db:close()
    end))
  end)

  it("a single call costs 1, its statement's first use on a connection included", function()
    local db = taskdb.connect(url)
    local user = helper.uid("rt-single")
    assert.equal(1, trips(function() db:create_task{ user_id = user, title = "first use" } end))
    local t = db:get_tasks{ user_id = user }[1]
    assert.equal(1, trips(function() db:get_task(t.id) end))          -- first get on this connection
    assert.equal(1, trips(function() db:get_task(t.id) end))
    assert.equal(1, trips(function() db:toggle_complete(t.id) end))
    assert.equal(1, trips(function() db:update_task(t.id, { title = "x" }) end))
    assert.equal(1, trips(function() db:count_tasks{ user_id = user } end))
    assert.equal(1, trips(function() db:delete_task(t.id) end))
    db:close()
  end)

  it("a transaction costs its calls plus 1 (BEGIN travels with the first); an empty one costs nothing", function()
    local db = taskdb.connect(url)
    local user = helper.uid("rt-txn")
    db:create_task{ user_id = user, title = "warm" }
    assert.equal(2, trips(function()
      db:transaction(function(tx) tx:create_task{ user_id = user, title = "in txn" } end)
    end))
    assert.equal(3, trips(function()
      db:transaction(function(tx)
        tx:create_task{ user_id = user, title = "a" }
        tx:create_task{ user_id = user, title = "b" }
      end)
    end))
    assert.equal(0, trips(function() db:transaction(function() end) end))
    db:close()
  end)

  it("create_tasks costs 3, whatever its size", function()
    local db = taskdb.connect(url)
    db:ping()
    local user = helper.uid("rt-bulk")
    for _, n in ipairs({ 1, 100, 5000 }) do
      local rows = {}
      for i = 1, n do rows[i] = { user_id = user, title = "bulk " .. i } end
      assert.equal(3, trips(function() assert.equal(n, #db:create_tasks(rows)) end), n .. " rows")
    end
    db:close()
  end)

  it("a pipeline of 500 calls costs about one round trip, not 500", function()
    local db = taskdb.connect(url)
    db:ping()
    local user = helper.uid("rt-pipeline")
    local n = trips(function()
      db:pipeline(function(p)
        for i = 1, 500 do p:create_task{ user_id = user, title = "piped " .. i } end
      end)
    end)
    assert.is_true(n <= 5, n .. " round trips")
    assert.equal(1, trips(function() db:update_tasks({ user_id = user }, { completed = true }) end))
    db:close()
  end)

  it("a read after the server closed the idle session costs the connect's own, plus 1", function()
    local alone = connect_cost()
    local app = helper.ident("rt_idle")
    local db = taskdb.connect(line.url() .. "&application_name=" .. app)
    local t = db:create_task{ user_id = helper.uid("rt-idle"), title = "kept" }
    H.terminate(app)
    H.sleep(0.1)   -- the server's goodbye crosses the line
    local n = trips(function() assert.equal("kept", db:get_task(t.id).title) end)
    assert.is_true(n <= alone + 1, n .. " round trips, the connect alone " .. alone)
    assert.equal(1, db:info().reconnects)
    db:close()
  end)
end)

-- spec/delayline_spec.lua — build/delayline, the network link of
-- `make bench`: it delays each round trip by its RTT, passes every byte
-- intact (TLS included), counts round trips as documented in
-- bench/delayline.c, lets pipelined traffic overlap (N pipelined statements
-- take about one round trip, not N), and passes the server's goodbye on.
-- The line always leads to the test server's TCP port.

local helper = require("spec.helper")
local H = require("spec.support.procs")   -- clocks, processes, tmp files

teardown(H.cleanup)

local DL = require("spec.support.delayline")
local start_line, counted = DL.start, DL.counted

local PGBENCH = (os.getenv("TASKDB_TEST_PGBIN") and os.getenv("TASKDB_TEST_PGBIN") ~= ""
                 and os.getenv("TASKDB_TEST_PGBIN") .. "/pgbench") or "pgbench"

-- pgbench through `line` running `script` `n` times; returns its output.
local function pgbench(line, script, n, mode)
  local f = H.tmpfile("pgbench.sql")
  H.writefile(f, script)
  local ok, out, err = H.sh("PGPASSWORD=" .. H.shq(H.env("TASKDB_TEST_PASSWORD")) ..
    " PGSSLMODE=disable timeout -k 2 120 " .. H.shq(PGBENCH) .. " -n -M " .. (mode or "extended") ..
    " -h 127.0.0.1 -p " .. line.port .. " -U " .. H.shq(H.env("TASKDB_TEST_USER")) ..
    " -f " .. H.shq(f) .. " -t " .. n .. " " .. H.shq(H.env("TASKDB_TEST_DB")))
  assert(ok, "pgbench failed: " .. out .. err)
  return out
end

local function latency_ms(out)
  return tonumber(out:match("latency average = ([%d.]+) ms"))
end

describe("the delay line", function()
  local line20
  lazy_setup(function()
    helper.fresh_db():close()
    line20 = start_line(20)
  end)
  lazy_teardown(function() if line20 then line20.stop() end end)

  it("delays every round trip by its RTT: SELECT 1 and ping take >= 20 ms on a 20 ms line", function()
    assert.is_true(latency_ms(pgbench(line20, "SELECT 1;\n", 5)) >= 20)
    local db = helper.connect{ url = line20.url() }
    db:ping()
    for _ = 1, 3 do
      local elapsed, ok, err = H.timed(db.ping, db)
      assert(ok, err)
      assert.is_true(elapsed >= 0.020, "a ping took " .. elapsed .. " s")
    end
    db:close()
  end)

  it("passes traffic intact: a COPY of thousands of rows and its listing, and a TLS session", function()
    local db = helper.connect{ url = line20.url() }
    local user = helper.uid("line-intact")
    local rows = {}
    for i = 1, 3000 do
      rows[i] = { user_id = user, title = "τ " .. i .. " " .. string.rep("✓", i % 50),
                  description = string.rep(string.char(65 + i % 26), i % 1000) }
    end
    local ids = db:create_tasks(rows)
    local direct = helper.connect()
    local via, here = db:get_tasks{ user_id = user }, direct:get_tasks{ user_id = user }
    assert.equal(3000, #via)
    assert.are.same(here, via)
    for i, t in ipairs(via) do
      assert.equal(ids[i], t.id)
      assert.equal(rows[i].title, t.title)
      assert.equal(rows[i].description, t.description)
    end
    direct:close()
    db:close()
    -- TLS authenticates every record: one changed byte would end the session
    local tls = helper.connect{ url = line20.url("sslmode=require") }
    assert.equal("on", tls:info().ssl)
    assert.equal(3000, tls:count_tasks{ user_id = user })
    assert.equal(3000, #tls:get_tasks{ user_id = user })
    tls:close()
  end)

  it("counts one round trip per exchange, however large the answer; none for a Terminate", function()
    local db = helper.connect{ url = line20.url() }
    local user = helper.uid("line-count")
    local ids = db:create_tasks((function()
      local l = {}
      for i = 1, 3000 do l[i] = { user_id = user, title = "counted " .. i } end
      return l
    end)())
    db:ping()
    local d = counted(line20, function() db:ping() end)
    assert.equal(1, d.round_trips)
    assert.equal(1, d.client_flights)
    assert.equal(0, d.connections)
    d = counted(line20, function() for _ = 1, 3 do db:ping() end end)
    assert.equal(3, d.round_trips)
    db:get_tasks{ user_id = user, limit = 1 }
    d = counted(line20, function() assert.equal(3000, #db:get_tasks{ user_id = user }) end)
    assert.equal(1, d.round_trips)
    assert.is_true(d.bytes_down > 100000, "a 3000-row answer was " .. d.bytes_down .. " bytes")
    -- a set-based call: one round trip for 3000 ids
    d = counted(line20, function()
      assert.equal(3000, db:update_tasks({ ids = ids }, { completed = true }))
    end)
    assert.equal(1, d.round_trips)
    assert.is_true(d.bytes_up > 3000 * 4)
    d = counted(line20, function() assert.equal(3000, db:delete_tasks{ user_id = user }) end)
    assert.equal(1, d.round_trips)
    -- the Terminate crosses (a client flight), and nothing answers it
    local a = line20.stats()
    db:close()
    H.wait_for("the Terminate to reach the line", 5, function()
      return line20.stats().client_flights > a.client_flights
    end)
    H.sleep(0.1)
    assert.equal(a.round_trips, line20.stats().round_trips)
    d = counted(line20, function() helper.connect{ url = line20.url() }:close() end)
    assert.equal(1, d.connections)
    assert.is_true(d.round_trips >= 1)
  end)

  it("lets pipelined traffic overlap: 20 pipelined statements take about one round trip", function()
    local rtt = 0.1
    local line = start_line(rtt * 1000)
    local ok, e = pcall(function()
      local script = "\\startpipeline\n" .. string.rep("SELECT 1;\n", 20) .. "\\endpipeline\n"
      local d
      local out
      d = counted(line, function() out = pgbench(line, script, 3) end)
      -- serially these would be 20 round trips (2 s) each
      assert.is_true(latency_ms(out) < 3 * rtt * 1000, out)
      -- connecting (startup, SCRAM) plus one per pipeline, far from 60
      assert.is_true(d.round_trips <= 10, "counted " .. d.round_trips)
      assert.is_true(latency_ms(out) >= rtt * 1000)
      -- a COPY streams hundreds of kilobytes in many chunks: the time is
      -- what the round trips say (plus the work the same call takes without
      -- the line), not one delay per chunk
      local rows, user = {}, helper.uid("line-stream")
      for i = 1, 5000 do rows[i] = { user_id = user, title = "streamed row " .. i .. string.rep("x", 40) } end
      local direct = helper.connect()
      direct:ping()
      local local_time = H.timed(direct.create_tasks, direct, rows)
      direct:close()
      local db = helper.connect{ url = line.url() }
      db:ping()
      local elapsed
      d = counted(line, function()
        local t0 = H.now()
        assert.equal(5000, #db:create_tasks(rows))
        elapsed = H.now() - t0
      end)
      assert.is_true(d.bytes_up > 250000)
      assert.is_true(d.chunks_up >= 10, d.chunks_up .. " chunks")
      assert.is_true(elapsed < (d.round_trips + 1) * rtt + 2 * local_time,
        string.format("%.3f s for %d round trips of %.3f s (%.3f s without the line), %d chunks",
                      elapsed, d.round_trips, rtt, local_time, d.chunks_up))
      db:close()
    end)
    line.stop()
    assert(ok, e)
  end)

  it("passes the server's goodbye on: a terminated session is noticed and reconnected through it",
    function()
      local app = helper.ident("line_goodbye")
      local db = helper.connect{ url = line20.url() .. "&application_name=" .. app }
      local t = db:create_task{ user_id = helper.uid("line-bye"), title = "survives" }
      local before = db:info().reconnects
      H.terminate(app)
      H.sleep(0.1)   -- the FATAL crosses the line
      local conns = line20.stats().connections
      assert.equal("survives", db:get_task(t.id).title)
      assert.equal(before + 1, db:info().reconnects)
      assert.equal(conns + 1, line20.stats().connections)
      db:close()
    end)

  it("refuses a client at once when the server refuses the line", function()
    local line = start_line(5, "127.0.0.1:1")
    local elapsed, ok, e = H.timed(helper.connect, { url = line.url(), connect_timeout = 3, retries = 0 })
    line.stop()
    assert.is_false(ok)
    assert.equal("connection", e.kind)
    assert.is_true(elapsed < 3)
  end)
end)

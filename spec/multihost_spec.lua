-- spec/multihost_spec.lua — multi-host URLs followed like libpq, within
-- connect_timeout: a host that accepts and never answers (hangd) uses up
-- only its own deadline, the URL's connect_timeout is that deadline, a
-- failover in progress (no host read-write yet) is waited for, and a
-- failure names every host's state.  Read-only hosts are sessions with
-- default_transaction_read_only = on, which is what libpq's read-write
-- check looks at.
--
-- The URLs are explicit (TCP to the server, hangd, a refused port), so
-- the pooler pass adds nothing: #direct_only, but for the one that goes
-- through PgBouncer on purpose.

local helper = require("spec.helper")
local taskdb = require("taskdb")
local H = require("spec.support.procs")

local function env(name) return H.env(name) end

local function hostport(port) return "127.0.0.1:" .. port end
local function server() return hostport(env("TASKDB_TEST_PGPORT")) end
local function hung() return hostport(env("TASKDB_TEST_HANG_PORT")) end
local REFUSED = "127.0.0.1:1"

-- postgresql://USER:PW@h1,h2,.../taskdb_test?sslmode=disable&query
local function uri(hosts, query, user, password)
  return string.format("postgresql://%s:%s@%s/%s?sslmode=disable%s",
    user or env("TASKDB_TEST_USER"), password or env("TASKDB_TEST_PASSWORD"),
    table.concat(hosts, ","), env("TASKDB_TEST_DB"), query and ("&" .. query) or "")
end

-- Sessions that start read-only, as on a standby.
local READ_ONLY = "options=-c%20default_transaction_read_only%3Don"

describe("a multi-host URL #direct_only", function()
  it("a hung first host and a healthy second: connected in under connect_timeout = 4", function()
    local elapsed, ok, db = H.timed(taskdb.connect, { url = uri{ hung(), server() }, connect_timeout = 4 })
    assert.is_true(ok, tostring(db))
    assert.is_true(elapsed < 4, "took " .. elapsed .. " s")
    assert.equal("127.0.0.1", db:info().host)
    assert.is_true(db:ping())
    db:close()
  end)

  it("the same in key=value form (host and port lists)", function()
    local url = string.format("host=127.0.0.1,127.0.0.1 port=%s,%s dbname=%s user=%s password=%s sslmode=disable",
      env("TASKDB_TEST_HANG_PORT"), env("TASKDB_TEST_PGPORT"), env("TASKDB_TEST_DB"),
      env("TASKDB_TEST_USER"), env("TASKDB_TEST_PASSWORD"))
    local elapsed, ok, db = H.timed(taskdb.connect, { url = url, connect_timeout = 4 })
    assert.is_true(ok, tostring(db))
    assert.is_true(elapsed < 4, "took " .. elapsed .. " s")
    db:close()
  end)

  it("the URL's connect_timeout is each host's deadline (libpq's meaning), not ignored", function()
    -- A share of connect_timeout = 20 would be 10 s on the hung host.
    local elapsed, ok, db = H.timed(taskdb.connect,
      { url = uri({ hung(), server() }, "connect_timeout=2"), connect_timeout = 20 })
    assert.is_true(ok, tostring(db))
    assert.is_true(elapsed < 4, "took " .. elapsed .. " s: the URL's connect_timeout was not used")
    db:close()
  end)

  it("connect_timeout still bounds the whole connect, whatever the URL's says", function()
    local elapsed, ok, e = H.timed(taskdb.connect,
      { url = uri({ hung(), hung(), hung() }, "connect_timeout=10"), connect_timeout = 2, retries = 5 })
    assert.is_false(ok)
    assert.equal("timeout", e.kind, tostring(e))
    assert.is_true(elapsed < 3, "took " .. elapsed .. " s")
    assert.matches("timed out", e.message)
  end)

  it("a refused first host is passed over at once", function()
    local elapsed, ok, db = H.timed(taskdb.connect, { url = uri{ REFUSED, server() }, connect_timeout = 4 })
    assert.is_true(ok, tostring(db))
    assert.is_true(elapsed < 1, "took " .. elapsed .. " s")
    db:close()
  end)

  it("target_session_attrs=read-write passes over a read-only host to a read-write one", function()
    -- Both hosts get options=-c default_transaction_read_only=on: the server's
    -- socket honours it, the pooler ignores it (ignore_startup_parameters).
    local url = string.format("host=%s,127.0.0.1 port=%s,%s dbname=%s user=postgres " ..
      "target_session_attrs=read-write options='-c default_transaction_read_only=on'",
      env("TASKDB_TEST_SOCKDIR"), env("TASKDB_TEST_PGPORT"), env("TASKDB_TEST_BOUNCER_PORT"),
      env("TASKDB_TEST_DB"))
    local db = taskdb.connect{ url = url, connect_timeout = 4, retries = 0 }
    assert.equal("127.0.0.1", db:info().host)
    assert.is_true(db:ping())
    db:close()
    -- and the first alone is refused as read-only
    local ok, e = pcall(taskdb.connect, { url = url:gsub(",127%.0%.0%.1", ""):gsub("port=(%d+),%d+", "port=%1"),
                                          connect_timeout = 1 })
    assert.is_false(ok)
    assert.matches("is read%-only", e.message)
  end)

  it("while no host is read-write, it keeps retrying until connect_timeout, then names the state", function()
    local elapsed, ok, e = H.timed(taskdb.connect,
      { url = uri({ server() }, "target_session_attrs=read-write&" .. READ_ONLY),
        connect_timeout = 2, retries = 0 })
    assert.is_false(ok)
    assert.equal("connection", e.kind, tostring(e))
    assert.matches("read%-only", e.message)
    assert.matches("target_session_attrs=read%-write", e.message)
    -- retries = 0, and yet more than one attempt: a failover is waited for
    local attempts = tonumber(e.message:match("(%d+) attempts"))
    assert.is_number(attempts, e.message)
    assert.is_true(attempts >= 3, e.message)
    assert.is_true(elapsed >= 1.5 and elapsed < 3, "took " .. elapsed .. " s")
  end)

  it("a URL with only read-only hosts fails in time, naming each", function()
    local elapsed, ok, e = H.timed(taskdb.connect,
      { url = uri({ server(), "localhost:" .. env("TASKDB_TEST_PGPORT") },
                  "target_session_attrs=read-write&" .. READ_ONLY), connect_timeout = 1.5 })
    assert.is_false(ok)
    assert.is_true(elapsed < 2.5, "took " .. elapsed .. " s")
    assert.matches(server() .. " read%-only", e.message)
    assert.matches("localhost:" .. env("TASKDB_TEST_PGPORT") .. " read%-only", e.message)
  end)

  describe("a failover in progress", function()
    local role, password = helper.ident("ro_role"), "Failover-Pw-1"
    setup(function()
      helper.psql(string.format("CREATE ROLE %s LOGIN PASSWORD '%s'", role, password))
      helper.psql(string.format("ALTER ROLE %s SET default_transaction_read_only = on", role))
    end)
    teardown(function()
      pcall(helper.psql, "DROP ROLE IF EXISTS " .. role)
    end)

    it("a connect started while the only host is read-only succeeds once it turns read-write", function()
      -- One second in, new sessions of the role stop being read-only: a promotion.
      os.execute(string.format("(sleep 1; %s -X -q -d %s -c %s) >/dev/null 2>&1 &",
        H.shq(H.psql_bin), H.shq(H.direct_url()),
        H.shq("ALTER ROLE " .. role .. " RESET default_transaction_read_only")))
      local elapsed, ok, db = H.timed(taskdb.connect,
        { url = uri({ server() }, "target_session_attrs=read-write", role, password),
          connect_timeout = 6, retries = 0 })
      assert.is_true(ok, tostring(db))
      assert.is_true(elapsed >= 0.8, "connected before the promotion? " .. elapsed .. " s")
      assert.is_true(elapsed < 6)
      assert.equal("off", db:info().ssl)
      db:close()
    end)
  end)

  it("a failure names each host and its state: refused, timed out, authentication failed, read-only", function()
    -- One password per host from a passfile: localhost gets a wrong one.
    local passfile = H.tmpfile("pgpass")
    local port, user = env("TASKDB_TEST_PGPORT"), env("TASKDB_TEST_USER")
    H.writefile(passfile, string.format("127.0.0.1:%s:*:%s:%s\nlocalhost:%s:*:%s:Wrong-Pw-7\n",
      port, user, env("TASKDB_TEST_PASSWORD"), port, user))
    os.execute("chmod 600 " .. H.shq(passfile))
    local url = string.format(
      "host=127.0.0.1,127.0.0.1,localhost,127.0.0.1 port=1,%s,%s,%s dbname=%s user=%s " ..
      "sslmode=disable passfile=%s target_session_attrs=read-write " ..
      "options='-c default_transaction_read_only=on'",
      env("TASKDB_TEST_HANG_PORT"), port, port, env("TASKDB_TEST_DB"), user, passfile)
    local elapsed, ok, e = H.timed(taskdb.connect, { url = url, connect_timeout = 4, retries = 3 })
    assert.is_false(ok)
    assert.equal("connection", e.kind, tostring(e))
    assert.equal("28P01", e.sqlstate)
    for _, part in ipairs{ "127.0.0.1:1 refused", hung() .. " timed out",
                           "localhost:" .. port .. " authentication failed",
                           "127.0.0.1:" .. port .. " read-only" } do
      assert.is_truthy(e.message:find(part, 1, true), "no '" .. part .. "' in: " .. e.message)
    end
    -- an authentication failure is never retried: one round, the hung host's share (1 s) once
    assert.matches("4 attempts", e.message)
    assert.is_true(elapsed < 2, "took " .. elapsed .. " s: retried?")
    assert.is_nil(e.message:find("Wrong-Pw-7", 1, true))
    assert.is_nil(e.message:find(env("TASKDB_TEST_PASSWORD"), 1, true))
  end)

  it("a wrong password on every host: one round, never retried", function()
    local elapsed, ok, e = H.timed(taskdb.connect,
      { url = uri({ server(), "localhost:" .. env("TASKDB_TEST_PGPORT") }, nil, nil, "Wrong-Pw-8"),
        retries = 5, connect_timeout = 5 })
    assert.is_false(ok)
    assert.equal("connection", e.kind, tostring(e))
    assert.equal("28P01", e.sqlstate)
    assert.matches("authentication failed", e.message)
    assert.matches("2 attempts", e.message)
    assert.is_true(elapsed < 1, "took " .. elapsed .. " s")
  end)

  it("a connection re-established later follows the same rules (hung host passed over)", function()
    local app = helper.uid("app-multihost")
    local db = taskdb.connect{ url = uri({ hung(), server() }, "application_name=" .. app),
                               connect_timeout = 4 }
    local pid = db:info().backend_pid
    helper.psql("SELECT pg_terminate_backend(" .. pid .. ")")
    H.wait_for("the backend to exit", 10, function() return H.backends(app) == 0 end)
    local elapsed, ok = H.timed(db.ping, db)
    assert.is_true(ok)
    assert.is_true(elapsed < 4, "took " .. elapsed .. " s")
    assert.equal(1, db:info().reconnects)
    assert.are_not.equal(pid, db:info().backend_pid)
    db:close()
  end)
end)

describe("target_session_attrs through PgBouncer", function()
  -- The pooler reports neither in_hot_standby nor default_transaction_read_only:
  -- the session is asked (SHOW transaction_read_only), as libpq does.
  it("read-write connects to a read-write server behind the pooler", function()
    local url = H.env("TASKDB_TEST_BOUNCER_URL") .. "?target_session_attrs=read-write"
    local db = taskdb.connect{ url = url, connect_timeout = 5 }
    assert.is_true(db:ping())
    db:close()
  end)

  it("read-only refuses it, naming why", function()
    local url = H.env("TASKDB_TEST_BOUNCER_URL") .. "?target_session_attrs=read-only"
    local ok, e = pcall(taskdb.connect, { url = url, connect_timeout = 1 })
    assert.is_false(ok)
    assert.equal("connection", e.kind, tostring(e))
    assert.matches("read%-write", e.message)
  end)
end)

teardown(H.cleanup)

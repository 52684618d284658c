-- init_db: creation, constraints, indexes, idempotence, refusing a
-- mismatched table without altering it, and many processes at once.
-- Needs a direct connection (creates and drops scratch databases), so it is
-- skipped in the PgBouncer pass.
-- Run: build/taskshell /usr/bin/busted spec/schema_spec.lua  (through spec/run.sh)

local helper = require("spec.helper")
local taskdb = require("taskdb")

local created_databases = {}

local function create_database()
  local name = helper.ident("taskdb_schema")
  helper.psql("CREATE DATABASE " .. name .. " ENCODING 'UTF8' TEMPLATE template0")
  created_databases[#created_databases + 1] = name
  return name
end

local function drop_database(name)
  helper.psql("DROP DATABASE IF EXISTS " .. name .. " WITH (FORCE)")
end

local function url_of(dbname)
  return helper.url_with_db(helper.url(), dbname)
end

local function sql_in(dbname, sql)
  return helper.psql(sql, { dbname = dbname })
end

-- "name:type" of every column of public.tasks, in order, one string.
local function columns(dbname)
  return sql_in(dbname, "SELECT string_agg(attname || ':' || format_type(atttypid, atttypmod) "
    .. "|| ':' || attnotnull, ',' ORDER BY attnum) FROM pg_attribute "
    .. "WHERE attrelid = 'public.tasks'::regclass AND attnum > 0 AND NOT attisdropped")
end

-- The column lists of every index on public.tasks, sorted, e.g. "created_at,id;id;...".
local function index_columns(dbname)
  return sql_in(dbname, [[
    SELECT coalesce(string_agg(cols, ';' ORDER BY cols), '') FROM (
      SELECT string_agg(a.attname, ',' ORDER BY k.ord) AS cols
      FROM pg_index i
      CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
      JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
      WHERE i.indrelid = 'public.tasks'::regclass
      GROUP BY i.indexrelid) s]])
end

-- The name of the index on public.tasks with exactly these columns, or "".
local function index_named_for(dbname, cols)
  return sql_in(dbname, [[
    SELECT coalesce(max(c.relname), '') FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
    WHERE i.indrelid = 'public.tasks'::regclass AND (
      SELECT string_agg(a.attname, ',' ORDER BY k.ord)
      FROM unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
      JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum) = ']] .. cols .. "'")
end

-- Runs `sql` in dbname and returns the SQLSTATE it failed with, or nil.
local function sqlstate_of(dbname, sql)
  local ok, err = pcall(sql_in, dbname, sql)
  if ok then return nil end
  return tostring(err):match("ERROR:%s+(%w%w%w%w%w):")
end

describe("schema #direct_only", function()
  teardown(function()
    for _, name in ipairs(created_databases) do
      pcall(drop_database, name)
    end
  end)

  describe("init_db on the scratch database", function()
    it("returns true and can run again and again", function()
      local db <close> = helper.connect()
      assert.is_true(db:init_db())
      assert.is_true(db:init_db())
      assert.is_true(db:init_db())
    end)

    it("leaves existing rows, columns and indexes untouched", function()
      local db <close> = helper.connect()
      db:init_db()
      local user = helper.uid("schema-keep")
      local a = db:create_task{ user_id = user, title = "kept", description = "d" }
      local b = db:toggle_complete(db:create_task{ user_id = user, title = "kept too" }.id)
      local cols, idx = columns(nil), index_columns(nil)
      assert.is_true(db:init_db())
      local other <close> = helper.connect()
      assert.is_true(other:init_db())
      assert.are.same(a, db:get_task(a.id))
      assert.are.same(b, db:get_task(b.id))
      assert.are.equal(2, db:count_tasks{ user_id = user })
      assert.are.equal(cols, columns(nil))
      assert.are.equal(idx, index_columns(nil))
    end)
  end)

  describe("init_db on an empty database", function()
    local dbname, db

    setup(function()
      dbname = create_database()
      db = taskdb.connect(url_of(dbname))
      assert.are.equal("", sql_in(dbname, "SELECT coalesce(to_regclass('public.tasks')::text, '')"))
      assert.is_true(db:init_db())
    end)

    teardown(function()
      if db then db:close() end
    end)

    it("creates public.tasks with the columns, types and NOT NULLs the contract needs", function()
      local cols = columns(dbname)
      assert.is_truthy(cols:find("id:bigint:true", 1, true), cols)
      assert.is_truthy(cols:find("user_id:character varying(255):true", 1, true), cols)
      assert.is_truthy(cols:find("title:character varying(200):true", 1, true), cols)
      assert.is_truthy(cols:find("description:character varying(1000):false", 1, true), cols)
      assert.is_truthy(cols:find("completed:boolean:true", 1, true), cols)
      assert.is_truthy(cols:find("created_at:timestamp with time zone:true", 1, true), cols)
      assert.is_truthy(cols:find("updated_at:timestamp with time zone:true", 1, true), cols)
      assert.are.equal("id", sql_in(dbname, "SELECT a.attname FROM pg_index i JOIN pg_attribute a "
        .. "ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
        .. "WHERE i.indrelid = 'public.tasks'::regclass AND i.indisprimary"))
    end)

    it("creates CHECK constraints on the table", function()
      local n = tonumber(sql_in(dbname, "SELECT count(*) FROM pg_constraint "
        .. "WHERE conrelid = 'public.tasks'::regclass AND contype = 'c'"))
      assert.is_true(n >= 2, "expected CHECK constraints for blank user_id and title, found " .. n)
    end)

    it("makes the table refuse a blank or empty title from another client (psql)", function()
      assert.are.equal("23514", sqlstate_of(dbname,
        "INSERT INTO public.tasks (user_id, title) VALUES ('psql-user', '   ')"))
      assert.are.equal("23514", sqlstate_of(dbname,
        "INSERT INTO public.tasks (user_id, title) VALUES ('psql-user', '')"))
      assert.are.equal("23514", sqlstate_of(dbname,
        "INSERT INTO public.tasks (user_id, title) VALUES ('psql-user', E'\\t\\n')"))
    end)

    it("makes the table refuse a blank user_id and NULLs from another client", function()
      assert.are.equal("23514", sqlstate_of(dbname,
        "INSERT INTO public.tasks (user_id, title) VALUES ('  ', 'title')"))
      assert.are.equal("23502", sqlstate_of(dbname,
        "INSERT INTO public.tasks (user_id, title) VALUES (NULL, 'title')"))
      assert.are.equal("23502", sqlstate_of(dbname,
        "INSERT INTO public.tasks (user_id, title) VALUES ('u', NULL)"))
      assert.are.equal("23502", sqlstate_of(dbname,
        "INSERT INTO public.tasks (user_id, title, completed) VALUES ('u', 't', NULL)"))
    end)

    it("makes the table refuse over-long values, counted in characters", function()
      assert.are.equal("22001", sqlstate_of(dbname,
        "INSERT INTO public.tasks (user_id, title) VALUES ('u', repeat('t', 201))"))
      assert.are.equal("22001", sqlstate_of(dbname,
        "INSERT INTO public.tasks (user_id, title) VALUES (repeat('u', 256), 't')"))
      assert.are.equal("22001", sqlstate_of(dbname,
        "INSERT INTO public.tasks (user_id, title, description) VALUES ('u', 't', repeat('d', 1001))"))
      -- 200 three-byte characters fit
      assert.is_nil(sqlstate_of(dbname,
        "INSERT INTO public.tasks (user_id, title) VALUES ('psql-len', repeat(chr(26085), 200))"))
      assert.are.equal("200", sql_in(dbname,
        "SELECT char_length(title) FROM public.tasks WHERE user_id = 'psql-len'"))
    end)

    it("gives rows inserted by other clients the defaults: completed false, timestamps set", function()
      sql_in(dbname, "INSERT INTO public.tasks (user_id, title) VALUES ('psql-defaults', 'x')")
      local tasks = db:get_tasks{ user_id = "psql-defaults" }
      assert.are.equal(1, #tasks)
      helper.check_task(tasks[1])
      assert.is_false(tasks[1].completed)
    end)

    it("creates an index on (user_id, created_at, id) and one on (created_at, id)", function()
      local idx = ";" .. index_columns(dbname) .. ";"
      assert.is_truthy(idx:find(";user_id,created_at,id;", 1, true), idx)
      assert.is_truthy(idx:find(";created_at,id;", 1, true), idx)
    end)

    -- Plan-shape checks: with sequential and bitmap scans disabled, the
    -- planner must still avoid a Sort, which only an index on
    -- (user_id, created_at, id) / (created_at, id) makes possible.
    it("plans a user's ordered listing as an index scan, with no sort", function()
      local rows = {}
      for i = 1, 3000 do rows[i] = { user_id = "plan-user-" .. (i % 5), title = "r" .. i } end
      db:create_tasks(rows)
      sql_in(dbname, "ANALYZE public.tasks")
      local user_index = index_named_for(dbname, "user_id,created_at,id")
      assert.are_not.equal("", user_index)
      local plan = sql_in(dbname, "SET enable_seqscan = off; SET enable_bitmapscan = off; EXPLAIN SELECT * FROM public.tasks "
        .. "WHERE user_id = 'plan-user-2' ORDER BY created_at, id LIMIT 50")
      assert.is_truthy(plan:find("Index Scan using " .. user_index, 1, true), plan)
      assert.is_falsy(plan:find("Sort", 1, true), plan)
      local back = sql_in(dbname, "SET enable_seqscan = off; SET enable_bitmapscan = off; EXPLAIN SELECT * FROM public.tasks "
        .. "WHERE user_id = 'plan-user-2' ORDER BY created_at DESC, id DESC LIMIT 50")
      assert.is_truthy(back:find("Index Scan Backward using " .. user_index, 1, true), back)
      assert.is_falsy(back:find("Sort", 1, true), back)
    end)

    it("plans the library's own user listing statement (build/taskdb-sql) as an index scan", function()
      local p = assert(io.popen(helper.shell_quote(helper.build_dir .. "/taskdb-sql")))
      local catalogue = p:read("a")
      p:close()
      local list_user = catalogue:match("\nlist_user\t%d+\t([^\n]+)") or catalogue:match("^list_user\t%d+\t([^\n]+)")
      assert.is_string(list_user, "no list_user statement in build/taskdb-sql")
      local user_index = index_named_for(dbname, "user_id,created_at,id")
      local plan = sql_in(dbname, "SET enable_seqscan = off; SET enable_bitmapscan = off; PREPARE q AS " .. list_user
        .. "; EXPLAIN EXECUTE q('plan-user-3', NULL, 100)")
      assert.is_truthy(plan:find("Index Scan using " .. user_index, 1, true), plan)
      assert.is_falsy(plan:find("Sort", 1, true), plan)
    end)

    it("plans the all-users ordered listing on the (created_at, id) index", function()
      local created_index = index_named_for(dbname, "created_at,id")
      assert.are_not.equal("", created_index)
      local plan = sql_in(dbname, "SET enable_seqscan = off; SET enable_bitmapscan = off; EXPLAIN SELECT * FROM public.tasks "
        .. "ORDER BY created_at, id LIMIT 50")
      assert.is_truthy(plan:find("Index Scan using " .. created_index, 1, true), plan)
      assert.is_falsy(plan:find("Sort", 1, true), plan)
    end)

    it("after init_db, the database works for every operation", function()
      local t = db:create_task{ user_id = "after-init", title = "works" }
      assert.are.same(t, db:get_task(t.id))
      assert.is_true(db:delete_task(t.id))
    end)
  end)

  describe("init_db on a mismatched existing table", function()
    local dbname

    setup(function()
      dbname = create_database()
    end)

    local function reset(create_sql)
      sql_in(dbname, "DROP SCHEMA public CASCADE; CREATE SCHEMA public; " .. create_sql)
    end

    local GOOD_COLUMNS = "id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, "
      .. "user_id varchar(255) NOT NULL, title varchar(200) NOT NULL, description varchar(1000), "

    local cases = {
      { "completed is an integer", "completed",
        "CREATE TABLE public.tasks (" .. GOOD_COLUMNS .. "completed integer NOT NULL DEFAULT 0, "
        .. "created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now())" },
      { "updated_at is missing", "updated_at",
        "CREATE TABLE public.tasks (" .. GOOD_COLUMNS .. "completed boolean NOT NULL DEFAULT false, "
        .. "created_at timestamptz NOT NULL DEFAULT now())" },
      { "created_at has no time zone", "created_at",
        "CREATE TABLE public.tasks (" .. GOOD_COLUMNS .. "completed boolean NOT NULL DEFAULT false, "
        .. "created_at timestamp NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now())" },
      { "completed is an array of booleans", "completed",
        "CREATE TABLE public.tasks (" .. GOOD_COLUMNS .. "completed boolean[] NOT NULL DEFAULT '{}', "
        .. "created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now())" },
      { "title is missing", "title",
        "CREATE TABLE public.tasks (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, "
        .. "user_id varchar(255) NOT NULL, description varchar(1000), "
        .. "completed boolean NOT NULL DEFAULT false, created_at timestamptz NOT NULL DEFAULT now(), "
        .. "updated_at timestamptz NOT NULL DEFAULT now())" },
    }

    for _, case in ipairs(cases) do
      local what, column, create_sql = case[1], case[2], case[3]
      it("raises kind schema naming the column when " .. what .. ", and alters nothing", function()
        reset(create_sql)
        sql_in(dbname, column == "title" and "INSERT INTO public.tasks (user_id) VALUES ('old')"
          or "INSERT INTO public.tasks (user_id, title) VALUES ('old', 'old row')")
        local before_cols, before_idx = columns(dbname), index_columns(dbname)
        local before_rows = sql_in(dbname, "SELECT count(*) FROM public.tasks")
        local db <close> = taskdb.connect(url_of(dbname))
        local e = helper.expect_error("schema", false, db.init_db, db)
        assert.is_truthy(e.message:find(column, 1, true),
          "the message does not name " .. column .. ": " .. e.message)
        assert.is_falsy(tostring(e):find("\n", 1, true))
        -- a second call reports the same and still changes nothing
        helper.expect_error("schema", false, db.init_db, db)
        assert.are.equal(before_cols, columns(dbname))
        assert.are.equal(before_idx, index_columns(dbname))
        assert.are.equal(before_rows, sql_in(dbname, "SELECT count(*) FROM public.tasks"))
      end)
    end

    it("raises kind schema naming id when the table has no columns at all, and alters nothing", function()
      reset("CREATE TABLE public.tasks ()")
      local db <close> = taskdb.connect(url_of(dbname))
      local e = helper.expect_error("schema", false, db.init_db, db)
      assert.matches("no column id", e.message, 1, true)
      assert.are.equal("", columns(dbname))
      assert.are.equal("", index_columns(dbname))
    end)

    it("raises kind schema naming id when id has no default (ids could not be drawn)", function()
      reset("CREATE TABLE public.tasks (id bigint PRIMARY KEY, "
        .. "user_id varchar(255) NOT NULL, title varchar(200) NOT NULL, description varchar(1000), "
        .. "completed boolean NOT NULL DEFAULT false, created_at timestamptz NOT NULL DEFAULT now(), "
        .. "updated_at timestamptz NOT NULL DEFAULT now())")
      local before_cols = columns(dbname)
      local db <close> = taskdb.connect(url_of(dbname))
      local e = helper.expect_error("schema", false, db.init_db, db)
      assert.matches("tasks.id has no default", e.message, 1, true)
      assert.are.equal(before_cols, columns(dbname))
      assert.are.equal("id", index_columns(dbname))
    end)

    it("accepts a bigserial id and text columns, and adds only the missing indexes", function()
      reset("CREATE TABLE public.tasks (id bigserial PRIMARY KEY, "
        .. "user_id text NOT NULL, title text NOT NULL, description text, "
        .. "completed boolean NOT NULL DEFAULT false, created_at timestamptz NOT NULL DEFAULT now(), "
        .. "updated_at timestamptz NOT NULL DEFAULT now()); "
        .. "CREATE INDEX tasks_created_idx ON public.tasks (created_at, id)")
      local before_cols = columns(dbname)
      local db <close> = taskdb.connect(url_of(dbname))
      assert.is_true(db:init_db())
      assert.are.equal(before_cols, columns(dbname))
      assert.are.equal("created_at,id;id;user_id,created_at,id", index_columns(dbname))
      local one = db:create_task{ user_id = "serial", title = "one" }
      local ids = db:create_tasks{ { user_id = "serial", title = "two" }, { user_id = "serial", title = "three" } }
      assert.are.same({ one.id + 1, one.id + 2 }, ids)
      assert.is_true(db:init_db())
    end)

    it("with an id default from a sequence the column does not own: single creates work, a batch raises schema and writes nothing", function()
      reset("CREATE SEQUENCE public.loose_ids; "
        .. "CREATE TABLE public.tasks (id bigint PRIMARY KEY DEFAULT nextval('public.loose_ids'), "
        .. "user_id varchar(255) NOT NULL, title varchar(200) NOT NULL, description varchar(1000), "
        .. "completed boolean NOT NULL DEFAULT false, created_at timestamptz NOT NULL DEFAULT now(), "
        .. "updated_at timestamptz NOT NULL DEFAULT now())")
      local db <close> = taskdb.connect(url_of(dbname))
      assert.is_true(db:init_db())
      local one = db:create_task{ user_id = "loose", title = "one" }
      assert.is_table(one)
      local e = helper.expect_error("schema", false, db.create_tasks, db,
                                    { { user_id = "loose", title = "two" }, { user_id = "loose", title = "three" } })
      assert.matches("tasks.id has no sequence of its own", e.message, 1, true)
      assert.are.equal("1", sql_in(dbname, "SELECT count(*) FROM public.tasks"))
      assert.is_table(db:get_task(one.id))
    end)

    it("raises kind schema when public.tasks is a view, and leaves the view", function()
      reset("CREATE VIEW public.tasks AS SELECT 1::bigint AS id, 'u'::varchar AS user_id, "
        .. "'t'::varchar AS title, NULL::varchar AS description, false AS completed, "
        .. "now() AS created_at, now() AS updated_at")
      local db <close> = taskdb.connect(url_of(dbname))
      helper.expect_error("schema", false, db.init_db, db)
      assert.are.equal("v", sql_in(dbname, "SELECT relkind FROM pg_class WHERE oid = 'public.tasks'::regclass"))
    end)
  end)

  describe("init_db from many processes at once", function()
    local ROUNDS, PROCS = 20, 8

    -- Each process connects, waits for the start file, then runs init_db,
    -- so that all eight race for the empty database together.
    local SCRIPT = [[
      local db = require("taskdb").connect(os.getenv("SCHEMA_URL"))
      local go = os.getenv("SCHEMA_GO")
      local deadline = os.time() + 20
      while not io.open(go) do
        if os.time() > deadline then error("start file never appeared") end
      end
      assert(db:init_db() == true)
      db:close()
    ]]

    it("all succeed on an empty fresh database, " .. ROUNDS .. " times over", function()
      local dir = helper.tmpdir()
      finally(function() helper.rmdir(dir) end)
      local script = dir .. "/init.lua"
      helper.write_file(script, SCRIPT)
      local failures = {}
      for round = 1, ROUNDS do
        local dbname = create_database()
        local go = dir .. "/go." .. round
        local parts = {}
        for i = 1, PROCS do
          parts[#parts + 1] = string.format(
            "( SCHEMA_URL=%s SCHEMA_GO=%s %s %s > %s/out.%d.%d 2>&1; echo $? > %s/rc.%d.%d ) &",
            helper.shell_quote(url_of(dbname)), helper.shell_quote(go),
            helper.shell_quote(helper.host), helper.shell_quote(script), dir, round, i, dir, round, i)
        end
        parts[#parts + 1] = "sleep 0.3; : > " .. helper.shell_quote(go) .. "; wait"
        os.execute(table.concat(parts, "\n"))
        for i = 1, PROCS do
          local rc = helper.trim(helper.read_file(string.format("%s/rc.%d.%d", dir, round, i)))
          if rc ~= "0" then
            failures[#failures + 1] = string.format("round %d process %d exit %s: %s", round, i, rc,
              helper.read_file(string.format("%s/out.%d.%d", dir, round, i)))
          end
        end
        local idx = ";" .. index_columns(dbname) .. ";"
        if not (idx:find(";user_id,created_at,id;", 1, true) and idx:find(";created_at,id;", 1, true)) then
          failures[#failures + 1] = string.format("round %d: indexes are %s", round, idx)
        end
        drop_database(dbname)
      end
      assert.are.same({}, failures)
    end)
  end)
end)

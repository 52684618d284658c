-- init_db: creation, constraints, indexes, idempotence, refusing a
-- mismatched table without altering it, and many processes at once.
-- Needs a direct connection (creates and drops scratch databases), so it is
-- skipped in the PgBouncer pass.
-- Run: build/taskshell /usr/bin/busted spec/schema_spec.lua  (through spec/run.sh)

local helper = require("spec.helper")
local taskdb = require("taskdb")

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
  local create_database = helper.databases_for_block("taskdb_schema")

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

    it("creates the two blank CHECKs and no constraint that depends on the writer's clock", function()
      assert.are.equal("tasks_pkey|PRIMARY KEY (id)\n"
        .. "tasks_title_not_blank|CHECK (((title)::text ~ '[^\\u0009-\\u000d\\u0020\\u0085\\u00a0\\u1680"
        .. "\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]'::text))\n"
        .. "tasks_user_id_not_blank|CHECK (((user_id)::text ~ '[^\\u0009-\\u000d\\u0020\\u0085\\u00a0\\u1680"
        .. "\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]'::text))",
        sql_in(dbname, "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
          .. "WHERE conrelid = 'public.tasks'::regclass ORDER BY conname"))
    end)

    it("lets another client write updated_at before created_at (its clock may be behind)", function()
      sql_in(dbname, "INSERT INTO public.tasks (user_id, title, created_at, updated_at) "
        .. "VALUES ('psql-clock', 'behind', now(), now() - interval '2 seconds')")
      local t = db:get_tasks{ user_id = "psql-clock" }[1]
      assert.is_true(t.updated_at < t.created_at)
      local u = db:update_task(t.id, { title = "moved" })
      assert.is_true(u.updated_at > t.updated_at and u.updated_at >= t.created_at)
      sql_in(dbname, "UPDATE public.tasks SET title = 'app', updated_at = now() - interval '2 seconds' "
        .. "WHERE id = " .. t.id)
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

    -- Everything init_db looks at, to prove it altered nothing.
    local function snapshot()
      return columns(dbname) .. "\n" .. index_columns(dbname) .. "\n" .. sql_in(dbname,
        "SELECT coalesce(string_agg(conname || ' ' || pg_get_constraintdef(oid), ';' ORDER BY conname), '') "
        .. "FROM pg_constraint WHERE conrelid = 'public.tasks'::regclass") .. "\n"
        .. sql_in(dbname, "SELECT coalesce(string_agg(attname || '=' || pg_get_expr(adbin, adrelid), ';' "
        .. "ORDER BY attname), '') FROM pg_attrdef JOIN pg_attribute ON attrelid = adrelid AND attnum = adnum "
        .. "WHERE adrelid = 'public.tasks'::regclass") .. "\n"
        .. sql_in(dbname, "SELECT count(*) FROM public.tasks")
    end

    -- The items of a schema message, each { what, remedy }: "(n) what: remedy".
    local function items(message)
      local body = assert(message:match("%(nothing was changed%): (.*)$"), message)
      body = body:gsub(" For a table made by taskshell's earlier versions.*$", "")
      local list, starts = {}, {}
      for pos in (" " .. body):gmatch("() %(%d+%) ") do starts[#starts + 1] = pos end
      local text = " " .. body
      for i, pos in ipairs(starts) do
        local item = text:sub(pos, (starts[i + 1] or #text + 1) - 1):gsub("^ %(%d+%) ", "")
        local what, remedy = item:match("^(.-): (.*)$")
        list[#list + 1] = { what = what or item, remedy = remedy }
      end
      return list
    end

    -- Each column as taskdb creates it; `over` replaces (string) or drops (false) parts.
    local function table_sql(over)
      over = over or {}
      local WS = [[E'[^\\u0009-\\u000d\\u0020\\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]']]
      local parts = {
        { "id", "id bigint GENERATED BY DEFAULT AS IDENTITY" },
        { "user_id", "user_id varchar(255) NOT NULL" },
        { "user_id_check", "CONSTRAINT tasks_user_id_not_blank CHECK (user_id ~ " .. WS .. ")" },
        { "title", "title varchar(200) NOT NULL" },
        { "title_check", "CONSTRAINT tasks_title_not_blank CHECK (title ~ " .. WS .. ")" },
        { "description", "description varchar(1000)" },
        { "completed", "completed boolean NOT NULL DEFAULT false" },
        { "created_at", "created_at timestamptz NOT NULL DEFAULT now()" },
        { "updated_at", "updated_at timestamptz NOT NULL DEFAULT now()" },
        { "key", "CONSTRAINT tasks_pkey PRIMARY KEY (id)" },
      }
      local out = {}
      for _, p in ipairs(parts) do
        local v = over[p[1]]
        if v == nil then v = p[2] end
        if v then out[#out + 1] = v end
      end
      for _, extra in ipairs(over.extra or {}) do out[#out + 1] = extra end
      return "CREATE TABLE public.tasks (" .. table.concat(out, ", ") .. ")"
    end

    it("accepts the table exactly as taskdb makes it, written by another client", function()
      reset(table_sql())
      local db <close> = taskdb.connect(url_of(dbname))
      assert.is_true(db:init_db())
      assert.are.equal("created_at,id;id;user_id,created_at,id", index_columns(dbname))
    end)

    -- { what, overrides, words the message must hold (the difference and its remedy) }
    local cases = {
      { "completed is an integer", { completed = "completed integer NOT NULL DEFAULT 0" },
        { "completed is integer", "ALTER TABLE public.tasks ALTER COLUMN completed TYPE boolean" } },
      { "updated_at is missing", { updated_at = false },
        { "no column updated_at", "ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now()" } },
      { "created_at has no time zone", { created_at = "created_at timestamp NOT NULL DEFAULT now()" },
        { "created_at is timestamp without time zone", "TimeZone", "PGTZ=America/New_York it reads 5 h off",
          "ALTER COLUMN created_at TYPE timestamptz USING created_at AT TIME ZONE 'UTC'" } },
      { "completed is an array of booleans", { completed = "completed boolean[] NOT NULL DEFAULT '{}'" },
        { "completed is boolean[]" } },
      { "title is missing", { title = false, title_check = false },
        { "no column title", "ADD COLUMN title varchar(200) NOT NULL", "no CHECK keeps title from being blank" },
        2, false },
      { "title is varchar with no length", { title = "title varchar NOT NULL" },
        { "title is character varying, taskdb needs character varying(200)",
          "ALTER COLUMN title TYPE varchar(200)" } },
      { "title is text", { title = "title text NOT NULL" },
        { "title is text", "ALTER COLUMN title TYPE varchar(200)" } },
      { "title is shorter than the field rules", { title = "title varchar(100) NOT NULL" },
        { "title is character varying(100)" } },
      { "user_id is longer than the field rules", { user_id = "user_id varchar(300) NOT NULL" },
        { "user_id is character varying(300)", "ALTER COLUMN user_id TYPE varchar(255)" } },
      { "there is no blank CHECK on title", { title_check = false },
        { "no CHECK keeps title from being blank", "ADD CONSTRAINT tasks_title_not_blank CHECK (title ~ E'" } },
      { "title's CHECK allows spaces", { title_check = "CONSTRAINT tasks_title_check CHECK (title <> '')" },
        { "no CHECK keeps title from being blank" } },
      { "the user_id CHECK is missing", { user_id_check = false },
        { "no CHECK keeps user_id from being blank" } },
      { "title allows NULL", { title = "title varchar(200)" },
        { "title allows NULL", "ALTER COLUMN title SET NOT NULL" } },
      { "description is NOT NULL", { description = "description varchar(1000) NOT NULL DEFAULT ''" },
        { "description is NOT NULL", "ALTER COLUMN description DROP NOT NULL" } },
      { "created_at has no default", { created_at = "created_at timestamptz NOT NULL" },
        { "created_at has no default", "ALTER COLUMN created_at SET DEFAULT now()" }, 1,
        "INSERT INTO public.tasks (id, user_id, title, created_at) VALUES (1, 'old', 'old row', now())" },
      { "updated_at's default is a fixed time",
        { updated_at = "updated_at timestamptz NOT NULL DEFAULT '2000-01-01 00:00:00+00'" },
        { "updated_at's default is", "not the server's current time" } },
      { "id has no default", { id = "id bigint" },
        { "id has no default", "ADD GENERATED BY DEFAULT AS IDENTITY" } },
      { "there is no primary key", { key = false },
        { "no primary key", "ADD CONSTRAINT tasks_pkey PRIMARY KEY (id)" } },
      { "the primary key is on another column", { key = "CONSTRAINT tasks_pkey PRIMARY KEY (title)" },
        { "the primary key tasks_pkey is on (title)" } },
      { "another client's column is NOT NULL with no default",
        { extra = { "priority integer NOT NULL" } },
        { "column priority is NOT NULL with no default", "ALTER COLUMN priority DROP NOT NULL" }, 1,
        "INSERT INTO public.tasks (id, user_id, title, priority) VALUES (1, 'old', 'old row', 1)" },
      { "the clock-dependent CHECK is there", { extra = { "CHECK (updated_at >= created_at)" } },
        { "depends on the writer's clock", "DROP CONSTRAINT tasks_check" } },
    }

    for _, case in ipairs(cases) do
      local what, over, words, count, insert = case[1], case[2], case[3], case[4] or 1, case[5]
      it("raises schema when " .. what .. ", naming the difference and its remedy, and alters nothing", function()
        reset(table_sql(over))
        if insert ~= false then
          sql_in(dbname, insert or "INSERT INTO public.tasks (id, user_id, title) VALUES (1, 'old', 'old row')")
        end
        local before = snapshot()
        local db <close> = taskdb.connect(url_of(dbname))
        local e = helper.expect_error("schema", false, db.init_db, db)
        for _, w in ipairs(words) do
          assert.is_truthy(e.message:find(w, 1, true), "the message does not say " .. w .. ": " .. e.message)
        end
        assert.are.equal(count, #items(e.message), e.message)
        assert.is_falsy(tostring(e):find("\n", 1, true))
        -- a second call reports the same and still changes nothing
        local again = helper.expect_error("schema", false, db.init_db, db)
        assert.are.equal(e.message, again.message)
        assert.are.equal(before, snapshot())
      end)
    end

    it("names every difference of the todo app's own first model at once, and running each remedy makes the table one init_db accepts", function()
      -- what SQLModel's create_all makes of the app's published Task model
      reset("CREATE TABLE public.tasks (id SERIAL NOT NULL, user_id VARCHAR NOT NULL, title VARCHAR NOT NULL, "
        .. "description VARCHAR, completed BOOLEAN NOT NULL, created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, "
        .. "updated_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, PRIMARY KEY (id)); "
        .. "CREATE INDEX ix_tasks_user_id ON public.tasks (user_id); CREATE INDEX ix_tasks_title ON public.tasks (title); "
        .. "INSERT INTO public.tasks (user_id, title, completed, created_at, updated_at) "
        .. "VALUES ('app-user', 'written by the app', false, '2026-11-30 10:00:00', '2026-11-30 10:00:00')")
      local before = snapshot()
      local db <close> = taskdb.connect(url_of(dbname))
      local e = helper.expect_error("schema", false, db.init_db, db)
      assert.are.equal(before, snapshot())
      local list = items(e.message)
      assert.are.equal(10, #list, e.message)
      assert.is_truthy(e.message:find("differs from what taskdb needs in 10 ways", 1, true), e.message)
      local named = {}
      for _, item in ipairs(list) do
        assert.is_string(item.remedy, "no remedy for: " .. item.what)
        named[item.what:match("^(%S+)") .. (item.what:find("CHECK", 1, true) and (item.what:match("keeps (%S+)")) or "")] = true
      end
      for _, k in ipairs({ "id", "user_id", "title", "description", "created_at", "updated_at", "nouser_id", "notitle" }) do
        assert.is_true(named[k] == true, "no difference about " .. k .. ": " .. e.message)
      end
      local sql = {}
      for _, item in ipairs(list) do sql[#sql + 1] = item.remedy end
      sql_in(dbname, table.concat(sql, " "))
      assert.is_true(db:init_db())
      assert.are.equal("written by the app", db:get_tasks{ user_id = "app-user" }[1].title)
      assert.are.equal("2026-11-30T10:00:00.000000Z", db:get_tasks{ user_id = "app-user" }[1].created_at)
      local t = db:create_task{ user_id = "app-user", title = "v" }
      assert.is_true(t.id > 1)
    end)

    it("raises kind schema naming every column when the table has no columns at all, and alters nothing", function()
      reset("CREATE TABLE public.tasks ()")
      local db <close> = taskdb.connect(url_of(dbname))
      local e = helper.expect_error("schema", false, db.init_db, db)
      for _, col in ipairs({ "id", "user_id", "title", "description", "completed", "created_at", "updated_at" }) do
        assert.matches("no column " .. col .. ":", e.message, 1, true)
      end
      assert.are.equal("", columns(dbname))
      assert.are.equal("", index_columns(dbname))
    end)

    it("accepts a bigserial id, and adds only the missing indexes", function()
      reset(table_sql{ id = "id bigserial" } .. "; CREATE INDEX tasks_created_idx ON public.tasks (created_at, id)")
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

    it("accepts a table partitioned by user_id with the (user_id, id) key, and adds the index on id", function()
      reset(table_sql{ id = "id bigint GENERATED BY DEFAULT AS IDENTITY",
                       key = "CONSTRAINT tasks_pkey PRIMARY KEY (user_id, id)" }
        .. " PARTITION BY HASH (user_id); CREATE TABLE public.tasks_0 PARTITION OF public.tasks "
        .. "FOR VALUES WITH (modulus 2, remainder 0); CREATE TABLE public.tasks_1 PARTITION OF public.tasks "
        .. "FOR VALUES WITH (modulus 2, remainder 1)")
      local db <close> = taskdb.connect(url_of(dbname))
      assert.is_true(db:init_db())
      assert.is_true(db:init_db())
      assert.are.equal("created_at,id;id;user_id,created_at,id;user_id,id", index_columns(dbname))
      local t = db:create_task{ user_id = "part", title = "p" }
      assert.are.same(t, db:get_task(t.id))
    end)

    it("accepts other clients' own columns, CHECKs and indexes beside taskdb's", function()
      reset(table_sql{ extra = { "priority integer NOT NULL DEFAULT 0", "note text",
        "CONSTRAINT app_title_short CHECK (char_length(title) < 150)" } }
        .. "; CREATE INDEX ix_tasks_title ON public.tasks (title)")
      local db <close> = taskdb.connect(url_of(dbname))
      assert.is_true(db:init_db())
      local t = db:create_task{ user_id = "extra", title = "with the app's columns" }
      assert.are.equal("0", sql_in(dbname, "SELECT priority FROM public.tasks WHERE id = " .. t.id))
    end)

    it("raises schema when an index has taskdb's name but another definition", function()
      reset(table_sql() .. "; CREATE INDEX tasks_created_idx ON public.tasks (created_at)")
      local before = snapshot()
      local db <close> = taskdb.connect(url_of(dbname))
      local e = helper.expect_error("schema", false, db.init_db, db)
      assert.matches("the index tasks_created_idx is not the one taskdb makes", e.message, 1, true)
      assert.matches("DROP INDEX public.tasks_created_idx;", e.message, 1, true)
      assert.are.equal(before, snapshot())
    end)

    it("with an id default from a sequence the column does not own: init_db names the remedy, and without init_db single creates work while a batch raises schema and writes nothing", function()
      reset("CREATE SEQUENCE public.loose_ids; " .. table_sql{ id = "id bigint DEFAULT nextval('public.loose_ids')" })
      local db <close> = taskdb.connect(url_of(dbname))
      local e = helper.expect_error("schema", false, db.init_db, db)
      assert.matches("ALTER SEQUENCE loose_ids OWNED BY public.tasks.id;", e.message, 1, true)
      local one = db:create_task{ user_id = "loose", title = "one" }
      assert.is_table(one)
      e = helper.expect_error("schema", false, db.create_tasks, db,
                              { { user_id = "loose", title = "two" }, { user_id = "loose", title = "three" } })
      assert.matches("tasks.id has no sequence of its own", e.message, 1, true)
      assert.are.equal("1", sql_in(dbname, "SELECT count(*) FROM public.tasks"))
      sql_in(dbname, "ALTER SEQUENCE loose_ids OWNED BY public.tasks.id")
      assert.is_true(db:init_db())
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

  describe("a table made by taskshell's earlier versions", function()
    local dbname

    -- The DDL those versions sent, verbatim.
    local OLD_TABLE = "CREATE TABLE IF NOT EXISTS public.tasks ("
      .. " id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
      .. " user_id varchar(255) NOT NULL"
      .. "   CONSTRAINT tasks_user_id_check CHECK (char_length(btrim(user_id, E' \\t\\n\\r\\f\\v')) > 0),"
      .. " title varchar(200) NOT NULL"
      .. "   CONSTRAINT tasks_title_check CHECK (char_length(btrim(title, E' \\t\\n\\r\\f\\v')) > 0),"
      .. " description varchar(1000),"
      .. " completed boolean NOT NULL DEFAULT false,"
      .. " created_at timestamptz NOT NULL DEFAULT now(),"
      .. " updated_at timestamptz NOT NULL DEFAULT now(),"
      .. " CONSTRAINT tasks_updated_after_created CHECK (updated_at >= created_at)); "
      .. "CREATE INDEX IF NOT EXISTS tasks_user_created_idx ON public.tasks (user_id, created_at, id); "
      .. "CREATE INDEX IF NOT EXISTS tasks_created_idx ON public.tasks (created_at, id)"

    local function reset(extra)
      sql_in(dbname, "DROP SCHEMA public CASCADE; CREATE SCHEMA public; DROP EVENT TRIGGER IF EXISTS spec_fail_ddl; "
        .. OLD_TABLE .. "; INSERT INTO public.tasks (user_id, title, description) VALUES "
        .. "('old-user', 'kept', 'from before'), ('old-user', 'kept too', NULL)" .. (extra or ""))
    end

    local function constraints()
      return sql_in(dbname, "SELECT string_agg(conname || ' ' || pg_get_constraintdef(oid), E'\\n' ORDER BY conname) "
        .. "FROM pg_constraint WHERE conrelid = 'public.tasks'::regclass")
    end

    local function rows()
      return sql_in(dbname, "SELECT string_agg(id || '|' || user_id || '|' || title || '|' || updated_at, ';' ORDER BY id) "
        .. "FROM public.tasks")
    end

    -- The repair statements, from the catalogue itself (build/taskdb-sql).
    local function repair_statements()
      local p = assert(io.popen(helper.shell_quote(helper.build_dir .. "/taskdb-sql")))
      local catalogue = p:read("a")
      p:close()
      local list = {}
      for label, text in catalogue:gmatch("(repair_[%w_]+)\t%d+\t([^\n]+)") do
        if label ~= "repair_blank_rows" then list[#list + 1] = text end
      end
      return list
    end

    local function run_repair(args)
      local out, err = os.tmpname(), os.tmpname()
      local quoted = {}
      for i, a in ipairs(args or {}) do quoted[i] = helper.shell_quote(a) end
      local _, _, code = os.execute(string.format("cd %s && env DATABASE_URL=%s %s scripts/repair_schema.lua %s "
        .. "< /dev/null > %s 2> %s", helper.shell_quote(helper.project_dir), helper.shell_quote(url_of(dbname)),
        helper.shell_quote(helper.host), table.concat(quoted, " "), out, err))
      local stdout, stderr = helper.read_file(out), helper.read_file(err)
      os.remove(out); os.remove(err)
      return code, stdout, stderr
    end

    setup(function()
      dbname = create_database()
    end)

    it("refuses the letter v as a title (why it needs repairing)", function()
      reset()
      local db <close> = taskdb.connect(url_of(dbname))
      local e = helper.expect_error("database", false, db.create_task, db, { user_id = "u", title = "v" })
      assert.are.equal("23514", e.sqlstate)
    end)

    it("init_db raises schema naming its three CHECKs with the exact repair, and alters nothing", function()
      reset()
      local before, before_rows = constraints(), rows()
      local db <close> = taskdb.connect(url_of(dbname))
      local e = helper.expect_error("schema", false, db.init_db, db)
      assert.is_truthy(e.message:find("in 3 ways", 1, true), e.message)
      assert.is_truthy(e.message:find("CHECK tasks_user_id_check", 1, true), e.message)
      assert.is_truthy(e.message:find("CHECK tasks_title_check", 1, true), e.message)
      assert.is_truthy(e.message:find("CHECK tasks_updated_after_created", 1, true), e.message)
      assert.is_truthy(e.message:find("letter v", 1, true), e.message)
      assert.is_truthy(e.message:find("writer's clock", 1, true), e.message)
      assert.is_truthy(e.message:find("taskshell scripts/repair_schema.lua", 1, true), e.message)
      local statements = repair_statements()
      assert.are.equal(3, #statements)
      for _, sql in ipairs(statements) do
        assert.is_truthy(e.message:find(sql .. ";", 1, true), "the message lacks " .. sql .. ": " .. e.message)
      end
      assert.are.same({ steps = { statements[1], statements[2], statements[3] }, applied = false, blank_rows = {} },
        db:repair_schema{ dry_run = true })
      assert.are.equal(before, constraints())
      assert.are.equal(before_rows, rows())
    end)

    it("repair_schema.lua --dry-run prints the statements and changes nothing", function()
      reset()
      local before = constraints()
      local code, out, err = run_repair({ "--dry-run" })
      assert.are.equal(0, code, err)
      for _, sql in ipairs(repair_statements()) do
        assert.is_truthy(out:find("  " .. sql .. ";", 1, true), out)
      end
      assert.is_truthy(out:find("would run", 1, true), out)
      assert.are.equal(before, constraints())
    end)

    it("repair_schema.lua prints what it will do, then repairs in one transaction, and init_db accepts the table", function()
      reset()
      local before_rows = rows()
      local code, out, err = run_repair()
      assert.are.equal(0, code, err .. out)
      local printed = out:find(repair_statements()[3], 1, true)
      local done = out:find("done (3 statements committed)", 1, true)
      assert.is_truthy(printed and done and printed < done, out)
      assert.is_truthy(out:find("init_db accepts public.tasks", 1, true), out)
      assert.are.equal(before_rows, rows())
      assert.is_falsy(constraints():find("updated_after_created", 1, true))
      local db <close> = taskdb.connect(url_of(dbname))
      assert.is_true(db:init_db())
      assert.are.equal("v", db:create_task{ user_id = "v", title = "v" }.title)
      assert.are.equal("23514", sqlstate_of(dbname,
        "INSERT INTO public.tasks (user_id, title) VALUES ('psql', E'\\u00a0')"))
      -- and once more: nothing left to do
      code, out = run_repair()
      assert.are.equal(0, code)
      assert.is_truthy(out:find("nothing to repair", 1, true), out)
    end)

    it("names the rows the new CHECKs would refuse and changes nothing", function()
      reset(", ('old-user', E'\\u00a0\\u3000', NULL)")
      local before, before_rows = constraints(), rows()
      local bad = sql_in(dbname, "SELECT id FROM public.tasks WHERE title = E'\\u00a0\\u3000'")
      local db <close> = taskdb.connect(url_of(dbname))
      assert.are.same({ tonumber(bad) }, db:repair_schema{ dry_run = true }.blank_rows)
      local e = helper.expect_error("schema", false, db.repair_schema, db)
      assert.is_truthy(e.message:find("ids " .. bad, 1, true), e.message)
      local code, out, err = run_repair()
      assert.are.equal(1, code, out)
      assert.is_truthy(err:find("ids " .. bad, 1, true), err)
      assert.are.equal(before, constraints())
      assert.are.equal(before_rows, rows())
    end)

    it("a failure in its last statement leaves every CHECK as it was (one transaction)", function()
      reset("; CREATE FUNCTION public.spec_fail_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN "
        .. "IF EXISTS (SELECT FROM pg_constraint WHERE conname = 'tasks_title_not_blank') THEN "
        .. "RAISE EXCEPTION 'spec: refused'; END IF; END $$; "
        .. "CREATE EVENT TRIGGER spec_fail_ddl ON ddl_command_end EXECUTE FUNCTION public.spec_fail_ddl()")
      local before = constraints()
      local code, _, err = run_repair()
      sql_in(dbname, "DROP EVENT TRIGGER spec_fail_ddl")
      assert.are.equal(1, code)
      assert.is_truthy(err:find("spec: refused", 1, true), err)
      assert.are.equal(before, constraints())
    end)

    it("an old CHECK under another name gets a remedy of its own, which the repair leaves to the owner", function()
      sql_in(dbname, "DROP SCHEMA public CASCADE; CREATE SCHEMA public; "
        .. OLD_TABLE:gsub("tasks_updated_after_created", "app_clock_check"))
      local db <close> = taskdb.connect(url_of(dbname))
      local e = helper.expect_error("schema", false, db.init_db, db)
      assert.is_truthy(e.message:find("ALTER TABLE public.tasks DROP CONSTRAINT app_clock_check;", 1, true), e.message)
      local plan = db:repair_schema{ dry_run = true }
      assert.are.equal(2, #plan.steps)
      assert.is_falsy(table.concat(plan.steps, "\n"):find("clock", 1, true))
    end)

    it("an old blank CHECK beside the new one, or under another name, gets the statements that fix it", function()
      sql_in(dbname, "DROP SCHEMA public CASCADE; CREATE SCHEMA public; "
        .. OLD_TABLE:gsub("tasks_title_check", "app_title_check")
        .. "; ALTER TABLE public.tasks DROP CONSTRAINT tasks_updated_after_created, ADD CONSTRAINT "
        .. "tasks_user_id_not_blank CHECK (user_id ~ "
        .. [[E'[^\\u0009-\\u000d\\u0020\\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]')]])
      local db <close> = taskdb.connect(url_of(dbname))
      local e = helper.expect_error("schema", false, db.init_db, db)
      assert.is_truthy(e.message:find("in 2 ways", 1, true), e.message)
      assert.is_truthy(e.message:find(": ALTER TABLE public.tasks DROP CONSTRAINT tasks_user_id_check;", 1, true), e.message)
      assert.is_truthy(e.message:find(": ALTER TABLE public.tasks DROP CONSTRAINT app_title_check, ADD CONSTRAINT "
        .. "tasks_title_not_blank CHECK (title ~ E'", 1, true), e.message)
      assert.are.same({}, db:repair_schema{ dry_run = true }.steps)
      -- the statements in the message work as written
      local sql = {}
      for remedy in e.message:gmatch("%(%d%) [^:]-: (ALTER TABLE .-;)") do sql[#sql + 1] = remedy end
      assert.are.equal(2, #sql, e.message)
      sql_in(dbname, table.concat(sql, " "))
      assert.is_true(db:init_db())
    end)

    it("repair_schema rejects unknown options", function()
      local db <close> = taskdb.connect(url_of(dbname))
      helper.expect_error("invalid", false, db.repair_schema, db, { dryrun = true })
      helper.expect_error("invalid", "dry_run", db.repair_schema, db, { dry_run = "yes" })
    end)
  end)

  describe("init_db from many processes at once", function()
    local ROUNDS, PROCS = 20, 8

    it("all succeed on an empty fresh database, " .. ROUNDS .. " times over", function()
      local failures = {}
      for round = 1, ROUNDS do
        local dbname = create_database()
        for _, failure in ipairs(helper.init_db_race(url_of(dbname), PROCS)) do
          failures[#failures + 1] = "round " .. round .. " " .. failure
        end
        local idx = ";" .. index_columns(dbname) .. ";"
        if not (idx:find(";user_id,created_at,id;", 1, true) and idx:find(";created_at,id;", 1, true)) then
          failures[#failures + 1] = string.format("round %d: indexes are %s", round, idx)
        end
        helper.drop_database(dbname)
      end
      assert.are.same({}, failures)
    end)
  end)
end)

-- The table is shared with the todo app's FastAPI + SQLModel backend: the
-- shipped model (python/taskdb_model.py, driven through
-- spec/support/model_client.py with Debian's python3-sqlmodel) and taskdb
-- each create, read, update, toggle and delete the other's rows, field for
-- field, whichever side created the table, in any session TimeZone.
-- Needs a direct connection (creates scratch databases, event triggers),
-- so it is skipped in the PgBouncer pass.

local helper = require("spec.helper")
local taskdb = require("taskdb")
local cjson = require("cjson")

local PYTHON = "/usr/bin/python3"
local CLIENT = helper.project_dir .. "/spec/support/model_client.py"

local FIELDS = { "id", "user_id", "title", "description", "completed", "created_at", "updated_at" }

-- 200 characters each: emoji (4 bytes), CJK (3 bytes), and both mixed.
local EMOJI = ("😀🚀"):rep(100)
local CJK = ("日本語の題名"):rep(33) .. "終了"
local MIXED = ("買😀"):rep(100)

-- Runs the model's commands in one Python process; returns their results.
local function model(dsn, commands, tz)
  local out, err = os.tmpname(), os.tmpname()
  local cmd = string.format("env TASKDB_MODEL_DSN=%s %s %s %s %s > %s 2> %s",
    helper.shell_quote(dsn), tz and ("TASKDB_MODEL_TZ=" .. helper.shell_quote(tz)) or "",
    PYTHON, helper.shell_quote(CLIENT), helper.shell_quote(cjson.encode(commands)), out, err)
  local ok = os.execute(cmd)
  local stdout, stderr = helper.read_file(out), helper.read_file(err)
  os.remove(out); os.remove(err)
  assert(ok, "model_client failed: " .. stderr .. stdout)
  return cjson.decode(stdout)
end

-- A model task as taskdb returns one (JSON null -> absent), and its local time apart.
local function plain(t)
  if t == nil or t == cjson.null then return nil end
  local r = {}
  for _, k in ipairs(FIELDS) do
    if t[k] ~= cjson.null then r[k] = t[k] end
  end
  return r
end

local function same(lua_task, model_task)
  assert.are.same(helper.copy(lua_task), plain(model_task))
end

describe("the table shared with the SQLModel model #direct_only", function()
  local new_database = helper.databases_for_block("taskdb_shared")

  -- Everything about the table that a difference in the model would change.
  local function catalogue(dbname)
    return helper.psql([[
      SELECT string_agg(x, E'\n' ORDER BY x) FROM (
        SELECT 'column ' || a.attnum || ' ' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
               || ' notnull=' || a.attnotnull || ' identity=' || a.attidentity::text
               || ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '') AS x
        FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE a.attrelid = 'public.tasks'::regclass AND a.attnum > 0 AND NOT a.attisdropped
        UNION ALL
        SELECT 'constraint ' || conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
        WHERE conrelid = 'public.tasks'::regclass
        UNION ALL
        SELECT 'index ' || pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = 'public.tasks'::regclass
        UNION ALL
        SELECT 'sequence ' || pg_get_serial_sequence('public.tasks', 'id')) s]], { dbname = dbname })
  end

  -- Both sides create, read, update, toggle and delete each other's rows.
  -- `lua_tz` / `model_tz`: the session TimeZone of each side.
  local function round_trip(url, lua_tz, model_tz)
    local lua_url = lua_tz and helper.url_with_param(url, "options", "-c%20TimeZone%3D" .. lua_tz:gsub("/", "%%2F")) or url
    local db <close> = taskdb.connect(lua_url)
    local user = helper.uid("shared")

    if lua_tz then
      assert.are.equal(lua_tz, helper.psql("SELECT setting FROM pg_settings WHERE name = 'TimeZone'", { url = lua_url }))
    end
    if model_tz then assert.are.same({ model_tz }, model(url, { { "session_timezone" } }, model_tz)) end

    -- the model's rows, read by taskdb
    local m = model(url, {
      { "create", { user_id = user, title = EMOJI } },
      { "create", { user_id = user, title = CJK, description = "説明 ✓" } },
    }, model_tz)
    assert.are.equal(200, utf8.len(m[1].title))
    assert.are.equal(cjson.null, m[1].description)
    for _, t in ipairs(m) do
      assert.is_truthy(t.created_at:match(helper.TIMESTAMP), t.created_at)
      same(db:get_task(t.id), t)
    end
    -- the model really read them in its own zone
    local offsets = { ["America/New_York"] = { ["-05:00"] = true, ["-04:00"] = true }, ["Asia/Tokyo"] = { ["+09:00"] = true } }
    if model_tz then assert.is_true(offsets[model_tz][m[1].created_at_local:sub(-6)], m[1].created_at_local) end

    -- taskdb's rows, read by the model
    local a = db:create_task{ user_id = user, title = MIXED }
    local b = db:create_task{ user_id = user, title = CJK, description = "from taskdb" }
    local read = model(url, { { "get", a.id }, { "get", b.id } }, model_tz)
    same(a, read[1])
    same(b, read[2])
    assert.is_nil(a.description)

    -- taskdb changes the model's rows; the model reads exactly that
    local m1 = db:update_task(m[1].id, { title = CJK, description = "changed by taskdb" })
    local m2 = db:toggle_complete(m[2].id)
    assert.is_true(m1.updated_at > m[1].updated_at and m2.updated_at > m[2].updated_at)
    local m2b = db:update_task(m[2].id, { description = taskdb.null })
    read = model(url, { { "get", m[1].id }, { "get", m[2].id } }, model_tz)
    same(m1, read[1])
    same(m2b, read[2])

    -- the model changes taskdb's rows; taskdb reads exactly that, updated_at moved forward
    read = model(url, {
      { "update", a.id, { title = EMOJI, description = "changed by the model" } },
      { "toggle", b.id },
      { "update", b.id, { description = cjson.null } },
    }, model_tz)
    same(db:get_task(a.id), read[1])
    same(db:get_task(b.id), read[3])
    assert.is_true(read[1].updated_at > a.updated_at)
    assert.is_true(read[2].completed and read[3].completed)
    assert.is_true(read[3].updated_at > read[2].updated_at and read[2].updated_at > b.updated_at)
    assert.is_nil(db:get_task(b.id).description)

    -- both list the same rows in the same order
    local listed = model(url, { { "list", user } }, model_tz)[1]
    local ours = db:get_tasks{ user_id = user }
    assert.are.equal(#ours, #listed)
    for i = 1, #ours do same(ours[i], listed[i]) end

    -- each deletes one of the other's rows
    assert.is_true(db:delete_task(m[1].id))
    local gone = model(url, { { "get", m[1].id }, { "delete", a.id }, { "delete", a.id } }, model_tz)
    assert.are.equal(cjson.null, gone[1])
    assert.is_true(gone[2])
    assert.is_false(gone[3])
    assert.is_nil(db:get_task(a.id))
    assert.are.equal(2, db:count_tasks{ user_id = user })
  end

  describe("when the model's create_all makes the table", function()
    local dbname, url

    setup(function()
      dbname, url = new_database()
    end)

    it("create_all makes exactly the table init_db makes, and init_db accepts it sending no DDL", function()
      local ddl = model(url, { { "create_all" } })[1]
      assert.are.equal(3, #ddl, table.concat(ddl, "\n"))
      assert.matches("^CREATE TABLE public.tasks", ddl[1])
      local made_by_model = catalogue(dbname)
      local db <close> = taskdb.connect(url)
      assert.is_true(db:init_db())
      assert.are.equal(made_by_model, catalogue(dbname))

      local other, other_url = new_database()
      local db2 <close> = taskdb.connect(other_url)
      assert.is_true(db2:init_db())
      assert.are.equal(catalogue(other), made_by_model)
    end)

    it("both sides create, read, update, toggle and delete each other's rows, field for field", function()
      round_trip(url)
    end)

    it("both read the same instants under the session time zones America/New_York and Asia/Tokyo", function()
      round_trip(url, "America/New_York", "Asia/Tokyo")
      round_trip(url, "Asia/Tokyo", "America/New_York")
    end)
  end)

  describe("when init_db makes the table", function()
    local dbname, url

    setup(function()
      dbname, url = new_database()
      local db <close> = taskdb.connect(url)
      assert.is_true(db:init_db())
    end)

    it("the model's create_all sends no DDL (an event trigger records none) and changes nothing", function()
      helper.psql("CREATE TABLE public.spec_ddl_log (tag text, at timestamptz DEFAULT now()); "
        .. "CREATE FUNCTION public.spec_log_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN "
        .. "INSERT INTO public.spec_ddl_log (tag) VALUES (tg_tag); END $$; "
        .. "CREATE EVENT TRIGGER spec_log_ddl ON ddl_command_start EXECUTE FUNCTION public.spec_log_ddl()",
        { dbname = dbname })
      local before = catalogue(dbname)
      local sent = model(url, { { "create_all" }, { "create_all" } })
      helper.psql("CREATE TABLE public.spec_probe (); DROP TABLE public.spec_probe", { dbname = dbname })
      local logged = helper.psql("SELECT string_agg(tag, ',' ORDER BY at) FROM public.spec_ddl_log", { dbname = dbname })
      helper.psql("DROP EVENT TRIGGER spec_log_ddl; DROP TABLE public.spec_ddl_log", { dbname = dbname })
      assert.are.same({ {}, {} }, sent)
      -- only the probe's own two statements: the trigger works and create_all sent nothing
      assert.are.equal("CREATE TABLE,DROP TABLE", logged)
      assert.are.equal(before, catalogue(dbname))
    end)

    it("both sides create, read, update, toggle and delete each other's rows, field for field", function()
      round_trip(url)
    end)

    it("both read the same instants under the session time zones America/New_York and Asia/Tokyo", function()
      round_trip(url, "Asia/Tokyo", "America/New_York")
    end)

    it("the table takes the model's writes with a clock behind the server's, and updated_at before created_at", function()
      local user = helper.uid("clock")
      local m = model(url, { { "create", { user_id = user, title = "t" } } })[1]
      helper.psql("UPDATE public.tasks SET title = 'app', updated_at = now() - interval '2 seconds' WHERE id = "
        .. m.id, { dbname = dbname })
      helper.psql("INSERT INTO public.tasks (user_id, title, updated_at, created_at) VALUES ('" .. user
        .. "', 'later', now(), now() + interval '1 microsecond')", { dbname = dbname })
      local db <close> = taskdb.connect(url)
      local t = db:get_task(m.id)
      local u = db:toggle_complete(m.id)
      assert.is_true(u.updated_at > t.updated_at)
      assert.are.equal(2, db:count_tasks{ user_id = user })
    end)
  end)

  it("a timestamp without time zone reads a different instant in every session TimeZone (why init_db refuses it)", function()
    local dbname, url = new_database()
    helper.psql("CREATE TABLE public.tasks (created_at timestamp NOT NULL); "
      .. "INSERT INTO public.tasks VALUES ('2026-01-15 10:00:00')", { dbname = dbname })
    local function read_in(tz)
      return helper.psql("SET TimeZone = '" .. tz .. "'; SELECT to_char(created_at::timestamptz AT TIME ZONE 'UTC', "
        .. "'HH24:MI') FROM public.tasks", { dbname = dbname })
    end
    assert.are.equal("10:00", read_in("UTC"))
    assert.are.equal("15:00", read_in("America/New_York"))
    assert.are.equal("01:00", read_in("Asia/Tokyo"))
    local db <close> = taskdb.connect(url)
    local e = helper.expect_error("schema", false, db.init_db, db)
    assert.matches("created_at is timestamp without time zone", e.message, 1, true)
    assert.matches("5 h off", e.message, 1, true)
  end)
end)

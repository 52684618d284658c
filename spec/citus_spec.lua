-- Citus, as far as it can be tested without Citus (not in Debian):
--   - every UPDATE statement in the catalogue uses only functions Citus
--     accepts there: nothing VOLATILE, and nothing STABLE applied to a
--     column (read from the server's own parse trees and pg_proc);
--   - the schema check accepts the (user_id, id) key a distributed table
--     needs, and by-id calls work on it;
--   - init_db on a coordinator (a stand-in for the citus extension: its
--     pg_extension row, pg_dist_partition and create_distributed_table)
--     creates the keyed table and distributes it once, whoever runs it.
-- The updated_at expression itself is covered by the api and transaction
-- specs (moves forward on every change, twice in one transaction too).
-- Needs a direct connection (superuser, scratch databases).

local helper = require("spec.helper")
local taskdb = require("taskdb")

-- ---------------------------------------------------------------------------
-- PostgreSQL's node dumps ({NODE :field value ...}) as Lua tables.

local function parse_nodes(text)
  text = text:gsub("%b[]", "")   -- datum bytes of constants
  local pos, n = 1, #text
  local value

  local function skip()
    pos = text:find("[^%s]", pos) or n + 1
  end

  local function atom()
    local out = {}
    while pos <= n do
      local c = text:sub(pos, pos)
      if c == "\\" then
        out[#out + 1] = text:sub(pos + 1, pos + 1)
        pos = pos + 2
      elseif c:find("[%s(){}]") then
        break
      else
        out[#out + 1] = c
        pos = pos + 1
      end
    end
    return table.concat(out)
  end

  function value()
    skip()
    local c = text:sub(pos, pos)
    if c == "{" then
      pos = pos + 1
      skip()
      local node = { type = atom() }
      while true do
        skip()
        if text:sub(pos, pos) == "}" then pos = pos + 1; return node end
        local field = atom()
        assert(field:sub(1, 1) == ":", "bad node dump near " .. text:sub(pos, pos + 40))
        node[field:sub(2)] = value()
      end
    elseif c == "(" then
      pos = pos + 1
      local list = {}
      while true do
        skip()
        if text:sub(pos, pos) == ")" then pos = pos + 1; return list end
        list[#list + 1] = value()
      end
    elseif c == '"' then
      local close = text:find('"', pos + 1, true)
      local s = text:sub(pos + 1, close - 1)
      pos = close + 1
      return s
    elseif c == "<" and text:sub(pos, pos + 1) == "<>" then
      pos = pos + 2
      return false
    else
      return atom()
    end
  end

  return value()
end

local function has_var(v)
  if type(v) ~= "table" then return false end
  if v.type == "VAR" then return true end
  for k, x in pairs(v) do
    if k ~= "type" and has_var(x) then return true end
  end
  return false
end

-- Every function an expression tree calls: { oid = , args = the node holding its arguments }.
-- I/O coercions call the result type's input function (by type oid, marked as such).
local function calls(v, out)
  out = out or {}
  if type(v) ~= "table" then return out end
  local t = v.type
  if t == "FUNCEXPR" then
    out[#out + 1] = { oid = v.funcid, args = v.args }
  elseif t == "OPEXPR" or t == "DISTINCTEXPR" or t == "NULLIFEXPR" or t == "SCALARARRAYOPEXPR" then
    out[#out + 1] = { oid = v.opfuncid, args = v.args }
  elseif t == "COERCEVIAIO" then
    out[#out + 1] = { input_of_type = v.resulttype, args = v.arg }
  elseif t == "MINMAXEXPR" then
    out[#out + 1] = { cmp_of_type = v.minmaxtype, args = v.args }
  end
  for k, x in pairs(v) do
    if k ~= "type" then calls(x, out) end
  end
  return out
end

-- ---------------------------------------------------------------------------

describe("Citus #direct_only", function()
  local new_database = helper.databases_for_block("taskdb_citus")

  local function catalogue()
    local p = assert(io.popen(helper.shell_quote(helper.build_dir .. "/taskdb-sql")))
    local text = p:read("a")
    p:close()
    local list = {}
    for label, sql in text:gmatch("([%w_]+)\t%d+\t([^\n]+)") do list[#list + 1] = { label = label, sql = sql } end
    return list
  end

  describe("the UPDATE statements", function()
    local dbname, url

    setup(function()
      dbname, url = new_database()
      local db <close> = taskdb.connect(url)
      db:init_db()
    end)

    -- The parsed, rewritten query tree of `sql` (prepared, not run).
    local function tree_of(sql)
      local cmd = string.format("%s -X -q -d %s -c %s 2>&1",
        (os.getenv("TASKDB_TEST_PGBIN") and (os.getenv("TASKDB_TEST_PGBIN") .. "/psql") or "psql"),
        helper.shell_quote(url), helper.shell_quote("SET client_min_messages = log; "
          .. "SET debug_print_rewritten = on; SET debug_pretty_print = off; PREPARE q AS " .. sql))
      local p = assert(io.popen(cmd))
      local out = p:read("a")
      p:close()
      -- the last "rewritten parse tree" is the prepared statement's
      local last
      for block in (out .. "\nLOG:"):gmatch("DETAIL:%s+(.-)\nLOG:") do last = block end
      last = last and last:match("^(%(%{QUERY.*%}%))")
      assert(last and last:find(":commandType 2", 1, true), "no UPDATE parse tree for " .. sql .. ":\n" .. out)
      return parse_nodes((last:gsub("\n", " ")))
    end

    -- What Citus would refuse in `sql`: a list of "<function> (<volatility>)" strings.
    local function refused(sql)
      local found = calls(tree_of(sql))
      local oids, inputs, cmps = {}, {}, {}
      for _, c in ipairs(found) do
        if c.oid then oids[#oids + 1] = c.oid end
        if c.input_of_type then inputs[#inputs + 1] = c.input_of_type end
        if c.cmp_of_type then cmps[#cmps + 1] = c.cmp_of_type end
      end
      local vol = {}
      local function lookup(prefix, query, list)
        if #list == 0 then return end
        for line in helper.psql(query:gsub("LIST", table.concat(list, ",")), { dbname = dbname }):gmatch("[^\n]+") do
          local oid, name, v = line:match("^(%d+)|(.*)|(%a)$")
          vol[prefix .. oid] = vol[prefix .. oid] or {}
          table.insert(vol[prefix .. oid], { name = name, v = v })
        end
      end
      lookup("f", "SELECT oid, oid::regprocedure, provolatile FROM pg_proc WHERE oid IN (LIST)", oids)
      -- an I/O coercion calls its result type's input function
      lookup("i", "SELECT t.oid, p.oid::regprocedure, p.provolatile FROM pg_type t "
        .. "JOIN pg_proc p ON p.oid = t.typinput WHERE t.oid IN (LIST)", inputs)
      -- GREATEST and LEAST call the type's btree comparison
      lookup("c", "SELECT t.oid, p.oid::regprocedure, p.provolatile FROM pg_type t "
        .. "JOIN pg_opclass c ON c.opcintype = t.oid AND c.opcdefault "
        .. "JOIN pg_am a ON a.oid = c.opcmethod AND a.amname = 'btree' "
        .. "JOIN pg_amproc ap ON ap.amprocfamily = c.opcfamily AND ap.amproclefttype = t.oid "
        .. "AND ap.amprocrighttype = t.oid AND ap.amprocnum = 1 JOIN pg_proc p ON p.oid = ap.amproc "
        .. "WHERE t.oid IN (LIST)", cmps)
      local bad = {}
      for _, c in ipairs(found) do
        local procs = (c.oid and vol["f" .. c.oid]) or (c.input_of_type and vol["i" .. c.input_of_type])
          or (c.cmp_of_type and vol["c" .. c.cmp_of_type]) or {}
        assert(#procs > 0, "no pg_proc row for a function of " .. sql)
        for _, p in ipairs(procs) do
          if p.v == "v" then
            bad[#bad + 1] = p.name .. " (VOLATILE)"
          elseif p.v == "s" and has_var(c.args) then
            bad[#bad + 1] = p.name .. " (STABLE, on a column)"
          end
        end
      end
      table.sort(bad)
      return bad, #found
    end

    it("the check sees what Citus refuses (the earlier updated_at expressions)", function()
      local old = "UPDATE public.tasks SET updated_at = GREATEST(clock_timestamp(), updated_at + interval '1 microsecond') WHERE id = $1"
      local bad = refused(old)
      assert.are.same({ "clock_timestamp() (VOLATILE)",
        "timestamptz_pl_interval(timestamp with time zone,interval) (STABLE, on a column)" }, bad)
      bad = refused("UPDATE public.tasks SET updated_at = GREATEST(statement_timestamp(), "
        .. "updated_at + interval '1 microsecond') WHERE id = $1")
      assert.are.same({ "timestamptz_pl_interval(timestamp with time zone,interval) (STABLE, on a column)" }, bad)
      assert.are.same({}, (refused("UPDATE public.tasks SET updated_at = statement_timestamp() WHERE id = $1")))
    end)

    it("no UPDATE statement calls a VOLATILE function, or a STABLE one on a column", function()
      local updates = 0
      for _, s in ipairs(catalogue()) do
        if s.sql:find("^UPDATE ") or s.sql:find(" UPDATE public%.tasks ") then
          updates = updates + 1
          local bad, n = refused(s.sql)
          assert.is_true(n > 5, s.label .. ": too few functions found; is the tree read right?")
          assert.are.same({}, bad, s.label .. " calls what Citus refuses")
        end
      end
      assert.is_true(updates >= 4, "expected at least update, update_user, toggle, toggle_user")
    end)

    it("updated_at still moves forward twice in one transaction and past a clock that ran ahead", function()
      local db <close> = taskdb.connect(url)
      local t = db:create_task{ user_id = "touch", title = "t" }
      db:transaction(function()
        local a = db:toggle_complete(t.id)
        local b = db:update_task(t.id, { title = "u" })
        local c = db:toggle_complete(t.id)
        assert.is_true(a.updated_at > t.updated_at and b.updated_at > a.updated_at and c.updated_at > b.updated_at)
      end)
      helper.psql("UPDATE public.tasks SET updated_at = now() + interval '1 hour' WHERE id = " .. t.id, { dbname = dbname })
      local ahead = db:get_task(t.id)
      local d = db:toggle_complete(t.id)
      assert.is_true(d.updated_at > ahead.updated_at)
    end)
  end)

  describe("the (user_id, id) key", function()
    it("is accepted by init_db, which adds the index on id; by-id and scoped calls work on it", function()
      local dbname, url = new_database()
      local db <close> = taskdb.connect(url)
      assert.is_true(db:init_db())
      local plain = helper.psql("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'tasks_pkey'", { dbname = dbname })
      assert.are.equal("PRIMARY KEY (id)", plain)   -- plain PostgreSQL keeps (id)
      helper.psql("ALTER TABLE public.tasks DROP CONSTRAINT tasks_pkey, ADD CONSTRAINT tasks_pkey PRIMARY KEY (user_id, id)",
        { dbname = dbname })
      assert.is_true(db:init_db())
      assert.are.equal("CREATE INDEX tasks_id_idx ON public.tasks USING btree (id)", helper.psql(
        "SELECT pg_get_indexdef('public.tasks_id_idx'::regclass)", { dbname = dbname }))
      local t = db:create_task{ user_id = "keyed", title = "t" }
      assert.are.same(t, db:get_task(t.id))
      assert.is_true(db:toggle_complete(t.id).completed)
      assert.are.equal("u", db:user("keyed"):update_task(t.id, { title = "u" }).title)
      assert.is_true(db:user("keyed"):delete_task(t.id))
      assert.are.same({ 1, 2 }, (function()
        local ids = db:create_tasks{ { user_id = "keyed", title = "a" }, { user_id = "keyed", title = "b" } }
        return { ids[1] - t.id, ids[2] - t.id }
      end)())
    end)

    it("a key on another pair of columns is still refused", function()
      local dbname, url = new_database()
      local db <close> = taskdb.connect(url)
      db:init_db()
      helper.psql("ALTER TABLE public.tasks DROP CONSTRAINT tasks_pkey, ADD CONSTRAINT tasks_pkey PRIMARY KEY (title, id)",
        { dbname = dbname })
      local e = helper.expect_error("schema", false, db.init_db, db)
      assert.matches("the primary key tasks_pkey is on (title,id)", e.message, 1, true)
    end)
  end)

  describe("init_db on a coordinator", function()
    -- A stand-in for the extension: its catalogue row, its metadata table,
    -- and create_distributed_table refusing what Citus refuses.
    local STUB = [[
      INSERT INTO pg_catalog.pg_extension (oid, extname, extowner, extnamespace, extrelocatable, extversion)
        VALUES (999001, 'citus', 10, 11, false, 'stub');
      SET allow_system_table_mods = on;
      CREATE TABLE pg_catalog.pg_dist_partition (logicalrelid regclass PRIMARY KEY, partkey text NOT NULL);
      CREATE TABLE public.spec_distribute_calls (relid regclass, col text, at timestamptz DEFAULT clock_timestamp());
      CREATE FUNCTION pg_catalog.create_distributed_table(table_name regclass, distribution_column text)
      RETURNS void LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO public.spec_distribute_calls (relid, col) VALUES (table_name, distribution_column);
        IF EXISTS (SELECT FROM pg_catalog.pg_dist_partition WHERE logicalrelid = table_name) THEN
          RAISE EXCEPTION 'table "%" is already distributed', table_name;
        END IF;
        IF EXISTS (SELECT FROM pg_constraint c WHERE c.conrelid = table_name AND c.contype IN ('p', 'u')
                   AND NOT (SELECT attnum FROM pg_attribute WHERE attrelid = table_name
                            AND attname = distribution_column) = ANY (c.conkey)) THEN
          RAISE EXCEPTION 'Distributed relations cannot have UNIQUE, EXCLUDE, or PRIMARY KEY constraints that do not include the partition column';
        END IF;
        INSERT INTO pg_catalog.pg_dist_partition VALUES (table_name, distribution_column);
      END $$;]]

    local function coordinator()
      local dbname, url = new_database()
      helper.psql(STUB, { dbname = dbname })
      return dbname, url
    end

    it("creates the table keyed (user_id, id) with an index on id, and distributes it by user_id once", function()
      local dbname, url = coordinator()
      local db <close> = taskdb.connect(url)
      assert.is_true(db:init_db())
      assert.are.equal("PRIMARY KEY (user_id, id)", helper.psql(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'tasks_pkey'", { dbname = dbname }))
      assert.are.equal("tasks|user_id", helper.psql("SELECT logicalrelid, partkey FROM pg_dist_partition", { dbname = dbname }))
      assert.are.equal("created_at,id;id;user_id,created_at,id;user_id,id", helper.psql([[
        SELECT string_agg(cols, ';' ORDER BY cols) FROM (
          SELECT string_agg(a.attname, ',' ORDER BY k.ord) AS cols FROM pg_index i
          CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
          JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
          WHERE i.indrelid = 'public.tasks'::regclass GROUP BY i.indexrelid) s]], { dbname = dbname }))
      assert.is_true(db:init_db())
      assert.is_true(db:init_db())
      assert.are.equal("1", helper.psql("SELECT count(*) FROM public.spec_distribute_calls", { dbname = dbname }))
      local t = db:user("alice"):create_task{ title = "on a shard" }
      assert.are.same(t, db:get_task(t.id))
    end)

    it("leaves an existing table as it is: no key change, no distribution", function()
      local dbname, url = coordinator()
      local db <close> = taskdb.connect(url)
      helper.psql("DELETE FROM pg_extension WHERE extname = 'citus'", { dbname = dbname })
      assert.is_true(db:init_db())
      helper.psql("INSERT INTO pg_catalog.pg_extension (oid, extname, extowner, extnamespace, extrelocatable, extversion) "
        .. "VALUES (999001, 'citus', 10, 11, false, 'stub')", { dbname = dbname })
      assert.is_true(db:init_db())
      assert.are.equal("PRIMARY KEY (id)", helper.psql(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'tasks_pkey'", { dbname = dbname }))
      assert.are.equal("0", helper.psql("SELECT count(*) FROM public.spec_distribute_calls", { dbname = dbname }))
    end)

    it("is safe with many callers at once: all succeed and the table is distributed exactly once", function()
      for round = 1, 3 do
        local dbname, url = coordinator()
        assert.are.same({}, helper.init_db_race(url, 6), "round " .. round)
        assert.are.equal("1", helper.psql("SELECT count(*) FROM public.spec_distribute_calls", { dbname = dbname }))
        assert.are.equal("tasks|user_id", helper.psql("SELECT logicalrelid, partkey FROM pg_dist_partition", { dbname = dbname }))
      end
    end)
  end)
end)

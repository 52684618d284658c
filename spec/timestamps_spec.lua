-- Every value a timestamptz can hold, written by another client: BC dates,
-- years past 9999, ±infinity.  Each must read, list in order, page with a
-- cursor, iterate, and round-trip as a cursor; a cursor the client accepts
-- is one the server accepts.  Rows are written with raw SQL (helper.psql),
-- as another client would.

local helper = require("spec.helper")
local taskdb = require("taskdb")

-- (what the server is given, what taskdb reads), in the server's order.
local INSTANTS = {
  { "-infinity", "-infinity" },
  { "4714-11-24 00:00:00+00 BC", "-4713-11-24T00:00:00.000000Z" },   -- the first one there is
  { "0044-03-15 12:00:00.5+00 BC", "-0043-03-15T12:00:00.500000Z" },
  { "0002-12-31 23:59:59.999999+00 BC", "-0001-12-31T23:59:59.999999Z" },
  { "0001-01-01 00:00:00+00 BC", "0000-01-01T00:00:00.000000Z" },    -- 1 BC is year 0000
  { "0001-02-29 00:00:00+00 BC", "0000-02-29T00:00:00.000000Z" },    -- a leap year
  { "0001-12-31 23:59:59.999999+00 BC", "0000-12-31T23:59:59.999999Z" },
  { "0001-01-01 00:00:00+00", "0001-01-01T00:00:00.000000Z" },
  { "2026-11-24 10:15:30.123456+00", "2026-11-24T10:15:30.123456Z" },
  { "9999-12-31 23:59:59.999999+00", "9999-12-31T23:59:59.999999Z" },
  { "10000-01-01 00:00:00+00", "+10000-01-01T00:00:00.000000Z" },
  -- the last one; its updated_at is infinity, so that an update of every row
  -- (another spec's update_tasks{ all = true }) can still move it forward
  { "294276-12-31 23:59:59.999999+00", "+294276-12-31T23:59:59.999999Z", "infinity" },
  { "infinity", "infinity" },
}

-- Every user id this file writes rows for, removed at the end.
local PREFIX = "times-spec-"

local function sql_quote(s)
  return "'" .. s:gsub("'", "''") .. "'"
end

-- Inserts n rows for user at `created` (updated_at the same unless given),
-- as another client would; returns their ids in order.
local function insert_at(user, created, n, updated)
  local out = helper.psql(string.format(
    "INSERT INTO public.tasks (user_id, title, created_at, updated_at) "
      .. "SELECT %s, 'row ' || g, %s::timestamptz, %s::timestamptz "
      .. "FROM generate_series(1, %d) g ORDER BY g RETURNING id",
    sql_quote(user), sql_quote(created), sql_quote(updated or created), n or 1))
  local ids = {}
  for id in out:gmatch("%d+") do ids[#ids + 1] = math.tointeger(tonumber(id)) end
  return ids
end

-- The ids the server lists for user after the position (created, id), by SQL.
local function sql_ids_after(user, created, id, desc)
  local out = helper.psql(string.format(
    "SELECT id FROM public.tasks WHERE user_id = %s AND (created_at, id) %s (%s::timestamptz, %d) "
      .. "ORDER BY created_at %s, id %s",
    sql_quote(user), desc and "<" or ">", sql_quote(created), id,
    desc and "DESC" or "", desc and "DESC" or ""))
  local ids = {}
  for v in out:gmatch("%d+") do ids[#ids + 1] = math.tointeger(tonumber(v)) end
  return ids
end

local function slice(list, from, to)
  local r = {}
  for i = from, to or #list do r[#r + 1] = list[i] end
  return r
end

local function reversed(list)
  local r = {}
  for i = #list, 1, -1 do r[#r + 1] = list[i] end
  return r
end

describe("timestamps outside years 1-9999", function()
  local db = helper.db_for_block()
  local user, ids

  setup(function()
    user = helper.uid(PREFIX .. "list")
    ids = {}
    -- inserted out of order: the listing order is the server's, not the ids'
    for i = #INSTANTS, 1, -1 do
      ids[i] = insert_at(user, INSTANTS[i][1], 1, INSTANTS[i][3])[1]
    end
  end)

  teardown(function()
    helper.psql("DELETE FROM public.tasks WHERE user_id LIKE '" .. PREFIX .. "%'")
  end)

  it("read as ISO 8601 text: expanded years, year 0000 for 1 BC, and the infinities", function()
    for i, instant in ipairs(INSTANTS) do
      local t = db:get_task(ids[i])
      assert.equal(instant[2], t.created_at, instant[1])
      assert.equal(instant[3] or instant[2], t.updated_at, instant[1])
    end
  end)

  it("list in the server's order, both ways, scoped or not", function()
    local asc = db:get_tasks{ user_id = user }
    assert.are.same(ids, helper.ids(asc))
    for i, t in ipairs(asc) do assert.equal(INSTANTS[i][2], t.created_at) end
    assert.are.same(reversed(ids), helper.ids(db:get_tasks{ user_id = user, desc = true }))
    assert.are.same(ids, helper.ids(db:user(user):get_tasks()))
    local seen = {}
    for t in db:each_task{ user_id = user } do seen[#seen + 1] = t.id end
    assert.are.same(ids, seen)
  end)

  it("round-trip as cursors: taskdb.cursor(task), the task itself and get_tasks' own cursor", function()
    local all = db:get_tasks{ user_id = user }
    for i, t in ipairs(all) do
      local c = taskdb.cursor(t)
      assert.equal(t.created_at .. "/" .. t.id, c)
      assert.are.same(slice(ids, i + 1), helper.ids(db:get_tasks{ user_id = user, after = c }))
      assert.are.same(slice(ids, i + 1), helper.ids(db:get_tasks{ user_id = user, after = t }))
      assert.are.same(reversed(slice(ids, 1, i - 1)),
        helper.ids(db:get_tasks{ user_id = user, after = c, desc = true }))
    end
  end)

  it("page one row at a time through every value, both ways", function()
    for _, desc in ipairs{ false, true } do
      local seen, cursor, pages = {}, nil, 0
      repeat
        local page
        page, cursor = db:get_tasks{ user_id = user, limit = 1, after = cursor, desc = desc }
        for _, t in ipairs(page) do seen[#seen + 1] = t.id end
        pages = pages + 1
      until not cursor or pages > 2 * #INSTANTS
      assert.are.same(desc and reversed(ids) or ids, seen)
    end
  end)

  it("accept the hand-written cursors the server accepts, and mean what the server means", function()
    local cases = {
      { "0000-01-01T00:00:00.000000Z/1", "0001-01-01 00:00:00+00 BC", 1 },
      { "-0001-12-31T23:59:59.999999Z/0", "0002-12-31 23:59:59.999999+00 BC", 0 },
      { "-4713-11-24T00:00:00.000000Z/0", "4714-11-24 00:00:00+00 BC", 0 },
      { "+294276-12-31T23:59:59.999999Z/0", "294276-12-31 23:59:59.999999+00", 0 },
      { "+10000-02-29T00:00:00.000000Z/-5", "10000-02-29 00:00:00+00", -5 },
      { "infinity/0", "infinity", 0 },
      { "-infinity/0", "-infinity", 0 },
      { "-infinity/-9223372036854775808", "-infinity", math.mininteger },
    }
    for _, case in ipairs(cases) do
      for _, desc in ipairs{ false, true } do
        local got = db:get_tasks{ user_id = user, after = case[1], desc = desc }
        assert.are.same(sql_ids_after(user, case[2], case[3], desc), helper.ids(got), case[1])
      end
    end
  end)

  it("reject, as invalid, the cursors the server would not accept", function()
    for _, when in ipairs{
      "-4713-11-23T23:59:59.999999Z",      -- before the first instant there is
      "+294277-01-01T00:00:00.000000Z",     -- after the last
      "10000-01-01T00:00:00.000000Z",       -- a fifth digit needs its '+'
      "-0000-01-01T00:00:00.000000Z",
      "-0001-02-29T00:00:00.000000Z",       -- 2 BC is no leap year
      "+infinity",
      "Infinity",
    } do
      helper.expect_error("invalid", "after", db.get_tasks, db, { user_id = user, after = when .. "/1" })
      helper.expect_error("invalid", "after", db.get_tasks, db,
        { user_id = user, after = { id = 1, created_at = when } })
      helper.expect_error("invalid", "after", taskdb.cursor, { id = 1, created_at = when })
    end
    helper.expect_error("invalid", "after", db.get_tasks, db, { user_id = user, after = "infinity" })
  end)

  it("accept any well-formed cursor in the server's range without a database error", function()
    local function days_in(y, m)
      local leap = (y % 4 == 0 and y % 100 ~= 0) or y % 400 == 0
      return ({ 31, leap and 29 or 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 })[m]
    end
    local function year_text(y)
      if y < 0 then return ("-%04d"):format(-y) end
      if y > 9999 then return ("+%d"):format(y) end
      return ("%04d"):format(y)
    end
    -- A generator of its own: reseeding math.random would make later
    -- files' helper.uid() repeat from one run to the next.
    local state = 12345
    local function random(lo, hi)
      state = state * 6364136223846793005 + 1442695040888963407
      return lo + (state >> 33) % (hi - lo + 1)
    end
    for _ = 1, 150 do
      local y = random(-4712, 294275)
      local m = random(1, 12)
      local c = ("%s-%02d-%02dT%02d:%02d:%02d.%06dZ/%d"):format(year_text(y), m,
        random(1, days_in(y, m)), random(0, 23), random(0, 59),
        random(0, 59), random(0, 999999), random(-1000, 1000))
      local ok, e = pcall(db.get_tasks, db, { user_id = user, after = c, limit = 1 })
      assert(ok, c .. ": " .. tostring(e))
    end
  end)

  it("are sent to the microsecond: rows one microsecond apart page one by one", function()
    local u = helper.uid(PREFIX .. "micro")
    local expected = {}
    for _, base in ipairs{ "0044-03-15 12:00:00+00 BC", "0001-12-31 23:59:59.999998+00 BC",
                           "9999-12-31 23:59:59.999998+00", "294276-12-31 23:59:59.999998+00" } do
      for k = 0, 1 do
        local at = helper.psql(string.format(
          "SELECT (%s::timestamptz + interval '%d microsecond')::text", sql_quote(base), k))
        expected[#expected + 1] = insert_at(u, at, 1, "infinity")[1]
      end
    end
    local order = db:get_tasks{ user_id = u }
    assert.are.same(expected, helper.ids(order))   -- inserted in time order
    local seen, cursor = {}, nil
    repeat
      local page
      page, cursor = db:get_tasks{ user_id = u, limit = 1, after = cursor }
      for _, t in ipairs(page) do seen[#seen + 1] = t.id end
    until not cursor or #seen > 20
    assert.equal(8, #order)
    assert.are.same(helper.ids(order), seen)
  end)
end)

describe("many rows at one instant outside years 1-9999", function()
  local db = helper.db_for_block()

  teardown(function()
    helper.psql("DELETE FROM public.tasks WHERE user_id LIKE '" .. PREFIX .. "%'")
  end)

  it("each_task goes past its 1,000-row pages over rows dated 1 BC", function()
    local u = helper.uid(PREFIX .. "bc-each")
    local made = insert_at(u, "0001-06-15 08:00:00+00 BC", 2345)
    local seen = {}
    for t in db:each_task{ user_id = u } do
      assert.equal("0000-06-15T08:00:00.000000Z", t.created_at)
      seen[#seen + 1] = t.id
    end
    assert.are.same(made, seen)
    seen = {}
    for t in db:user(u):each_task{ desc = true } do seen[#seen + 1] = t.id end
    assert.are.same(reversed(made), seen)
  end)

  it("get_tasks goes past its 10,000-row pages over rows dated -infinity and 4714 BC", function()
    local u = helper.uid(PREFIX .. "bc-list")
    local made = insert_at(u, "-infinity", 10003)
    for _, id in ipairs(insert_at(u, "4714-11-24 00:00:00+00 BC", 5)) do made[#made + 1] = id end
    local all = db:get_tasks{ user_id = u }
    assert.are.same(made, helper.ids(all))
    local page, cursor = db:get_tasks{ user_id = u, limit = 10004 }
    assert.equal(10004, #page)
    assert.equal("-4713-11-24T00:00:00.000000Z/" .. made[10004], cursor)
    assert.are.same(slice(made, 10005), helper.ids(db:get_tasks{ user_id = u, after = cursor }))
  end)

  it("each_task goes past its pages over rows dated infinity", function()
    local u = helper.uid(PREFIX .. "inf-each")
    local made = insert_at(u, "infinity", 1001)
    local n = 0
    for t in db:each_task{ user_id = u } do
      n = n + 1
      assert.equal(made[n], t.id)
      assert.equal("infinity", t.created_at)
    end
    assert.equal(1001, n)
  end)
end)

describe("cursors whatever the session's DateStyle and TimeZone #direct_only", function()
  teardown(function()
    helper.psql("DELETE FROM public.tasks WHERE user_id LIKE '" .. PREFIX .. "%'")
  end)

  it("mean the same instant under DateStyle=SQL,DMY and TimeZone=Pacific/Kiritimati", function()
    local url = helper.url_with_param(helper.url(), "options",
      "-c%20DateStyle%3DSQL%2CDMY%20-c%20TimeZone%3DPacific%2FKiritimati")
    local db = helper.connect{ url = url }
    db:init_db()
    local u = helper.uid(PREFIX .. "datestyle")
    local made = {}
    for _, instant in ipairs(INSTANTS) do made[#made + 1] = insert_at(u, instant[1], 1, instant[3])[1] end
    local seen, cursor = {}, nil
    repeat
      local page
      page, cursor = db:get_tasks{ user_id = u, limit = 2, after = cursor }
      for _, t in ipairs(page) do seen[#seen + 1] = t.id end
    until not cursor or #seen > 2 * #INSTANTS
    assert.are.same(made, seen)
    db:close()
  end)
end)

-- "Blank" means one thing everywhere: made only of Unicode White_Space
-- characters (U+0009-000D, U+0020, U+0085, U+00A0, U+1680, U+2000-200A,
-- U+2028, U+2029, U+202F, U+205F, U+3000), in the C check, in the table's
-- CHECKs, in taskdb.is_blank, in the import script and in the shipped
-- Python model.  The letter v is not blank.

local helper = require("spec.helper")
local taskdb = require("taskdb")

local WHITE_SPACE = { 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680,
  0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200A,
  0x2028, 0x2029, 0x202F, 0x205F, 0x3000 }

local function expected_list()
  local t = {}
  for i, cp in ipairs(WHITE_SPACE) do t[i] = tostring(cp) end
  return table.concat(t, ",")
end

-- The blank code points by taskdb.is_blank (the C check), as "9,10,...".
local function c_list()
  local t = {}
  for cp = 1, 0x10FFFF do
    if (cp < 0xD800 or cp > 0xDFFF) and taskdb.is_blank(utf8.char(cp)) then t[#t + 1] = tostring(cp) end
  end
  return table.concat(t, ",")
end

describe("blank", function()
  local db = helper.db_for_block()

  it("the letter v is not blank: create_task takes the title v, vv v and the user_id v", function()
    local u = helper.uid("v")
    assert.are.equal("v", db:create_task{ user_id = u, title = "v" }.title)
    assert.are.equal("vv v", db:create_task{ user_id = u, title = "vv v" }.title)
    assert.are.equal("v", db:create_task{ user_id = "v", title = "t" }.user_id)
    assert.are.equal("v", db:update_task(db:create_task{ user_id = u, title = "x" }.id, { title = "v" }).title)
    assert.are.equal(3, db:count_tasks{ user_id = u })
  end)

  local BLANKS = {
    { "NBSP", "\u{A0}" }, { "U+3000", "\u{3000}" }, { "U+000B", "\v" }, { "NEL", "\u{85}" },
    { "U+2028 and U+2029", "\u{2028}\u{2029}" }, { "U+1680", "\u{1680}" }, { "U+202F and U+205F", "\u{202F}\u{205F}" },
    { "every White_Space character together", utf8.char(table.unpack(WHITE_SPACE)) },
  }

  for _, case in ipairs(BLANKS) do
    it("refuses a title and a user_id of only " .. case[1] .. " before sending anything", function()
      local u = helper.uid("blank")
      local e = helper.expect_error("invalid", "title", db.create_task, db, { user_id = u, title = case[2] })
      assert.matches("title must not be blank", e.message, 1, true)
      helper.expect_error("invalid", "user_id", db.create_task, db, { user_id = case[2], title = "t" })
      local t = db:create_task{ user_id = u, title = "kept" }
      helper.expect_error("invalid", "title", db.update_task, db, t.id, { title = " " .. case[2] .. " " })
      helper.expect_error("invalid", "user_id", db.user, db, case[2])
      assert.are.equal("kept", db:get_task(t.id).title)
      assert.are.equal(1, db:count_tasks{ user_id = u })
    end)

    it("the table refuses a title of only " .. case[1] .. " from another client (psql)", function()
      local ok, err = pcall(helper.psql, "INSERT INTO public.tasks (user_id, title) VALUES ('psql-blank', "
        .. "convert_from('\\x" .. case[2]:gsub(".", function(c) return string.format("%02x", c:byte()) end)
        .. "'::bytea, 'UTF8'))")
      assert.is_false(ok)
      assert.matches('violates check constraint "tasks_title_not_blank"', tostring(err), 1, true)
    end)
  end

  it("takes what is not White_Space: ZWSP, BOM, U+180E, U+001C", function()
    local u = helper.uid("not-blank")
    for _, s in ipairs({ "\u{200B}", "\u{FEFF}", "\u{180E}", "\x1C" }) do
      assert.are.equal(s, db:create_task{ user_id = u, title = s }.title)
    end
    assert.are.equal(4, db:count_tasks{ user_id = u })
  end)

  it("taskdb.is_blank is the C check, over every code point", function()
    assert.are.equal(expected_list(), c_list())
    assert.is_true(taskdb.is_blank(""))
    assert.is_false(taskdb.is_blank("v"))
    assert.is_false(taskdb.is_blank("\xFF"))
    helper.expect_error("invalid", false, taskdb.is_blank, 42)
  end)

  it("the table's CHECKs call exactly the same code points blank #direct_only", function()
    local regex = helper.psql("SELECT substring(pg_get_constraintdef(oid) from '''(.*)''::text') FROM pg_constraint "
      .. "WHERE conrelid = 'public.tasks'::regclass AND conname = 'tasks_title_not_blank'")
    assert.are.equal("[^\\u0009-\\u000d\\u0020\\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]", regex)
    local server = helper.psql("SELECT string_agg(cp::text, ',' ORDER BY cp) FROM generate_series(1, 1114111) cp "
      .. "WHERE (cp < 55296 OR cp > 57343) AND NOT (chr(cp) ~ '" .. regex .. "')")
    assert.are.equal(expected_list(), server)
  end)

  it("import.lua calls the same titles blank: NBSP is refused with its line, v is imported", function()
    local u = helper.uid("import-blank")
    local function import(lines)
      local input = os.tmpname()
      helper.write_file(input, table.concat(lines, "\n") .. "\n")
      local code, out, err = helper.taskshell(helper.read_file(helper.project_dir .. "/scripts/import.lua"),
        { DATABASE_URL = helper.url() }, { args = { input } })
      os.remove(input)
      return code, out, err
    end
    local code, _, err = import({ '{"user_id":"' .. u .. '","title":"v"}', '{"user_id":"' .. u .. '","title":"\\u00a0"}' })
    assert.are.equal(1, code)
    assert.matches("line 2", err, 1, true)
    assert.matches("title must not be blank", err, 1, true)
    assert.are.equal(0, db:count_tasks{ user_id = u })
    code, _, err = import({ '{"user_id":"' .. u .. '","title":"v"}', '{"user_id":"' .. u .. '","title":"vv v"}' })
    assert.are.equal(0, code, err)
    assert.are.equal(2, db:count_tasks{ user_id = u })
  end)

  it("the Python model calls exactly the same code points blank", function()
    local p = assert(io.popen("cd " .. helper.shell_quote(helper.project_dir .. "/python") .. " && /usr/bin/python3 -c "
      .. helper.shell_quote("import sys, taskdb_model as m; print(','.join(str(c) for c in range(1, 0x110000) "
      .. "if not 0xD800 <= c <= 0xDFFF and m.is_blank(chr(c))))") .. " 2>&1"))
    local out = helper.trim(p:read("a"))
    p:close()
    assert.are.equal(expected_list(), out)
  end)
end)

-- The taskdb module's own fields and functions beyond the task calls:
-- _VERSION beside version, database_url() (where connect() finds its URL,
-- answered by the core's parser), and the values the `prepare` option takes.

local helper = require("spec.helper")
local taskdb = helper.taskdb

describe("taskdb._VERSION", function()
  it("names the module and its release, beside taskdb.version", function()
    assert.matches("^%d+%.%d+%.%d+$", taskdb.version)
    assert.are.equal("taskdb " .. taskdb.version, taskdb._VERSION)
  end)
end)

describe("taskdb.database_url()", function()
  -- Runs `print(taskdb.database_url())`-like code in a clean environment
  -- (`env` on top of PATH and HOME) in a directory holding `dotenv` as .env.
  local function ask(env, dotenv)
    local dir = helper.tmpdir()
    if dotenv then helper.write_file(dir .. "/.env", dotenv) end
    local code, out, err = helper.taskshell([[
      local url, where = require("taskdb").database_url()
      if url then
        print("url", url, where)
      else
        print("none", where.kind, getmetatable(where).__name, where.message)
      end]], env, { clean = true, cwd = dir })
    helper.rmdir(dir)
    assert.are.equal(0, code, err)
    return out
  end

  it("gives the environment's URL and says so", function()
    assert.are.equal("url\tpostgresql://env@h/db\tenvironment\n",
      ask({ DATABASE_URL = "postgresql://env@h/db" }, "DATABASE_URL=postgresql://file@h/db\n"))
  end)

  it("reads ./.env when the environment has none or an empty one, by the dotenv rules", function()
    local dotenv = "# settings\nexport DATABASE_URL = 'postgresql://file@h/db?x=1#2'  # comment\n"
    assert.are.equal("url\tpostgresql://file@h/db?x=1#2\t.env\n", ask({}, dotenv))
    assert.are.equal("url\tpostgresql://file@h/db?x=1#2\t.env\n", ask({ DATABASE_URL = "" }, dotenv))
  end)

  it("returns nil and connect()'s config error when nothing is configured, an empty value included", function()
    for _, case in ipairs({ { {}, nil }, { { DATABASE_URL = "" }, nil }, { {}, "DATABASE_URL=\n" },
                            { { DATABASE_URL = "" }, "OTHER=1\n" } }) do
      local out = ask(case[1], case[2])
      assert.matches("^none\tconfig\ttaskdb%.Error\tDATABASE_URL is not set", out)
    end
  end)

  it("names the line of a malformed ./.env", function()
    assert.matches("^none\tconfig\ttaskdb%.Error\t%.env line 2: unterminated quote in DATABASE_URL",
      ask({}, "A=1\nDATABASE_URL=\"postgresql://u@h/db\n"))
  end)
end)

describe("the prepare option", function()
  it('takes "auto" (the default), true and false', function()
    for _, value in ipairs({ "auto", true, false }) do
      local db <close> = helper.connect{ prepare = value }
      assert.is_true(db:ping())
      assert.are.equal(0, db:count_tasks{ user_id = helper.uid("prepare") })
    end
    local forced <close> = helper.connect{ prepare = false }
    assert.is_false(forced:info().prepared)
  end)

  it("rejects anything else, naming the values it takes", function()
    for _, value in ipairs({ "Auto", "on", 1, {} }) do
      local e = helper.expect_error("invalid", "prepare", taskdb.connect, { url = helper.url(), prepare = value })
      assert.matches('prepare must be "auto", true or false', e.message)
    end
  end)
end)

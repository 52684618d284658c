-- Misuse that must neither crash nor leak: hostile finalizers, huge argument
-- lists, lying __len, passwords inside malformed URLs.
local taskdb = require("taskdb")
local helper = require("spec.helper")

describe("robustness", function()
  local db
  before_each(function() db = helper.fresh_db() end)
  after_each(function() if db then db:close() end end)

  it("never shows a password from a URL libpq cannot parse", function()
    local ok, err = pcall(taskdb.connect, "postgresql://u:s3cr%zzet@db.example.com/x")
    assert.is_false(ok)
    assert.equal("config", err.kind)
    assert.is_nil(tostring(err):find("s3cr", 1, true))
    assert.is_nil(err.message:find("zzet", 1, true))
  end)

  it("survives a finalizer that closes the connection while rows are converted", function()
    local u = helper.uid("gcclose")
    local rows = {}
    for i = 1, 3000 do rows[i] = { user_id = u, title = "t" .. i } end
    db:create_tasks(rows)
    local victim = taskdb.connect(helper.url())
    victim:create_task{ user_id = u, title = "extra" }
    -- Many objects whose __gc closes `victim` and calls into it mid-conversion.
    for _ = 1, 2000 do
      setmetatable({}, { __gc = function() pcall(victim.get_task, victim, 1); victim:close() end })
    end
    local ok, page = pcall(victim.get_tasks, victim, { user_id = u })
    collectgarbage()
    if ok then assert.equal(3001, #page) end   -- or it raised `closed`: either is fine, no crash
    assert.is_false(pcall(victim.ping, victim))
  end)

  it("passes many extra arguments through transaction", function()
    local args = {}
    for i = 1, 60 do args[i] = i end
    local n, last = db:transaction(function(_, ...) return select("#", ...), select(60, ...) end,
                                   table.unpack(args))
    assert.equal(60, n)
    assert.equal(60, last)
  end)

  it("create_tasks counts the list itself, not its __len", function()
    local u = helper.uid("len")
    local list = setmetatable({ { user_id = u, title = "only" } }, { __len = function() return 1e9 end })
    local ids = db:create_tasks(list)
    assert.equal(1, #ids)
    assert.equal(1, db:count_tasks{ user_id = u })
  end)

  it("get_tasks returns results larger than its internal page in order, each row once", function()
    local u = helper.uid("bigpage")
    local rows = {}
    for i = 1, 25000 do rows[i] = { user_id = u, title = "t" .. i } end
    db:create_tasks(rows)
    local all = db:get_tasks{ user_id = u }
    assert.equal(25000, #all)
    for i, t in ipairs(all) do assert.equal("t" .. i, t.title) end
    local page, cursor = db:get_tasks{ user_id = u, limit = 20000 }
    assert.equal(20000, #page)
    assert.equal("t20000", page[20000].title)
    local rest, none = db:get_tasks{ user_id = u, limit = 20000, after = cursor }
    assert.equal(5000, #rest)
    assert.equal("t20001", rest[1].title)
    assert.is_nil(none)
    local newest = db:get_tasks{ user_id = u, limit = 15000, desc = true }
    assert.equal("t25000", newest[1].title)
    assert.equal("t10001", newest[15000].title)
    assert.same({}, db:get_tasks{ user_id = u, limit = 0 })
  end)
end)

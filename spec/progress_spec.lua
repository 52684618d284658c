-- taskshell.progress: drawn on a terminal only, at most ~10 times a second.
-- Run from the project root: build/taskshell /usr/bin/busted spec/progress_spec.lua
package.path = "lua/?.lua;" .. package.path

local progress = require("taskshell.progress")

-- A stream that records what is written, and a clock the test moves.
local function fake_stream()
  return { text = "", write = function(self, ...)
    self.text = self.text .. table.concat({ ... })
    return self
  end }
end

local function fake_clock(start)
  local clock = { now = start or 100 }
  clock.read = function() return clock.now end
  return clock
end

local function new_bar(opts)
  local stream, clock = fake_stream(), fake_clock()
  opts.stream, opts.clock = stream, clock.read
  if opts.enabled == nil then opts.enabled = true end
  return progress.new(opts), stream, clock
end

-- The last status line drawn ("\r" starts each one).
local function last_line(stream)
  local line = stream.text:match("\r([^\r]*)$") or ""
  return (line:gsub("\27%[K", ""):gsub("\n$", ""))
end

describe("progress", function()
  it("draws label, bar, percentage, count, rate and ETA", function()
    local bar, stream, clock = new_bar{ total = 100, label = "import" }
    clock.now = clock.now + 5
    bar:update(50)
    local line = last_line(stream)
    assert.matches("^import %[###############%.+%]  50%% 50/100 10/s ETA 0:05$", line)
  end)

  it("counts with add and ends the line on finish", function()
    local bar, stream, clock = new_bar{ total = 4 }
    for _ = 1, 4 do
      clock.now = clock.now + 1
      bar:add()
    end
    bar:finish()
    assert.matches("100%% 4/4 1/s$", last_line(stream))
    assert.matches("\n$", stream.text)
    local written = #stream.text
    bar:finish()
    bar:add(1)
    assert.are.equal(written, #stream.text)  -- nothing after finish
  end)

  it("redraws at most every 0.1 s however often it is updated", function()
    local bar, stream, clock = new_bar{ total = 1000 }
    for i = 1, 100 do
      clock.now = clock.now + 0.001
      bar:update(i)
    end
    local _, draws = stream.text:gsub("\r", "")
    assert.are.equal(1, draws)
    clock.now = clock.now + 0.1
    bar:update(101)
    _, draws = stream.text:gsub("\r", "")
    assert.are.equal(2, draws)
  end)

  it("works without a total", function()
    local bar, stream, clock = new_bar{ label = "scan" }
    clock.now = clock.now + 2
    bar:update(30)
    assert.are.equal("scan 30 15/s", last_line(stream))
  end)

  it("writes nothing at all when disabled", function()
    local bar, stream, clock = new_bar{ total = 10, enabled = false }
    clock.now = clock.now + 1
    bar:update(5)
    bar:add(5)
    bar:finish()
    assert.are.equal("", stream.text)
  end)

  it("fits the terminal: every line drawn at 50 columns takes at most 49", function()
    local bar, stream, clock = new_bar{ total = 200000, label = "import", columns = 50 }
    for i = 1, 20 do
      clock.now = clock.now + 0.2
      bar:update(i * 9000)
    end
    bar:finish()
    local lines = 0
    for line in stream.text:gmatch("\r([^\r]*)") do
      line = line:gsub("\27%[K", ""):gsub("\n$", "")
      lines = lines + 1
      assert.is_true(#line <= 49, "too wide for 50 columns: " .. line)
      assert.matches("^import %[[#.]+%]", line)
    end
    assert.are.equal(21, lines)
  end)

  it("narrows the bar first, then drops the ETA, the rate, the bar and the count", function()
    local bar, _, clock = new_bar{ total = 200000, label = "import" }
    clock.now = clock.now + 3
    bar:update(45000)
    local now = clock.now
    assert.are.equal("import [######........................]  22% 45000/200000 15000/s ETA 0:10",
                     bar:render(now, 200))
    assert.are.equal("import [#....]  22% 45000/200000 15000/s ETA 0:10", bar:render(now, 49))
    assert.are.equal("import [#.......]  22% 45000/200000 15000/s", bar:render(now, 43))
    assert.are.equal("import  22% 45000/200000", bar:render(now, 30))
    assert.are.equal("import  22%", bar:render(now, 20))
    assert.are.equal("import  22", bar:render(now, 10))
  end)

  it("reads the width at every redraw, so a resized terminal is followed", function()
    local width = 100
    local bar, stream, clock = new_bar{ total = 100, label = "seed", columns = function() return width end }
    clock.now = clock.now + 1
    bar:update(10)
    assert.matches("%[", last_line(stream))
    width = 20
    clock.now = clock.now + 1
    bar:update(20)
    assert.is_true(#last_line(stream) <= 19, last_line(stream))
  end)

  it("abandon ends a drawn line without a final redraw; progress.abandon ends them all", function()
    local bar, stream, clock = new_bar{ total = 10 }
    clock.now = clock.now + 1
    bar:update(4)
    local drawn = stream.text
    progress.abandon()
    assert.are.equal(drawn .. "\n", stream.text)
    bar:update(8)
    bar:finish()
    assert.are.equal(drawn .. "\n", stream.text)
    local quiet, qstream = new_bar{ total = 10 }   -- never drawn: nothing to end
    quiet:abandon()
    assert.are.equal("", qstream.text)
  end)

  it("is disabled by default on a stream that is not a terminal", function()
    local file = assert(io.tmpfile())
    local bar = progress.new{ total = 3, stream = file }
    assert.is_false(bar.enabled)
    bar:update(3)
    bar:finish()
    assert.are.equal(0, file:seek("end"))
    file:close()
  end)
end)

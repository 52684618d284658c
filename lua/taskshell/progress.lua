-- taskshell.progress — a progress bar for long imports and exports.
--
--   local bar = progress.new{ total = 10000, label = "import" }
--   for ... do ...; bar:add(1) end
--   bar:finish()
--
-- Draws `import [######......]  45% 4500/10000 1234/s ETA 0:04` on the
-- stream (stderr by default), redrawing at most ten times a second, and
-- only when that stream is a terminal: a script's output piped into a file
-- or a CI log gets nothing at all.  The line always fits the terminal's
-- width, read at every redraw (a resized window is followed): the bar
-- narrows first, then ETA, rate and count give way, so a redraw never
-- wraps.  `enabled = true/false` overrides the detection; `clock`
-- (seconds, a function) and `columns` (a number or a function) can be
-- replaced in tests.  progress.abandon() ends the line of every bar still
-- drawn (a script stopped by an error or Ctrl-C), so what follows starts
-- on a line of its own.

local progress = {}

local REDRAW_INTERVAL = 0.1  -- seconds
local BAR_WIDTH = 30         -- at most; fewer on a narrow terminal
local BAR_MIN = 5            -- below this the bar is left out
local DEFAULT_COLUMNS = 80   -- when the width cannot be read

-- Inside taskshell the host module answers isatty and gives a monotonic
-- clock; under a stock lua5.4 both have fallbacks.
local host
do
  local ok, module = pcall(require, "taskshell.host")
  host = ok and module or nil
end

local function default_clock()
  if host then return host.clock() end
  return os.time()  -- whole seconds: fewer redraws, same output
end

local terminal_fd = {}  -- fd -> boolean, asked of the shell once

-- Bars that have drawn a line and not ended it (for progress.abandon).
local open_lines = setmetatable({}, { __mode = "k" })

-- The terminal's width in columns: the host asks the terminal itself;
-- under a stock lua5.4, $COLUMNS or 80.
local function terminal_columns(stream)
  if host and host.columns then
    local ok, n = pcall(host.columns, stream)
    if ok and n then return n end
  end
  return tonumber(os.getenv("COLUMNS")) or DEFAULT_COLUMNS
end

local function is_terminal(stream)
  local term = os.getenv("TERM")
  if term == nil or term == "" or term == "dumb" then return false end
  if host then
    local ok, answer = pcall(host.isatty, stream)
    return ok and answer
  end
  local fd = (stream == io.stderr and 2) or (stream == io.stdout and 1)
  if not fd then return false end
  if terminal_fd[fd] == nil then
    terminal_fd[fd] = os.execute("test -t " .. fd) == true
  end
  return terminal_fd[fd]
end

-- 65 -> "1:05", 3723 -> "1:02:03"
local function duration(seconds)
  seconds = math.floor(seconds + 0.5)
  local h, m, s = seconds // 3600, seconds % 3600 // 60, seconds % 60
  if h > 0 then return string.format("%d:%02d:%02d", h, m, s) end
  return string.format("%d:%02d", m, s)
end

local function count(n)
  return tostring(math.tointeger(n) or n)
end

local Progress = {}
Progress.__index = Progress

function progress.new(opts)
  opts = opts or {}
  local stream = opts.stream or io.stderr
  local enabled = opts.enabled
  if enabled == nil then enabled = is_terminal(stream) end
  local clock = opts.clock or default_clock
  local columns = opts.columns
  if type(columns) == "number" then
    local n = columns
    columns = function() return n end
  end
  return setmetatable({
    total = opts.total, label = opts.label, stream = stream,
    enabled = enabled, clock = clock, done = 0,
    columns = columns or function() return terminal_columns(stream) end,
    started = clock(), last_draw = nil, finished = false,
  }, Progress)
end

local function bar_text(fraction, width)
  local filled = math.floor(fraction * width)
  return "[" .. string.rep("#", filled) .. string.rep(".", width - filled) .. "]"
end

-- The status line for the current count, without "\r", in at most
-- `width` columns (default: no limit).  Parts give way in this order: the
-- bar narrows (to BAR_MIN), then the ETA, the rate, the bar and the count
-- are dropped; what still does not fit is cut.
function Progress:render(now, width)
  local label = (self.label and self.label ~= "") and self.label or nil
  local total = self.total
  local fraction, percent, counted
  if total and total > 0 then
    fraction = math.max(0, math.min(self.done / total, 1))
    percent = string.format("%3d%%", math.floor(fraction * 100))
    counted = count(self.done) .. "/" .. count(total)
  else
    counted = count(self.done)
  end
  local rate, eta
  local elapsed = now - self.started
  if elapsed > 0 then
    local per_second = self.done / elapsed
    rate = string.format("%.0f/s", per_second)
    if total and per_second > 0 and self.done < total then
      eta = "ETA " .. duration((total - self.done) / per_second)
    end
  end
  local keep = { bar = fraction ~= nil, counted = true, rate = rate ~= nil, eta = eta ~= nil }
  -- the line with a bar of `bar_width` inner columns (nil: no bar)
  local function line(bar_width)
    local out = {}
    local function add(part) if part then out[#out + 1] = part end end
    add(label)
    if bar_width then add(bar_text(fraction, bar_width)) end
    add(percent)
    if keep.counted or not percent then add(counted) end
    if keep.rate then add(rate) end
    if keep.eta then add(eta) end
    return table.concat(out, " ")
  end
  if not width then return line(keep.bar and BAR_WIDTH or nil) end
  for _, part in ipairs({ "none", "eta", "rate", "bar", "counted" }) do
    keep[part] = false
    if keep.bar then
      -- "[" .. bar .. "]" and a space: what the other parts leave over
      local inner = width - #line(nil) - 3
      if inner >= BAR_MIN then return line(math.min(BAR_WIDTH, inner)) end
    elseif #line(nil) <= width then
      return line(nil)
    end
  end
  return line(nil):sub(1, math.max(width, 0))
end

function Progress:draw(now)
  self.last_draw = now
  -- "\r" returns to the line's start; "\27[K" clears what a longer
  -- previous line left behind.  One column stays free: a line that fills
  -- the last column makes some terminals wrap.
  local width = math.max((self.columns() or DEFAULT_COLUMNS) - 1, 1)
  self.stream:write("\r", self:render(now, width), "\27[K")
  if self.stream.flush then self.stream:flush() end
  open_lines[self] = true
end

function Progress:update(done)
  self.done = done
  if not self.enabled or self.finished then return end
  local now = self.clock()
  if self.last_draw == nil or now - self.last_draw >= REDRAW_INTERVAL then
    self:draw(now)
  end
end

function Progress:add(n)
  self:update(self.done + (n or 1))
end

-- Draws the final state and ends the line; later calls do nothing.
function Progress:finish()
  if self.finished then return end
  if self.enabled then
    self:draw(self.clock())
    self.stream:write("\n")
    if self.stream.flush then self.stream:flush() end
  end
  open_lines[self] = nil
  self.finished = true
end

-- Ends the line where it stands, without a final redraw (the count is not
-- final); later calls do nothing.
function Progress:abandon()
  if self.finished then return end
  if open_lines[self] then
    self.stream:write("\n")
    if self.stream.flush then self.stream:flush() end
  end
  open_lines[self] = nil
  self.finished = true
end

-- Abandons every bar that has drawn a line it has not ended.
function progress.abandon()
  local bars = {}
  for bar in pairs(open_lines) do bars[#bars + 1] = bar end
  for _, bar in ipairs(bars) do bar:abandon() end
end

return progress

-- taskshell.progress — a progress bar for long imports and exports.
--
--   local bar = progress.new{ total = 10000, label = "import" }
--   for ... do ...; bar:add(1) end
--   bar:finish()
--
-- Draws `import [######......]  45% 4500/10000 1234/s ETA 0:04` on the
-- stream (stderr by default), redrawing at most ten times a second, and
-- only when that stream is a terminal: a script's output piped into a file
-- or a CI log gets nothing at all.  `enabled = true/false` overrides the
-- detection; `clock` (seconds, a function) can be replaced in tests.

local progress = {}

local REDRAW_INTERVAL = 0.1  -- seconds
local BAR_WIDTH = 30

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
  return setmetatable({
    total = opts.total, label = opts.label, stream = stream,
    enabled = enabled, clock = clock, done = 0,
    started = clock(), last_draw = nil, finished = false,
  }, Progress)
end

-- The status line for the current count, without "\r".
function Progress:render(now)
  local parts = {}
  if self.label and self.label ~= "" then parts[#parts + 1] = self.label end
  local total = self.total
  if total and total > 0 then
    local fraction = math.max(0, math.min(self.done / total, 1))
    local filled = math.floor(fraction * BAR_WIDTH)
    parts[#parts + 1] = "[" .. string.rep("#", filled) .. string.rep(".", BAR_WIDTH - filled) .. "]"
    parts[#parts + 1] = string.format("%3d%%", math.floor(fraction * 100))
    parts[#parts + 1] = count(self.done) .. "/" .. count(total)
  else
    parts[#parts + 1] = count(self.done)
  end
  local elapsed = now - self.started
  if elapsed > 0 then
    local rate = self.done / elapsed
    parts[#parts + 1] = string.format("%.0f/s", rate)
    if total and rate > 0 and self.done < total then
      parts[#parts + 1] = "ETA " .. duration((total - self.done) / rate)
    end
  end
  return table.concat(parts, " ")
end

function Progress:draw(now)
  self.last_draw = now
  -- "\r" returns to the line's start; "\27[K" clears what a longer
  -- previous line left behind.
  self.stream:write("\r", self:render(now), "\27[K")
  if self.stream.flush then self.stream:flush() end
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
  self.finished = true
end

return progress

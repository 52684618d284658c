-- spec/support/terminal.lua — a program on a real pseudo-terminal, driven
-- through a private tmux server: keys are typed with send-keys and the
-- screen is read with capture-pane.  Used by the REPL and script specs.
--
--   local terminal = require("spec.support.terminal")
--   local t = terminal.start("exec taskshell", { cwd = dir, width = 50 })
--   t:line("1+1"); t:wait_for("\n2\n"); t:key("C-c"); t:close()
--
-- The tester's ~/.tmux.conf is never read (-f /dev/null).

local terminal = {}

terminal.POLL_SECONDS = 0.1

local function shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
terminal.shell_quote = shell_quote

local function command_output(cmd)
  local pipe = assert(io.popen(cmd))
  local out = pipe:read("a")
  local ok = pipe:close()
  return (out:gsub("\n$", "")), ok
end

-- Fails unless tmux is installed (scripts/deps.sh installs it).
function terminal.require_tmux()
  local _, ok = command_output("command -v tmux")
  assert(ok, "tmux is required for the terminal specs (scripts/deps.sh installs it)")
end

local Session = {}
Session.__index = Session

-- Runs `command` (a shell command line) in a new tmux server.
-- opts: cwd (default "/"), width (160), height (50).
function terminal.start(command, opts)
  opts = opts or {}
  local self = setmetatable({ socket = os.tmpname() }, Session)
  os.remove(self.socket)  -- tmux creates the socket itself
  local _, ok = self:tmux(string.format("new-session -d -s term -x %d -y %d -c %s %s",
    opts.width or 160, opts.height or 50, shell_quote(opts.cwd or "/"), shell_quote(command)))
  assert(ok, "could not start tmux")
  return self
end

function Session:tmux(args)
  return command_output("tmux -f /dev/null -S " .. shell_quote(self.socket) .. " " .. args .. " 2>&1")
end

function Session:type(text)
  self:tmux("send-keys -t term -l " .. shell_quote(text))
end

function Session:key(name)
  self:tmux("send-keys -t term " .. name)
end

function Session:line(text)
  self:type(text)
  self:key("Enter")
end

-- The whole pane, scrollback included; wrapped lines joined unless
-- `physical` (then each screen row is a line).
function Session:screen(physical)
  return (self:tmux("capture-pane -p " .. (physical and "" or "-J ") .. "-S - -t term"))
end

-- Polls the screen until `pattern` (a Lua pattern) shows, for at most
-- `seconds` (default 5); fails with the screen as it was.
function Session:wait_for(pattern, seconds)
  local screen
  for _ = 1, math.ceil((seconds or 5) / terminal.POLL_SECONDS) do
    screen = self:screen()
    if screen:find(pattern) then return screen end
    os.execute("sleep " .. terminal.POLL_SECONDS)
  end
  error(string.format("%q did not appear; the screen was:\n%s", pattern, screen), 2)
end

function Session:running()
  local _, ok = self:tmux("has-session -t term")
  return ok
end

function Session:wait_exit(seconds)
  for _ = 1, math.ceil((seconds or 5) / terminal.POLL_SECONDS) do
    if not self:running() then return end
    os.execute("sleep " .. terminal.POLL_SECONDS)
  end
  error("the program did not exit; the screen was:\n" .. self:screen(), 2)
end

function Session:close()
  self:tmux("kill-server")
  os.remove(self.socket)
end

return terminal

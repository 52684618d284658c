-- spec/support/delayline.lua — build/delayline (bench/delayline.c) in
-- specs: a link of a given round trip to the test server's TCP port, and
-- what crossed it.
--
--   local DL = require("spec.support.delayline")
--   local line = DL.start(rtt_ms[, upstream])   -- upstream: host:port, default the server
--   line.port, line.url([params]), line.stats(), line.stop()
--   DL.counted(line, fn)    -- the counters' change while fn() ran
--                              (round_trips, client_flights, connections, bytes_up, ...)

local helper = require("spec.helper")
local H = require("spec.support.procs")

local DL = {}
local DELAYLINE = helper.build_dir .. "/delayline"

-- Starts a line of `rtt_ms` to `upstream` (default: the server's TCP port).
-- Returns { port, url(extra), stats(), stop() }.
function DL.start(rtt_ms, upstream)
  local portf, statsf, logf, pidf = H.tmpfile("port"), H.tmpfile("stats"), H.tmpfile("log"),
                                    H.tmpfile("pid")
  upstream = upstream or ("127.0.0.1:" .. H.env("TASKDB_TEST_PGPORT"))
  os.execute(string.format("timeout -k 2 600 %s -u %s -r %s -p %s -s %s 2>%s & echo $! >%s",
    H.shq(DELAYLINE), H.shq(upstream), tostring(rtt_ms), H.shq(portf), H.shq(statsf),
    H.shq(logf), H.shq(pidf)))
  local port = H.wait_for("the delay line to listen", 10, function()
    local s = H.readfile(portf)
    return s and tonumber(s:match("^(%d+)\n"))
  end)
  local line = { port = port }
  function line.url(params)
    local u = helper.tcp_url():gsub("@127%.0%.0%.1:%d+/", "@127.0.0.1:" .. port .. "/")
    if params then u = u:gsub("sslmode=disable", params) end
    return u
  end
  function line.stats()
    local r = {}
    for k, v in (H.readfile(statsf) or ""):gmatch("(%S+)%s+(%S+)\n") do r[k] = tonumber(v) end
    return r
  end
  function line.stop()
    os.execute("kill " .. helper.trim(H.readfile(pidf) or "") .. " 2>/dev/null")
  end
  return line
end

-- Round trips (and the rest) that fn() caused on `line`.
function DL.counted(line, fn)
  local a = line.stats()
  fn()
  local b = line.stats()
  local d = {}
  for k, v in pairs(b) do d[k] = v - (a[k] or 0) end
  return d
end

return DL

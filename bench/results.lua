-- bench/results.lua — the key=value lines the bench scripts collected, read
-- back for the report tables (bench/report.lua, bench/net_report.lua).
-- Every numeric value of a key is kept, so a figure measured in several
-- runs is reported as their median.
--
--   local results = dofile(BENCH_DIR .. "/results.lua")
--   local values, strings = results.read(paths, prefix)
--   results.median(values[key])
--
-- values[key]: the key's numeric values, in file order; strings[key]: its
-- last value as written.  prefix(path), if given, returns a prefix for the
-- keys of that file.

local M = {}

function M.read(paths, prefix)
  local values, strings = {}, {}
  for _, path in ipairs(paths) do
    local pre = prefix and prefix(path) or ""
    for line in io.lines(path) do
      local key, v = line:match("^([%w_.]+)=(.*)$")
      if key then
        key = pre .. key
        strings[key] = v
        local num = tonumber(v)
        if num then
          values[key] = values[key] or {}
          table.insert(values[key], num)
        end
      end
    end
  end
  return values, strings
end

-- nil for no values.
function M.median(list)
  if not list or #list == 0 then return nil end
  local s = table.move(list, 1, #list, 1, {})
  table.sort(s)
  local n = #s
  if n % 2 == 1 then return s[(n + 1) // 2] end
  return (s[n // 2] + s[n // 2 + 1]) / 2
end

return M

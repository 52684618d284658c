-- bench/catalogue.lua — the core's own statement catalogue (`build/taskdb-sql`:
-- label TAB nparams TAB sql), for the pgbench script generators
-- (bench/pgbench_gen.lua, bench/net_pgbench_gen.lua): pgbench sends the very
-- statements taskdb sends; nothing retypes a statement.
--
--   local bind = dofile(BENCH_DIR .. "/catalogue.lua").load(CATALOGUE)
--   bind("get_user", { ":id", ":u" })   -- the SQL, $1 -> :id, $2 -> :u

local M = {}

-- Returns bind(label, params): the statement of `label` with each $k
-- replaced by params[k].  Raises when the catalogue has no such statement
-- or the statement's parameters and `params` do not match one to one.
function M.load(path)
  local stmts = {}
  for line in io.lines(path) do
    local label, nparams, sql = line:match("^([^\t]+)\t(%d+)\t(.*)$")
    if label then stmts[label] = { n = tonumber(nparams), sql = sql } end
  end
  return function(label, params)
    local s = assert(stmts[label], "taskdb-sql has no statement " .. label)
    assert(#params == s.n, label .. ": " .. s.n .. " parameters in the catalogue, " .. #params .. " mapped")
    local sql = s.sql:gsub("%$(%d+)", function(k)
      return assert(params[tonumber(k)], label .. ": no mapping for $" .. k)
    end)
    assert(not sql:find("%$%d"), label .. ": unreplaced parameter")
    return sql
  end
end

return M

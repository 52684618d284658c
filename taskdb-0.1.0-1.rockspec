-- The taskdb Lua module, built from this source tree with `luarocks make`
-- (the make backend runs the project's Makefile: `make module`, then
-- `make install-module` into the rock's tree).  libpq is found as LuaSQL's
-- PostgreSQL driver finds it; where its header is not in a standard include
-- directory (Debian and Ubuntu: /usr/include/postgresql), say where:
--   luarocks make PQ_INCDIR="$(pg_config --includedir)"
rockspec_format = "3.0"
package = "taskdb"
version = "0.1.0-1"
source = {
   url = "git+file://.",
}
description = {
   summary = "User-scoped task records in PostgreSQL, for Lua 5.4, in C on libpq",
   detailed = [[
      taskdb stores the tasks of a multi-user todo application in PostgreSQL
      (Neon Serverless PostgreSQL or any other, through PgBouncer too): typed
      calls, one fixed parameterized statement each, validation before
      anything is sent, error tables with a kind, connect timeouts and
      retries, transparent reconnects, bulk COPY and keyset paging.  Also
      installs the taskshell.* helper modules (task tables, progress bars).
   ]],
   license = "MIT",
   labels = { "database", "postgresql", "libpq" },
}
dependencies = {
   "lua >= 5.4, < 5.5",
}
external_dependencies = {
   PQ = {
      header = "libpq-fe.h",
      library = "pq",
   },
}
build = {
   type = "make",
   build_target = "module",
   build_variables = {
      CC = "$(CC)",
      CFLAGS = "$(CFLAGS)",
      LUA_INC = "-I$(LUA_INCDIR)",
      PQ_INC = "-I$(PQ_INCDIR)",
      PQ_LIB = "-L$(PQ_LIBDIR) -lpq",
      MODULE_LDFLAGS = "$(LIBFLAG)",
      WERROR = "",
      BUILD = "build/luarocks",
   },
   install_target = "install-module",
   install_variables = {
      LUA_CMODULE_DIR = "$(LIBDIR)",
      LUA_MODULE_DIR = "$(LUADIR)",
      BUILD = "build/luarocks",
   },
}

/*
 * setup.c — what a fresh taskshell state gets beyond the standard libraries.
 *
 * `taskdb` is preloaded from the binding linked into this executable.  The
 * project's lua/ directory is found from the executable's real path
 * (<project>/build/taskshell -> <project>/lua), so scripts can require
 * `taskshell.format` from any working directory; TASKSHELL_LUA_DIR
 * overrides it.  `taskshell.host` gives Lua code the few facts only C can
 * learn cheaply: whether a stream is a terminal, and a monotonic clock.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lua.h"
#include "lauxlib.h"
#include "lualib.h"

#include "taskdb.h"
#include "host.h"

/* isatty(fd | file): is this descriptor or Lua file handle a terminal? */
static int host_isatty(lua_State *L) {
  int fd;
  if (lua_isinteger(L, 1)) {
    fd = (int)lua_tointeger(L, 1);
  } else {
    luaL_Stream *stream = (luaL_Stream *)luaL_testudata(L, 1, LUA_FILEHANDLE);
    if (stream == NULL || stream->closef == NULL || stream->f == NULL)
      return luaL_argerror(L, 1, "expected a file descriptor or an open file");
    fd = fileno(stream->f);
  }
  lua_pushboolean(L, fd >= 0 && isatty(fd));
  return 1;
}

/* clock(): seconds from a monotonic clock, with sub-second resolution
 * (os.clock is CPU time and os.time counts whole seconds). */
static int host_clock(lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
  return 1;
}

static const luaL_Reg host_funcs[] = {
  {"isatty", host_isatty},
  {"clock", host_clock},
  {NULL, NULL}
};

/* Writes the project's lua/ directory into `out`; 0 if none was found. */
static int find_lua_dir(char *out, size_t size, int ignore_env) {
  char exe[PATH_MAX], guess[PATH_MAX + 8];
  const char *env = ignore_env ? NULL : getenv("TASKSHELL_LUA_DIR");
  ssize_t n;
  char *slash;
  if (env != NULL && env[0] != '\0') {
    if (strlen(env) >= size) return 0;
    strcpy(out, env);
    return 1;
  }
  n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return 0;
  exe[n] = '\0';
  slash = strrchr(exe, '/');
  if (slash == NULL) return 0;
  *slash = '\0';
  snprintf(guess, sizeof guess, "%s/../lua", exe);
  if (size < PATH_MAX || realpath(guess, out) == NULL) return 0;
  return 1;
}

static int host_module_open(lua_State *L) {
  luaL_newlib(L, host_funcs);
  lua_pushliteral(L, TASKSHELL_VERSION);
  lua_setfield(L, -2, "version");
  lua_getfield(L, LUA_REGISTRYINDEX, "taskshell.lua_dir");
  lua_setfield(L, -2, "lua_dir");
  return 1;
}

void host_setup(lua_State *L, int ignore_env) {
  char dir[PATH_MAX];
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, luaopen_taskdb);
  lua_setfield(L, -2, "taskdb");
  lua_pushcfunction(L, host_module_open);
  lua_setfield(L, -2, "taskshell.host");
  lua_pop(L, 1);
  /* ';' and '?' are package.path syntax: such a directory cannot be named */
  if (!find_lua_dir(dir, sizeof dir, ignore_env) || strpbrk(dir, ";?"))
    return;
  lua_pushstring(L, dir);
  lua_setfield(L, LUA_REGISTRYINDEX, "taskshell.lua_dir");
  lua_getglobal(L, LUA_LOADLIBNAME);
  lua_getfield(L, -1, "path");
  lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;%s", dir, dir, lua_tostring(L, -1));
  lua_setfield(L, -3, "path");
  lua_pop(L, 2);
}

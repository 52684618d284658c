/*
 * setup.c — what a fresh taskshell state gets beyond the standard libraries.
 *
 * `taskdb` is preloaded from the binding linked into this executable.  The
 * lua/ modules are found from the executable's real path, so scripts can
 * require `taskshell.format` from any working directory: installed, they
 * are in <prefix>/share/lua/5.4 beside <prefix>/bin/taskshell (and C
 * modules in <prefix>/lib/lua/5.4); in the source tree, <project>/lua
 * beside <project>/build/taskshell.  TASKSHELL_LUA_DIR overrides both.
 * `taskshell.host` gives Lua code the few facts only C can learn cheaply:
 * whether a stream is a terminal, its width, a monotonic clock, and
 * whether Ctrl-C has been pressed.
 */
#include <limits.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lua.h"
#include "lauxlib.h"
#include "lualib.h"

#include "taskdb.h"
#include "host.h"

/* The descriptor of argument 1: an integer or an open Lua file handle. */
static int check_fd(lua_State *L)
{
    luaL_Stream *stream;
    if (lua_isinteger(L, 1))
        return (int)lua_tointeger(L, 1);
    stream = (luaL_Stream *)luaL_testudata(L, 1, LUA_FILEHANDLE);
    if (stream == NULL || stream->closef == NULL || stream->f == NULL)
        return luaL_argerror(L, 1, "expected a file descriptor or an open file");
    return fileno(stream->f);
}

/* isatty(fd | file): is this descriptor or Lua file handle a terminal? */
static int host_isatty(lua_State *L)
{
    int fd = check_fd(L);
    lua_pushboolean(L, fd >= 0 && isatty(fd));
    return 1;
}

/* columns(fd | file): the terminal's width now (it may be resized), or
 * nil when the stream is not a terminal. */
static int host_columns(lua_State *L)
{
    int fd = check_fd(L);
    struct winsize ws;
    if (fd < 0 || ioctl(fd, TIOCGWINSZ, &ws) != 0 || ws.ws_col == 0)
        lua_pushnil(L);
    else
        lua_pushinteger(L, ws.ws_col);
    return 1;
}

/* interrupted(): has Ctrl-C (SIGINT) stopped code in this process? */
static int host_interrupted_fn(lua_State *L)
{
    lua_pushboolean(L, host_interrupted());
    return 1;
}

/* clock(): seconds from a monotonic clock, with sub-second resolution
 * (os.clock is CPU time and os.time counts whole seconds). */
static int host_clock(lua_State *L)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
    return 1;
}

static const luaL_Reg host_funcs[] = { { "isatty", host_isatty },
                                       { "columns", host_columns },
                                       { "clock", host_clock },
                                       { "interrupted", host_interrupted_fn },
                                       { NULL, NULL } };

#define LUA_SUBDIR LUA_VERSION_MAJOR "." LUA_VERSION_MINOR
/* Relative to the executable's directory, first match wins. */
#define INSTALLED_LUA_DIR "/../share/lua/" LUA_SUBDIR
#define INSTALLED_C_DIR "/../lib/lua/" LUA_SUBDIR
#define SOURCE_LUA_DIR "/../lua"
#define MARKER "/taskshell/repl.lua" /* proves a directory is ours */

/* Writes the real path of exe_dir + rel into `out` (PATH_MAX bytes) if
 * it exists and holds MARKER (NULL: any directory will do). */
static int resolve_dir(char *out, const char *exe_dir, const char *rel, const char *marker)
{
    char guess[PATH_MAX * 2];
    snprintf(guess, sizeof guess, "%s%s", exe_dir, rel);
    if (realpath(guess, out) == NULL)
        return 0;
    if (marker == NULL)
        return 1;
    snprintf(guess, sizeof guess, "%s%s", out, marker);
    return access(guess, R_OK) == 0;
}

/* Writes the lua/ modules' directory into `lua_dir` and, when taskshell
 * runs from an installed tree, the C modules' one into `c_dir` (else
 * c_dir[0] is NUL).  Both PATH_MAX bytes.  0 if no module directory was
 * found. */
static int find_lua_dir(char *lua_dir, char *c_dir, int ignore_env)
{
    char exe[PATH_MAX];
    const char *env = ignore_env ? NULL : getenv("TASKSHELL_LUA_DIR");
    ssize_t n;
    char *slash;
    c_dir[0] = '\0';
    if (env != NULL && env[0] != '\0') {
        if (strlen(env) >= PATH_MAX)
            return 0;
        strcpy(lua_dir, env);
        return 1;
    }
    n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return 0;
    exe[n] = '\0';
    slash = strrchr(exe, '/');
    if (slash == NULL)
        return 0;
    *slash = '\0';
    if (resolve_dir(lua_dir, exe, INSTALLED_LUA_DIR, MARKER)) {
        if (!resolve_dir(c_dir, exe, INSTALLED_C_DIR, NULL))
            c_dir[0] = '\0';
        return 1;
    }
    return resolve_dir(lua_dir, exe, SOURCE_LUA_DIR, NULL);
}

/* package[field] = first .. ";" .. package[field] */
static void prepend_path(lua_State *L, const char *field, const char *first)
{
    lua_getglobal(L, LUA_LOADLIBNAME);
    lua_getfield(L, -1, field);
    lua_pushfstring(L, "%s;%s", first, lua_tostring(L, -1));
    lua_setfield(L, -3, field);
    lua_pop(L, 2);
}

static int host_module_open(lua_State *L)
{
    luaL_newlib(L, host_funcs);
    lua_pushliteral(L, TASKSHELL_VERSION);
    lua_setfield(L, -2, "version");
    lua_getfield(L, LUA_REGISTRYINDEX, "taskshell.lua_dir");
    lua_setfield(L, -2, "lua_dir");
    return 1;
}

void host_setup(lua_State *L, int ignore_env)
{
    char dir[PATH_MAX], c_dir[PATH_MAX];
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, luaopen_taskdb);
    lua_setfield(L, -2, "taskdb");
    lua_pushcfunction(L, host_module_open);
    lua_setfield(L, -2, "taskshell.host");
    lua_pop(L, 1);
    /* ';' and '?' are package.path syntax: such a directory cannot be named */
    if (!find_lua_dir(dir, c_dir, ignore_env) || strpbrk(dir, ";?"))
        return;
    lua_pushstring(L, dir);
    lua_setfield(L, LUA_REGISTRYINDEX, "taskshell.lua_dir");
    prepend_path(L, "path", lua_pushfstring(L, "%s/?.lua;%s/?/init.lua", dir, dir));
    lua_pop(L, 1);
    if (c_dir[0] != '\0' && !strpbrk(c_dir, ";?")) {
        prepend_path(L, "cpath", lua_pushfstring(L, "%s/?.so", c_dir));
        lua_pop(L, 1);
    }
}

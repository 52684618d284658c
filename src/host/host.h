/*
 * host.h — what the units of the taskshell host share.
 *
 * taskshell.c is the interpreter (options, scripts, error reporting);
 * setup.c prepares a fresh state (taskdb preloaded, the project's lua/
 * directory on package.path, the small `taskshell.host` helper module);
 * repl.c is the interactive loop; state.c makes the state on alloc.c's
 * allocator.  Everything here runs on the one
 * lua_State that main creates; nothing returned needs freeing by the caller.
 */
#ifndef TASKSHELL_HOST_H
#define TASKSHELL_HOST_H

#include "lua.h"

#include "alloc.h"

#if !defined(TASKSHELL_VERSION)
#define TASKSHELL_VERSION "unknown"
#endif

#define TASKSHELL_PROGNAME "taskshell"

/* Runs the function under `narg` arguments on the stack with the host's
 * message handler (error text + traceback) and Ctrl-C interruption. */
int host_docall(lua_State *L, int narg, int nres);

/* Prints the error message on the top of the stack (if status is not
 * LUA_OK) to stderr, prefixed by `progname` unless it is NULL. */
int host_report(lua_State *L, int status, const char *progname);

/* 1 once Ctrl-C (SIGINT) has stopped code run by host_docall. */
int host_interrupted(void);

/* Pushes one line: taskshell's version, taskdb's and Lua's. */
void host_push_version(lua_State *L);

/* A new state on `a` (which must outlive it), with a panic handler and
 * warnings off until "@on", as luaL_newstate would set up.  NULL: no memory. */
lua_State *host_newstate(host_alloc *a);

/* After luaL_openlibs: preload taskdb and taskshell.host, and put the
 * project's lua/ directory first on package.path.  `ignore_env` is -E. */
void host_setup(lua_State *L, int ignore_env);

/* The read-eval-print loop; returns when the user ends the input. */
void host_repl(lua_State *L);

#endif

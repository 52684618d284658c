/*
 * state.c — a new Lua state on the host's allocator (alloc.c), with what
 * luaL_newstate would also give it: a panic handler, and warnings that
 * stay off until a script (or -W) sends the control message "@on".
 */
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "host.h"

static int host_panic(lua_State *L)
{
    const char *msg = lua_tostring(L, -1);
    fprintf(stderr, "%s: PANIC: unprotected error in call to Lua API (%s)\n", TASKSHELL_PROGNAME,
            msg ? msg : "error object is not a string");
    fflush(stderr);
    return 0;   /* Lua aborts */
}

/* `on`: "@on" was seen; `continuing`: the last piece said more would follow. */
typedef struct warn_state {
    int on, continuing;
} warn_state;

static warn_state warnings;

static void host_warn(void *ud, const char *msg, int tocont)
{
    warn_state *w = ud;
    if (!w->continuing && !tocont && msg[0] == '@') {   /* a control message */
        if (strcmp(msg + 1, "on") == 0)
            w->on = 1;
        else if (strcmp(msg + 1, "off") == 0)
            w->on = 0;
        return;
    }
    if (w->on) {
        if (!w->continuing)
            fputs("Lua warning: ", stderr);
        fputs(msg, stderr);
        if (!tocont)
            fputs("\n", stderr);
        fflush(stderr);
    }
    w->continuing = tocont;
}

lua_State *host_newstate(host_alloc *a)
{
    lua_State *L = lua_newstate(host_alloc_fn, a);
    if (L) {
        lua_atpanic(L, host_panic);
        lua_setwarnf(L, host_warn, &warnings);
    }
    return L;
}

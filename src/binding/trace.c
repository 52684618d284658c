/*
 * trace.c — taskdb.connect{ trace = fn }: each trace event of the core
 * (core trace.h) as a Lua table passed to fn.
 *
 * fn is the connection's user value 1.  The core hands the trampoline only
 * the tdbl_conn pointer, so a registry table with weak values maps that
 * pointer back to the userdata: a function that refers to its own
 * connection does not keep it alive.
 *
 * The core calls the trampoline in the middle of its work, so fn runs
 * under lua_pcall (an error in it never unwinds through the core; the
 * first one is reported on stderr), on the thread of the call under way
 * (tdbl_conn.L), with the connection marked busy: a call on it from inside
 * fn raises `invalid` (tdbl_enter).  Calls that borrow Lua strings across
 * several statements (create_tasks) hold their events and deliver them
 * when the core is done, so fn cannot free what the core still reads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "binding.h"

#define TDBL_TRACED "taskdb.traced"   /* registry: lightuserdata(tdbl_conn) -> userdata */

/* An event kept by tdbl_trace_hold, with copies of its strings. */
struct tdbl_held {
    tdb_trace_event ev;
    char host[256];
    char port[16];
    char sqlstate[6];
};

void tdbl_enter(lua_State *L, tdbl_conn *c)
{
    if (c->in_trace)
        tdbl_raise_kind(L, TDB_INVALID, NULL,
                        "a connection cannot be used from its own trace callback "
                        "(the statement being traced is still in progress)");
    c->L = L;
}

static void set_integer(lua_State *L, const char *key, lua_Integer v)
{
    lua_pushinteger(L, v);
    lua_setfield(L, -2, key);
}

static void set_string(lua_State *L, const char *key, const char *v)
{
    lua_pushstring(L, v);
    lua_setfield(L, -2, key);
}

static void push_event(lua_State *L, const tdb_trace_event *ev)
{
    lua_createtable(L, 0, 12);
    set_string(L, "label", ev->label);
    set_string(L, "kind", tdb_trace_kind_name(ev->kind));
    lua_pushboolean(L, ev->ok);
    lua_setfield(L, -2, "ok");
    lua_pushnumber(L, (lua_Number)ev->ms);
    lua_setfield(L, -2, "ms");
    set_integer(L, "rows", (lua_Integer)ev->rows);
    set_string(L, "host", ev->host);
    set_string(L, "port", ev->port);
    set_integer(L, "resends", ev->resends);
    set_integer(L, "reconnects", ev->reconnects);
    set_integer(L, "retries", ev->retries);
    if (!ev->ok && ev->error != TDB_OK)
        set_string(L, "error", tdb_kind_name(ev->error));
    if (ev->sqlstate[0])
        set_string(L, "sqlstate", ev->sqlstate);
    if (ev->begin) {
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "begin");
    }
    if (ev->ends)
        set_string(L, "ends", ev->ends);
    if (ev->aborted) {
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "aborted");
    }
    if (ev->index > 0)
        set_integer(L, "index", (lua_Integer)ev->index);
}

/* Protected: fn(event).  Arg 1: the tdbl_conn, arg 2: the event (light userdata). */
static int call_fn(lua_State *L)
{
    tdbl_conn *c = lua_touserdata(L, 1);
    const tdb_trace_event *ev = lua_touserdata(L, 2);
    lua_getfield(L, LUA_REGISTRYINDEX, TDBL_TRACED);
    if (lua_rawgetp(L, -1, c) != LUA_TUSERDATA || lua_getiuservalue(L, -1, 1) != LUA_TFUNCTION)
        return 0;
    push_event(L, ev);
    lua_call(L, 1, 0);
    return 0;
}

/* Protected: the error object on top as text (its __tostring may raise too). */
static int error_text(lua_State *L)
{
    luaL_tolstring(L, 1, NULL);
    return 1;
}

static void report_once(lua_State *L, tdbl_conn *c)
{
    const char *text = NULL;
    if (c->trace_error_shown)
        return;
    c->trace_error_shown = 1;
    lua_pushcfunction(L, error_text);
    lua_insert(L, -2);
    if (lua_pcall(L, 1, 1, 0) == LUA_OK)
        text = lua_tostring(L, -1);
    fprintf(stderr, "taskdb: the trace callback raised an error (further ones are not shown): %s\n",
            text ? text : "(an error object that cannot be shown)");
}

static void deliver(lua_State *L, tdbl_conn *c, const tdb_trace_event *ev)
{
    int top = lua_gettop(L);
    if (!lua_checkstack(L, 4))
        return;
    lua_pushcfunction(L, call_fn);
    lua_pushlightuserdata(L, c);
    lua_pushlightuserdata(L, (void *)ev);
    c->in_trace = 1;
    if (lua_pcall(L, 2, 0, 0) != LUA_OK)
        report_once(L, c);
    c->in_trace = 0;
    lua_settop(L, top);
}

static void keep(tdbl_conn *c, const tdb_trace_event *ev)
{
    struct tdbl_held *h;
    if (c->nheld == c->held_cap) {
        size_t cap = c->held_cap ? c->held_cap * 2 : 8;
        struct tdbl_held *grown = realloc(c->held, cap * sizeof *grown);
        if (!grown)
            return;   /* out of memory: the event is lost, the call goes on */
        c->held = grown;
        c->held_cap = cap;
    }
    h = &c->held[c->nheld++];
    h->ev = *ev;
    snprintf(h->host, sizeof h->host, "%s", ev->host);
    snprintf(h->port, sizeof h->port, "%s", ev->port);
    snprintf(h->sqlstate, sizeof h->sqlstate, "%s", ev->sqlstate);
}

/* The core's tracer for a connection with a trace function. */
static void trampoline(void *ctx, const tdb_trace_event *ev)
{
    tdbl_conn *c = ctx;
    if (!c->L || c->in_trace)
        return;
    if (c->hold)
        keep(c, ev);
    else
        deliver(c->L, c, ev);
}

void tdbl_trace_hold(tdbl_conn *c)
{
    c->hold = 1;
}

void tdbl_trace_release(lua_State *L, tdbl_conn *c)
{
    c->hold = 0;
    for (size_t i = 0; i < c->nheld; i++) {
        struct tdbl_held *h = &c->held[i];
        h->ev.host = h->host;
        h->ev.port = h->port;
        h->ev.sqlstate = h->sqlstate;
        deliver(L, c, &h->ev);
    }
    c->nheld = 0;
}

void tdbl_trace_free(tdbl_conn *c)
{
    free(c->held);
    c->held = NULL;
    c->nheld = c->held_cap = 0;
}

/*
 * Options table at `opts_idx`, new connection userdata at `ud_idx`: a
 * `trace` function becomes the connection's tracer (args.c checked its type).
 */
void tdbl_trace_attach(lua_State *L, int opts_idx, int ud_idx, tdbl_conn *c,
                       tdb_conn_options *opts)
{
    lua_pushliteral(L, "trace");
    if (lua_rawget(L, opts_idx) != LUA_TFUNCTION) {
        lua_pop(L, 1);
        return;
    }
    lua_setiuservalue(L, ud_idx, 1);
    lua_getfield(L, LUA_REGISTRYINDEX, TDBL_TRACED);
    lua_pushvalue(L, ud_idx);
    lua_rawsetp(L, -2, c);
    lua_pop(L, 1);
    opts->trace = trampoline;
    opts->trace_ctx = c;
}

void tdbl_trace_init(lua_State *L)
{
    if (lua_getfield(L, LUA_REGISTRYINDEX, TDBL_TRACED) == LUA_TTABLE) {
        lua_pop(L, 1);
        return;
    }
    lua_pop(L, 1);
    lua_newtable(L);
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "v");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_setfield(L, LUA_REGISTRYINDEX, TDBL_TRACED);
}

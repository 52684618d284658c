/*
 * pipeline.c — db:pipeline(fn): the task calls made on `p` inside fn are
 * validated and queued as they are made, then sent together when fn
 * returns (core pipeline.h); the results table holds each call's outcome
 * in order: what the call returns, or the error table of a call the server
 * refused (with `index`).  Each queueing method returns its index.  A call
 * with bad arguments raises at once, and then nothing of the block is sent,
 * even if fn catches that error.  Calls on the handle itself inside fn run
 * at once, as usual: the connection is idle until fn returns.
 *
 * "taskdb.Pipeline": user value 1 is the handle it came from (a
 * Connection, or a User whose scope every call keeps).
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "binding.h"
#include "pipeline.h"
#include "task_set.h"

/* What a queued call returns, so its result converts like the method's. */
typedef enum outcome {
    OUT_TASK_OR_NIL,
    OUT_DELETED,
    OUT_LIST,
    OUT_COUNT,
    OUT_CHANGED
} outcome;

typedef struct pipe_state {
    tdb_pipeline *pl;       /* NULL once freed */
    unsigned char *kinds;   /* one outcome per queued call */
    size_t cap;
    int open;               /* fn is running: calls may be queued */
    size_t started;         /* queueing calls begun: one that raised never queued */
} pipe_state;

static int pipeline_gc(lua_State *L)
{
    pipe_state *p = luaL_checkudata(L, 1, TDBL_PIPELINE);
    tdb_pipeline_free(p->pl);
    p->pl = NULL;
    free(p->kinds);
    p->kinds = NULL;
    p->open = 0;
    return 0;
}

/*
 * Arg 1 must be an open pipeline: returns it and fills `t` from its handle.
 * The stack is set to the method's `nargs` arguments, then the handle and
 * its connection are pushed: they anchor t for the call, whatever Lua code
 * does to the pipeline's user value meanwhile.  The call is counted as
 * started: one that raises before it is queued stops the whole block.
 */
static pipe_state *pipeline_target(lua_State *L, int nargs, tdbl_target *t)
{
    pipe_state *p = luaL_testudata(L, 1, TDBL_PIPELINE);
    if (!p)
        tdbl_raise_kind(L, TDB_INVALID, NULL,
                        "expected a taskdb pipeline, got %s (call methods with ':')",
                        luaL_typename(L, 1));
    if (!p->open || !p->pl)
        tdbl_raise_kind(L, TDB_INVALID, NULL,
                        "this pipeline's block has ended: queue calls inside db:pipeline(fn)");
    p->started++;
    lua_settop(L, nargs);
    lua_getiuservalue(L, 1, 1);
    if (!luaL_testudata(L, -1, TDBL_CONNECTION) && !luaL_testudata(L, -1, TDBL_USER))
        tdbl_raise_kind(L, TDB_INVALID, NULL,
                        "the pipeline's handle (user value 1) was replaced by a %s",
                        luaL_typename(L, -1));
    tdbl_target_at(L, lua_gettop(L), t);
    return p;
}

/* Queues a built request (and releases it): returns its index to Lua. */
static int queued(lua_State *L, pipe_state *p, int built, tdb_request *r,
                  const tdb_error *build_err, outcome kind)
{
    tdb_error err;
    size_t n = tdb_pipeline_count(p->pl);
    int added;
    if (built != 0) {
        tdb_request_release(r);
        return tdbl_raise(L, build_err);
    }
    if (n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 16;
        unsigned char *grown = realloc(p->kinds, cap);
        if (!grown) {
            tdb_request_release(r);
            return luaL_error(L, "not enough memory");
        }
        p->kinds = grown;
        p->cap = cap;
    }
    added = tdb_pipeline_add(p->pl, r->id, &r->params, &err);
    tdb_request_release(r);
    if (added != 0)
        return tdbl_raise(L, &err);
    p->kinds[n] = (unsigned char)kind;
    lua_pushinteger(L, (lua_Integer)n + 1);
    return 1;
}

static int pipeline_create_task(lua_State *L)
{
    tdbl_target t;
    pipe_state *p = pipeline_target(L, 2, &t);
    tdb_task_new task;
    tdb_request r;
    tdb_error err;
    tdbl_check_table(L, 2, "create_task's argument");
    tdbl_read_new_task(L, 2, &task, 0);
    return queued(L, p, tdb_request_create(t.scopep, &task, &r, &err), &r, &err, OUT_TASK_OR_NIL);
}

typedef int (*id_request)(const tdb_str *, long long, tdb_request *, tdb_error *);

static int by_id(lua_State *L, id_request build, outcome kind)
{
    tdbl_target t;
    pipe_state *p = pipeline_target(L, 2, &t);
    tdb_request r;
    tdb_error err;
    long long id = tdbl_check_id(L, 2);
    return queued(L, p, build(t.scopep, id, &r, &err), &r, &err, kind);
}

static int pipeline_get_task(lua_State *L)
{
    return by_id(L, tdb_request_get, OUT_TASK_OR_NIL);
}

static int pipeline_toggle_complete(lua_State *L)
{
    return by_id(L, tdb_request_toggle, OUT_TASK_OR_NIL);
}

static int pipeline_delete_task(lua_State *L)
{
    return by_id(L, tdb_request_delete, OUT_DELETED);
}

static int pipeline_update_task(lua_State *L)
{
    tdbl_target t;
    pipe_state *p = pipeline_target(L, 3, &t);
    tdb_task_patch patch;
    tdb_request r;
    tdb_error err;
    long long id = tdbl_check_id(L, 2);
    tdbl_check_table(L, 3, "update_task's changes");
    tdbl_read_patch(L, 3, &patch);
    return queued(L, p, tdb_request_update(t.scopep, id, &patch, &r, &err), &r, &err,
                  OUT_TASK_OR_NIL);
}

/* One statement: every matching row (or `limit` of them), with no page cursor. */
static int pipeline_get_tasks(lua_State *L)
{
    tdbl_target t;
    pipe_state *p = pipeline_target(L, 2, &t);
    tdb_list_opts opts;
    tdb_request r;
    tdb_error err;
    tdbl_read_list_opts(L, 2, &opts, 0);
    return queued(L, p, tdb_request_list(t.scopep, &opts, &r, &err), &r, &err, OUT_LIST);
}

static int pipeline_count_tasks(lua_State *L)
{
    tdbl_target t;
    pipe_state *p = pipeline_target(L, 2, &t);
    tdb_list_opts opts;
    tdb_request r;
    tdb_error err;
    tdbl_read_list_opts(L, 2, &opts, 1);
    return queued(L, p, tdb_request_count(t.scopep, &opts, &r, &err), &r, &err, OUT_COUNT);
}

/* update_tasks / delete_tasks: the filter read into slots above the arguments. */
static int pipeline_update_tasks(lua_State *L)
{
    tdbl_target t;
    pipe_state *p = pipeline_target(L, 3, &t);   /* 4: the handle */
    tdb_task_filter f;
    tdb_task_patch patch;
    tdb_request r;
    tdb_error err;
    int built;
    tdbl_check_table(L, 2, "update_tasks' filter");
    tdbl_check_table(L, 3, "update_tasks' changes");
    tdbl_read_filter(L, 2, 5, &f, "update_tasks' filter");
    tdbl_read_patch(L, 3, &patch);
    built = tdb_request_update_many(t.scopep, &f, &patch, &r, &err);
    return queued(L, p, built, &r, &err, OUT_CHANGED);
}

static int pipeline_delete_tasks(lua_State *L)
{
    tdbl_target t;
    pipe_state *p = pipeline_target(L, 2, &t);   /* 3: the handle */
    tdb_task_filter f;
    tdb_request r;
    tdb_error err;
    int built;
    tdbl_check_table(L, 2, "delete_tasks' filter");
    tdbl_read_filter(L, 2, 4, &f, "delete_tasks' filter");
    built = tdb_request_delete_many(t.scopep, &f, &r, &err);
    return queued(L, p, built, &r, &err, OUT_CHANGED);
}

/* Pushes call i's outcome: its value, or its error table with `index`. */
static void push_outcome(lua_State *L, const pipe_state *p, size_t i)
{
    tdb_error err;
    const PGresult *res = tdb_pipeline_result(p->pl, i, &err);
    long long n = 0;
    if (tdb_pipeline_skipped(p->pl, i)) {   /* nothing needed sending: nothing changed */
        lua_pushinteger(L, 0);
        return;
    }
    if (res && p->kinds[i] == OUT_COUNT && tdb_count_of(res, &n, &err) != 0)
        res = NULL;
    if (res && p->kinds[i] == OUT_CHANGED && (n = tdb_changed_count(res, &err)) < 0)
        res = NULL;
    if (!res) {
        tdbl_push_error(L, &err);
        lua_pushinteger(L, (lua_Integer)i + 1);
        lua_setfield(L, -2, "index");
        return;
    }
    switch ((outcome)p->kinds[i]) {
    case OUT_TASK_OR_NIL:
        tdbl_push_task_or_nil(L, res);
        break;
    case OUT_DELETED:
        lua_pushboolean(L, tdb_deleted(res));
        break;
    case OUT_LIST:
        lua_createtable(L, PQntuples(res), 0);
        tdbl_append_tasks(L, res, 0);
        break;
    case OUT_COUNT:
    case OUT_CHANGED:
        lua_pushinteger(L, (lua_Integer)n);
        break;
    }
}

/*
 * Once fn has returned, the calls move from the pipeline fn saw (which Lua
 * code may have kept, and whose __gc it can call) to a twin no Lua code can
 * reach, made before fn runs so that nothing allocates in between: results
 * are converted from memory that nothing but this function frees, and the
 * collector frees it if converting raises.
 */
int tdbl_pipeline(lua_State *L)
{
    tdbl_target t;
    pipe_state *p, *own;
    tdb_error err;
    int status;
    size_t n;
    tdbl_target_of(L, 2, &t);                       /* 3: the connection, anchored */
    if (lua_type(L, 2) != LUA_TFUNCTION)
        return tdbl_raise_kind(L, TDB_INVALID, NULL,
                               "pipeline takes a function, got %s", luaL_typename(L, 2));
    p = lua_newuserdatauv(L, sizeof *p, 1);        /* 4: the pipeline */
    memset(p, 0, sizeof *p);
    luaL_setmetatable(L, TDBL_PIPELINE);
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, 4, 1);
    if (!(p->pl = tdb_pipeline_new()))
        return luaL_error(L, "not enough memory");
    own = lua_newuserdatauv(L, sizeof *own, 0);    /* 5: the twin */
    memset(own, 0, sizeof *own);
    luaL_setmetatable(L, TDBL_PIPELINE);
    p->open = 1;
    lua_pushvalue(L, 2);
    lua_pushvalue(L, 4);
    status = lua_pcall(L, 1, 0, 0);
    p->open = 0;
    t.c->L = L;                                     /* fn may have used it from a coroutine */
    if (status != LUA_OK)
        return lua_error(L);                        /* nothing was sent */
    /* A call that raised, even one the block caught, stops the whole block. */
    if (p->pl && p->started != tdb_pipeline_count(p->pl))
        return tdbl_raise_kind(L, TDB_INVALID, NULL,
                               "pipeline: a call in the block had bad arguments; nothing was sent");
    *own = *p;
    memset(p, 0, sizeof *p);
    if (!own->pl)                                   /* its __gc was called inside fn */
        return tdbl_raise_kind(L, TDB_INVALID, NULL,
                               "pipeline: the pipeline was freed inside its block; nothing was sent");
    if (!t.c->conn)
        return tdbl_raise_kind(L, TDB_CLOSED, NULL,
                               "the connection was closed inside the pipeline's block; nothing was sent");
    if (tdb_pipeline_run(t.c->conn, own->pl, &err) != 0)
        return tdbl_raise(L, &err);
    n = tdb_pipeline_count(own->pl);
    lua_createtable(L, n > (size_t)INT_MAX ? INT_MAX : (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        push_outcome(L, own, i);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    /* The results are Lua values now: free the server's answers at once. */
    tdb_pipeline_free(own->pl);
    own->pl = NULL;
    return 1;
}

static const luaL_Reg pipeline_methods[] = {
    { "create_task", pipeline_create_task },
    { "get_task", pipeline_get_task },
    { "get_tasks", pipeline_get_tasks },
    { "count_tasks", pipeline_count_tasks },
    { "update_task", pipeline_update_task },
    { "toggle_complete", pipeline_toggle_complete },
    { "delete_task", pipeline_delete_task },
    { "update_tasks", pipeline_update_tasks },
    { "delete_tasks", pipeline_delete_tasks },
    { NULL, NULL }
};

static int pipeline_tostring(lua_State *L)
{
    pipe_state *p = luaL_checkudata(L, 1, TDBL_PIPELINE);
    lua_pushfstring(L, "taskdb.Pipeline (%d calls%s)",
                    (int)tdb_pipeline_count(p->pl), p->open ? "" : ", ended");
    return 1;
}

void tdbl_pipeline_init(lua_State *L)
{
    luaL_newmetatable(L, TDBL_PIPELINE);
    lua_pushcfunction(L, pipeline_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, pipeline_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_newtable(L);
    luaL_setfuncs(L, pipeline_methods, 0);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
}

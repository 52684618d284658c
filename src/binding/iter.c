/*
 * iter.c — db:each_task(opts): a `for` iterator with bounded memory.
 *
 * Rows are fetched in keyset pages of ITER_CHUNK (created_at, id after the
 * last row seen), so memory does not grow with the row count, no
 * transaction or cursor is held open between steps, breaking out early
 * costs nothing, and the connection stays usable inside the loop body
 * (even through a transaction pooler).  The iterator is also the loop's
 * closing value: its __close frees the current page at once.
 *
 * User values: 1 = the handle it iterates (keeps the connection alive),
 * 2 = the current page, in a "taskdb.Result" box.  The user_id filter is
 * copied into the iterator's own memory, which no Lua code can change.
 */
#include <string.h>

#include "binding.h"

#define ITER_CHUNK 1000

typedef struct tdbl_iter {
    tdb_list_opts opts;
    int row;
    long long remaining;   /* -1: no limit */
    int done;              /* no more rows: the end, an error, a close, or a step under way */
    int busy;              /* a step is converting a row of the page */
    int closed;
    size_t user_len;
    char user_id[];        /* opts.user_id points here (unscoped filter) */
} tdbl_iter;

/* Pushes user value `uv` of the iterator at 1; raises if Lua code replaced it with another type. */
static void *iter_uservalue(lua_State *L, int uv, const char *tname, const char *what)
{
    void *p;
    lua_getiuservalue(L, 1, uv);
    p = luaL_testudata(L, -1, tname);
    if (!p && !(uv == 1 && luaL_testudata(L, -1, TDBL_USER)))
        tdbl_raise_kind(L, TDB_INVALID, NULL, "each_task's iterator: its %s was replaced by a %s",
                        what, luaL_typename(L, -1));
    return p;
}

/*
 * Closing while a step converts a row (a finalizer run by an allocation
 * may do it) only detaches the page: that step's stack still holds it, and
 * the collector frees it.  Otherwise the page is freed at once.
 */
static int iter_close(lua_State *L)
{
    tdbl_iter *it = luaL_checkudata(L, 1, TDBL_ITERATOR);
    it->closed = it->done = 1;
    if (lua_getiuservalue(L, 1, 2) == LUA_TUSERDATA && !it->busy) {
        PGresult **page = luaL_testudata(L, -1, TDBL_RESULT);
        if (page)
            tdbl_unbox(page);
    }
    lua_pushnil(L);
    lua_setiuservalue(L, 1, 2);
    return 0;
}

/* Fetches the page after the current one into *page; 0 when there is none. */
static int fetch_next(lua_State *L, tdbl_iter *it, PGresult **page)
{
    tdbl_target t;
    tdb_error err;
    PGresult *res;
    long long want = ITER_CHUNK;
    if (*page) {
        tdb_task last;
        int n = PQntuples(*page);
        if (n < it->opts.limit || tdb_task_row(*page, n - 1, &last) != 0)
            return 0;
        it->opts.after.created_at = last.created_at;
        it->opts.after.id = last.id;
        it->opts.has_after = 1;
    }
    if (it->remaining == 0)
        return 0;
    if (it->remaining > 0 && it->remaining < want)
        want = it->remaining;
    it->opts.limit = want;
    iter_uservalue(L, 1, TDBL_CONNECTION, "handle (user value 1)");
    tdbl_target_at(L, lua_gettop(L), &t);
    res = tdb_task_list(tdbl_live(L, &t), t.scopep, &it->opts, &err);
    lua_pop(L, 2);
    tdbl_unbox(page);
    if (!res) {
        it->done = 1;
        return tdbl_raise(L, &err);
    }
    *page = res;
    it->row = 0;
    return PQntuples(res) > 0;
}

static int iter_step(lua_State *L)
{
    tdbl_iter *it = luaL_checkudata(L, 1, TDBL_ITERATOR);
    PGresult **page;
    tdb_task task;
    if (it->done)
        return 0;
    page = iter_uservalue(L, 2, TDBL_RESULT, "page (user value 2)");
    if (!*page || it->row >= PQntuples(*page)) {
        if (!fetch_next(L, it, page)) {
            tdbl_unbox(page);
            it->done = 1;
            return 0;
        }
    }
    if (tdb_task_row(*page, it->row, &task) != 0)
        return tdbl_raise_kind(L, TDB_SCHEMA, NULL,
                               "a row of public.tasks did not have the expected columns");
    it->row++;
    if (it->remaining > 0)
        it->remaining--;
    /*
     * task points into the page, and converting allocates: a finalizer may
     * call this iterator again or close it.  Until the row is out, a nested
     * call gets nothing, and a close only detaches the page (held on this
     * stack).  A memory error leaves the iteration ended.
     */
    it->done = it->busy = 1;
    tdbl_push_task(L, &task);
    it->busy = 0;
    it->done = it->closed;
    return 1;
}

int tdbl_each_task(lua_State *L)
{
    tdbl_target t;
    tdb_list_opts opts;
    tdb_error err;
    tdbl_iter *it;
    size_t user_len;
    tdbl_target_of(L, 2, &t);
    tdbl_read_list_opts(L, 2, &opts, 0);   /* anchors opts.user_id on the stack */
    if (tdb_list_check(t.scopep, &opts, &err) != 0)
        return tdbl_raise(L, &err);
    user_len = t.scopep || !opts.user_id.ptr ? 0 : opts.user_id.len;
    it = lua_newuserdatauv(L, sizeof *it + user_len + 1, 2);
    memset(it, 0, sizeof *it);
    it->opts = opts;
    it->remaining = opts.limit;
    it->user_len = user_len;
    memcpy(it->user_id, user_len ? opts.user_id.ptr : "", user_len + 1);
    if (t.scopep)              /* the scope re-applies on every page */
        memset(&it->opts.user_id, 0, sizeof it->opts.user_id);
    else if (opts.user_id.ptr)
        it->opts.user_id.ptr = it->user_id;
    luaL_setmetatable(L, TDBL_ITERATOR);
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, -2, 1);
    tdbl_box(L);
    lua_setiuservalue(L, -2, 2);
    lua_pushnil(L);
    lua_pushnil(L);
    lua_pushvalue(L, -3);
    return 4;
}

static const luaL_Reg iter_metamethods[] = {
    { "__call", iter_step },
    { "__close", iter_close },
    { "__gc", iter_close },
    { NULL, NULL }
};

void tdbl_iter_init(lua_State *L)
{
    luaL_newmetatable(L, TDBL_ITERATOR);
    luaL_setfuncs(L, iter_metamethods, 0);
    lua_pop(L, 1);
}

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
 * 2 = the user_id filter string (anchors opts.user_id).
 */
#include <string.h>

#include "binding.h"

#define ITER_CHUNK 1000

typedef struct tdbl_iter {
    tdb_list_opts opts;
    PGresult *page;
    int row;
    long long remaining;   /* -1: no limit */
    int done;
} tdbl_iter;

static void iter_release(tdbl_iter *it)
{
    if (it->page) {
        PQclear(it->page);
        it->page = NULL;
    }
}

static int iter_close(lua_State *L)
{
    tdbl_iter *it = luaL_checkudata(L, 1, TDBL_ITERATOR);
    iter_release(it);
    it->done = 1;
    return 0;
}

/* Fetches the page after the current one; 0 when there is none. */
static int fetch_next(lua_State *L, tdbl_iter *it)
{
    tdbl_target t;
    tdb_error err;
    PGresult *res;
    long long want = ITER_CHUNK;
    if (it->page) {
        tdb_task last;
        int n = PQntuples(it->page);
        if (n < it->opts.limit || tdb_task_row(it->page, n - 1, &last) != 0)
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
    lua_getiuservalue(L, 1, 1);
    tdbl_target_at(L, lua_gettop(L), &t);
    res = tdb_task_list(t.c->conn, t.scopep, &it->opts, &err);
    lua_pop(L, 1);
    if (!res) {
        iter_release(it);
        it->done = 1;
        return tdbl_raise(L, &err);
    }
    iter_release(it);
    it->page = res;
    it->row = 0;
    return PQntuples(res) > 0;
}

static int iter_step(lua_State *L)
{
    tdbl_iter *it = luaL_checkudata(L, 1, TDBL_ITERATOR);
    tdb_task task;
    if (it->done)
        return 0;
    if (!it->page || it->row >= PQntuples(it->page)) {
        if (!fetch_next(L, it)) {
            iter_release(it);
            it->done = 1;
            return 0;
        }
    }
    if (tdb_task_row(it->page, it->row, &task) != 0)
        return tdbl_raise_kind(L, TDB_SCHEMA, NULL,
                               "a row of public.tasks did not have the expected columns");
    it->row++;
    if (it->remaining > 0)
        it->remaining--;
    tdbl_push_task(L, &task);
    return 1;
}

int tdbl_each_task(lua_State *L)
{
    tdbl_target t;
    tdb_list_opts opts;
    tdb_error err;
    tdbl_iter *it;
    tdbl_target_of(L, &t);
    tdbl_read_list_opts(L, 2, &opts, 0);
    if (tdb_list_check(t.scopep, &opts, &err) != 0)
        return tdbl_raise(L, &err);
    it = lua_newuserdatauv(L, sizeof *it, 2);
    memset(it, 0, sizeof *it);
    it->opts = opts;
    it->remaining = opts.limit;
    luaL_setmetatable(L, TDBL_ITERATOR);
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, -2, 1);
    if (opts.user_id.ptr) {
        lua_pushlstring(L, opts.user_id.ptr, opts.user_id.len);
        it->opts.user_id.ptr = lua_tostring(L, -1);
        lua_setiuservalue(L, -2, 2);
    }
    if (t.scopep)              /* the scope re-applies on every page */
        memset(&it->opts.user_id, 0, sizeof it->opts.user_id);
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

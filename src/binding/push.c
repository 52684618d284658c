/*
 * push.c — core results into Lua tables, pre-sized, typed from the
 * catalogue's own SELECT list (binary format: no text parsing).
 * May raise a memory error: callers keep the PGresult owned by a
 * per-call box (tdbl_box) while these run.
 */
#include "binding.h"

void tdbl_push_task(lua_State *L, const tdb_task *t)
{
    char when[TDB_TIME_MAX];
    size_t n;
    lua_createtable(L, 0, 7);
    lua_pushinteger(L, (lua_Integer)t->id);
    lua_setfield(L, -2, "id");
    lua_pushlstring(L, t->user_id.ptr, t->user_id.len);
    lua_setfield(L, -2, "user_id");
    lua_pushlstring(L, t->title.ptr, t->title.len);
    lua_setfield(L, -2, "title");
    if (t->description.ptr) {
        lua_pushlstring(L, t->description.ptr, t->description.len);
        lua_setfield(L, -2, "description");
    }
    lua_pushboolean(L, t->completed);
    lua_setfield(L, -2, "completed");
    n = tdb_format_time(t->created_at, when);
    lua_pushlstring(L, when, n);
    lua_setfield(L, -2, "created_at");
    n = tdb_format_time(t->updated_at, when);
    lua_pushlstring(L, when, n);
    lua_setfield(L, -2, "updated_at");
}

static void decode(lua_State *L, const PGresult *res, int row, tdb_task *t)
{
    if (tdb_task_row(res, row, t) != 0)
        tdbl_raise_kind(L, TDB_SCHEMA, NULL,
                        "a row of public.tasks did not have the expected columns");
}

void tdbl_push_task_or_nil(lua_State *L, const PGresult *res)
{
    tdb_task t;
    if (PQntuples(res) == 0) {
        lua_pushnil(L);
        return;
    }
    decode(L, res, 0, &t);
    tdbl_push_task(L, &t);
}

void tdbl_push_task_array(lua_State *L, const PGresult *res)
{
    int n = PQntuples(res);
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        tdb_task t;
        decode(L, res, i, &t);
        tdbl_push_task(L, &t);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
}

void tdbl_push_cursor(lua_State *L, const PGresult *res, int row)
{
    tdb_task t;
    char buf[TDB_CURSOR_MAX];
    size_t n;
    decode(L, res, row, &t);
    n = tdb_cursor_format(&t, buf);
    lua_pushlstring(L, buf, n);
}

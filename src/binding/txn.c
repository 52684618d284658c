/*
 * txn.c — db:transaction(fn, ...): commit when fn returns (its results are
 * returned), roll back and re-raise the original error object when it
 * raises.  Nested calls are savepoints (the core counts the depth).  A
 * connection lost inside is never reconnected mid-transaction: the core
 * reports it broken and nothing is committed.
 */
#include "binding.h"

int tdbl_transaction(lua_State *L)
{
    tdbl_target t;
    tdb_error err;
    int nargs = lua_gettop(L), base, status;
    tdbl_target_of(L, LUA_MULTRET, &t);   /* pushes the connection: it stays alive through fn */
    if (lua_type(L, 2) != LUA_TFUNCTION)
        return tdbl_raise_kind(L, TDB_INVALID, NULL,
                               "transaction takes a function, got %s", luaL_typename(L, 2));
    if (tdb_conn_begin(t.c->conn, &err) != 0)
        return tdbl_raise(L, &err);
    base = lua_gettop(L);
    luaL_checkstack(L, nargs + LUA_MINSTACK, "too many arguments to transaction");
    lua_pushvalue(L, 2);
    lua_pushvalue(L, 1);            /* fn(db, ...) */
    for (int i = 3; i <= nargs; i++)
        lua_pushvalue(L, i);
    status = lua_pcall(L, nargs - 1, LUA_MULTRET, 0);
    t.c->L = L;                     /* fn may have used the connection from a coroutine */
    if (!t.c->conn) {               /* closed inside: the server rolled back */
        if (status != LUA_OK)
            return lua_error(L);
        return tdbl_raise_kind(L, TDB_CLOSED, NULL,
                               "the connection was closed inside the transaction; nothing was committed");
    }
    if (status != LUA_OK) {
        tdb_error ignored;
        tdb_conn_rollback(t.c->conn, &ignored);
        return lua_error(L);        /* the original error object, unchanged */
    }
    if (tdb_conn_commit(t.c->conn, &err) != 0)
        return tdbl_raise(L, &err);
    return lua_gettop(L) - base;
}

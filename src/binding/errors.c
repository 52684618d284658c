/*
 * errors.c — the one error shape: { kind, message, field?, sqlstate?, row?,
 * index? } with metatable "taskdb.Error" (__tostring, __name).  Errors stay
 * data: `row` (the element of a bulk list) and `index` (a queued call) are
 * fields, and only __tostring turns them into text.  Raised only after the
 * C side has freed what it had to.
 */
#include <stdarg.h>
#include <stdio.h>

#include "binding.h"

/* Pushes t[name], read raw: no metamethod runs while an error is printed. */
static void raw_field(lua_State *L, int t, const char *name)
{
    lua_pushstring(L, name);
    lua_rawget(L, t);
}

/* A positive integer at idx, else 0. */
static lua_Integer positive(lua_State *L, int idx)
{
    int ok = 0;
    lua_Integer n = lua_type(L, idx) == LUA_TNUMBER ? lua_tointegerx(L, idx, &ok) : 0;
    return ok && n > 0 ? n : 0;
}

/*
 * "taskdb <kind> error: [calls[i]: ][tasks[r]: ]<message>[ [field f]][ [sqlstate s]]":
 * the position comes from the `index` and `row` fields, never from the
 * message, so a message stays what it says and code reads the fields.
 */
static int error_tostring(lua_State *L)
{
    luaL_Buffer b;
    const char *kind, *message, *field, *state;
    lua_Integer row, index;
    if (lua_type(L, 1) != LUA_TTABLE) {
        lua_pushfstring(L, "taskdb.Error (%s)", luaL_typename(L, 1));
        return 1;
    }
    raw_field(L, 1, "kind");      /* 2 */
    raw_field(L, 1, "message");   /* 3 */
    raw_field(L, 1, "field");     /* 4 */
    raw_field(L, 1, "sqlstate");  /* 5 */
    raw_field(L, 1, "row");       /* 6 */
    raw_field(L, 1, "index");     /* 7 */
    kind = lua_tostring(L, 2);    /* converted in their stack slots, which anchor them */
    message = lua_tostring(L, 3);
    field = lua_tostring(L, 4);
    state = lua_tostring(L, 5);
    row = positive(L, 6);
    index = positive(L, 7);
    luaL_buffinit(L, &b);
    luaL_addstring(&b, "taskdb ");
    luaL_addstring(&b, kind ? kind : "database");
    luaL_addstring(&b, " error: ");
    if (index) {
        lua_pushfstring(L, "calls[%I]: ", index);
        luaL_addvalue(&b);
    }
    if (row) {
        lua_pushfstring(L, "tasks[%I]: ", row);
        luaL_addvalue(&b);
    }
    luaL_addstring(&b, message ? message : "(no message)");
    if (field) {
        luaL_addstring(&b, " [field ");
        luaL_addstring(&b, field);
        luaL_addstring(&b, "]");
    }
    if (state) {
        luaL_addstring(&b, " [sqlstate ");
        luaL_addstring(&b, state);
        luaL_addstring(&b, "]");
    }
    luaL_pushresult(&b);
    return 1;
}

void tdbl_error_init(lua_State *L)
{
    if (luaL_newmetatable(L, TDBL_ERROR)) {
        lua_pushcfunction(L, error_tostring);
        lua_setfield(L, -2, "__tostring");
    }
    lua_pop(L, 1);
}

void tdbl_push_error(lua_State *L, const tdb_error *err)
{
    lua_createtable(L, 0, 5);
    if (err->kind == TDB_NOMEM) {
        lua_pushliteral(L, "not enough memory");
        lua_error(L);
    }
    lua_pushstring(L, tdb_kind_name(err->kind));
    lua_setfield(L, -2, "kind");
    lua_pushstring(L, err->message[0] ? err->message : tdb_kind_name(err->kind));
    lua_setfield(L, -2, "message");
    if (err->field[0]) {
        lua_pushstring(L, err->field);
        lua_setfield(L, -2, "field");
    }
    if (err->sqlstate[0]) {
        lua_pushstring(L, err->sqlstate);
        lua_setfield(L, -2, "sqlstate");
    }
    if (err->row > 0) {
        lua_pushinteger(L, err->row);
        lua_setfield(L, -2, "row");
    }
    luaL_setmetatable(L, TDBL_ERROR);
}

int tdbl_raise(lua_State *L, const tdb_error *err)
{
    tdbl_push_error(L, err);
    return lua_error(L);
}

int tdbl_raise_kind(lua_State *L, tdb_kind kind, const char *field, const char *fmt, ...)
{
    tdb_error err;
    va_list ap;
    tdb_error_set(&err, kind, field, "%s", "");
    va_start(ap, fmt);
    vsnprintf(err.message, sizeof err.message, fmt, ap);
    va_end(ap);
    return tdbl_raise(L, &err);
}

/*
 * user.c — "taskdb.User", a handle scoped to one user: the task methods of
 * the connection, every statement filtered by user_id in SQL.  It keeps its
 * connection alive through user value 1, and its user id in its own memory
 * (tdbl_user), which no Lua code can replace or collect.
 */
#include <string.h>

#include "binding.h"

int tdbl_user_new(lua_State *L)
{
    tdb_error err;
    tdb_str id;
    tdbl_user *u;
    tdbl_checkopen(L, 1);
    if (lua_type(L, 2) != LUA_TSTRING)
        return tdbl_raise_kind(L, TDB_INVALID, "user_id", "user_id must be a string, got %s",
                               luaL_typename(L, 2));
    id.ptr = lua_tolstring(L, 2, &id.len);   /* argument 2 anchors it */
    if (tdb_validate_user_id(id, &err) != 0)
        return tdbl_raise(L, &err);
    u = lua_newuserdatauv(L, sizeof *u + id.len + 1, 1);
    u->len = id.len;
    memcpy(u->id, id.ptr, id.len + 1);
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, -2, 1);
    luaL_setmetatable(L, TDBL_USER);
    return 1;
}

static tdbl_user *check_user(lua_State *L)
{
    tdbl_user *u = luaL_testudata(L, 1, TDBL_USER);
    if (!u)
        tdbl_raise_kind(L, TDB_INVALID, NULL, "expected a taskdb user handle, got %s",
                        luaL_typename(L, 1));
    return u;
}

/* Methods first, then the read-only fields `user_id` and `db`; keys compared raw. */
static int user_index(lua_State *L)
{
    tdbl_user *u = check_user(L);
    lua_pushvalue(L, 2);
    if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL)
        return 1;
    if (lua_rawequal(L, 2, lua_upvalueindex(2))) {
        lua_pushlstring(L, u->id, u->len);
        return 1;
    }
    if (lua_rawequal(L, 2, lua_upvalueindex(3))) {
        lua_getiuservalue(L, 1, 1);
        return 1;
    }
    return 0;
}

static int user_tostring(lua_State *L)
{
    tdbl_user *u = check_user(L);
    lua_pushfstring(L, "taskdb.User (%s)", u->id);
    return 1;
}

void tdbl_user_init(lua_State *L)
{
    luaL_newmetatable(L, TDBL_USER);
    lua_pushcfunction(L, user_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_newtable(L);
    luaL_setfuncs(L, tdbl_task_methods, 0);
    lua_pushliteral(L, "user_id");
    lua_pushliteral(L, "db");
    lua_pushcclosure(L, user_index, 3);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
}

/*
 * module.c — luaopen_taskdb: the module table and its metatables.
 *
 *   taskdb.version, taskdb._VERSION, taskdb.null,
 *   taskdb.connect(url | options), taskdb.cursor(task),
 *   taskdb.is_blank(s), taskdb.check_task(task), taskdb.database_url()
 * and the hosts' interrupt entry points (taskdb.h).
 */
#include <stdlib.h>

#include "taskdb.h"
#include "binding.h"
#include "config.h"
#include "interrupt.h"
#include "version.h"

int taskdb_interrupt(void)
{
    return tdb_interrupt();
}

void taskdb_interrupt_clear(void)
{
    tdb_interrupt_clear();
}

int taskdb_interrupt_delivered(void)
{
    return tdb_interrupt_delivered();
}

static int null_tostring(lua_State *L)
{
    lua_pushliteral(L, "taskdb.null");
    return 1;
}

/* One full userdata, shared by every state's module: compared by identity. */
static void push_null(lua_State *L)
{
    if (lua_getfield(L, LUA_REGISTRYINDEX, TDBL_NULL) != LUA_TNIL)
        return;
    lua_pop(L, 1);
    lua_newuserdatauv(L, 0, 0);
    if (luaL_newmetatable(L, TDBL_NULL)) {
        lua_pushcfunction(L, null_tostring);
        lua_setfield(L, -2, "__tostring");
        lua_pushliteral(L, "taskdb.null");
        lua_setfield(L, -2, "__metatable");
    }
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, TDBL_NULL);
}

/* taskdb.cursor(task) -> the cursor for the position after task. */
static int module_cursor(lua_State *L)
{
    tdb_cursor cur;
    char buf[TDB_CURSOR_MAX];
    size_t n;
    tdbl_check_table(L, 1, "cursor's argument");
    tdbl_read_cursor(L, 1, &cur);
    n = tdb_cursor_text(&cur, buf);
    lua_pushlstring(L, buf, n);
    return 1;
}

/*
 * taskdb.is_blank(s): what the field rules call blank (only Unicode
 * White_Space, or empty), so scripts that check input early agree with the
 * C check and the table's CHECKs.
 */
static int module_is_blank(lua_State *L)
{
    tdb_str s;
    if (lua_type(L, 1) != LUA_TSTRING)
        return tdbl_raise_kind(L, TDB_INVALID, NULL, "is_blank takes a string, got %s",
                               luaL_typename(L, 1));
    s.ptr = lua_tolstring(L, 1, &s.len);
    lua_pushboolean(L, tdb_utf8_count(s.ptr, s.len, NULL) >= 0 && tdb_is_blank(s));
    return 1;
}

/*
 * taskdb.check_task(task) -> true, or raises the invalid error create_task
 * would raise for it (unscoped), without a connection or sending anything.
 */
static int module_check_task(lua_State *L)
{
    tdb_task_new task;
    tdb_error err;
    tdbl_check_table(L, 1, "check_task's argument");
    tdbl_read_new_task(L, 1, &task, 0);
    if (tdb_task_check_new(NULL, &task, &err) != 0)
        return tdbl_raise(L, &err);
    lua_pushboolean(L, 1);
    return 1;
}

static int push_string(lua_State *L)
{
    lua_pushstring(L, lua_touserdata(L, 1));
    return 1;
}

/*
 * taskdb.database_url() -> url, where ("environment" or ".env"); or nil and
 * the `config` error connect() would raise.  The core's own lookup, so a
 * host never parses .env itself.  The URL is copied in a protected call:
 * a memory error there cannot leak the core's string.
 */
static int module_database_url(lua_State *L)
{
    tdb_error err;
    const char *env = getenv("DATABASE_URL");
    int from_env = env && *env;
    char *url = tdb_config_database_url(NULL, &err);
    int status;
    if (!url) {
        lua_pushnil(L);
        tdbl_push_error(L, &err);
        return 2;
    }
    lua_pushcfunction(L, push_string);
    lua_pushlightuserdata(L, url);
    status = lua_pcall(L, 1, 1, 0);
    free(url);
    if (status != LUA_OK)
        return lua_error(L);
    if (from_env)
        lua_pushliteral(L, "environment");
    else
        lua_pushliteral(L, TDB_DOTENV_DEFAULT);
    return 2;
}

static const luaL_Reg module_functions[] = {
    { "connect", tdbl_connect },
    { "cursor", module_cursor },
    { "is_blank", module_is_blank },
    { "check_task", module_check_task },
    { "database_url", module_database_url },
    { NULL, NULL }
};

TASKDB_EXPORT int luaopen_taskdb(lua_State *L)
{
    luaL_checkversion(L);
    tdbl_error_init(L);
    tdbl_conn_init(L);
    tdbl_user_init(L);
    tdbl_iter_init(L);
    tdbl_pipeline_init(L);
    luaL_newlib(L, module_functions);
    lua_pushliteral(L, TDB_VERSION);
    lua_setfield(L, -2, "version");
    lua_pushliteral(L, "taskdb " TDB_VERSION);
    lua_setfield(L, -2, "_VERSION");
    push_null(L);
    lua_setfield(L, -2, "null");
    return 1;
}

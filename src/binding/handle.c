/*
 * handle.c — the "taskdb.Connection" handle: connect, close (also __close and
 * __gc, any number of times), init_db, ping, info, user, and the way every
 * method finds its connection (tdbl_target_of).
 */
#include <stddef.h>
#include <string.h>

#include "binding.h"

tdbl_conn *tdbl_checkconn(lua_State *L, int idx)
{
    tdbl_conn *c = luaL_testudata(L, idx, TDBL_CONNECTION);
    if (!c)
        tdbl_raise_kind(L, TDB_INVALID, NULL,
                        "expected a taskdb connection, got %s (call methods with ':')",
                        luaL_typename(L, idx));
    return c;
}

static void raise_closed(lua_State *L)
{
    tdbl_raise_kind(L, TDB_CLOSED, NULL, "the connection is closed");
}

tdbl_conn *tdbl_checkopen(lua_State *L, int idx)
{
    tdbl_conn *c = tdbl_checkconn(L, idx);
    if (!c->conn)
        raise_closed(L);
    tdbl_enter(L, c);
    return c;
}

void tdbl_target_of(lua_State *L, int nargs, tdbl_target *t)
{
    if (nargs != LUA_MULTRET)
        lua_settop(L, nargs);
    tdbl_target_at(L, 1, t);
}

void tdbl_target_at(lua_State *L, int idx, tdbl_target *t)
{
    tdbl_user *u;
    memset(t, 0, sizeof *t);
    if ((t->c = luaL_testudata(L, idx, TDBL_CONNECTION)) != NULL) {
        lua_pushvalue(L, idx);
    } else if ((u = luaL_testudata(L, idx, TDBL_USER)) != NULL) {
        lua_getiuservalue(L, idx, 1);
        t->c = luaL_testudata(L, -1, TDBL_CONNECTION);
        if (!t->c)   /* debug.setuservalue */
            tdbl_raise_kind(L, TDB_INVALID, NULL,
                            "the user handle's connection (user value 1) was replaced by a %s",
                            luaL_typename(L, -1));
        t->scope.ptr = u->id;
        t->scope.len = u->len;
        t->scopep = &t->scope;
    } else {
        tdbl_raise_kind(L, TDB_INVALID, NULL,
                        "expected a taskdb connection or user handle, got %s (call methods with ':')",
                        luaL_typename(L, idx));
    }
    if (!t->c->conn)
        raise_closed(L);
    tdbl_enter(L, t->c);
}

tdb_conn *tdbl_live(lua_State *L, const tdbl_target *t)
{
    if (!t->c->conn)
        raise_closed(L);
    tdbl_enter(L, t->c);
    return t->c->conn;
}

static int result_gc(lua_State *L)
{
    tdbl_unbox(luaL_checkudata(L, 1, TDBL_RESULT));
    return 0;
}

/* Created empty before the statement runs: a memory error here leaks nothing. */
PGresult **tdbl_box(lua_State *L)
{
    PGresult **box = lua_newuserdatauv(L, sizeof *box, 0);
    *box = NULL;
    luaL_setmetatable(L, TDBL_RESULT);
    return box;
}

void tdbl_unbox(PGresult **box)
{
    if (*box) {
        PQclear(*box);
        *box = NULL;
    }
}

/*
 * Created closed, then connected, then stored: an error in between leaks
 * nothing.  The options are read after the allocation, so no finalizer can
 * change the table between reading its strings and connecting.
 */
int tdbl_connect(lua_State *L)
{
    tdb_conn_options opts;
    tdb_error err;
    tdbl_conn *c;
    int type = lua_type(L, 1);
    if (type != LUA_TNONE && type != LUA_TNIL && type != LUA_TSTRING && type != LUA_TTABLE)
        tdbl_raise_kind(L, TDB_INVALID, NULL,
                        "connect takes a URL string or an options table, got %s",
                        luaL_typename(L, 1));
    c = lua_newuserdatauv(L, sizeof *c, 1);
    memset(c, 0, sizeof *c);
    luaL_setmetatable(L, TDBL_CONNECTION);
    tdb_conn_options_init(&opts);
    if (type == LUA_TTABLE)   /* it allocates: before the strings are read */
        tdbl_trace_attach(L, 1, lua_gettop(L), c, &opts);
    if (type == LUA_TSTRING)
        opts.url = lua_tostring(L, 1);
    else if (type == LUA_TTABLE)
        tdbl_read_connect_opts(L, 1, &opts);
    c->L = L;
    c->conn = tdb_connect(&opts, &err);
    if (!c->conn)
        return tdbl_raise(L, &err);
    return 1;
}

/*
 * __gc, __close and close(): idempotent; raises only for a wrong self and
 * inside the connection's own trace callback, where the core is still at
 * work on it (__gc cannot run then: the call holds the connection).
 */
static int conn_close(lua_State *L)
{
    tdbl_conn *c = luaL_testudata(L, 1, TDBL_CONNECTION);
    if (!c) {
        if (lua_gettop(L) >= 1 && !lua_isnil(L, 1))
            tdbl_checkconn(L, 1);   /* raises: wrong self */
        return 0;
    }
    if (c->in_trace)
        tdbl_enter(L, c);           /* raises */
    tdbl_trace_free(c);
    if (c->conn) {
        tdb_conn_close(c->conn);
        c->conn = NULL;
    }
    return 0;
}

static int conn_init_db(lua_State *L)
{
    tdbl_conn *c = tdbl_checkopen(L, 1);
    tdb_error err;
    if (tdb_schema_init(c->conn, &err) != 0)
        return tdbl_raise(L, &err);
    lua_pushboolean(L, 1);
    return 1;
}

/* db:repair_schema{ dry_run = bool } -> { steps = { sql... }, applied = bool, blank_rows = { id... } } */
static int conn_repair_schema(lua_State *L)
{
    tdbl_conn *c = tdbl_checkopen(L, 1);
    tdb_repair_plan plan;
    tdb_error err;
    int dry_run = 0;
    if (tdbl_opt_table(L, 2, "repair_schema options")) {
        lua_pushnil(L);
        while (lua_next(L, 2)) {
            if (lua_type(L, -2) != LUA_TSTRING || strcmp(lua_tostring(L, -2), "dry_run") != 0)
                return tdbl_raise_kind(L, TDB_INVALID, NULL,
                                       "unknown key in repair_schema options (only dry_run)");
            if (lua_type(L, -1) != LUA_TBOOLEAN)
                return tdbl_raise_kind(L, TDB_INVALID, "dry_run", "dry_run must be a boolean, got %s",
                                       luaL_typename(L, -1));
            dry_run = lua_toboolean(L, -1);
            lua_pop(L, 1);
        }
    }
    if (tdb_schema_repair(c->conn, !dry_run, &plan, &err) != 0)
        return tdbl_raise(L, &err);
    lua_createtable(L, 0, 3);
    lua_createtable(L, plan.nsteps, 0);
    for (int i = 0; i < plan.nsteps; i++) {
        lua_pushstring(L, tdb_sql_get(plan.steps[i])->text);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "steps");
    lua_pushboolean(L, plan.applied);
    lua_setfield(L, -2, "applied");
    lua_createtable(L, plan.nblank, 0);
    for (int i = 0; i < plan.nblank; i++) {
        lua_pushinteger(L, (lua_Integer)plan.blank_ids[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "blank_rows");
    return 1;
}

static int conn_ping(lua_State *L)
{
    tdbl_conn *c = tdbl_checkopen(L, 1);
    tdb_error err;
    if (tdb_conn_ping(c->conn, &err) != 0)
        return tdbl_raise(L, &err);
    lua_pushboolean(L, 1);
    return 1;
}

/*
 * info's strings belong to the connection, which a finalizer run by an
 * allocation may close: each is looked up right before it is copied.
 */
static void set_string(lua_State *L, const char *key, size_t offset)
{
    tdb_conn_info info;
    const char *value;
    tdb_conn_get_info(tdbl_checkopen(L, 1)->conn, &info);
    memcpy(&value, (const char *)&info + offset, sizeof value);
    if (value) {
        lua_pushstring(L, value);
        lua_setfield(L, -2, key);
    }
}

static int conn_info(lua_State *L)
{
    tdbl_conn *c = tdbl_checkopen(L, 1);
    tdb_conn_info info;
    tdb_conn_get_info(c->conn, &info);   /* its numbers, copied */
    lua_createtable(L, 0, 18);
    lua_pushinteger(L, info.backend_pid);
    lua_setfield(L, -2, "backend_pid");
    lua_pushinteger(L, info.server_version);
    lua_setfield(L, -2, "server_version");
    lua_pushinteger(L, info.reconnects);
    lua_setfield(L, -2, "reconnects");
    lua_pushboolean(L, info.prepared);
    lua_setfield(L, -2, "prepared");
    lua_pushboolean(L, info.proxy);
    lua_setfield(L, -2, "proxy");
    lua_pushinteger(L, info.txn_depth);
    lua_setfield(L, -2, "transaction_depth");
    lua_pushinteger(L, info.replica_reads);
    lua_setfield(L, -2, "replica_reads");
    set_string(L, "host", offsetof(tdb_conn_info, host));
    set_string(L, "dbname", offsetof(tdb_conn_info, dbname));
    set_string(L, "user", offsetof(tdb_conn_info, user));
    set_string(L, "ssl", offsetof(tdb_conn_info, sslmode_used));
    set_string(L, "last_read", offsetof(tdb_conn_info, last_read));
    set_string(L, "replica_host", offsetof(tdb_conn_info, replica_host));
    set_string(L, "application_name", offsetof(tdb_conn_info, application_name));
    lua_pushinteger(L, (lua_Integer)info.statements);
    lua_setfield(L, -2, "statements");
    lua_pushinteger(L, (lua_Integer)info.round_trips);
    lua_setfield(L, -2, "round_trips");
    lua_pushinteger(L, (lua_Integer)info.resends);
    lua_setfield(L, -2, "resends");
    lua_pushnumber(L, (lua_Number)info.wait_seconds);
    lua_setfield(L, -2, "wait_seconds");
    return 1;
}

static int conn_tostring(lua_State *L)
{
    tdbl_conn *c = tdbl_checkconn(L, 1);
    tdb_conn_info info;
    if (!c->conn) {
        lua_pushliteral(L, "taskdb.Connection (closed)");
        return 1;
    }
    if (c->in_trace) {   /* the info may need a round trip: not now */
        lua_pushliteral(L, "taskdb.Connection (busy: in its trace callback)");
        return 1;
    }
    c->L = L;
    tdb_conn_get_info(c->conn, &info);   /* pushfstring copies them all before it allocates */
    lua_pushfstring(L, "taskdb.Connection (%s@%s/%s)", info.user ? info.user : "?",
                    info.host ? info.host : "?", info.dbname ? info.dbname : "?");
    return 1;
}

static const luaL_Reg conn_methods[] = {
    { "init_db", conn_init_db },
    { "repair_schema", conn_repair_schema },
    { "ping", conn_ping },
    { "info", conn_info },
    { "close", conn_close },
    { "user", tdbl_user_new },
    { NULL, NULL }
};

static const luaL_Reg conn_metamethods[] = {
    { "__gc", conn_close },
    { "__close", conn_close },
    { "__tostring", conn_tostring },
    { "__index", NULL },
    { NULL, NULL }
};

void tdbl_conn_init(lua_State *L)
{
    tdbl_trace_init(L);
    luaL_newmetatable(L, TDBL_RESULT);
    lua_pushcfunction(L, result_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);

    luaL_newmetatable(L, TDBL_CONNECTION);
    luaL_setfuncs(L, conn_metamethods, 0);
    lua_newtable(L);
    luaL_setfuncs(L, conn_methods, 0);
    luaL_setfuncs(L, tdbl_task_methods, 0);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
}

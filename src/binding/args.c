/*
 * args.c — reading Lua arguments, each table in one lua_next pass, before
 * anything is sent.  Unknown keys are named (a typo is not ignored), types
 * are checked here; value rules (UTF-8, lengths, blanks) are the core's.
 * Every read is raw (lua_next: no metamethod runs) and strings are
 * borrowed only from values that are strings (never converted), so no Lua
 * code runs while a table is read.  The borrowed strings stay valid only
 * while nothing can change the table: the caller uses them before its next
 * allocation (see binding.h), or anchors them (tdbl_read_list_opts).
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "binding.h"

int tdbl_is_null(lua_State *L, int idx)
{
    int same;
    if (lua_type(L, idx) != LUA_TUSERDATA)
        return 0;
    lua_getfield(L, LUA_REGISTRYINDEX, TDBL_NULL);
    same = lua_rawequal(L, idx < 0 ? idx - 1 : idx, -1);
    lua_pop(L, 1);
    return same;
}

long long tdbl_check_id(lua_State *L, int idx)
{
    int ok = 0;
    lua_Integer id = 0;
    if (lua_type(L, idx) == LUA_TNUMBER)
        id = lua_tointegerx(L, idx, &ok);
    if (!ok)
        tdbl_raise_kind(L, TDB_INVALID, "id", "id must be an integer, got %s",
                        lua_type(L, idx) == LUA_TNUMBER ? "a non-integral number"
                                                        : luaL_typename(L, idx));
    return (long long)id;
}

void tdbl_check_table(lua_State *L, int idx, const char *what)
{
    if (lua_type(L, idx) != LUA_TTABLE)
        tdbl_raise_kind(L, TDB_INVALID, NULL, "%s must be a table, got %s", what,
                        luaL_typename(L, idx));
}

int tdbl_opt_table(lua_State *L, int idx, const char *what)
{
    if (lua_isnoneornil(L, idx))
        return 0;
    tdbl_check_table(L, idx, what);
    return 1;
}

/*
 * An invalid-argument error; row > 0 names the element of a bulk list (the
 * error's __tostring shows it as "tasks[N]: ", the message does not).
 */
static void raise_at(lua_State *L, long row, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void raise_at(lua_State *L, long row, const char *field, const char *fmt, ...)
{
    tdb_error err;
    va_list ap;
    tdb_error_set(&err, TDB_INVALID, field, "%s", "");
    va_start(ap, fmt);
    vsnprintf(err.message, sizeof err.message, fmt, ap);
    va_end(ap);
    err.row = row;
    tdbl_raise(L, &err);
}

/* The key at -2 as a field; raises for a non-string key. */
static tdb_field key_field(lua_State *L, const char **name, long row)
{
    size_t len;
    if (lua_type(L, -2) != LUA_TSTRING)
        raise_at(L, row, NULL, "keys must be field names, got a %s", luaL_typename(L, -2));
    *name = lua_tolstring(L, -2, &len);
    return tdb_field_lookup(*name, len);
}

static tdb_str value_string(lua_State *L, const char *field, long row)
{
    tdb_str s;
    if (lua_type(L, -1) != LUA_TSTRING)
        raise_at(L, row, field, "%s must be a string, got %s", field, luaL_typename(L, -1));
    s.ptr = lua_tolstring(L, -1, &s.len);
    return s;
}

static int value_boolean(lua_State *L, const char *field, long row)
{
    if (lua_type(L, -1) != LUA_TBOOLEAN)
        raise_at(L, row, field, "%s must be a boolean, got %s", field, luaL_typename(L, -1));
    return lua_toboolean(L, -1);
}

static void unknown_key(lua_State *L, const char *name, long row, const char *what)
{
    raise_at(L, row, name, "unknown field '%s' in %s", name, what);
}

void tdbl_read_new_task(lua_State *L, int idx, tdb_task_new *t, long row)
{
    idx = lua_absindex(L, idx);
    tdb_task_new_init(t);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        const char *name;
        switch (key_field(L, &name, row)) {
        case TDB_FIELD_USER_ID:
            t->user_id = value_string(L, "user_id", row);
            break;
        case TDB_FIELD_TITLE:
            t->title = value_string(L, "title", row);
            break;
        case TDB_FIELD_DESCRIPTION:
            if (!tdbl_is_null(L, -1))
                t->description = value_string(L, "description", row);
            break;
        case TDB_FIELD_COMPLETED:
            t->completed = value_boolean(L, "completed", row);
            break;
        case TDB_FIELD_ID:
        case TDB_FIELD_CREATED_AT:
        case TDB_FIELD_UPDATED_AT:
            raise_at(L, row, name, "%s is set by the database and cannot be given", name);
            break;
        case TDB_FIELD_UNKNOWN:
            unknown_key(L, name, row, "a new task");
        }
        lua_pop(L, 1);
    }
}

void tdbl_read_patch(lua_State *L, int idx, tdb_task_patch *p)
{
    idx = lua_absindex(L, idx);
    tdb_task_patch_init(p);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        const char *name;
        switch (key_field(L, &name, 0)) {
        case TDB_FIELD_TITLE:
            if (tdbl_is_null(L, -1))
                p->title_op = TDB_CLEAR;
            else {
                p->title_op = TDB_SET;
                p->title = value_string(L, "title", 0);
            }
            break;
        case TDB_FIELD_DESCRIPTION:
            if (tdbl_is_null(L, -1)) {
                p->description_op = TDB_CLEAR;
            } else {
                p->description_op = TDB_SET;
                p->description = value_string(L, "description", 0);
            }
            break;
        case TDB_FIELD_COMPLETED:
            p->completed = value_boolean(L, "completed", 0);
            break;
        case TDB_FIELD_ID:
        case TDB_FIELD_USER_ID:
        case TDB_FIELD_CREATED_AT:
        case TDB_FIELD_UPDATED_AT:
            raise_at(L, 0, name, "%s cannot be updated", name);
            break;
        case TDB_FIELD_UNKNOWN:
            unknown_key(L, name, 0, "an update");
        }
        lua_pop(L, 1);
    }
}

/*
 * A task as `after`: its id and created_at, found with lua_next (a table
 * whose __index would run Lua code is read as what it holds).
 */
static int task_position(lua_State *L, int idx, tdb_cursor *cur, tdb_error *err)
{
    char buf[TDB_CURSOR_MAX];
    size_t when_len = 0;
    int has_when = 0, has_id = 0, n;
    lua_Integer id = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        tdb_field f = TDB_FIELD_UNKNOWN;
        size_t len;
        if (lua_type(L, -2) == LUA_TSTRING) {
            const char *k = lua_tolstring(L, -2, &len);
            f = tdb_field_lookup(k, len);
        }
        if (f == TDB_FIELD_ID && lua_type(L, -1) == LUA_TNUMBER) {
            id = lua_tointegerx(L, -1, &has_id);
        } else if (f == TDB_FIELD_CREATED_AT && lua_type(L, -1) == LUA_TSTRING) {
            const char *when = lua_tolstring(L, -1, &len);
            has_when = len < TDB_TIME_MAX;   /* longer: not a timestamp */
            if (has_when) {
                memcpy(buf, when, len);
                when_len = len;
            }
        }
        lua_pop(L, 1);
    }
    if (!has_id || !has_when)
        return 1;
    n = snprintf(buf + when_len, sizeof buf - when_len, "/%lld", (long long)id);
    return tdb_cursor_parse(buf, when_len + (size_t)n, cur, err) != 0 ? -1 : 0;
}

void tdbl_read_cursor(lua_State *L, int idx, tdb_cursor *cur)
{
    tdb_error err;
    idx = lua_absindex(L, idx);
    if (lua_type(L, idx) == LUA_TSTRING) {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        if (tdb_cursor_parse(s, len, cur, &err) != 0)
            tdbl_raise(L, &err);
        return;
    }
    if (lua_type(L, idx) == LUA_TTABLE) {
        int r = task_position(L, idx, cur, &err);
        if (r < 0)
            tdbl_raise(L, &err);
        if (r == 0)
            return;
    }
    tdbl_raise_kind(L, TDB_INVALID, "after",
                    "after must be a cursor returned by get_tasks (or a task), got %s",
                    luaL_typename(L, idx));
}

void tdbl_read_list_opts(lua_State *L, int idx, tdb_list_opts *o, int for_count)
{
    const char *what = for_count ? "count_tasks options" : "get_tasks options";
    int anchor;
    tdb_list_opts_init(o);
    idx = lua_absindex(L, idx);
    lua_pushnil(L);
    anchor = lua_gettop(L);
    if (!tdbl_opt_table(L, idx, what))
        return;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        const char *name;
        tdb_field f = key_field(L, &name, 0);
        if (f == TDB_FIELD_USER_ID) {
            o->user_id = value_string(L, "user_id", 0);
            lua_copy(L, -1, anchor);
        } else if (f == TDB_FIELD_COMPLETED) {
            o->completed = value_boolean(L, "completed", 0);
        } else if (!for_count && strcmp(name, "limit") == 0) {
            int ok = 0;
            lua_Integer n = lua_type(L, -1) == LUA_TNUMBER ? lua_tointegerx(L, -1, &ok) : 0;
            if (!ok || n < 0)
                raise_at(L, 0, "limit", "limit must be a non-negative integer");
            o->limit = (long long)n;
        } else if (!for_count && strcmp(name, "desc") == 0) {
            o->desc = value_boolean(L, "desc", 0);
        } else if (!for_count && strcmp(name, "after") == 0) {
            tdbl_read_cursor(L, lua_gettop(L), &o->after);
            o->has_after = 1;
        } else {
            unknown_key(L, name, 0, what);
        }
        lua_pop(L, 1);
    }
}

static double positive_number(lua_State *L, const char *name, int allow_zero)
{
    double v;
    if (lua_type(L, -1) != LUA_TNUMBER)
        raise_at(L, 0, name, "%s must be a number of seconds, got %s", name, luaL_typename(L, -1));
    v = (double)lua_tonumber(L, -1);
    if (!(v > 0 || (allow_zero && v == 0)) || !isfinite(v))
        raise_at(L, 0, name, "%s must be %s", name, allow_zero ? "zero or more" : "positive");
    return v;
}

void tdbl_read_connect_opts(lua_State *L, int idx, tdb_conn_options *o)
{
    idx = lua_absindex(L, idx);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        const char *name;
        size_t len;
        if (lua_type(L, -2) != LUA_TSTRING)
            raise_at(L, 0, NULL, "connect options must have string keys, got a %s",
                     luaL_typename(L, -2));
        name = lua_tolstring(L, -2, &len);
        if (strcmp(name, "url") == 0) {
            o->url = value_string(L, "url", 0).ptr;
        } else if (strcmp(name, "read_url") == 0) {
            o->read_url = value_string(L, "read_url", 0).ptr;
        } else if (strcmp(name, "connect_timeout") == 0) {
            o->connect_timeout = positive_number(L, name, 0);
        } else if (strcmp(name, "statement_timeout") == 0) {
            o->statement_timeout = positive_number(L, name, 1);
        } else if (strcmp(name, "retries") == 0) {
            int ok = 0;
            lua_Integer n = lua_type(L, -1) == LUA_TNUMBER ? lua_tointegerx(L, -1, &ok) : 0;
            if (!ok || n < 0 || n > 100)
                raise_at(L, 0, "retries", "retries must be an integer from 0 to 100");
            o->retries = (int)n;
        } else if (strcmp(name, "application_name") == 0) {
            o->application_name = value_string(L, "application_name", 0).ptr;
        } else if (strcmp(name, "trace") == 0) {
            if (lua_type(L, -1) != LUA_TFUNCTION)   /* taken by tdbl_trace_attach */
                raise_at(L, 0, "trace", "trace must be a function, got %s%s",
                         luaL_typename(L, -1), "");
        } else if (strcmp(name, "prepare") == 0) {
            if (lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "auto") == 0)
                o->prepare = TDB_PREPARE_AUTO;
            else if (lua_type(L, -1) == LUA_TBOOLEAN)
                o->prepare = lua_toboolean(L, -1) ? TDB_PREPARE_ON : TDB_PREPARE_OFF;
            else
                raise_at(L, 0, "prepare", "prepare must be \"auto\", true or false, got %s%s",
                         lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : luaL_typename(L, -1), "");
        } else {
            unknown_key(L, name, 0, "connect options");
        }
        lua_pop(L, 1);
    }
}

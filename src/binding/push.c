/*
 * push.c — core results into Lua tables, pre-sized, typed from the
 * catalogue's own SELECT list (binary format: no text parsing).
 * May raise a memory error: callers keep the PGresult owned by a
 * per-call box (tdbl_box) while these run.
 */
#include <string.h>

#include "binding.h"

/*
 * The seven field names, interned once per state in a registry array and
 * pushed onto the stack once per call: lua_pushvalue + rawset per field is
 * much cheaper than lua_setfield's string lookup (or a rawgeti per key),
 * and this runs for every row returned.
 */
static const char *const field_keys[TDB_COL_COUNT] = {
    "id", "user_id", "title", "description", "completed", "created_at", "updated_at"
};
static const char keys_anchor = 0;

/* Pushes the TDB_COL_COUNT keys in column order; returns the first one's index. */
static int push_keys(lua_State *L)
{
    luaL_checkstack(L, TDB_COL_COUNT + 8, "too many nested results");
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &keys_anchor) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_createtable(L, TDB_COL_COUNT, 0);
        for (int i = 0; i < TDB_COL_COUNT; i++) {
            lua_pushstring(L, field_keys[i]);
            lua_rawseti(L, -2, i + 1);
        }
        lua_pushvalue(L, -1);
        lua_rawsetp(L, LUA_REGISTRYINDEX, &keys_anchor);
    }
    for (int i = 0; i < TDB_COL_COUNT; i++)
        lua_rawgeti(L, -1 - i, i + 1);
    lua_remove(L, -1 - TDB_COL_COUNT);
    return lua_gettop(L) - TDB_COL_COUNT + 1;
}

/* Pushes the key of column `col`; its value follows, then lua_rawset(L, -3). */
static void key(lua_State *L, int keys, int col)
{
    lua_pushvalue(L, keys + col);
}

/*
 * Rows of one result often repeat a value: a user's list has one user_id,
 * many tasks share a description (often ""), a task never updated has
 * updated_at == created_at, a bulk insert shares one created_at.  Reusing
 * the previous row's Lua string skips formatting, hashing and allocating.
 * The cached strings live in stack slots owned by the caller.
 */
typedef struct cached_text {
    int slot, has;
    tdb_str text;
} cached_text;

typedef struct row_cache {
    cached_text user, description;
    int time_slot, has_time;
    int64_t time;
} row_cache;

static void push_time(lua_State *L, row_cache *cache, int64_t micros)
{
    char when[TDB_TIME_MAX];
    size_t n;
    if (cache && cache->has_time && cache->time == micros) {
        lua_pushvalue(L, cache->time_slot);
        return;
    }
    n = tdb_format_time(micros, when);
    lua_pushlstring(L, when, n);
    if (cache) {
        lua_copy(L, -1, cache->time_slot);
        cache->time = micros;
        cache->has_time = 1;
    }
}

static void push_text(lua_State *L, cached_text *cache, tdb_str text)
{
    if (cache && cache->has && cache->text.len == text.len &&
        memcmp(cache->text.ptr, text.ptr, text.len) == 0) {
        lua_pushvalue(L, cache->slot);
        return;
    }
    lua_pushlstring(L, text.ptr, text.len);
    if (cache) {
        lua_copy(L, -1, cache->slot);
        cache->text = text;
        cache->has = 1;
    }
}

static void push_task_keyed(lua_State *L, int keys, const tdb_task *t, row_cache *cache)
{
    lua_createtable(L, 0, TDB_COL_COUNT);
    key(L, keys, TDB_COL_ID);
    lua_pushinteger(L, (lua_Integer)t->id);
    lua_rawset(L, -3);
    key(L, keys, TDB_COL_USER_ID);
    push_text(L, cache ? &cache->user : NULL, t->user_id);
    lua_rawset(L, -3);
    key(L, keys, TDB_COL_TITLE);
    lua_pushlstring(L, t->title.ptr, t->title.len);
    lua_rawset(L, -3);
    if (t->description.ptr) {
        key(L, keys, TDB_COL_DESCRIPTION);
        push_text(L, cache ? &cache->description : NULL, t->description);
        lua_rawset(L, -3);
    }
    key(L, keys, TDB_COL_COMPLETED);
    lua_pushboolean(L, t->completed);
    lua_rawset(L, -3);
    key(L, keys, TDB_COL_CREATED_AT);
    push_time(L, cache, t->created_at);
    lua_rawset(L, -3);
    key(L, keys, TDB_COL_UPDATED_AT);
    push_time(L, cache, t->updated_at);
    lua_rawset(L, -3);
}

void tdbl_push_task(lua_State *L, const tdb_task *t)
{
    int keys = push_keys(L);
    push_task_keyed(L, keys, t, NULL);
    lua_replace(L, keys);
    lua_settop(L, keys);
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

void tdbl_append_tasks(lua_State *L, const PGresult *res, lua_Integer offset)
{
    int n = PQntuples(res);
    int keys = push_keys(L);
    row_cache cache = { 0 };
    lua_pushnil(L);
    cache.user.slot = lua_gettop(L);
    lua_pushnil(L);
    cache.description.slot = lua_gettop(L);
    lua_pushnil(L);
    cache.time_slot = lua_gettop(L);
    for (int i = 0; i < n; i++) {
        tdb_task t;
        decode(L, res, i, &t);
        push_task_keyed(L, keys, &t, &cache);
        lua_rawseti(L, keys - 1, offset + i + 1);
    }
    lua_settop(L, keys - 1);
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

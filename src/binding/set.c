/*
 * set.c — update_tasks(filter, patch) and delete_tasks(filter): the
 * filter read in one raw pass (unknown keys named), the id list copied
 * into a userdata the collector frees, then one core call.
 *
 * Stack while reading (slots above the arguments): the filter's user_id
 * string and ids table are anchored in fixed slots, so no string is
 * borrowed from a table across the allocation of the id buffer (which may
 * run finalizers, that is, Lua code).
 */
#include <string.h>

#include "binding.h"
#include "task_set.h"

enum { SLOT_USER = 1, SLOT_IDS, SLOT_BUF, N_SLOTS };

_Static_assert(N_SLOTS - 1 == TDBL_FILTER_SLOTS, "binding.h's slot count");

static int is_integer(lua_State *L, int idx, long long *out)
{
    int ok = 0;
    *out = 0;
    if (lua_type(L, idx) == LUA_TNUMBER)
        *out = (long long)lua_tointegerx(L, idx, &ok);
    return ok;
}

/*
 * Copies the list at `idx` into a new userdata pushed at `buf`: a proper
 * sequence (keys exactly 1..n) of integers, as many as tdb_task_filter
 * takes.
 */
static long long *read_ids(lua_State *L, int idx, int buf, size_t *n_out)
{
    lua_Unsigned n = lua_rawlen(L, idx);
    size_t seen = 0;
    long long *ids;
    if (n > TDB_IDS_MAX)
        tdbl_raise_kind(L, TDB_INVALID, "ids", "ids must list at most %d ids, got %llu",
                        TDB_IDS_MAX, (unsigned long long)n);
    ids = lua_newuserdatauv(L, (size_t)n * sizeof *ids + 1, 0);
    lua_replace(L, buf);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        long long key, id;
        if (!is_integer(L, -2, &key) || key < 1 || (lua_Unsigned)key > n)
            tdbl_raise_kind(L, TDB_INVALID, "ids",
                            "ids must be a list (keys 1 to n with no holes), found a %s key",
                            luaL_typename(L, -2));
        if (!is_integer(L, -1, &id))
            tdbl_raise_kind(L, TDB_INVALID, "ids", "ids[%lld] must be an integer, got %s", key,
                            lua_type(L, -1) == LUA_TNUMBER ? "a non-integral number"
                                                           : luaL_typename(L, -1));
        ids[key - 1] = id;
        seen++;
        lua_pop(L, 1);
    }
    if (seen != n)   /* a border below a hole: rawlen saw fewer than the keys */
        tdbl_raise_kind(L, TDB_INVALID, "ids", "ids must be a list (keys 1 to n with no holes)");
    *n_out = (size_t)n;
    return ids;
}

static void raise_type(lua_State *L, const char *field, const char *want)
{
    tdbl_raise_kind(L, TDB_INVALID, field, "%s must be %s, got %s", field, want,
                    luaL_typename(L, -1));
}

/*
 * Reads the filter at `idx` into f, using TDBL_FILTER_SLOTS slots from
 * `base` (pushed here).  Strings in f are anchored in those slots.
 */
void tdbl_read_filter(lua_State *L, int idx, int base, tdb_task_filter *f, const char *what)
{
    tdb_task_filter_init(f);
    lua_settop(L, base + N_SLOTS - 2);   /* slots start out nil */
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        const char *name;
        if (lua_type(L, -2) != LUA_TSTRING)
            tdbl_raise_kind(L, TDB_INVALID, NULL, "%s keys must be field names, got a %s",
                            what, luaL_typename(L, -2));
        name = lua_tostring(L, -2);
        if (strcmp(name, "user_id") == 0) {
            if (lua_type(L, -1) != LUA_TSTRING)
                raise_type(L, "user_id", "a string");
            lua_copy(L, -1, base + SLOT_USER - 1);
        } else if (strcmp(name, "completed") == 0) {
            if (lua_type(L, -1) != LUA_TBOOLEAN)
                raise_type(L, "completed", "a boolean");
            f->completed = lua_toboolean(L, -1);
        } else if (strcmp(name, "ids") == 0) {
            if (lua_type(L, -1) != LUA_TTABLE)
                raise_type(L, "ids", "a list of task ids");
            lua_copy(L, -1, base + SLOT_IDS - 1);
        } else if (strcmp(name, "all") == 0) {
            if (lua_type(L, -1) != LUA_TBOOLEAN)
                raise_type(L, "all", "a boolean");
            f->all = lua_toboolean(L, -1);
        } else {
            tdbl_raise_kind(L, TDB_INVALID, name, "unknown field '%s' in %s", name, what);
        }
        lua_pop(L, 1);
    }
    if (lua_type(L, base + SLOT_IDS - 1) == LUA_TTABLE) {
        f->has_ids = 1;
        f->ids = read_ids(L, base + SLOT_IDS - 1, base + SLOT_BUF - 1, &f->n_ids);
    }
    /* Borrowed last: nothing below runs Lua code while f is in use. */
    if (lua_type(L, base + SLOT_USER - 1) == LUA_TSTRING)
        f->user_id.ptr = lua_tolstring(L, base + SLOT_USER - 1, &f->user_id.len);
}

/* db:update_tasks(filter, patch) --> number of tasks changed */
int tdbl_update_tasks(lua_State *L)
{
    tdbl_target t;
    tdb_task_filter f;
    tdb_task_patch patch;
    tdb_error err;
    long long n;
    tdbl_target_of(L, 3, &t);   /* 4: the connection */
    tdbl_check_table(L, 2, "update_tasks' filter");
    tdbl_check_table(L, 3, "update_tasks' changes");
    tdbl_read_filter(L, 2, 5, &f, "update_tasks' filter");
    tdbl_read_patch(L, 3, &patch);
    n = tdb_task_update_many(tdbl_live(L, &t), t.scopep, &f, &patch, &err);
    if (n < 0)
        return tdbl_raise(L, &err);
    lua_pushinteger(L, (lua_Integer)n);
    return 1;
}

/* db:delete_tasks(filter) --> number of tasks deleted */
int tdbl_delete_tasks(lua_State *L)
{
    tdbl_target t;
    tdb_task_filter f;
    tdb_error err;
    long long n;
    tdbl_target_of(L, 2, &t);   /* 3: the connection */
    tdbl_check_table(L, 2, "delete_tasks' filter");
    tdbl_read_filter(L, 2, 4, &f, "delete_tasks' filter");
    n = tdb_task_delete_many(tdbl_live(L, &t), t.scopep, &f, &err);
    if (n < 0)
        return tdbl_raise(L, &err);
    lua_pushinteger(L, (lua_Integer)n);
    return 1;
}

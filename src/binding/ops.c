/*
 * ops.c — the task methods, one C function each, shared by Connection and
 * User handles (tdbl_target_of gives the scope).  Shape of every method:
 * find the target, allocate the result box, read the arguments (may raise:
 * nothing held yet; strings borrowed), run the core operation on the live
 * connection at once (nothing allocates in between, so no finalizer can
 * change what was borrowed), hold the result in the box while converting,
 * free it, return.
 */
#include <string.h>

#include "binding.h"

static int finish_task_or_nil(lua_State *L, PGresult **box, PGresult *res, const tdb_error *err)
{
    if (!res)
        return tdbl_raise(L, err);
    *box = res;
    tdbl_push_task_or_nil(L, res);
    tdbl_unbox(box);
    return 1;
}

static int conn_create_task(lua_State *L)
{
    tdbl_target t;
    PGresult **box;
    tdb_task_new task;
    tdb_error err;
    tdbl_target_of(L, 2, &t);
    tdbl_check_table(L, 2, "create_task's argument");
    box = tdbl_box(L);
    tdbl_read_new_task(L, 2, &task, 0);
    return finish_task_or_nil(L, box, tdb_task_create(tdbl_live(L, &t), t.scopep, &task, &err),
                              &err);
}

/* get_task and toggle_complete: an id in, a task (or nil) out. */
typedef PGresult *(*id_operation)(tdb_conn *, const tdb_str *, long long, tdb_error *);

static int task_by_id(lua_State *L, id_operation op)
{
    tdbl_target t;
    PGresult **box;
    tdb_error err;
    long long id;
    tdbl_target_of(L, 2, &t);
    id = tdbl_check_id(L, 2);
    box = tdbl_box(L);
    return finish_task_or_nil(L, box, op(tdbl_live(L, &t), t.scopep, id, &err), &err);
}

static int conn_get_task(lua_State *L)
{
    return task_by_id(L, tdb_task_get);
}

static int conn_update_task(lua_State *L)
{
    tdbl_target t;
    PGresult **box;
    tdb_task_patch patch;
    tdb_error err;
    long long id;
    tdbl_target_of(L, 3, &t);
    id = tdbl_check_id(L, 2);
    tdbl_check_table(L, 3, "update_task's changes");
    box = tdbl_box(L);
    tdbl_read_patch(L, 3, &patch);
    return finish_task_or_nil(L, box, tdb_task_update(tdbl_live(L, &t), t.scopep, id, &patch, &err),
                              &err);
}

static int conn_toggle_complete(lua_State *L)
{
    return task_by_id(L, tdb_task_toggle);
}

static int conn_delete_task(lua_State *L)
{
    tdbl_target t;
    tdb_error err;
    long long id;
    int deleted;
    tdbl_target_of(L, 2, &t);
    id = tdbl_check_id(L, 2);
    deleted = tdb_task_delete(tdbl_live(L, &t), t.scopep, id, &err);
    if (deleted < 0)
        return tdbl_raise(L, &err);
    lua_pushboolean(L, deleted);
    return 1;
}

#define LIST_PAGE 10000

/*
 * Returns the rows and, when `limit` was reached, the cursor of the next
 * page.  Large results are read in keyset pages of LIST_PAGE rows, so the
 * server's result for one page, not for all of them, sits beside the Lua
 * tables (each page is its own statement: a row is never seen twice).
 * Converting a page runs finalizers: the user_id filter stays anchored on
 * the stack and the connection is looked up again for every page.
 */
static int conn_get_tasks(lua_State *L)
{
    tdbl_target t;
    tdb_list_opts opts;
    tdb_error err;
    PGresult **box, *res;
    long long remaining;
    lua_Integer count = 0;
    int array = 0;
    tdbl_target_of(L, 2, &t);
    tdbl_read_list_opts(L, 2, &opts, 0);
    if (tdb_list_check(t.scopep, &opts, &err) != 0)   /* limit = 0 sends nothing, but is checked */
        return tdbl_raise(L, &err);
    remaining = opts.limit;
    box = tdbl_box(L);
    for (;;) {
        long long want = remaining < 0 || remaining > LIST_PAGE ? LIST_PAGE : remaining;
        int n;
        tdb_task last;
        if (want == 0) {
            if (!array)
                lua_createtable(L, 0, 0);
            return 1;
        }
        opts.limit = want;
        res = *box = tdb_task_list(tdbl_live(L, &t), t.scopep, &opts, &err);
        if (!res)
            return tdbl_raise(L, &err);
        n = PQntuples(res);
        if (!array) {
            lua_createtable(L, n, 0);
            array = lua_gettop(L);
        }
        tdbl_append_tasks(L, res, count);
        count += n;
        if (n < want) {
            tdbl_unbox(box);
            return 1;
        }
        if (remaining > 0 && (remaining -= n) == 0) {
            tdbl_push_cursor(L, res, n - 1);
            tdbl_unbox(box);
            return 2;
        }
        if (tdb_task_row(res, n - 1, &last) != 0)
            return tdbl_raise_kind(L, TDB_SCHEMA, NULL, "unexpected row layout");
        opts.after.created_at = last.created_at;
        opts.after.id = last.id;
        opts.has_after = 1;
        tdbl_unbox(box);
    }
}

static int conn_count_tasks(lua_State *L)
{
    tdbl_target t;
    tdb_list_opts opts;
    tdb_error err;
    long long n;
    tdbl_target_of(L, 2, &t);
    tdbl_read_list_opts(L, 2, &opts, 1);
    n = tdb_task_count(tdbl_live(L, &t), t.scopep, &opts, &err);
    if (n < 0)
        return tdbl_raise(L, &err);
    lua_pushinteger(L, (lua_Integer)n);
    return 1;
}

/*
 * Rows and ids live in one userdata (freed by the collector even if a
 * later step raises); strings are borrowed from the rows, and nothing
 * allocates between reading the last row and the core call.
 */
static int conn_create_tasks(lua_State *L)
{
    tdbl_target t;
    tdb_error err;
    tdb_task_new *rows;
    long long *ids;
    lua_Integer n;
    tdb_conn *conn;
    int rc;
    tdbl_target_of(L, 2, &t);
    tdbl_check_table(L, 2, "create_tasks' argument");
    n = (lua_Integer)lua_rawlen(L, 2);
    if (n < 0 || (size_t)n > ((size_t)1 << 40) / (sizeof *rows + sizeof *ids))
        return tdbl_raise_kind(L, TDB_INVALID, NULL, "create_tasks: too many rows");
    rows = lua_newuserdatauv(L, (size_t)n * (sizeof *rows + sizeof *ids) + 1, 0);
    ids = (long long *)(rows + n);
    for (lua_Integer i = 1; i <= n; i++) {
        if (lua_rawgeti(L, 2, i) != LUA_TTABLE) {
            tdb_error_set(&err, TDB_INVALID, NULL, "a task must be a table, got %s",
                          luaL_typename(L, -1));
            err.row = (long)i;
            return tdbl_raise(L, &err);
        }
        tdbl_read_new_task(L, -1, &rows[i - 1], (long)i);
        lua_pop(L, 1);   /* still referenced by the list */
    }
    /* err.row names a row that failed validation or that the server rejected.  The rows
     * borrow the list's strings: trace events wait until the core is done with them. */
    conn = tdbl_live(L, &t);
    tdbl_trace_hold(t.c);
    rc = tdb_task_create_many(conn, t.scopep, rows, (size_t)n, ids, &err);
    tdbl_trace_release(L, t.c);
    if (rc != 0)
        return tdbl_raise(L, &err);
    lua_createtable(L, (int)n, 0);
    for (lua_Integer i = 0; i < n; i++) {
        lua_pushinteger(L, (lua_Integer)ids[i]);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

const luaL_Reg tdbl_task_methods[] = {
    { "create_task", conn_create_task },
    { "get_task", conn_get_task },
    { "get_tasks", conn_get_tasks },
    { "count_tasks", conn_count_tasks },
    { "update_task", conn_update_task },
    { "toggle_complete", conn_toggle_complete },
    { "delete_task", conn_delete_task },
    { "create_tasks", conn_create_tasks },
    { "each_task", tdbl_each_task },
    { "transaction", tdbl_transaction },
    { "pipeline", tdbl_pipeline },
    { "update_tasks", tdbl_update_tasks },
    { "delete_tasks", tdbl_delete_tasks },
    { NULL, NULL }
};

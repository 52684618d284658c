/*
 * task_set.c — update_tasks and delete_tasks: validate the filter (and the
 * patch), pick the catalogue statement for its shape, and run it once.
 * The id list becomes one text array parameter, "{1,2,3}", built in one
 * allocation freed before returning.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "task_set.h"

void tdb_task_filter_init(tdb_task_filter *f)
{
    memset(f, 0, sizeof *f);
    f->completed = -1;
}

static int same_str(tdb_str a, tdb_str b)
{
    return a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0;
}

int tdb_task_check_filter(const tdb_str *scope, tdb_task_filter *f, tdb_error *err)
{
    if (scope) {
        if (tdb_validate_user_id(*scope, err) != 0)
            return -1;
        if (f->user_id.ptr && !same_str(f->user_id, *scope)) {
            tdb_error_set(err, TDB_INVALID, "user_id",
                          "user_id differs from the scoped handle's user");
            return -1;
        }
        f->user_id = *scope;
    } else if (f->user_id.ptr && tdb_validate_user_id(f->user_id, err) != 0) {
        return -1;
    }
    if (f->has_ids && f->n_ids > TDB_IDS_MAX) {
        tdb_error_set(err, TDB_INVALID, "ids", "ids must list at most %d ids, got %zu",
                      TDB_IDS_MAX, f->n_ids);
        return -1;
    }
    if (!f->user_id.ptr && !f->has_ids && !f->all) {
        tdb_error_set(err, TDB_INVALID, "all",
                      "a filter without user_id or ids matches every user's tasks; "
                      "say all = true to mean that");
        return -1;
    }
    return 0;
}

static void param(tdb_params *p, const char *value)
{
    p->values[p->n++] = value;
}

static const char *bool_text(int b)
{
    return b < 0 ? NULL : (b ? "t" : "f");
}

/* "{1,2,3}" in a new allocation (the caller frees it); NULL when out of memory. */
static char *id_array(const long long *ids, size_t n, tdb_error *err)
{
    size_t cap = n * 21 + 3, len = 0;   /* "-9223372036854775808," is 21 bytes */
    char *s = malloc(cap);
    if (!s) {
        tdb_error_set(err, TDB_NOMEM, NULL, "not enough memory");
        return NULL;
    }
    s[len++] = '{';
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(s + len, cap - len, i ? ",%lld" : "%lld", ids[i]);
    s[len++] = '}';
    s[len] = '\0';
    return s;
}

/* The statement for a filter's shape: [user_id given][ids given]. */
typedef const tdb_sql_id shape_table[2][2];
static shape_table update_shapes = {
    { TDB_SQL_UPDATE_MANY, TDB_SQL_UPDATE_MANY_IDS },
    { TDB_SQL_UPDATE_MANY_USER, TDB_SQL_UPDATE_MANY_USER_IDS },
};
static shape_table delete_shapes = {
    { TDB_SQL_DELETE_MANY, TDB_SQL_DELETE_MANY_IDS },
    { TDB_SQL_DELETE_MANY_USER, TDB_SQL_DELETE_MANY_USER_IDS },
};

/* Adds the filter's user and id parameters after the others and picks the statement. */
static int filtered(tdb_request *r, const tdb_task_filter *f, shape_table shapes,
                    tdb_error *err)
{
    r->id = shapes[f->user_id.ptr != NULL][f->has_ids != 0];
    if (f->user_id.ptr)
        param(&r->params, f->user_id.ptr);
    if (f->has_ids) {
        if (!(r->owned = id_array(f->ids, f->n_ids, err)))
            return -1;
        param(&r->params, r->owned);
    }
    return 0;
}

int tdb_request_update_many(const tdb_str *scope, tdb_task_filter *f,
                            const tdb_task_patch *patch, tdb_request *r, tdb_error *err)
{
    memset(r, 0, sizeof *r);
    r->id = TDB_SQL_NONE;
    if (tdb_task_check_filter(scope, f, err) != 0 || tdb_task_check_patch(patch, err) != 0)
        return -1;
    /* Nothing to change, or nothing to match: nothing changes, updated_at included. */
    if ((patch->title_op == TDB_KEEP && patch->description_op == TDB_KEEP &&
         patch->completed < 0) || (f->has_ids && f->n_ids == 0))
        return 0;
    param(&r->params, patch->title_op == TDB_SET ? patch->title.ptr : NULL);
    param(&r->params, patch->description_op == TDB_KEEP ? "f" : "t");
    param(&r->params, patch->description_op == TDB_SET ? patch->description.ptr : NULL);
    param(&r->params, bool_text(patch->completed));
    param(&r->params, bool_text(f->completed));
    return filtered(r, f, update_shapes, err);
}

int tdb_request_delete_many(const tdb_str *scope, tdb_task_filter *f, tdb_request *r,
                            tdb_error *err)
{
    memset(r, 0, sizeof *r);
    r->id = TDB_SQL_NONE;
    if (tdb_task_check_filter(scope, f, err) != 0)
        return -1;
    if (f->has_ids && f->n_ids == 0)
        return 0;
    param(&r->params, bool_text(f->completed));
    return filtered(r, f, delete_shapes, err);
}

long long tdb_changed_count(const PGresult *res, tdb_error *err)
{
    char *end;
    const char *tuples = PQcmdTuples((PGresult *)res);
    long long n = strtoll(tuples, &end, 10);
    if (end == tuples || *end != '\0' || n < 0) {
        tdb_error_set(err, TDB_DATABASE, NULL, "unexpected result from the server");
        return -1;
    }
    return n;
}

/* Runs a built request; one that needs no statement still fails on a closed handle. */
static long long run_request(tdb_conn *c, int built, tdb_request *r, tdb_error *err)
{
    PGresult *res;
    long long n = -1;
    if (built == 0 && r->id == TDB_SQL_NONE) {
        if (c)
            n = 0;
        else
            tdb_error_set(err, TDB_CLOSED, NULL, "the connection is closed");
    } else if (built == 0 && (res = tdb_conn_exec(c, r->id, &r->params, err)) != NULL) {
        n = tdb_changed_count(res, err);
        PQclear(res);
    }
    tdb_request_release(r);
    return n;
}

long long tdb_task_update_many(tdb_conn *c, const tdb_str *scope, tdb_task_filter *f,
                               const tdb_task_patch *patch, tdb_error *err)
{
    tdb_request r;
    tdb_error_clear(err);
    return run_request(c, tdb_request_update_many(scope, f, patch, &r, err), &r, err);
}

long long tdb_task_delete_many(tdb_conn *c, const tdb_str *scope, tdb_task_filter *f,
                               tdb_error *err)
{
    tdb_request r;
    tdb_error_clear(err);
    return run_request(c, tdb_request_delete_many(scope, f, &r, err), &r, err);
}

/*
 * task.c — the six Task operations, listing and counting.
 *
 * Each validates, fills the parameters of one catalogue statement and runs
 * it; nothing else touches SQL.  Parameters are text; ids are formatted
 * into a small stack buffer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "task.h"

void tdb_list_opts_init(tdb_list_opts *opts)
{
    memset(opts, 0, sizeof *opts);
    opts->completed = -1;
    opts->limit = -1;
}

void tdb_task_new_init(tdb_task_new *t)
{
    memset(t, 0, sizeof *t);
    t->completed = -1;
}

void tdb_task_patch_init(tdb_task_patch *p)
{
    memset(p, 0, sizeof *p);
    p->completed = -1;
}

static const char *bool_text(int b)
{
    return b < 0 ? NULL : (b ? "t" : "f");
}

/* Text parameters need NUL-terminated strings; Lua's always are. */
static void param(tdb_params *p, const char *value)
{
    p->values[p->n++] = value;
}

static int check_scope(const tdb_str *scope, tdb_error *err)
{
    return scope ? tdb_validate_user_id(*scope, err) : 0;
}

int tdb_task_check_new(const tdb_str *scope, tdb_task_new *t, tdb_error *err)
{
    if (check_scope(scope, err) != 0)
        return -1;
    if (!t->user_id.ptr) {
        if (!scope) {
            tdb_error_set(err, TDB_INVALID, "user_id", "user_id is required");
            return -1;
        }
        t->user_id = *scope;
    } else if (scope && (t->user_id.len != scope->len ||
                         memcmp(t->user_id.ptr, scope->ptr, scope->len) != 0)) {
        tdb_error_set(err, TDB_INVALID, "user_id",
                      "user_id differs from the scoped handle's user");
        return -1;
    }
    if (tdb_validate_user_id(t->user_id, err) != 0)
        return -1;
    if (!t->title.ptr) {
        tdb_error_set(err, TDB_INVALID, "title", "title is required");
        return -1;
    }
    if (tdb_validate_title(t->title, err) != 0)
        return -1;
    if (t->description.ptr && tdb_validate_description(t->description, err) != 0)
        return -1;
    return 0;
}

int tdb_task_check_patch(const tdb_task_patch *p, tdb_error *err)
{
    if (p->title_op == TDB_CLEAR) {
        tdb_error_set(err, TDB_INVALID, "title", "title cannot be cleared");
        return -1;
    }
    if (p->title_op == TDB_SET && tdb_validate_title(p->title, err) != 0)
        return -1;
    if (p->description_op == TDB_SET && tdb_validate_description(p->description, err) != 0)
        return -1;
    return 0;
}

int tdb_list_check(const tdb_str *scope, tdb_list_opts *opts, tdb_error *err)
{
    if (check_scope(scope, err) != 0)
        return -1;
    if (scope) {
        if (opts->user_id.ptr && (opts->user_id.len != scope->len ||
                                  memcmp(opts->user_id.ptr, scope->ptr, scope->len) != 0)) {
            tdb_error_set(err, TDB_INVALID, "user_id",
                          "user_id differs from the scoped handle's user");
            return -1;
        }
        opts->user_id = *scope;
    } else if (opts->user_id.ptr && tdb_validate_user_id(opts->user_id, err) != 0) {
        return -1;
    }
    if (opts->limit < -1) {
        tdb_error_set(err, TDB_INVALID, "limit", "limit must not be negative");
        return -1;
    }
    return 0;
}

static void id_param(tdb_request *r, long long id)
{
    char *buf = r->numbers[r->used_numbers++];
    snprintf(buf, sizeof r->numbers[0], "%lld", id);
    param(&r->params, buf);
}

static void request_init(tdb_request *r)
{
    memset(r, 0, sizeof *r);
}

void tdb_request_release(tdb_request *r)
{
    free(r->owned);
    r->owned = NULL;
}

int tdb_request_create(const tdb_str *scope, tdb_task_new *t, tdb_request *r, tdb_error *err)
{
    request_init(r);
    if (tdb_task_check_new(scope, t, err) != 0)
        return -1;
    r->id = TDB_SQL_INSERT;
    param(&r->params, t->user_id.ptr);
    param(&r->params, t->title.ptr);
    param(&r->params, t->description.ptr);
    param(&r->params, bool_text(t->completed));
    return 0;
}

/* The (unscoped, scoped) forms of an id operation. */
static int by_id(const tdb_str *scope, long long id, tdb_sql_id plain, tdb_sql_id scoped,
                 tdb_request *r, tdb_error *err)
{
    request_init(r);
    if (check_scope(scope, err) != 0)
        return -1;
    r->id = scope ? scoped : plain;
    id_param(r, id);
    if (scope)
        param(&r->params, scope->ptr);
    return 0;
}

int tdb_request_get(const tdb_str *scope, long long id, tdb_request *r, tdb_error *err)
{
    return by_id(scope, id, TDB_SQL_GET, TDB_SQL_GET_USER, r, err);
}

int tdb_request_toggle(const tdb_str *scope, long long id, tdb_request *r, tdb_error *err)
{
    return by_id(scope, id, TDB_SQL_TOGGLE, TDB_SQL_TOGGLE_USER, r, err);
}

int tdb_request_delete(const tdb_str *scope, long long id, tdb_request *r, tdb_error *err)
{
    return by_id(scope, id, TDB_SQL_DELETE, TDB_SQL_DELETE_USER, r, err);
}

int tdb_request_update(const tdb_str *scope, long long id, const tdb_task_patch *patch,
                       tdb_request *r, tdb_error *err)
{
    request_init(r);
    if (check_scope(scope, err) != 0 || tdb_task_check_patch(patch, err) != 0)
        return -1;
    /* Nothing to change: nothing changes, updated_at included. */
    if (patch->title_op == TDB_KEEP && patch->description_op == TDB_KEEP && patch->completed < 0)
        return tdb_request_get(scope, id, r, err);
    r->id = scope ? TDB_SQL_UPDATE_USER : TDB_SQL_UPDATE;
    id_param(r, id);
    param(&r->params, patch->title_op == TDB_SET ? patch->title.ptr : NULL);
    param(&r->params, patch->description_op == TDB_KEEP ? "f" : "t");
    param(&r->params, patch->description_op == TDB_SET ? patch->description.ptr : NULL);
    param(&r->params, bool_text(patch->completed));
    if (scope)
        param(&r->params, scope->ptr);
    return 0;
}

static tdb_sql_id list_statement(const tdb_list_opts *o)
{
    static const tdb_sql_id ids[2][2][2] = {
        /* all users */ { { TDB_SQL_LIST_ALL_ASC, TDB_SQL_LIST_ALL_ASC_AFTER },
                          { TDB_SQL_LIST_ALL_DESC, TDB_SQL_LIST_ALL_DESC_AFTER } },
        /* one user  */ { { TDB_SQL_LIST_USER_ASC, TDB_SQL_LIST_USER_ASC_AFTER },
                          { TDB_SQL_LIST_USER_DESC, TDB_SQL_LIST_USER_DESC_AFTER } },
    };
    return ids[o->user_id.ptr != NULL][o->desc != 0][o->has_after != 0];
}

int tdb_request_list(const tdb_str *scope, tdb_list_opts *o, tdb_request *r, tdb_error *err)
{
    request_init(r);
    if (tdb_list_check(scope, o, err) != 0)
        return -1;
    r->id = list_statement(o);
    if (o->user_id.ptr)
        param(&r->params, o->user_id.ptr);
    param(&r->params, bool_text(o->completed));
    if (o->limit >= 0)
        id_param(r, o->limit);
    else
        param(&r->params, NULL);
    if (o->has_after) {
        tdb_time_param(o->after.created_at, r->after);
        param(&r->params, r->after);
        id_param(r, o->after.id);
    }
    return 0;
}

int tdb_request_count(const tdb_str *scope, tdb_list_opts *o, tdb_request *r, tdb_error *err)
{
    request_init(r);
    if (tdb_list_check(scope, o, err) != 0)
        return -1;
    r->id = o->user_id.ptr ? TDB_SQL_COUNT_USER : TDB_SQL_COUNT_ALL;
    if (o->user_id.ptr)
        param(&r->params, o->user_id.ptr);
    param(&r->params, bool_text(o->completed));
    return 0;
}

static PGresult *run_request(tdb_conn *c, int built, const tdb_request *r, tdb_error *err)
{
    return built == 0 ? tdb_conn_exec(c, r->id, &r->params, err) : NULL;
}

PGresult *tdb_task_create(tdb_conn *c, const tdb_str *scope, tdb_task_new *t, tdb_error *err)
{
    tdb_request r;
    return run_request(c, tdb_request_create(scope, t, &r, err), &r, err);
}

PGresult *tdb_task_get(tdb_conn *c, const tdb_str *scope, long long id, tdb_error *err)
{
    tdb_request r;
    return run_request(c, tdb_request_get(scope, id, &r, err), &r, err);
}

PGresult *tdb_task_toggle(tdb_conn *c, const tdb_str *scope, long long id, tdb_error *err)
{
    tdb_request r;
    return run_request(c, tdb_request_toggle(scope, id, &r, err), &r, err);
}

int tdb_deleted(const PGresult *res)
{
    return strcmp(PQcmdTuples((PGresult *)res), "0") != 0;
}

int tdb_task_delete(tdb_conn *c, const tdb_str *scope, long long id, tdb_error *err)
{
    tdb_request r;
    PGresult *res = run_request(c, tdb_request_delete(scope, id, &r, err), &r, err);
    int deleted;
    if (!res)
        return -1;
    deleted = tdb_deleted(res);
    PQclear(res);
    return deleted;
}

PGresult *tdb_task_update(tdb_conn *c, const tdb_str *scope, long long id,
                          const tdb_task_patch *patch, tdb_error *err)
{
    tdb_request r;
    return run_request(c, tdb_request_update(scope, id, patch, &r, err), &r, err);
}

PGresult *tdb_task_list(tdb_conn *c, const tdb_str *scope, tdb_list_opts *o, tdb_error *err)
{
    tdb_request r;
    return run_request(c, tdb_request_list(scope, o, &r, err), &r, err);
}

int tdb_count_of(const PGresult *res, long long *n, tdb_error *err)
{
    if (PQntuples(res) == 1 && PQgetlength(res, 0, 0) == 8) {
        *n = (long long)tdb_get_be64(PQgetvalue(res, 0, 0));
        return 0;
    }
    tdb_error_set(err, TDB_DATABASE, NULL, "count: unexpected result from the server");
    return -1;
}

long long tdb_task_count(tdb_conn *c, const tdb_str *scope, tdb_list_opts *o, tdb_error *err)
{
    tdb_request r;
    PGresult *res = run_request(c, tdb_request_count(scope, o, &r, err), &r, err);
    long long n = -1;
    if (!res)
        return -1;
    if (tdb_count_of(res, &n, err) != 0)
        n = -1;
    PQclear(res);
    return n;
}

/* Decodes one row; every fixed-width binary column is length-checked first. */
int tdb_task_row(const PGresult *res, int row, tdb_task *t)
{
    const char *v[TDB_COL_COUNT];
    int len[TDB_COL_COUNT];
    if (PQnfields(res) != TDB_COL_COUNT || PQfformat(res, TDB_COL_ID) != 1 ||
        row < 0 || row >= PQntuples(res))
        return -1;
    for (int c = 0; c < TDB_COL_COUNT; c++) {
        v[c] = PQgetvalue(res, row, c);
        len[c] = PQgetlength(res, row, c);
    }
    if (len[TDB_COL_ID] != 8 || len[TDB_COL_COMPLETED] != 1 ||
        len[TDB_COL_CREATED_AT] != 8 || len[TDB_COL_UPDATED_AT] != 8)
        return -1;
    t->id = (long long)tdb_get_be64(v[TDB_COL_ID]);
    t->user_id.ptr = v[TDB_COL_USER_ID];
    t->user_id.len = (size_t)len[TDB_COL_USER_ID];
    t->title.ptr = v[TDB_COL_TITLE];
    t->title.len = (size_t)len[TDB_COL_TITLE];
    /* Only a NULL and an empty string share length 0: ask only then. */
    t->description.ptr = len[TDB_COL_DESCRIPTION] == 0 &&
                         PQgetisnull(res, row, TDB_COL_DESCRIPTION) ? NULL : v[TDB_COL_DESCRIPTION];
    t->description.len = (size_t)len[TDB_COL_DESCRIPTION];
    t->completed = v[TDB_COL_COMPLETED][0] != 0;
    t->created_at = (int64_t)tdb_get_be64(v[TDB_COL_CREATED_AT]);
    t->updated_at = (int64_t)tdb_get_be64(v[TDB_COL_UPDATED_AT]);
    return 0;
}

/*
 * bulk.c — many tasks in one transaction, through COPY.
 *
 * Ids are drawn from the table's sequence first (one statement), so COPY
 * can carry them and the caller gets them back in input order; the rows
 * then stream as COPY text in large chunks.  All rows are validated before
 * anything is sent; the whole batch commits or nothing does.
 */
#include <stdlib.h>
#include <string.h>

#include "task.h"

#define COPY_CHUNK (256 * 1024)

typedef struct copy_buf {
    char *data;
    size_t len;
} copy_buf;

/* COPY text format: backslash, tab, newline and carriage return escaped. */
static const char copy_escape[256] = {
    ['\\'] = '\\', ['\t'] = 't', ['\n'] = 'n', ['\r'] = 'r',
};

/*
 * Copies clean runs whole (strcspn is vectorized); only the rare special
 * byte is handled alone.  Strings are NUL-terminated and NUL-free, as
 * validation guarantees for every text the core sends.
 */
static size_t put_text(char *out, tdb_str s)
{
    size_t n = 0, i = 0;
    while (i < s.len) {
        size_t run = strcspn(s.ptr + i, "\\\t\n\r");
        if (run > s.len - i)
            run = s.len - i;
        memcpy(out + n, s.ptr + i, run);
        n += run;
        i += run;
        if (i < s.len) {
            out[n++] = '\\';
            out[n++] = copy_escape[(unsigned char)s.ptr[i]];
            i++;
        }
    }
    return n;
}

static size_t put_id(char *out, long long id)
{
    char tmp[24];
    size_t n = 0, k = 0;
    unsigned long long u = (unsigned long long)id;
    do {
        tmp[k++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    while (k)
        out[n++] = tmp[--k];
    return n;
}

/* Worst case: every byte escaped, plus the id, separators and flags. */
static size_t row_bound(const tdb_task_new *t)
{
    return 2 * (t->user_id.len + t->title.len + t->description.len) + 48;
}

static size_t put_row(char *out, long long id, const tdb_task_new *t)
{
    size_t n = put_id(out, id);
    out[n++] = '\t';
    n += put_text(out + n, t->user_id);
    out[n++] = '\t';
    n += put_text(out + n, t->title);
    out[n++] = '\t';
    if (t->description.ptr) {
        n += put_text(out + n, t->description);
    } else {
        out[n++] = '\\';
        out[n++] = 'N';
    }
    out[n++] = '\t';
    out[n++] = t->completed > 0 ? 't' : 'f';
    out[n++] = '\n';
    return n;
}

static int draw_ids(tdb_conn *c, size_t n, long long *ids, tdb_error *err)
{
    tdb_params p = { 0 };
    char count[24];
    PGresult *res;
    int rc = 0;
    snprintf(count, sizeof count, "%zu", n);
    p.n = 1;
    p.values[0] = count;
    res = tdb_conn_exec(c, TDB_SQL_NEXT_IDS, &p, err);
    if (!res)
        return -1;
    if ((size_t)PQntuples(res) != n) {
        tdb_error_set(err, TDB_DATABASE, NULL, "create_tasks: the server returned too few ids");
        rc = -1;
    } else {
        for (size_t i = 0; i < n; i++) {
            const unsigned char *v = (const unsigned char *)PQgetvalue(res, (int)i, 0);
            unsigned long long u = 0;
            for (int b = 0; b < 8; b++)
                u = (u << 8) | v[b];
            ids[i] = (long long)u;
        }
    }
    PQclear(res);
    return rc;
}

static int stream_rows(tdb_conn *c, const tdb_task_new *rows, size_t n,
                       const long long *ids, tdb_error *err)
{
    char *buf = malloc(COPY_CHUNK);
    size_t used = 0;
    int rc = 0;
    if (!buf) {
        tdb_error_set(err, TDB_NOMEM, NULL, "not enough memory");
        return -1;
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        size_t need = row_bound(&rows[i]);
        if (used + need > COPY_CHUNK && used > 0) {
            rc = tdb_conn_copy_put(c, buf, used, err);
            used = 0;
        }
        if (rc == 0 && need > COPY_CHUNK) {   /* cannot happen within the field limits */
            tdb_error_set(err, TDB_INVALID, NULL, "create_tasks: row too large");
            err->row = (long)i + 1;
            rc = -1;
        }
        if (rc == 0)
            used += put_row(buf + used, ids[i], &rows[i]);
    }
    if (rc == 0 && used > 0)
        rc = tdb_conn_copy_put(c, buf, used, err);
    free(buf);
    return rc;
}

int tdb_task_create_many(tdb_conn *c, const tdb_str *scope, tdb_task_new *rows, size_t n,
                         long long *ids, tdb_error *err)
{
    tdb_error tmp;
    tdb_error_clear(err);
    for (size_t i = 0; i < n; i++) {
        if (tdb_task_check_new(scope, &rows[i], err) != 0) {
            err->row = (long)i + 1;
            return -1;
        }
    }
    if (n == 0)
        return 0;
    if (tdb_conn_begin(c, err) != 0)
        return -1;
    if (draw_ids(c, n, ids, err) != 0)
        goto rollback;
    if (tdb_conn_copy_begin(c, TDB_SQL_COPY_IN, err) != 0)
        goto rollback;
    if (stream_rows(c, rows, n, ids, err) != 0) {
        if (tdb_conn_txn_depth(c) > 0 && err->kind != TDB_CONNECTION)
            tdb_conn_copy_end(c, "create_tasks aborted", &tmp);
        goto rollback;
    }
    if (tdb_conn_copy_end(c, NULL, err) != 0)
        goto rollback;
    return tdb_conn_commit(c, err);

rollback:
    tdb_conn_rollback(c, &tmp);
    return -1;
}

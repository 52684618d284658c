/*
 * bulk.c — many tasks in one transaction, through binary COPY.
 *
 * All rows are validated before anything is sent; the whole batch commits
 * or nothing does.  Ids come back in input order, found one of two ways:
 *
 *  - Usually the rows take ids from the column default during COPY (as
 *    psql's \copy would).  The sequence's last value `mark`, read before
 *    COPY, and this session's last id `last`, read after, prove which:
 *    every id handed out after the read is above `mark`, ours are n
 *    distinct increasing values in (mark, last], so when last - mark == n
 *    they are exactly mark+1 .. last, in row order.  That needs step 1 and
 *    no session cache, which the mark query checks.
 *  - If another session drew an id in between (or the proof cannot hold),
 *    the batch is rolled back and redone with ids drawn first (one
 *    statement) and carried by COPY.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "task.h"

#define COPY_CHUNK (256 * 1024)

/* PGCOPY signature, flags, header extension length. */
static const char copy_header[19] = "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0";
static const char copy_trailer[2] = "\377\377";

static char *put_text(char *p, tdb_str s)
{
    p = tdb_put_be32(p, (uint32_t)s.len);
    memcpy(p, s.ptr, s.len);
    return p + s.len;
}

/* Field count, then each field as length and bytes (-1: NULL). */
static size_t row_bound(const tdb_task_new *t)
{
    return 2 + (4 + 8) + (4 + t->user_id.len) + (4 + t->title.len) +
           (4 + t->description.len) + (4 + 1);
}

static size_t put_row(char *out, const long long *id, const tdb_task_new *t)
{
    char *p = tdb_put_be16(out, id ? 5 : 4);
    if (id)
        p = tdb_put_be64(tdb_put_be32(p, 8), (uint64_t)*id);
    p = put_text(p, t->user_id);
    p = put_text(p, t->title);
    p = t->description.ptr ? put_text(p, t->description) : tdb_put_be32(p, UINT32_MAX);
    p = tdb_put_be32(p, 1);
    *p++ = t->completed > 0;
    return (size_t)(p - out);
}

/* One int8 from a one-row binary result; 0 when the value is NULL. */
static int result_int8(PGresult *res, long long *v)
{
    if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0) || PQgetlength(res, 0, 0) != 8)
        return 0;
    *v = (long long)tdb_get_be64(PQgetvalue(res, 0, 0));
    return 1;
}

/* 1: `mark` is usable (see the top of the file); 0: it is not; -1: error. */
static int id_mark(tdb_conn *c, long long *mark, tdb_error *err)
{
    PGresult *res = tdb_conn_exec(c, TDB_SQL_ID_MARK, NULL, err);
    int known;
    if (!res)
        return -1;
    known = result_int8(res, mark);
    PQclear(res);
    return known;
}

static int last_id(tdb_conn *c, long long *last, tdb_error *err)
{
    PGresult *res = tdb_conn_exec(c, TDB_SQL_LAST_ID, NULL, err);
    int known;
    if (!res)
        return -1;
    known = result_int8(res, last);
    PQclear(res);
    if (!known) {
        tdb_error_set(err, TDB_DATABASE, NULL, "create_tasks: the server returned no id");
        return -1;
    }
    return 0;
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
    } else if (PQgetisnull(res, 0, 0) || PQgetlength(res, 0, 0) != 8) {
        /* nextval(NULL): the id's default is not a sequence the column owns */
        tdb_error_set(err, TDB_SCHEMA, NULL,
                      "create_tasks: public.tasks.id has no sequence of its own "
                      "(identity or serial), so ids cannot be drawn for a batch");
        rc = -1;
    } else {
        for (size_t i = 0; i < n; i++)
            ids[i] = (long long)tdb_get_be64(PQgetvalue(res, (int)i, 0));
    }
    PQclear(res);
    return rc;
}

/* `ids` NULL: the rows take the column default. */
static int stream_rows(tdb_conn *c, const tdb_task_new *rows, size_t n,
                       const long long *ids, tdb_error *err)
{
    char *buf = malloc(COPY_CHUNK);
    size_t used = sizeof copy_header;
    int rc = 0;
    if (!buf) {
        tdb_error_set(err, TDB_NOMEM, NULL, "not enough memory");
        return -1;
    }
    memcpy(buf, copy_header, sizeof copy_header);
    for (size_t i = 0; i < n && rc == 0; i++) {
        size_t need = row_bound(&rows[i]);
        if (used + need > COPY_CHUNK) {
            rc = tdb_conn_copy_put(c, buf, used, err);
            used = 0;
        }
        if (rc == 0 && need > COPY_CHUNK) {   /* cannot happen within the field limits */
            tdb_error_set(err, TDB_INVALID, NULL, "create_tasks: row too large");
            err->row = (long)i + 1;
            rc = -1;
        }
        if (rc == 0)
            used += put_row(buf + used, ids ? &ids[i] : NULL, &rows[i]);
    }
    if (rc == 0 && used + sizeof copy_trailer > COPY_CHUNK) {
        rc = tdb_conn_copy_put(c, buf, used, err);
        used = 0;
    }
    if (rc == 0) {
        memcpy(buf + used, copy_trailer, sizeof copy_trailer);
        rc = tdb_conn_copy_put(c, buf, used + sizeof copy_trailer, err);
    }
    free(buf);
    return rc;
}

static int copy_rows(tdb_conn *c, const tdb_task_new *rows, size_t n, const long long *ids,
                     tdb_error *err)
{
    tdb_error tmp;
    if (tdb_conn_copy_begin(c, ids ? TDB_SQL_COPY_IN_IDS : TDB_SQL_COPY_IN, err) != 0)
        return -1;
    if (stream_rows(c, rows, n, ids, err) != 0) {
        /* The abort can tell more: a row the server rejected first, or the connection lost. */
        if (tdb_conn_txn_depth(c) > 0 && err->kind != TDB_CONNECTION &&
            tdb_conn_copy_end(c, "create_tasks aborted", &tmp) != 0)
            *err = tmp;
        return -1;
    }
    return tdb_conn_copy_end(c, NULL, err);
}

/* 1: the rows were written and `ids` filled; 0: rolled back, ids unknown; -1: error. */
static int copy_with_default_ids(tdb_conn *c, const tdb_task_new *rows, size_t n,
                                 long long *ids, tdb_error *err)
{
    long long mark, last;
    int known = id_mark(c, &mark, err);
    if (known <= 0)
        return known;
    if (copy_rows(c, rows, n, NULL, err) != 0 || last_id(c, &last, err) != 0)
        return -1;
    if (last <= mark || (unsigned long long)last - (unsigned long long)mark != n) {
        /* Another session drew ids meanwhile: ours are not known.  Start over. */
        if (tdb_conn_rollback(c, err) != 0 || tdb_conn_begin(c, err) != 0)
            return -1;
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        ids[i] = mark + 1 + (long long)i;
    return 1;
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
    switch (copy_with_default_ids(c, rows, n, ids, err)) {
    case 1:
        return tdb_conn_commit(c, err);
    case 0:
        break;
    default:
        goto rollback;
    }
    if (draw_ids(c, n, ids, err) != 0 || copy_rows(c, rows, n, ids, err) != 0)
        goto rollback;
    return tdb_conn_commit(c, err);

rollback:
    tdb_conn_rollback(c, &tmp);
    return -1;
}

/*
 * bulk.c — many tasks in one transaction, through binary COPY.
 *
 * All rows are validated before anything is sent; the whole batch commits
 * or nothing does.  Ids come back in input order, found one of two ways:
 *
 *  - Usually the rows take ids from the column default during COPY (as
 *    psql's \copy would).  The sequence's last value `mark`, read before
 *    COPY, and this session's last id `last`, checked after on the server
 *    in the same round trip as the COMMIT, prove which:
 *    every id handed out after the read is above `mark`, ours are n
 *    distinct increasing values in (mark, last], so when last - mark == n
 *    they are exactly mark+1 .. last, in row order.  That needs step 1 and
 *    no session cache, which the mark query checks.
 *  - If another session drew an id in between (or the proof cannot hold),
 *    the batch is rolled back and redone with ids drawn first (one
 *    statement) and carried by COPY.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "conn_internal.h"
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

/* Streams the rows and ends the COPY; on failure the COPY is aborted (err says why). */
static int send_rows(tdb_conn *c, const tdb_task_new *rows, size_t n, const long long *ids,
                     tdb_error *err)
{
    tdb_error tmp;
    if (stream_rows(c, rows, n, ids, err) != 0) {
        /* The abort can tell more: a row the server rejected first, or the connection lost. */
        if (tdb_conn_txn_depth(c) > 0 && err->kind != TDB_CONNECTION &&
            tdb_conn_copy_end(c, "create_tasks aborted", &tmp) != 0)
            *err = tmp;
        return -1;
    }
    return tdb_conn_copy_end(c, NULL, err);
}

static tdb_sql_id copy_start_statement(const tdb_conn *c)
{
    if (tdb_conn_txn_depth(c) == 0)
        return TDB_SQL_COPY_START_TXN;
    return c->begin_pending ? TDB_SQL_COPY_START_TXN_SAVEPOINT : TDB_SQL_COPY_START_SAVEPOINT;
}

/*
 * The usual way, in three round trips: open the level, read the mark and
 * start COPY; the rows; prove the ids and commit.  1: written and `ids`
 * filled; 0: nothing written and the level is still open, ids unknown (the
 * proof cannot hold or failed); -1: error, the level is over.
 */
static int copy_with_default_ids(tdb_conn *c, const tdb_task_new *rows, size_t n,
                                 long long *ids, tdb_error *err)
{
    PGresult *res = NULL;
    tdb_params p = { 0 };
    char mark_text[24], count[24];
    long long mark = 0;
    int known = 0;
    tdb_error tmp;

    if (tdb_conn_copy_start(c, copy_start_statement(c), &res, err) != 0)
        goto failed;
    if (res && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0)) {
        mark = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        known = 1;
    }
    PQclear(res);
    if (!known) {
        /* The proof cannot hold: end this COPY unused and draw ids first. */
        if (tdb_conn_copy_end(c, "ids are drawn first", err) != 0)
            goto failed;
        if (tdb_conn_rollback(c, err) != 0)
            return -1;
        return tdb_conn_begin(c, err) == 0 ? 0 : -1;
    }
    if (send_rows(c, rows, n, NULL, err) != 0)
        goto failed;
    snprintf(mark_text, sizeof mark_text, "%lld", mark);
    snprintf(count, sizeof count, "%zu", n);
    p.n = 2;
    p.values[0] = mark_text;
    p.values[1] = count;
    res = tdb_conn_exec_commit(c, TDB_SQL_IDS_PROVEN, &p, err);
    if (!res) {
        /* Another session drew ids meanwhile: ours are not known; rolled back, start over. */
        if (strcmp(err->sqlstate, TDB_SQLSTATE_DIVISION_BY_ZERO) == 0)
            return tdb_conn_begin(c, err) == 0 ? 0 : -1;
        return -1;
    }
    PQclear(res);
    for (size_t i = 0; i < n; i++)
        ids[i] = mark + 1 + (long long)i;
    return 1;

failed:
    tdb_conn_rollback(c, &tmp);
    return -1;
}

static int copy_rows(tdb_conn *c, const tdb_task_new *rows, size_t n, const long long *ids,
                     tdb_error *err)
{
    if (tdb_conn_copy_begin(c, TDB_SQL_COPY_IN_IDS, err) != 0)
        return -1;
    return send_rows(c, rows, n, ids, err);
}

int tdb_task_create_many(tdb_conn *c, const tdb_str *scope, tdb_task_new *rows, size_t n,
                         long long *ids, tdb_error *err)
{
    tdb_error tmp;
    int r;
    tdb_error_clear(err);
    for (size_t i = 0; i < n; i++) {
        if (tdb_task_check_new(scope, &rows[i], err) != 0) {
            err->row = (long)i + 1;
            return -1;
        }
    }
    if (n == 0)
        return 0;
    r = copy_with_default_ids(c, rows, n, ids, err);
    if (r != 0)
        return r > 0 ? 0 : -1;
    /* The level is open again: ids drawn first, then COPY carries them. */
    if (draw_ids(c, n, ids, err) != 0 || copy_rows(c, rows, n, ids, err) != 0)
        goto rollback;
    return tdb_conn_commit(c, err);

rollback:
    tdb_conn_rollback(c, &tmp);
    return -1;
}

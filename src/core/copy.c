/*
 * copy.c — COPY ... FROM STDIN under statement_timeout (bulk writes).
 *
 * COPY's statement_timeout runs from the COPY statement to the server's
 * answer after the last row, as it would on the server.  The data and the
 * end of it are sent in non-blocking mode and waited for with poll, so a
 * server that stops reading (hung, or frozen) cannot hold the caller past
 * it.  Non-blocking lasts from a successful tdb_conn_copy_begin to
 * tdb_conn_copy_end, which must follow unless the connection was dropped.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "interrupt.h"
#include "trace_internal.h"

static void copy_timeout_error(const tdb_conn *conn, tdb_error *err);
static int copy_unresponsive(tdb_conn *conn, tdb_error *err);

static int copy_lost(tdb_conn *conn, tdb_error *err)
{
    tdb_error_from_conn(err, TDB_CONNECTION, conn->pg, "copy");
    tdb_conn_lose(conn);
    return -1;
}

static int copy_begin(tdb_conn *conn, tdb_sql_id id, tdb_error *err)
{
    PGresult *res;
    int started;
    conn->copy_deadline = conn->statement_timeout > 0 ? tdb_now() + conn->statement_timeout : 0;
    conn->copy_grace_end = 0;
    res = tdb_conn_exec_quiet(conn, id, NULL, err);
    if (!res)
        return -1;
    started = PQresultStatus(res) == PGRES_COPY_IN;
    PQclear(res);
    if (!started) {
        tdb_error_set(err, TDB_DATABASE, NULL, "%s: the server did not start COPY",
                      tdb_sql_get(id)->label);
        return -1;
    }
    if (PQsetnonblocking(conn->pg, 1) != 0)
        return copy_lost(conn, err);
    return 0;
}

static int copy_start(tdb_conn *conn, tdb_sql_id id, PGresult **rows, tdb_error *err)
{
    const tdb_sql *sql = tdb_sql_get(id);
    PGresult *res = NULL, *failed = NULL;
    int timed_out = 0, r = 0, copying = 0, rc = -1;

    *rows = NULL;
    tdb_error_clear(err);
    conn->copy_deadline = conn->statement_timeout > 0 ? tdb_now() + conn->statement_timeout : 0;
    conn->copy_grace_end = 0;
    if (tdb_conn_ensure_live(conn, 1, err) != 0) {
        conn->txn_depth++;   /* opened in name only: the caller's rollback closes it */
        return -1;
    }
    tdb_route_note_write(conn);
    /* The text opens its own level; a pending BEGIN is part of it (copy_start_txn_sp). */
    conn->txn_depth++;
    conn->begin_pending = 0;
    if (!PQsendQuery(conn->pg, sql->text)) {
        copy_lost(conn, err);
        goto done;
    }
    conn->round_trips++;
    while (!copying && (r = tdb_next_result(conn, conn->copy_deadline, &timed_out, &res)) == 0 && res) {
        switch (PQresultStatus(res)) {
        case PGRES_COPY_IN:
            copying = 1;
            break;
        case PGRES_TUPLES_OK:
            if (!*rows) {
                *rows = res;
                res = NULL;
            }
            break;
        case PGRES_COMMAND_OK:
            break;
        default:
            if (!failed) {
                failed = res;
                res = NULL;
            }
            break;
        }
        PQclear(res);
        res = NULL;
    }
    if (copying) {
        rc = PQsetnonblocking(conn->pg, 1) == 0 ? 0 : copy_lost(conn, err);
    } else if (r == -2) {   /* no answer even to the cancel: dropped */
        copy_unresponsive(conn, err);
    } else if (r != 0 || PQstatus(conn->pg) != CONNECTION_OK) {
        copy_lost(conn, err);
    } else {
        if (timed_out && tdb_result_is(failed, TDB_SQLSTATE_QUERY_CANCELED))
            copy_timeout_error(conn, err);
        else if (failed)
            tdb_error_from_result(err, conn->pg, failed, sql->label);
        else
            tdb_error_set(err, TDB_DATABASE, NULL, "%s: the server did not start COPY", sql->label);
    }
done:
    PQclear(failed);
    if (rc != 0) {
        PQclear(*rows);
        *rows = NULL;
    }
    return rc;
}

/*
 * Sends what libpq holds, waiting for the socket until `deadline` (<= 0:
 * no limit).  Input is read meanwhile, as libpq asks of non-blocking
 * callers, so a server sending notices cannot deadlock the two sides.
 * 1: all sent; 0: the deadline came first; -1: the connection failed.
 */
static int flush_until(PGconn *pg, double deadline)
{
    struct pollfd pfd;
    pfd.fd = PQsocket(pg);
    pfd.events = POLLOUT | POLLIN;
    for (;;) {
        int r = PQflush(pg);
        if (r <= 0)
            return r == 0 ? 1 : -1;
        r = tdb_poll_until(&pfd, deadline);
        if (r <= 0)
            return r;
        if ((pfd.revents & POLLIN) && !PQconsumeInput(pg))
            return -1;
    }
}

static void copy_timeout_error(const tdb_conn *conn, tdb_error *err)
{
    if (tdb_interrupt_taken())   /* the host's Ctrl-C, not the deadline */
        tdb_error_set(err, TDB_TIMEOUT, NULL, "copy: interrupted; cancelled on the server");
    else
        tdb_error_set(err, TDB_TIMEOUT, NULL, "copy: cancelled after statement_timeout (%g s)",
                      conn->statement_timeout);
    snprintf(err->sqlstate, sizeof err->sqlstate, "%s", TDB_SQLSTATE_QUERY_CANCELED);
}

/* Gives up on a server that took nothing even after the cancel. */
static int copy_unresponsive(tdb_conn *conn, tdb_error *err)
{
    tdb_conn_lose(conn);
    tdb_error_set(err, TDB_TIMEOUT, NULL,
                  "copy: no progress within statement_timeout (%g s) nor after the cancel; "
                  "the connection was dropped and %s",
                  conn->statement_timeout,
                  conn->txn_depth > 1 ? "the transaction rolled back" : "nothing was written");
    return -1;
}

/*
 * Sends what libpq holds before the COPY's deadline.  Past it, the COPY is
 * cancelled once; a live server then reads and discards the rest, so the
 * connection stays usable, and one grace period (the cancel included)
 * covers everything after that.  1: sent in time; 0: sent, but the COPY
 * was cancelled; -1: the connection was dropped (err set).
 */
static int copy_flush(tdb_conn *conn, tdb_error *err)
{
    PGconn *pg = conn->pg;
    int r;
    if (conn->copy_grace_end == 0) {
        r = flush_until(pg, conn->copy_deadline);
        if (r < 0)
            return copy_lost(conn, err);
        /* A server that keeps reading is held to the deadline too. */
        if (r > 0 && (conn->copy_deadline <= 0 || tdb_now() < conn->copy_deadline))
            return 1;
        conn->copy_grace_end = tdb_now() + TDB_CANCEL_GRACE;
        tdb_cancel_bounded(pg, TDB_CANCEL_GRACE);
    }
    r = flush_until(pg, conn->copy_grace_end);
    if (r < 0)
        return copy_lost(conn, err);
    return r == 0 ? copy_unresponsive(conn, err) : 0;
}

static int copy_put(tdb_conn *conn, const char *data, size_t len, tdb_error *err)
{
    PGconn *pg = conn->pg;
    int full = 0;
    if (!pg)
        return copy_lost(conn, err);
    while (len > 0) {
        int chunk = len > (1 << 30) ? (1 << 30) : (int)len;
        int r = PQputCopyData(pg, data, chunk);
        if (r < 0 || (r == 0 && full))   /* full twice: libpq cannot grow its buffer */
            return copy_lost(conn, err);
        full = r == 0;
        if (r == 1) {
            data += chunk;
            len -= (size_t)chunk;
        }
        /* Sent before more is encoded: libpq's buffer must not grow with the batch. */
        r = copy_flush(conn, err);
        if (r < 0)
            return -1;
        if (r == 0) {
            copy_timeout_error(conn, err);
            return -1;
        }
    }
    return 0;
}

/*
 * The row a server-side COPY error is about, 1-based, from the outermost
 * context line the server adds ("COPY tasks, line 400[, column title]"); 0
 * when there is none, when the error is not about the row's data, or when
 * the server's messages are translated.
 */
static long copy_row_of(const PGresult *res)
{
    static const char *const not_the_row[] = {
        TDB_SQLCLASS_CONNECTION_EXCEPTION, TDB_SQLCLASS_TXN_ROLLBACK,
        TDB_SQLCLASS_INSUFFICIENT_RESOURCES, TDB_SQLCLASS_NOT_IN_PREREQ_STATE,
        TDB_SQLCLASS_OPERATOR_INTERVENTION, TDB_SQLCLASS_SYSTEM_ERROR,
        TDB_SQLCLASS_INTERNAL_ERROR,
    };
    const char *context = PQresultErrorField(res, PG_DIAG_CONTEXT);
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    const char *line = context, *next, *at;
    long row = 0;
    if (!context)
        return 0;
    /* A cancel, deadlock, lock timeout or full disk names the row it happened at, not a bad row. */
    for (size_t i = 0; state && i < sizeof not_the_row / sizeof not_the_row[0]; i++)
        if (tdb_sqlstate_in(state, not_the_row[i]))
            return 0;
    while ((next = strchr(line, '\n')) != NULL && next[1] != '\0')
        line = next + 1;
    if (strncmp(line, "COPY ", 5) != 0 || (at = strstr(line, ", line ")) == NULL)
        return 0;
    for (at += 7; *at >= '0' && *at <= '9' && row < 100000000000L; at++)
        row = row * 10 + (*at - '0');
    return row;
}

/* What the server's answer to the end of a COPY means; `res` is the kept result. */
static int copy_outcome(tdb_conn *conn, tdb_run_status st, PGresult *res,
                        const char *abort_reason, tdb_error *err)
{
    long row;
    switch (st) {
    case TDB_RUN_OK:
        return 0;
    case TDB_RUN_TIMEOUT:
        copy_timeout_error(conn, err);
        return -1;
    case TDB_RUN_TIMEOUT_LOST:   /* tdb_collect dropped the connection */
        return copy_unresponsive(conn, err);
    case TDB_RUN_SERVER_ERROR:
        /* The abort itself, or our cancel, answers 57014; anything else came first. */
        if (tdb_result_is(res, TDB_SQLSTATE_QUERY_CANCELED) &&
            (abort_reason || conn->copy_grace_end > 0)) {
            if (abort_reason)
                return 0;
            copy_timeout_error(conn, err);
            return -1;
        }
        row = copy_row_of(res);
        tdb_error_from_result(err, conn->pg, res, row > 0 ? NULL : "copy");
        err->row = row;
        return -1;
    default:
        return copy_lost(conn, err);
    }
}

static int copy_end(tdb_conn *conn, const char *abort_reason, long long *rows, tdb_error *err)
{
    PGresult *res = NULL;
    tdb_run_status st;
    int r, rc = -1;
    if (!conn->pg) {   /* dropped while sending the data: the caller has said why */
        if (abort_reason)
            return 0;
        tdb_error_set(err, TDB_CONNECTION, NULL, "copy: the connection was dropped");
        return -1;
    }
    /* The end (CopyDone or CopyFail, and Sync) is bound by the deadline too. */
    while ((r = PQputCopyEnd(conn->pg, abort_reason)) == 0) {
        if (copy_flush(conn, err) < 0)
            return -1;
    }
    if (r < 0)
        return copy_lost(conn, err);
    if (copy_flush(conn, err) < 0)
        return -1;
    if (PQsetnonblocking(conn->pg, 0) != 0)
        return copy_lost(conn, err);
    if (conn->copy_grace_end > 0) {
        /* Cancelled already: wait out the grace period for the answer, never cancel twice. */
        r = tdb_wait_result(conn->pg, conn->copy_grace_end);
        if (r < 0)
            return copy_lost(conn, err);
        if (r == 0)
            return copy_unresponsive(conn, err);
        st = tdb_collect(conn, 0, &res);
    } else {
        st = tdb_collect(conn, conn->copy_deadline, &res);
    }
    rc = copy_outcome(conn, st, res, abort_reason, err);
    if (rc == 0 && !abort_reason && res)
        *rows = strtoll(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    return rc;
}

/*
 * The COPY's one trace event.  It starts with the statement that starts
 * COPY and ends with copy_end, or earlier when the COPY fails: then the
 * event says why, and an abort that follows adds nothing.  Its waiting
 * time is its two round trips: the rows are streamed without waiting.
 */
static void copy_opened(tdb_conn *conn, tdb_sql_id id)
{
    tdb_trace_begin(conn, &conn->copy_mark);
    conn->copy_id = id;
    conn->copy_open = 1;
}

static void copy_over(tdb_conn *conn, long long rows, int aborted, const tdb_error *err)
{
    tdb_trace_event ev;
    double end;
    if (!conn->copy_open)
        return;
    conn->copy_open = 0;
    end = tdb_now();
    conn->statements++;
    if (!conn->trace)
        return;
    tdb_trace_init(conn, &conn->copy_mark, end, TDB_TRACE_COPY, conn->copy_id, &ev);
    ev.ok = !err && !aborted;
    ev.rows = ev.ok ? rows : 0;
    ev.error = err ? err->kind : TDB_OK;
    ev.sqlstate = err ? err->sqlstate : "";
    ev.aborted = aborted;
    tdb_trace_emit(conn, &ev);
}

int tdb_conn_copy_begin(tdb_conn *conn, tdb_sql_id id, tdb_error *err)
{
    int rc;
    copy_opened(conn, id);
    rc = copy_begin(conn, id, err);
    conn->wait_seconds += tdb_now() - conn->copy_mark.t0;
    if (rc != 0)
        copy_over(conn, 0, 0, err);
    return rc;
}

int tdb_conn_copy_start(tdb_conn *conn, tdb_sql_id id, PGresult **rows, tdb_error *err)
{
    int rc;
    copy_opened(conn, id);
    rc = copy_start(conn, id, rows, err);
    conn->wait_seconds += tdb_now() - conn->copy_mark.t0;
    if (rc != 0)
        copy_over(conn, 0, 0, err);
    return rc;
}

int tdb_conn_copy_put(tdb_conn *conn, const char *data, size_t len, tdb_error *err)
{
    if (copy_put(conn, data, len, err) != 0) {
        copy_over(conn, 0, 0, err);
        return -1;
    }
    return 0;
}

int tdb_conn_copy_end(tdb_conn *conn, const char *abort_reason, tdb_error *err)
{
    long long rows = 0;
    double t0 = tdb_now();
    int rc = copy_end(conn, abort_reason, &rows, err);
    conn->wait_seconds += tdb_now() - t0;
    copy_over(conn, rows, abort_reason != NULL, rc != 0 ? err : NULL);
    return rc;
}

/*
 * exec.c — running catalogue statements, transactions and COPY.
 *
 * The rules for an unknown outcome live here (run_statement): a statement
 * that never left the client is resent on a fresh connection; one that was
 * sent and whose answer was lost is resent only if it is a read; a write
 * is reported as a `connection` error that says the outcome is unknown.
 * statement_timeout is enforced by the client and cancelled on the server
 * (PQcancel), which works unchanged through a transaction pooler.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conn_internal.h"

#define CANCEL_GRACE 2.0   /* seconds to wait for the server to honour a cancel */

typedef enum run_status {
    RUN_OK,
    RUN_SERVER_ERROR,   /* the server answered with an error; connection fine */
    RUN_NOT_SENT,       /* the connection failed before the statement left */
    RUN_LOST,           /* sent, and the answer was lost: outcome unknown */
    RUN_TIMEOUT,        /* cancelled on the server after statement_timeout */
    RUN_TIMEOUT_LOST    /* no answer even to the cancel: connection dropped */
} run_status;

/* Waits until libpq has a whole result (or the deadline; <= 0 means none). */
static int wait_result(PGconn *pg, double deadline)
{
    struct pollfd pfd;
    pfd.fd = PQsocket(pg);
    pfd.events = POLLIN;
    while (PQisBusy(pg)) {
        int r = tdb_poll_until(&pfd, deadline);
        if (r <= 0)
            return r;
        if (!PQconsumeInput(pg))
            return -1;
    }
    return 1;
}

typedef struct cancel_job {
    PGcancel *cancel;
} cancel_job;

static void *cancel_worker(void *arg)
{
    cancel_job *job = arg;
    char errbuf[256];
    PQcancel(job->cancel, errbuf, sizeof errbuf);
    PQfreeCancel(job->cancel);
    free(job);
    return NULL;
}

/*
 * PQcancel blocks on its own connection with no timeout of its own: run it
 * on a thread and stop waiting after a grace period, so a hung server
 * cannot hang the caller.
 */
static void cancel_bounded(PGconn *pg, double grace)
{
    cancel_job *job = malloc(sizeof *job);
    pthread_t thread;
    struct timespec until;
    if (!job)
        return;
    job->cancel = PQgetCancel(pg);
    if (!job->cancel) {
        free(job);
        return;
    }
    if (pthread_create(&thread, NULL, cancel_worker, job) != 0) {
        PQfreeCancel(job->cancel);
        free(job);
        return;
    }
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)grace;
    if (pthread_timedjoin_np(thread, NULL, &until) != 0)
        pthread_detach(thread);
}

/*
 * Collects the statement's results: the first is kept (an error result
 * wins over a later one), the rest are drained so the connection is idle.
 */
static run_status collect(tdb_conn *conn, double deadline, PGresult **out)
{
    PGconn *pg = conn->pg;
    PGresult *keep = NULL, *res;
    int timed_out = 0;

    for (;;) {
        /* Once an answer is in, only the trailing ReadyForQuery is awaited: never cancel then. */
        int r = wait_result(pg, (timed_out || keep) ? 0 : deadline);
        if (r == 0 && !timed_out) {
            double grace_end = tdb_now() + CANCEL_GRACE;
            timed_out = 1;
            cancel_bounded(pg, CANCEL_GRACE);
            r = wait_result(pg, grace_end);
            if (r == 0) {
                PQclear(keep);
                tdb_conn_drop(conn);
                return RUN_TIMEOUT_LOST;
            }
        }
        if (r < 0)
            break;
        res = PQgetResult(pg);
        if (!res)
            break;
        if (!keep) {
            keep = res;
        } else if (PQresultStatus(keep) != PGRES_FATAL_ERROR &&
                   PQresultStatus(res) == PGRES_FATAL_ERROR) {
            PQclear(keep);
            keep = res;
        } else {
            PQclear(res);
        }
        if (PQresultStatus(keep) == PGRES_COPY_IN)
            break;   /* the caller streams the data */
    }
    *out = keep;
    if (PQstatus(pg) != CONNECTION_OK)
        return RUN_LOST;
    if (!keep)
        return RUN_LOST;
    switch (PQresultStatus(keep)) {
    case PGRES_TUPLES_OK:
    case PGRES_COMMAND_OK:
    case PGRES_EMPTY_QUERY:
    case PGRES_COPY_IN:
        return RUN_OK;
    case PGRES_FATAL_ERROR:
    case PGRES_NONFATAL_ERROR:
    case PGRES_BAD_RESPONSE:
    default: {
        const char *state = PQresultErrorField(keep, PG_DIAG_SQLSTATE);
        if (timed_out && state && strcmp(state, TDB_SQLSTATE_QUERY_CANCELED) == 0)
            return RUN_TIMEOUT;
        return RUN_SERVER_ERROR;
    }
    }
}

static int prepare_statement(tdb_conn *conn, tdb_sql_id id, const tdb_sql *sql,
                             double deadline, PGresult **errres)
{
    PGresult *res = NULL;
    run_status st;
    if (!PQsendPrepare(conn->pg, tdb_sql_prepared_name(id), sql->text, sql->nparams, NULL))
        return PQstatus(conn->pg) == CONNECTION_OK ? RUN_SERVER_ERROR : RUN_NOT_SENT;
    st = collect(conn, deadline, &res);
    if (st == RUN_SERVER_ERROR) {
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        /* Same hashed name means same text: another session of a pooled backend made it. */
        if (state && strcmp(state, TDB_SQLSTATE_DUPLICATE_PSTATEMENT) == 0 && conn->txn_depth == 0)
            st = RUN_OK;
    }
    if (st == RUN_OK)
        conn->prepared[id] = 1;
    /* A prepare has no effect on data: a lost answer just means "not sent". */
    if (st == RUN_LOST)
        st = RUN_NOT_SENT;
    if (st == RUN_SERVER_ERROR && errres) {
        *errres = res;
        return st;
    }
    PQclear(res);
    return st;
}

static run_status run_once(tdb_conn *conn, tdb_sql_id id, const tdb_params *p,
                           PGresult **out)
{
    const tdb_sql *sql = tdb_sql_get(id);
    double deadline = conn->statement_timeout > 0 ? tdb_now() + conn->statement_timeout : 0;
    int n = p ? p->n : 0;
    const char *const *values = p ? p->values : NULL;
    int sent;

    *out = NULL;
    if (conn->use_prepared && sql->prepare && !conn->prepared[id]) {
        run_status st = prepare_statement(conn, id, sql, deadline, out);
        if (st != RUN_OK)
            return st;
    }
    if (conn->use_prepared && sql->prepare)
        sent = PQsendQueryPrepared(conn->pg, tdb_sql_prepared_name(id), n, values,
                                   NULL, NULL, sql->binary);
    else
        sent = PQsendQueryParams(conn->pg, sql->text, n, NULL, values, NULL, NULL,
                                 sql->binary);
    if (!sent)
        return PQstatus(conn->pg) == CONNECTION_OK ? RUN_SERVER_ERROR : RUN_NOT_SENT;
    return collect(conn, deadline, out);
}

static int is_sqlstate(const PGresult *res, const char *code)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    return state && strcmp(state, code) == 0;
}

/* The server ended the session (shutdown, terminate, idle timeout): SQLSTATE class 57P. */
static int said_goodbye(const PGresult *res)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    return state && strncmp(state, "57P", 3) == 0;
}

static void lost_error(tdb_conn *conn, const tdb_sql *sql, tdb_error *err)
{
    if (conn->txn_depth > 0) {
        conn->txn_broken = 1;
        tdb_error_set(err, TDB_CONNECTION, NULL,
                      "%s: the connection was lost inside a transaction; the server rolled it back",
                      sql->label);
    } else if (sql->is_read) {
        tdb_error_set(err, TDB_CONNECTION, NULL,
                      "%s: the connection was lost and the retry failed too", sql->label);
    } else {
        tdb_error_set(err, TDB_CONNECTION, NULL,
                      "%s: the connection was lost after the statement was sent; "
                      "its outcome is unknown (it may or may not have been applied)",
                      sql->label);
    }
}

PGresult *tdb_conn_exec(tdb_conn *conn, tdb_sql_id id, const tdb_params *params,
                        tdb_error *err)
{
    const tdb_sql *sql = tdb_sql_get(id);
    PGresult *res = NULL;
    int attempt, resent = 0;

    tdb_error_clear(err);
    if (!conn) {
        tdb_error_set(err, TDB_CLOSED, NULL, "the connection is closed");
        return NULL;
    }
    for (attempt = 0; attempt < 3; attempt++) {
        run_status st;
        /* A read outside a transaction is resent if the connection was gone: no probe first. */
        int probe = !(sql->is_read && conn->txn_depth == 0 && attempt == 0);
        int stale;
        if (tdb_conn_ensure_live(conn, probe, err) != 0)
            return NULL;
        st = run_once(conn, id, params, &res);
        switch (st) {
        case RUN_OK:
            return res;
        case RUN_SERVER_ERROR:
            /* A named statement gone missing: a pooler moved us to another backend. */
            if (conn->use_prepared && conn->txn_depth == 0 &&
                is_sqlstate(res, TDB_SQLSTATE_UNDEFINED_PSTATEMENT)) {
                PQclear(res);
                res = NULL;
                conn->use_prepared = 0;
                conn->proxy = 1;
                continue;
            }
            tdb_error_from_result(err, conn->pg, res, sql->label);
            tdb_conn_scrub(conn, err);
            PQclear(res);
            return NULL;
        case RUN_NOT_SENT:
            PQclear(res);
            res = NULL;
            if (conn->txn_depth > 0) {
                lost_error(conn, sql, err);
                tdb_conn_drop(conn);
                return NULL;
            }
            tdb_conn_drop(conn);
            continue;
        case RUN_LOST:
            /* Unprobed, and the server's goodbye was the answer: what the probe would have found. */
            stale = !probe && said_goodbye(res);
            PQclear(res);
            res = NULL;
            tdb_conn_drop(conn);
            if (conn->txn_depth == 0 && sql->is_read && (stale || !resent)) {
                resent |= !stale;
                continue;
            }
            lost_error(conn, sql, err);
            return NULL;
        case RUN_TIMEOUT:
            PQclear(res);
            tdb_error_set(err, TDB_TIMEOUT, NULL,
                          "%s: cancelled on the server after statement_timeout (%g s)%s",
                          sql->label, conn->statement_timeout,
                          sql->is_read ? "" : "; nothing was applied");
            snprintf(err->sqlstate, sizeof err->sqlstate, "%s", TDB_SQLSTATE_QUERY_CANCELED);
            return NULL;
        case RUN_TIMEOUT_LOST:
            if (conn->txn_depth > 0)
                conn->txn_broken = 1;
            tdb_error_set(err, TDB_TIMEOUT, NULL,
                          "%s: no answer within statement_timeout (%g s) nor to the cancel; "
                          "the connection was dropped%s",
                          sql->label, conn->statement_timeout,
                          sql->is_read ? "" : " and the outcome is unknown");
            return NULL;
        }
    }
    tdb_error_set(err, TDB_CONNECTION, NULL, "%s: the connection keeps failing", sql->label);
    return NULL;
}

int tdb_conn_ping(tdb_conn *conn, tdb_error *err)
{
    PGresult *res = tdb_conn_exec(conn, TDB_SQL_PING, NULL, err);
    if (!res)
        return -1;
    PQclear(res);
    return 0;
}

static int exec_simple(tdb_conn *conn, tdb_sql_id id, tdb_error *err)
{
    PGresult *res = tdb_conn_exec(conn, id, NULL, err);
    if (!res)
        return -1;
    PQclear(res);
    return 0;
}

int tdb_conn_txn_depth(const tdb_conn *conn)
{
    return conn ? conn->txn_depth : 0;
}

int tdb_conn_begin(tdb_conn *conn, tdb_error *err)
{
    if (!conn) {
        tdb_error_set(err, TDB_CLOSED, NULL, "the connection is closed");
        return -1;
    }
    if (exec_simple(conn, conn->txn_depth == 0 ? TDB_SQL_BEGIN : TDB_SQL_SAVEPOINT, err) != 0)
        return -1;
    conn->txn_depth++;
    return 0;
}

/* Leaves one level; the outermost level also forgets a broken connection. */
static void txn_pop(tdb_conn *conn)
{
    if (conn->txn_depth > 0)
        conn->txn_depth--;
    if (conn->txn_depth == 0)
        conn->txn_broken = 0;
}

int tdb_conn_rollback(tdb_conn *conn, tdb_error *err)
{
    int rc = 0;
    tdb_error_clear(err);
    if (!conn || conn->txn_depth == 0)
        return 0;
    if (conn->txn_broken || !conn->pg) {
        txn_pop(conn);   /* the server already rolled everything back */
        return 0;
    }
    if (conn->txn_depth == 1) {
        rc = exec_simple(conn, TDB_SQL_ROLLBACK, err);
    } else {
        rc = exec_simple(conn, TDB_SQL_ROLLBACK_TO, err);
        if (rc == 0)
            rc = exec_simple(conn, TDB_SQL_RELEASE, err);
    }
    txn_pop(conn);
    return rc;
}

int tdb_conn_commit(tdb_conn *conn, tdb_error *err)
{
    PGresult *res;
    tdb_error_clear(err);
    if (!conn || conn->txn_depth == 0) {
        tdb_error_set(err, TDB_INVALID, NULL, "commit outside a transaction");
        return -1;
    }
    if (conn->txn_broken || !conn->pg) {
        txn_pop(conn);
        tdb_error_set(err, TDB_CONNECTION, NULL,
                      "commit: the connection was lost inside this transaction; "
                      "the server rolled it back");
        return -1;
    }
    /* An aborted transaction must not look committed: COMMIT would answer "ROLLBACK". */
    if (PQtransactionStatus(conn->pg) == PQTRANS_INERROR) {
        tdb_error tmp;
        tdb_conn_rollback(conn, &tmp);
        tdb_error_set(err, TDB_DATABASE, NULL,
                      "commit: an earlier statement failed, so the transaction was rolled back");
        snprintf(err->sqlstate, sizeof err->sqlstate, "%s", TDB_SQLSTATE_IN_FAILED_TXN);
        return -1;
    }
    if (conn->txn_depth > 1) {
        int rc = exec_simple(conn, TDB_SQL_RELEASE, err);
        txn_pop(conn);
        return rc;
    }
    /* Lost before COMMIT is sent: certainly rolled back.  Lost after: unknown. */
    if (tdb_conn_ensure_live(conn, 1, err) != 0) {
        txn_pop(conn);
        return -1;
    }
    res = tdb_conn_exec(conn, TDB_SQL_COMMIT, NULL, err);
    txn_pop(conn);
    if (!res) {
        if (err->kind == TDB_CONNECTION)
            snprintf(err->message, sizeof err->message,
                     "commit: the connection was lost during COMMIT; "
                     "whether the transaction was committed is unknown");
        return -1;
    }
    if (strcmp(PQcmdStatus(res), "ROLLBACK") == 0) {
        PQclear(res);
        tdb_error_set(err, TDB_DATABASE, NULL, "commit: the server rolled the transaction back");
        return -1;
    }
    PQclear(res);
    return 0;
}

static int copy_lost(tdb_conn *conn, tdb_error *err)
{
    tdb_error_from_conn(err, TDB_CONNECTION, conn->pg, "copy");
    tdb_conn_scrub(conn, err);
    if (conn->txn_depth > 0)
        conn->txn_broken = 1;
    tdb_conn_drop(conn);
    return -1;
}

/*
 * COPY's statement_timeout runs from the COPY statement to the server's
 * answer after the last row, as it would on the server.  The data and the
 * end of it are sent in non-blocking mode and waited for with poll, so a
 * server that stops reading (hung, or frozen) cannot hold the caller past
 * it.  Non-blocking lasts from a successful tdb_conn_copy_begin to
 * tdb_conn_copy_end, which must follow unless the connection was dropped.
 */
int tdb_conn_copy_begin(tdb_conn *conn, tdb_sql_id id, tdb_error *err)
{
    PGresult *res;
    conn->copy_deadline = conn->statement_timeout > 0 ? tdb_now() + conn->statement_timeout : 0;
    conn->copy_grace_end = 0;
    res = tdb_conn_exec(conn, id, NULL, err);
    if (!res)
        return -1;
    if (PQresultStatus(res) != PGRES_COPY_IN) {
        PQclear(res);
        tdb_error_set(err, TDB_DATABASE, NULL, "%s: the server did not start COPY",
                      tdb_sql_get(id)->label);
        return -1;
    }
    PQclear(res);
    if (PQsetnonblocking(conn->pg, 1) != 0)
        return copy_lost(conn, err);
    return 0;
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
    tdb_error_set(err, TDB_TIMEOUT, NULL, "copy: cancelled after statement_timeout (%g s)",
                  conn->statement_timeout);
    snprintf(err->sqlstate, sizeof err->sqlstate, "%s", TDB_SQLSTATE_QUERY_CANCELED);
}

/* Gives up on a server that took nothing even after the cancel. */
static int copy_unresponsive(tdb_conn *conn, tdb_error *err)
{
    if (conn->txn_depth > 0)
        conn->txn_broken = 1;
    tdb_conn_drop(conn);
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
        conn->copy_grace_end = tdb_now() + CANCEL_GRACE;
        cancel_bounded(pg, CANCEL_GRACE);
    }
    r = flush_until(pg, conn->copy_grace_end);
    if (r < 0)
        return copy_lost(conn, err);
    return r == 0 ? copy_unresponsive(conn, err) : 0;
}

int tdb_conn_copy_put(tdb_conn *conn, const char *data, size_t len, tdb_error *err)
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
    static const char *const not_the_row[] = { "08", "40", "53", "55", "57", "58", "XX" };
    const char *context = PQresultErrorField(res, PG_DIAG_CONTEXT);
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    const char *line = context, *next, *at;
    long row = 0;
    if (!context)
        return 0;
    /* A cancel, deadlock, lock timeout or full disk names the row it happened at, not a bad row. */
    for (size_t i = 0; state && i < sizeof not_the_row / sizeof not_the_row[0]; i++)
        if (strncmp(state, not_the_row[i], 2) == 0)
            return 0;
    while ((next = strchr(line, '\n')) != NULL && next[1] != '\0')
        line = next + 1;
    if (strncmp(line, "COPY ", 5) != 0 || (at = strstr(line, ", line ")) == NULL)
        return 0;
    for (at += 7; *at >= '0' && *at <= '9' && row < 100000000000L; at++)
        row = row * 10 + (*at - '0');
    return row;
}

int tdb_conn_copy_end(tdb_conn *conn, const char *abort_reason, tdb_error *err)
{
    PGresult *res = NULL;
    run_status st;
    int r;
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
        r = wait_result(conn->pg, conn->copy_grace_end);
        if (r < 0)
            return copy_lost(conn, err);
        if (r == 0)
            return copy_unresponsive(conn, err);
        st = collect(conn, 0, &res);
    } else {
        st = collect(conn, conn->copy_deadline, &res);
    }
    if (st == RUN_OK) {
        PQclear(res);
        return 0;
    }
    if (st == RUN_TIMEOUT) {
        PQclear(res);
        copy_timeout_error(conn, err);
        return -1;
    }
    if (st == RUN_TIMEOUT_LOST)   /* collect dropped the connection */
        return copy_unresponsive(conn, err);
    if (st == RUN_SERVER_ERROR) {
        long row;
        /* The abort itself, or our cancel, answers 57014; anything else came first. */
        if (is_sqlstate(res, TDB_SQLSTATE_QUERY_CANCELED) &&
            (abort_reason || conn->copy_grace_end > 0)) {
            PQclear(res);
            if (abort_reason)
                return 0;
            copy_timeout_error(conn, err);
            return -1;
        }
        row = copy_row_of(res);
        tdb_error_from_result(err, conn->pg, res, row > 0 ? NULL : "copy");
        err->row = row;
        tdb_conn_scrub(conn, err);
        PQclear(res);
        return -1;
    }
    PQclear(res);
    return copy_lost(conn, err);
}

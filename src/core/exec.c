/*
 * exec.c — running one catalogue statement.
 *
 * The rules for an unknown outcome live here, in may_resend: a statement
 * that never left the client is resent on a fresh connection; one that was
 * sent and whose answer was lost is resent only if it is a read; a write
 * is reported as a `connection` error that says the outcome is unknown.
 * statement_timeout is enforced by the client and cancelled on the server
 * (PQcancel), which works unchanged through a transaction pooler.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "interrupt.h"
#include "trace_internal.h"

#define MAX_ATTEMPTS 3   /* one send and at most two resends of a statement */

int tdb_wait_result(PGconn *pg, double deadline)
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
void tdb_cancel_bounded(PGconn *pg, double grace)
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

int tdb_result_is(const PGresult *res, const char *code)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    return state && strcmp(state, code) == 0;
}

/* An error result wins over a result that is not one; the other is cleared. */
PGresult *tdb_keep_first_error(PGresult *keep, PGresult *res)
{
    if (!keep)
        return res;
    if (PQresultStatus(keep) != PGRES_FATAL_ERROR && PQresultStatus(res) == PGRES_FATAL_ERROR) {
        PQclear(keep);
        return res;
    }
    PQclear(res);
    return keep;
}

/* What a statement's own result means (after tdb_collect or an exchange). */
static tdb_run_status result_status(const tdb_conn *conn, const PGresult *res, int timed_out)
{
    if (PQstatus(conn->pg) != CONNECTION_OK || !res)
        return TDB_RUN_LOST;
    switch (PQresultStatus(res)) {
    case PGRES_TUPLES_OK:
    case PGRES_COMMAND_OK:
    case PGRES_EMPTY_QUERY:
    case PGRES_COPY_IN:
        return TDB_RUN_OK;
    default:
        if (timed_out && tdb_result_is(res, TDB_SQLSTATE_QUERY_CANCELED))
            return TDB_RUN_TIMEOUT;
        return TDB_RUN_SERVER_ERROR;
    }
}

tdb_run_status tdb_collect(tdb_conn *conn, double deadline, PGresult **out)
{
    PGconn *pg = conn->pg;
    PGresult *keep = NULL, *res;
    int timed_out = 0;

    conn->round_trips++;
    for (;;) {
        /* Once an answer is in, only the trailing ReadyForQuery is awaited: never cancel then. */
        int r = tdb_wait_result(pg, (timed_out || keep) ? 0 : deadline);
        if (r == 0 && !timed_out) {
            double grace_end = tdb_now() + TDB_CANCEL_GRACE;
            timed_out = 1;
            tdb_cancel_bounded(pg, TDB_CANCEL_GRACE);
            r = tdb_wait_result(pg, grace_end);
            if (r == 0) {
                PQclear(keep);
                tdb_conn_lose(conn);
                return TDB_RUN_TIMEOUT_LOST;
            }
        }
        if (r < 0)
            break;
        res = PQgetResult(pg);
        if (!res)
            break;
        keep = tdb_keep_first_error(keep, res);
        if (PQresultStatus(keep) == PGRES_COPY_IN)
            break;   /* the caller streams the data */
    }
    *out = keep;
    return result_status(conn, keep, timed_out);
}

/*
 * One step of an exchange: waits for the next result, cancelling the
 * statement once at `deadline`.  0 with *res set (NULL at the end of a
 * step's results); -1: the connection failed; -2: no answer even to the
 * cancel (the connection has been dropped).
 */
int tdb_next_result(tdb_conn *conn, double deadline, int *timed_out, PGresult **res)
{
    int r = tdb_wait_result(conn->pg, *timed_out ? 0 : deadline);
    if (r == 0 && !*timed_out) {
        double grace_end = tdb_now() + TDB_CANCEL_GRACE;
        *timed_out = 1;
        tdb_cancel_bounded(conn->pg, TDB_CANCEL_GRACE);
        r = tdb_wait_result(conn->pg, grace_end);
        if (r == 0) {
            tdb_conn_lose(conn);
            return -2;
        }
    }
    if (r < 0)
        return -1;
    *res = PQgetResult(conn->pg);
    return 0;
}

enum { STEP_PID, STEP_BEGIN, STEP_BEFORE, STEP_PREPARE, STEP_RUN, STEP_THEN, STEP_COUNT };

#define NO_STATEMENT TDB_SQL_NONE

static int send_statement(tdb_conn *conn, tdb_sql_id id, const tdb_sql *sql, int named,
                          const tdb_params *p)
{
    int n = p ? p->n : 0;
    const char *const *values = p ? p->values : NULL;
    if (named)
        return PQsendQueryPrepared(conn->pg, tdb_sql_prepared_name(id), n, values,
                                   NULL, NULL, sql->binary);
    return PQsendQueryParams(conn->pg, sql->text, n, NULL, values, NULL, NULL, sql->binary);
}

static int send_plain(tdb_conn *conn, tdb_sql_id id)
{
    const tdb_sql *sql = tdb_sql_get(id);
    return PQsendQueryParams(conn->pg, sql->text, 0, NULL, NULL, NULL, NULL, sql->binary);
}

/* Learns from the first steps of an exchange: the proxy check, BEGIN, the prepare. */
static void note_steps(tdb_conn *conn, tdb_sql_id id, PGresult *const step[STEP_COUNT],
                       const int used[STEP_COUNT])
{
    if (used[STEP_PID] && PQresultStatus(step[STEP_PID]) == PGRES_TUPLES_OK &&
        PQntuples(step[STEP_PID]) == 1) {
        conn->proxy = atoi(PQgetvalue(step[STEP_PID], 0, 0)) != PQbackendPID(conn->pg);
        conn->use_prepared = !conn->proxy;
        conn->proxy_unknown = 0;
    }
    if (used[STEP_BEGIN] && PQresultStatus(step[STEP_BEGIN]) == PGRES_COMMAND_OK)
        conn->begin_pending = 0;
    /* Same hashed name means same text: another session of a pooled backend made it. */
    if (used[STEP_PREPARE] &&
        (PQresultStatus(step[STEP_PREPARE]) == PGRES_COMMAND_OK ||
         (conn->txn_depth == 0 && tdb_result_is(step[STEP_PREPARE], TDB_SQLSTATE_DUPLICATE_PSTATEMENT))))
        conn->prepared[id] = 1;
}

/*
 * A statement with what must precede it — the proxy check on a new
 * connection, a deferred BEGIN, the prepare of a named statement's first
 * use — and the statements `around` it asks for (`before` and `then`,
 * with no parameters), in one round trip (pipeline mode, one Sync).  A
 * failed step aborts the rest; its error is the statement's.  When the
 * statement succeeds, their results go to around->before_res/then_res.
 */
static tdb_run_status run_exchange(tdb_conn *conn, tdb_sql_id id, const tdb_sql *sql,
                                   const tdb_params *p, double deadline, tdb_around *around,
                                   PGresult **out)
{
    PGconn *pg = conn->pg;
    PGresult *step[STEP_COUNT] = { 0 };
    int used[STEP_COUNT] = { 0 };
    int named = conn->use_prepared && sql->prepare && !conn->proxy_unknown;
    int timed_out = 0, r = 0;
    tdb_run_status st = TDB_RUN_LOST;

    /* A SELECT in an aborted transaction fails, and would take a ROLLBACK down with it. */
    used[STEP_PID] = conn->proxy_unknown && PQtransactionStatus(pg) != PQTRANS_INERROR;
    used[STEP_BEGIN] = conn->begin_pending;
    used[STEP_BEFORE] = around && around->before != NO_STATEMENT;
    used[STEP_PREPARE] = named && !conn->prepared[id];
    used[STEP_RUN] = 1;
    used[STEP_THEN] = around && around->then != NO_STATEMENT;
    if (!PQenterPipelineMode(pg))
        return TDB_RUN_NOT_SENT;
    if ((used[STEP_PID] &&
         !PQsendQueryParams(pg, tdb_sql_get(TDB_SQL_BACKEND_PID)->text, 0, NULL, NULL, NULL, NULL, 0)) ||
        (used[STEP_BEGIN] &&
         !PQsendQueryParams(pg, tdb_sql_get(TDB_SQL_BEGIN)->text, 0, NULL, NULL, NULL, NULL, 0)) ||
        (used[STEP_BEFORE] && !send_plain(conn, around->before)) ||
        (used[STEP_PREPARE] &&
         !PQsendPrepare(pg, tdb_sql_prepared_name(id), sql->text, sql->nparams, NULL)) ||
        !send_statement(conn, id, sql, named, p) ||
        (used[STEP_THEN] && !send_plain(conn, around->then))) {
        /* Nothing has left: libpq flushes a pipeline at its Sync. */
        tdb_conn_drop(conn);
        return TDB_RUN_NOT_SENT;
    }
    if (!PQpipelineSync(pg))
        goto lost;
    conn->round_trips++;
    for (int i = 0; i < STEP_COUNT; i++) {
        PGresult *res;
        if (!used[i])
            continue;
        while ((r = tdb_next_result(conn, deadline, &timed_out, &res)) == 0 && res) {
            if (!step[i])
                step[i] = res;
            else
                step[i] = tdb_keep_first_error(step[i], res);
        }
        if (r != 0)
            goto lost;
    }
    /* The Sync's own result, then the pipeline is idle. */
    {
        PGresult *sync = NULL;
        r = tdb_next_result(conn, deadline, &timed_out, &sync);
        if (r == 0 && PQresultStatus(sync) != PGRES_PIPELINE_SYNC)
            r = -1;
        PQclear(sync);
        if (r != 0 || !PQexitPipelineMode(pg))
            goto lost;
    }
    note_steps(conn, id, step, used);
    /* The first failed step is the statement's outcome (the rest were skipped). */
    for (int i = 0; i < STEP_THEN; i++) {
        if (!used[i] || PQresultStatus(step[i]) == PGRES_PIPELINE_ABORTED)
            continue;
        if (i == STEP_PREPARE && conn->prepared[id] &&
            PQresultStatus(step[i]) != PGRES_COMMAND_OK) {
            /* A name another session already prepared: run it now, on its own. */
            st = TDB_RUN_NOT_SENT;
            break;
        }
        st = result_status(conn, step[i], timed_out);
        if (st != TDB_RUN_OK || i == STEP_RUN) {
            *out = step[i];
            step[i] = NULL;
            break;
        }
    }
    if (st == TDB_RUN_OK && used[STEP_BEFORE]) {
        around->before_res = step[STEP_BEFORE];
        step[STEP_BEFORE] = NULL;
    }
    if (st == TDB_RUN_OK && used[STEP_THEN]) {
        around->then_res = step[STEP_THEN];
        step[STEP_THEN] = NULL;
    }
    for (int i = 0; i < STEP_COUNT; i++)
        PQclear(step[i]);
    if (st == TDB_RUN_NOT_SENT) {
        if (used[STEP_THEN] || used[STEP_BEFORE])
            return run_exchange(conn, id, sql, p, deadline, around, out);
        if (!send_statement(conn, id, sql, named, p))
            return PQstatus(pg) == CONNECTION_OK ? TDB_RUN_SERVER_ERROR : TDB_RUN_NOT_SENT;
        return tdb_collect(conn, deadline, out);
    }
    return st;

lost:
    for (int i = 0; i < STEP_COUNT; i++)
        PQclear(step[i]);
    if (r == -2)
        return TDB_RUN_TIMEOUT_LOST;
    /* Whatever was in flight is unknown; a pending BEGIN means nothing committed. */
    tdb_conn_drop(conn);
    return TDB_RUN_LOST;
}

static tdb_run_status run_once(tdb_conn *conn, tdb_sql_id id, const tdb_params *p,
                               tdb_around *around, PGresult **out)
{
    const tdb_sql *sql = tdb_sql_get(id);
    double deadline = conn->statement_timeout > 0 ? tdb_now() + conn->statement_timeout : 0;
    int named = conn->use_prepared && sql->prepare;

    *out = NULL;
    if (conn->proxy_unknown || conn->begin_pending || (named && !conn->prepared[id]) ||
        around)
        return run_exchange(conn, id, sql, p, deadline, around, out);
    if (!send_statement(conn, id, sql, named, p))
        return PQstatus(conn->pg) == CONNECTION_OK ? TDB_RUN_SERVER_ERROR : TDB_RUN_NOT_SENT;
    return tdb_collect(conn, deadline, out);
}

/* Whether a read may go out without the pre-send socket probe (see may_resend). */
static int skips_probe(const tdb_conn *conn, const tdb_sql *sql, int attempt)
{
    return sql->is_read && conn->txn_depth == 0 && attempt == 0;
}

/*
 * May a statement whose connection failed be sent again on a fresh one?
 * Never inside a transaction (the server rolled it back).  Not sent at
 * all, or sent with the transaction's BEGIN and no COMMIT: yes.  Sent and lost: only a read, and only once — unless the
 * answer was the server's goodbye to an unprobed read, which is what the
 * skipped probe would have found, so it does not use up that one resend.
 */
static int may_resend(const tdb_conn *conn, const tdb_sql *sql, tdb_run_status st,
                      int commits, int unprobed_goodbye, int *resent)
{
    /* Its BEGIN went in the same exchange, and no COMMIT: nothing of it can have committed. */
    if (conn->begin_pending && !(commits && st == TDB_RUN_LOST))
        return 1;
    if (conn->txn_depth > 0)
        return 0;
    if (st == TDB_RUN_NOT_SENT)
        return 1;
    if (st != TDB_RUN_LOST || !sql->is_read)
        return 0;
    if (unprobed_goodbye)
        return 1;
    if (*resent)
        return 0;
    *resent = 1;
    return 1;
}

/* A named statement gone missing: a pooler moved us to another backend. */
static int lost_prepared_statement(tdb_conn *conn, const PGresult *res)
{
    if (!conn->use_prepared || conn->txn_depth > 0 ||
        !tdb_result_is(res, TDB_SQLSTATE_UNDEFINED_PSTATEMENT))
        return 0;
    conn->use_prepared = 0;
    conn->proxy = 1;
    return 1;
}

static void lost_error(const tdb_conn *conn, const tdb_sql *sql, tdb_error *err)
{
    if (conn->txn_depth > 0) {
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

static void timeout_error(const tdb_conn *conn, const tdb_sql *sql, tdb_run_status st,
                          tdb_error *err)
{
    if (st == TDB_RUN_TIMEOUT) {
        if (tdb_interrupt_taken())   /* the host's Ctrl-C, not the deadline */
            tdb_error_set(err, TDB_TIMEOUT, NULL, "%s: interrupted; cancelled on the server%s",
                          sql->label, sql->is_read ? "" : "; nothing was applied");
        else
            tdb_error_set(err, TDB_TIMEOUT, NULL,
                          "%s: cancelled on the server after statement_timeout (%g s)%s",
                          sql->label, conn->statement_timeout,
                          sql->is_read ? "" : "; nothing was applied");
        snprintf(err->sqlstate, sizeof err->sqlstate, "%s", TDB_SQLSTATE_QUERY_CANCELED);
    } else {
        tdb_error_set(err, TDB_TIMEOUT, NULL,
                      "%s: no answer within statement_timeout (%g s) nor to the cancel; "
                      "the connection was dropped%s",
                      sql->label, conn->statement_timeout,
                      sql->is_read ? "" : " and the outcome is unknown");
    }
}

static PGresult *exec_around(tdb_conn *conn, tdb_sql_id id, const tdb_params *params,
                             tdb_around *around, tdb_error *err)
{
    const tdb_sql *sql = tdb_sql_get(id);
    PGresult *res = NULL, *out = NULL;
    int attempt, resent = 0;

    if (!sql->is_read)
        tdb_route_note_write(conn);
    for (attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        int probe = !skips_probe(conn, sql, attempt);
        tdb_run_status st;
        PQclear(res);
        res = NULL;
        if (tdb_conn_ensure_live(conn, probe, err) != 0)
            goto done;
        st = run_once(conn, id, params, around, &res);
        if (st == TDB_RUN_OK) {
            out = res;
            res = NULL;
            goto done;
        }
        if (st == TDB_RUN_SERVER_ERROR) {
            if (lost_prepared_statement(conn, res)) {
                conn->resends++;
                continue;
            }
            tdb_error_from_result(err, conn->pg, res, sql->label);
            goto done;
        }
        if (st == TDB_RUN_TIMEOUT || st == TDB_RUN_TIMEOUT_LOST) {
            timeout_error(conn, sql, st, err);
            goto done;
        }
        /* Not sent, or lost: the connection is gone either way. */
        {
            int unprobed_goodbye = !probe && st == TDB_RUN_LOST &&
                                   tdb_sqlstate_in(res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL,
                                                   TDB_SQLSTATE_PREFIX_SESSION_ENDING);
            if (may_resend(conn, sql, st, around && around->then != NO_STATEMENT,
                           unprobed_goodbye, &resent)) {
                if (st == TDB_RUN_LOST)
                    conn->resends++;
                tdb_conn_drop(conn);
                continue;
            }
            lost_error(conn, sql, err);
            tdb_conn_lose(conn);
            goto done;
        }
    }
    tdb_error_set(err, TDB_CONNECTION, NULL, "%s: the connection keeps failing", sql->label);
done:
    PQclear(res);
    return out;
}

/* The one emit point of single statements: counted, and traced when a tracer is set. */
PGresult *tdb_conn_exec_around(tdb_conn *conn, tdb_sql_id id, const tdb_params *params,
                               tdb_around *around, tdb_error *err)
{
    tdb_trace_mark m;
    PGresult *res;
    double end;

    tdb_error_clear(err);
    if (!conn) {
        tdb_error_set(err, TDB_CLOSED, NULL, "the connection is closed");
        return NULL;
    }
    tdb_trace_begin(conn, &m);
    res = exec_around(conn, id, params, around, err);
    end = tdb_trace_count(conn, &m, 1);
    if (conn->trace)
        tdb_trace_statement(conn, &m, end, id, around ? around->then : NO_STATEMENT, res,
                            res && around ? around->then_res : NULL, err);
    return res;
}

PGresult *tdb_conn_exec_quiet(tdb_conn *conn, tdb_sql_id id, const tdb_params *params,
                              tdb_error *err)
{
    tdb_error_clear(err);
    return exec_around(conn, id, params, NULL, err);
}

PGresult *tdb_conn_exec(tdb_conn *conn, tdb_sql_id id, const tdb_params *params,
                        tdb_error *err)
{
    if (conn && tdb_route_wants(conn, id))
        return tdb_route_read(conn, id, params, err);
    return tdb_conn_exec_around(conn, id, params, NULL, err);
}

int tdb_conn_run(tdb_conn *conn, tdb_sql_id id, const tdb_params *params, tdb_error *err)
{
    PGresult *res = tdb_conn_exec(conn, id, params, err);
    if (!res)
        return -1;
    PQclear(res);
    return 0;
}

int tdb_conn_ping(tdb_conn *conn, tdb_error *err)
{
    return tdb_conn_run(conn, TDB_SQL_PING, NULL, err);
}

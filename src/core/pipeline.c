/*
 * pipeline.c — many independent statements, sent without waiting.
 *
 * Calls go into libpq's buffer in non-blocking mode and are flushed every
 * FLUSH_EVERY calls; whatever the server has answered is read in between,
 * so neither side can block the other however long the pipeline.  Each
 * call ends with a Sync of its own, so one refused call does not abort
 * the next.  Statements already prepared on the connection run by name,
 * the rest unnamed (a failed Parse cannot strand the calls behind it).
 * statement_timeout bounds the wait for each next answer: past it the
 * statement running is cancelled once, and a server that does not answer
 * within the grace period after that is dropped.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline.h"
#include "trace_internal.h"

#define FLUSH_EVERY 64   /* calls queued between attempts to send */

/* What travels before a call in its Sync segment (only ever the first call). */
enum { STEP_PROXY = 1, STEP_BEGIN = 2 };
/* Where the reader is within a call: its steps, its own result, its Sync. */
enum { PHASE_PROXY, PHASE_BEGIN, PHASE_MAIN, PHASE_SYNC };

typedef struct call {
    tdb_sql_id id;
    int nparams;
    char *store;                        /* the parameters' bytes, one block */
    const char *values[TDB_MAX_PARAMS]; /* into store; NULL is SQL NULL */
    int steps;                          /* STEP_* sent before it */
    int sent;                           /* handed to libpq */
    int skipped;                        /* no statement: nothing to send (TDB_SQL_NONE) */
    PGresult *result;                   /* the answer, or */
    tdb_error *error;                   /* why there is none (NULL and no result: out of memory) */
    double done;                        /* when its outcome came (traced only) */
    unsigned resends, reconnects, retries;   /* for its outcome */
} call;

struct tdb_pipeline {
    call *calls;
    size_t n, cap;
};

typedef struct reader {
    size_t next;        /* the call being read */
    int phase;
    PGresult *held;     /* the current step's result so far */
} reader;

tdb_pipeline *tdb_pipeline_new(void)
{
    return calloc(1, sizeof(tdb_pipeline));
}

void tdb_pipeline_free(tdb_pipeline *pl)
{
    if (!pl)
        return;
    for (size_t i = 0; i < pl->n; i++) {
        free(pl->calls[i].store);
        PQclear(pl->calls[i].result);
        free(pl->calls[i].error);
    }
    free(pl->calls);
    free(pl);
}

size_t tdb_pipeline_count(const tdb_pipeline *pl)
{
    return pl ? pl->n : 0;
}

int tdb_pipeline_add(tdb_pipeline *pl, tdb_sql_id id, const tdb_params *params, tdb_error *err)
{
    int n = params ? params->n : 0;
    size_t bytes = 0;
    call *c;
    char *p;
    if (pl->n == pl->cap) {
        size_t cap = pl->cap ? pl->cap * 2 : 16;
        call *grown = realloc(pl->calls, cap * sizeof *grown);
        if (!grown)
            goto nomem;
        pl->calls = grown;
        pl->cap = cap;
    }
    for (int i = 0; i < n; i++)
        if (params->values[i])
            bytes += strlen(params->values[i]) + 1;
    c = &pl->calls[pl->n];
    memset(c, 0, sizeof *c);
    c->store = p = malloc(bytes ? bytes : 1);
    if (!p)
        goto nomem;
    c->id = id;
    c->skipped = id == TDB_SQL_NONE;
    c->nparams = n;
    for (int i = 0; i < n; i++) {
        if (params->values[i]) {
            size_t len = strlen(params->values[i]) + 1;
            memcpy(p, params->values[i], len);
            c->values[i] = p;
            p += len;
        }
    }
    pl->n++;
    return 0;
nomem:
    tdb_error_set(err, TDB_NOMEM, NULL, "not enough memory");
    return -1;
}

static void call_fail(call *c, const tdb_error *err)
{
    if (c->error || c->result)
        return;
    c->error = malloc(sizeof *c->error);
    if (c->error)
        *c->error = *err;
}

int tdb_pipeline_skipped(const tdb_pipeline *pl, size_t i)
{
    return pl->calls[i].skipped;
}

/* The first call from i on that has a statement (pl->n: none). */
static size_t skip_ahead(const tdb_pipeline *pl, size_t i)
{
    while (i < pl->n && pl->calls[i].skipped)
        i++;
    return i;
}

const PGresult *tdb_pipeline_result(const tdb_pipeline *pl, size_t i, tdb_error *err)
{
    const call *c = &pl->calls[i];
    tdb_error_clear(err);
    if (c->result)
        return c->result;
    if (c->error)
        *err = *c->error;
    else
        tdb_error_set(err, TDB_NOMEM, NULL, "not enough memory");
    return NULL;
}

/* The call, with the proxy check and a pending BEGIN before the first one. */
static int send_call(tdb_conn *conn, call *c, int first)
{
    PGconn *pg = conn->pg;
    const tdb_sql *sql = tdb_sql_get(c->id);
    int named = conn->use_prepared && !conn->proxy_unknown && sql->prepare &&
                conn->prepared[c->id];
    c->steps = 0;
    if (first && conn->proxy_unknown) {
        if (!PQsendQueryParams(pg, tdb_sql_get(TDB_SQL_BACKEND_PID)->text, 0, NULL, NULL, NULL, NULL, 0))
            return -1;
        c->steps |= STEP_PROXY;
    }
    if (first && conn->begin_pending) {
        if (!PQsendQueryParams(pg, tdb_sql_get(TDB_SQL_BEGIN)->text, 0, NULL, NULL, NULL, NULL, 0))
            return -1;
        c->steps |= STEP_BEGIN;
    }
    if (named ? !PQsendQueryPrepared(pg, tdb_sql_prepared_name(c->id), c->nparams, c->values,
                                     NULL, NULL, sql->binary)
              : !PQsendQueryParams(pg, sql->text, c->nparams, NULL, c->values, NULL, NULL,
                                   sql->binary))
        return -1;
    if (!PQpipelineSync(pg))
        return -1;
    c->sent = 1;
    return 0;
}

static int first_phase(const call *c)
{
    if (c->steps & STEP_PROXY)
        return PHASE_PROXY;
    return (c->steps & STEP_BEGIN) ? PHASE_BEGIN : PHASE_MAIN;
}

static int next_phase(const call *c, int phase)
{
    if (phase == PHASE_PROXY && (c->steps & STEP_BEGIN))
        return PHASE_BEGIN;
    return phase == PHASE_MAIN ? PHASE_SYNC : PHASE_MAIN;
}

static void fail_from_result(tdb_conn *conn, call *c, const PGresult *res)
{
    tdb_error e;
    if (!res || PQresultStatus(res) == PGRES_PIPELINE_ABORTED) {
        tdb_error_set(&e, TDB_DATABASE, NULL, "%s: not run: an earlier step failed",
                      tdb_sql_get(c->id)->label);
    } else {
        tdb_error_from_result(&e, conn->pg, res, tdb_sql_get(c->id)->label);
    }
    call_fail(c, &e);
}

static int ends_session(const PGresult *res)
{
    const char *severity = res ? PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED) : NULL;
    return severity && (strcmp(severity, "FATAL") == 0 || strcmp(severity, "PANIC") == 0);
}

/* One step's results are in (`held`, owned here): what they mean. */
static void finish_phase(tdb_conn *conn, call *c, int phase, PGresult *held)
{
    ExecStatusType st = held ? PQresultStatus(held) : PGRES_FATAL_ERROR;
    /* The server's goodbye (a FATAL error ends the session) is no answer: left to recover(). */
    if (PQstatus(conn->pg) != CONNECTION_OK || ends_session(held)) {
        PQclear(held);
        return;
    }
    switch (phase) {
    case PHASE_PROXY:
        if (st == PGRES_TUPLES_OK && PQntuples(held) == 1) {
            conn->proxy = atoi(PQgetvalue(held, 0, 0)) != PQbackendPID(conn->pg);
            conn->use_prepared = !conn->proxy;
            conn->proxy_unknown = 0;
        } else {
            fail_from_result(conn, c, held);
        }
        break;
    case PHASE_BEGIN:
        if (st == PGRES_COMMAND_OK)
            conn->begin_pending = 0;
        else
            fail_from_result(conn, c, held);
        break;
    default:
        if (!c->error && (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)) {
            c->result = held;
            return;
        }
        fail_from_result(conn, c, held);
        break;
    }
    PQclear(held);
}

/* Feeds one PQgetResult return to the reader.  -1: the stream is not what was sent. */
static int take(tdb_conn *conn, tdb_pipeline *pl, reader *rd, PGresult *res)
{
    call *c = &pl->calls[rd->next];
    if (rd->phase == PHASE_SYNC) {
        int ok = res && PQresultStatus(res) == PGRES_PIPELINE_SYNC;
        PQclear(res);
        if (!ok)
            return -1;
        if (conn->trace)
            c->done = tdb_now();
        rd->next = skip_ahead(pl, rd->next + 1);
        if (rd->next < pl->n)
            rd->phase = first_phase(&pl->calls[rd->next]);
        return 0;
    }
    if (res) {
        rd->held = tdb_keep_first_error(rd->held, res);
        return 0;
    }
    finish_phase(conn, c, rd->phase, rd->held);
    rd->held = NULL;
    rd->phase = next_phase(c, rd->phase);
    return 0;
}

typedef enum exchange_end { EXCHANGE_DONE, EXCHANGE_LOST, EXCHANGE_TIMED_OUT } exchange_end;

static exchange_end exchange(tdb_conn *conn, tdb_pipeline *pl, reader *rd)
{
    PGconn *pg = conn->pg;
    double timeout = conn->statement_timeout;
    double deadline = timeout > 0 ? tdb_now() + timeout : 0;
    size_t queued = 0;
    int output_waiting = 0, cancelled = 0, any_sent = 0, unflushed = 0;
    struct pollfd pfd;

    if (!PQenterPipelineMode(pg))
        return EXCHANGE_LOST;
    if (PQsetnonblocking(pg, 1) != 0)
        return EXCHANGE_LOST;
    pfd.fd = PQsocket(pg);
    rd->next = skip_ahead(pl, 0);
    while (rd->next < pl->n) {
        int progress = 0, r;
        /* Queue more while libpq's output drains. */
        while (queued < pl->n && !output_waiting) {
            call *c = &pl->calls[queued++];
            if (!c->skipped) {
                if (send_call(conn, c, !any_sent) != 0)
                    return EXCHANGE_LOST;
                if (!any_sent)
                    rd->phase = first_phase(c);
                any_sent = 1;
                unflushed++;
            }
            if (unflushed >= FLUSH_EVERY || (queued == pl->n && unflushed > 0)) {
                if ((r = PQflush(pg)) < 0)
                    return EXCHANGE_LOST;
                output_waiting = r == 1;
                unflushed = 0;
            }
        }
        if (output_waiting) {
            if ((r = PQflush(pg)) < 0)
                return EXCHANGE_LOST;
            output_waiting = r == 1;
        }
        /* Read whatever has been answered. */
        if (!PQconsumeInput(pg))
            return EXCHANGE_LOST;
        while (rd->next < queued && !PQisBusy(pg)) {
            if (take(conn, pl, rd, PQgetResult(pg)) != 0)
                return EXCHANGE_LOST;
            progress = 1;
        }
        if (rd->next >= pl->n)
            break;
        if (progress) {
            deadline = timeout > 0 ? tdb_now() + timeout : 0;
            cancelled = 0;
            continue;
        }
        if (queued < pl->n && !output_waiting)
            continue;
        pfd.events = POLLIN | (output_waiting ? POLLOUT : 0);
        r = tdb_poll_until(&pfd, deadline);
        if (r < 0)
            return EXCHANGE_LOST;
        if (r == 0) {
            if (cancelled)
                return EXCHANGE_TIMED_OUT;
            tdb_cancel_bounded(pg, TDB_CANCEL_GRACE);
            cancelled = 1;
            deadline = tdb_now() + TDB_CANCEL_GRACE;
        }
    }
    if (PQsetnonblocking(pg, 0) != 0 || !PQexitPipelineMode(pg))
        return EXCHANGE_LOST;
    return EXCHANGE_DONE;
}

static void unknown_outcome(call *c, const char *why)
{
    tdb_error e;
    tdb_error_set(&e, TDB_CONNECTION, NULL,
                  "%s: %s after the statement was sent; its outcome is unknown "
                  "(it may or may not have been applied)",
                  tdb_sql_get(c->id)->label, why);
    call_fail(c, &e);
}

/* A call run again on its own: part of the pipeline's trace, not an event of its own. */
static void run_alone(tdb_conn *conn, call *c, const tdb_params *p)
{
    unsigned long long resends = conn->resends;
    unsigned reconnects = conn->reconnects, retries = conn->connect_retries;
    tdb_error e;
    if (c->sent)
        conn->resends++;   /* it left in the pipeline: this sends it again */
    c->result = tdb_conn_exec_quiet(conn, c->id, p, &e);
    if (!c->result)
        call_fail(c, &e);
    c->resends += (unsigned)(conn->resends - resends);
    c->reconnects += conn->reconnects - reconnects;
    c->retries += conn->connect_retries - retries;
    if (conn->trace)
        c->done = tdb_now();
}

/*
 * After a lost connection, every call without an outcome gets one.  In a
 * transaction that had begun, all of them fail (the server rolled it back);
 * otherwise calls that never left and reads are run again one by one, and
 * writes that left are reported as unknown.
 */
static void recover(tdb_conn *conn, tdb_pipeline *pl, const reader *rd, exchange_end how)
{
    int txn_lost = conn->txn_depth > 0 && !conn->begin_pending;
    tdb_error e;
    PQclear(rd->held);
    if (how == EXCHANGE_TIMED_OUT && rd->next < pl->n) {
        call *c = &pl->calls[rd->next];
        tdb_error_set(&e, TDB_TIMEOUT, NULL,
                      "%s: no answer within statement_timeout (%g s) nor to the cancel; "
                      "the connection was dropped%s",
                      tdb_sql_get(c->id)->label, conn->statement_timeout,
                      tdb_sql_get(c->id)->is_read ? "" : " and the outcome is unknown");
        call_fail(c, &e);
    }
    /*
     * A write answered but whose Sync was not: outside a transaction its
     * commit comes with that Sync, so its outcome is unknown after all.
     */
    if (rd->next < pl->n && rd->phase == PHASE_SYNC && conn->txn_depth == 0) {
        call *c = &pl->calls[rd->next];
        if (c->result && !tdb_sql_get(c->id)->is_read) {
            PQclear(c->result);
            c->result = NULL;
            unknown_outcome(c, "the connection was lost");
        }
    }
    tdb_conn_lose(conn);
    for (size_t i = rd->next; i < pl->n; i++) {
        call *c = &pl->calls[i];
        tdb_params p;
        if (c->result || c->error || c->skipped)
            continue;
        if (txn_lost) {
            tdb_error_set(&e, TDB_CONNECTION, NULL,
                          "%s: the connection was lost inside a transaction; "
                          "the server rolled it back", tdb_sql_get(c->id)->label);
            call_fail(c, &e);
            continue;
        }
        if (c->sent && !tdb_sql_get(c->id)->is_read && !conn->begin_pending) {
            unknown_outcome(c, "the connection was lost");
            continue;
        }
        p.n = c->nparams;
        memcpy(p.values, c->values, sizeof p.values);
        run_alone(conn, c, &p);
    }
}

/* One event per call, in order; `failed`: why none was sent. */
static void trace_calls(tdb_conn *conn, const tdb_pipeline *pl, const tdb_trace_mark *m,
                        double end, const tdb_error *failed)
{
    for (size_t i = 0; i < pl->n; i++) {
        const call *c = &pl->calls[i];
        tdb_trace_event ev;
        if (c->skipped)   /* no statement, no event */
            continue;
        tdb_trace_init(conn, m, c->done > 0 ? c->done : end, TDB_TRACE_PIPELINE, c->id, &ev);
        tdb_trace_outcome(&ev, c->result, c->error ? c->error : failed);
        ev.resends = c->resends;
        ev.reconnects = c->reconnects;
        ev.retries = c->retries;
        ev.begin = ev.begin && (c->steps & STEP_BEGIN);
        ev.index = i + 1;
        tdb_trace_emit(conn, &ev);
    }
}

int tdb_pipeline_run(tdb_conn *conn, tdb_pipeline *pl, tdb_error *err)
{
    reader rd = { 0 };
    exchange_end how;
    tdb_trace_mark m;
    double end;
    size_t statements = 0;
    int rc = 0;
    tdb_error_clear(err);
    if (!conn) {
        tdb_error_set(err, TDB_CLOSED, NULL, "the connection is closed");
        return -1;
    }
    if (pl->n == 0)
        return 0;
    for (size_t i = 0; i < pl->n; i++)
        statements += !pl->calls[i].skipped;
    tdb_trace_begin(conn, &m);
    if (tdb_conn_ensure_live(conn, 1, err) != 0) {
        rc = -1;
    } else {
        size_t first = skip_ahead(pl, 0);
        for (size_t i = first; i < pl->n; i++) {
            if (pl->calls[i].skipped)   /* no statement to look up */
                continue;
            if (!tdb_sql_get(pl->calls[i].id)->is_read)
                tdb_route_note_write(conn);
            tdb_route_note_pipeline_read(conn, pl->calls[i].id);
        }
        if (first < pl->n) {
            /* A reconnect before anything was sent belongs to the first call. */
            pl->calls[first].reconnects = conn->reconnects - m.reconnects;
            pl->calls[first].retries = conn->connect_retries - m.connect_retries;
            conn->round_trips++;   /* however many calls: they do not wait for each other */
        }
        how = exchange(conn, pl, &rd);
        if (how != EXCHANGE_DONE)
            recover(conn, pl, &rd, how);
    }
    end = tdb_trace_count(conn, &m, statements);
    if (conn->trace)
        trace_calls(conn, pl, &m, end, rc != 0 ? err : NULL);
    return rc;
}

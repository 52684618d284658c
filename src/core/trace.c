/*
 * trace.c — trace events: building them from what a call did, the
 * key=value line, the stderr tracer and TASKDB_TRACE.
 *
 * An event carries only what cannot hold a user's value or a secret:
 * catalogue labels, numbers, the host and port, the error kind and the
 * SQLSTATE.  Server messages can quote a parameter ("invalid input syntax
 * ...: \"x\""), so they never go into an event.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace_internal.h"

const char *tdb_trace_kind_name(tdb_trace_kind kind)
{
    switch (kind) {
    case TDB_TRACE_STATEMENT: return "statement";
    case TDB_TRACE_COPY:      return "copy";
    case TDB_TRACE_PIPELINE:  return "pipeline";
    }
    return "?";
}

/* The COMMIT or RELEASE sent after a statement succeeded (COMMIT of an aborted transaction says ROLLBACK). */
static int ended_ok(const PGresult *res)
{
    return res && PQresultStatus(res) == PGRES_COMMAND_OK &&
           strcmp(PQcmdStatus((PGresult *)res), "ROLLBACK") != 0;
}

static long long rows_of(const PGresult *res)
{
    const char *n;
    if (PQresultStatus(res) == PGRES_TUPLES_OK)
        return PQntuples(res);
    n = PQcmdTuples((PGresult *)res);
    return n && *n ? strtoll(n, NULL, 10) : 0;
}

void tdb_trace_init(const tdb_conn *conn, const tdb_trace_mark *m, double end,
                    tdb_trace_kind kind, tdb_sql_id id, tdb_trace_event *ev)
{
    memset(ev, 0, sizeof *ev);
    ev->kind = kind;
    ev->label = tdb_sql_get(id)->label;
    ev->ms = (end - m->t0) * 1000.0;
    ev->resends = (unsigned)(conn->resends - m->resends);
    ev->reconnects = conn->reconnects - m->reconnects;
    ev->retries = conn->connect_retries - m->connect_retries;
    ev->begin = m->begin_pending && !conn->begin_pending;
    ev->sqlstate = "";
}

void tdb_trace_outcome(tdb_trace_event *ev, const PGresult *res, const tdb_error *err)
{
    if (res) {
        ev->ok = 1;
        ev->rows = rows_of(res);
        ev->error = TDB_OK;
        ev->sqlstate = "";
    } else {
        ev->ok = 0;
        ev->rows = 0;
        ev->error = err ? err->kind : TDB_NOMEM;
        ev->sqlstate = err ? err->sqlstate : "";
    }
}

void tdb_trace_emit(tdb_conn *conn, tdb_trace_event *ev)
{
    const char *host = conn->pg ? PQhost(conn->pg) : conn->last_host;
    const char *port = conn->pg ? PQport(conn->pg) : conn->last_port;
    ev->host = host ? host : "";
    ev->port = port ? port : "";
    conn->trace(conn->trace_ctx, ev);
}

void tdb_trace_statement(tdb_conn *conn, const tdb_trace_mark *m, double end, tdb_sql_id id,
                         tdb_sql_id then, const PGresult *res, const PGresult *then_res,
                         const tdb_error *err)
{
    tdb_trace_event ev;
    tdb_trace_init(conn, m, end, TDB_TRACE_STATEMENT, id, &ev);
    tdb_trace_outcome(&ev, res, err);
    if (then == TDB_SQL_COMMIT || then == TDB_SQL_RELEASE) {
        ev.ends = tdb_sql_get(then)->label;
        /* The statement ran but its COMMIT failed: the round trip failed. */
        if (res && !ended_ok(then_res)) {
            tdb_error why;
            const char *state = then_res ? PQresultErrorField(then_res, PG_DIAG_SQLSTATE) : NULL;
            tdb_error_clear(&why);
            if (then_res && PQresultStatus(then_res) == PGRES_FATAL_ERROR)
                tdb_error_from_result(&why, conn->pg, then_res, NULL);
            else
                why.kind = TDB_DATABASE;
            ev.ok = 0;
            ev.rows = 0;
            ev.error = why.kind;
            ev.sqlstate = state ? state : "";
        }
    }
    tdb_trace_emit(conn, &ev);
}

void tdb_trace_keep_host(tdb_conn *conn)
{
    const char *host = PQhost(conn->pg), *port = PQport(conn->pg);
    snprintf(conn->last_host, sizeof conn->last_host, "%s", host ? host : "");
    snprintf(conn->last_port, sizeof conn->last_port, "%s", port ? port : "");
}

/* Appends to a line that snprintf may already have truncated. */
static void append(char *buf, size_t cap, int *used, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void append(char *buf, size_t cap, int *used, const char *fmt, ...)
{
    va_list ap;
    int n;
    size_t at = *used < 0 ? cap : (size_t)*used;
    va_start(ap, fmt);
    n = vsnprintf(at < cap ? buf + at : NULL, at < cap ? cap - at : 0, fmt, ap);
    va_end(ap);
    if (n < 0 || *used < 0)
        *used = -1;
    else
        *used += n;
}

/* A value as one logfmt token: quoted when empty or holding a blank, '"', '=' or '\'. */
static void append_value(char *buf, size_t cap, int *used, const char *key, const char *v)
{
    if (*v && !strpbrk(v, " \t\r\n\"=\\")) {
        append(buf, cap, used, " %s=%s", key, v);
        return;
    }
    append(buf, cap, used, " %s=\"", key);
    for (; *v; v++)
        append(buf, cap, used, (*v == '"' || *v == '\\') ? "\\%c" : "%c",
               (*v == '\n' || *v == '\r' || *v == '\t') ? ' ' : *v);
    append(buf, cap, used, "\"");
}

int tdb_trace_format(char *buf, size_t cap, const tdb_trace_event *ev)
{
    int used = 0;
    if (cap > 0)
        buf[0] = '\0';
    append(buf, cap, &used, "taskdb trace: label=%s kind=%s ok=%s ms=%.3f rows=%lld",
           ev->label ? ev->label : "?", tdb_trace_kind_name(ev->kind),
           ev->ok ? "true" : "false", ev->ms, ev->rows);
    append_value(buf, cap, &used, "host", ev->host ? ev->host : "");
    append_value(buf, cap, &used, "port", ev->port ? ev->port : "");
    append(buf, cap, &used, " resends=%u reconnects=%u retries=%u",
           ev->resends, ev->reconnects, ev->retries);
    if (!ev->ok)
        append(buf, cap, &used, " error=%s", tdb_kind_name(ev->error));
    if (ev->sqlstate && ev->sqlstate[0])
        append(buf, cap, &used, " sqlstate=%s", ev->sqlstate);
    if (ev->begin)
        append(buf, cap, &used, " begin=true");
    if (ev->ends)
        append(buf, cap, &used, " ends=%s", ev->ends);
    if (ev->aborted)
        append(buf, cap, &used, " aborted=true");
    if (ev->index > 0)
        append(buf, cap, &used, " index=%zu", ev->index);
    return used;
}

void tdb_trace_stderr(void *ctx, const tdb_trace_event *ev)
{
    char line[768];
    int n;
    (void)ctx;
    n = tdb_trace_format(line, sizeof line - 1, ev);
    if (n < 0)
        return;
    if ((size_t)n > sizeof line - 2)
        n = (int)(sizeof line - 2);
    line[n] = '\n';
    /* One write per line: lines of concurrent processes do not interleave. */
    fwrite(line, 1, (size_t)n + 1, stderr);
}

/* TASKDB_TRACE=1 beside the caller's own tracer. */
static void trace_both(void *ctx, const tdb_trace_event *ev)
{
    tdb_conn *conn = ctx;
    tdb_trace_stderr(NULL, ev);
    if (conn->trace_user)
        conn->trace_user(conn->trace_user_ctx, ev);
}

void tdb_conn_set_trace(tdb_conn *conn, tdb_trace_fn fn, void *ctx)
{
    if (!conn)
        return;
    conn->trace_user = fn;
    conn->trace_user_ctx = ctx;
    tdb_route_set_trace(conn, fn, ctx);
    if (conn->trace_stderr && fn) {
        conn->trace = trace_both;
        conn->trace_ctx = conn;
    } else if (conn->trace_stderr) {
        conn->trace = tdb_trace_stderr;
        conn->trace_ctx = NULL;
    } else {
        conn->trace = fn;
        conn->trace_ctx = ctx;
    }
}

void tdb_trace_setup(tdb_conn *conn, tdb_trace_fn fn, void *ctx)
{
    const char *env = getenv("TASKDB_TRACE");
    conn->trace_stderr = env && *env && strcmp(env, "0") != 0;
    tdb_conn_set_trace(conn, fn, ctx);
}

/*
 * trace_internal.h — counting statements and emitting trace events at the
 * core's emit points: exec.c (one statement), copy.c (a COPY), pipeline.c
 * (each call).  Counting is always on and costs a clock read at each end
 * of a call; an event is built only when conn->trace is set.
 */
#ifndef TDB_TRACE_INTERNAL_H
#define TDB_TRACE_INTERNAL_H

#include "conn_internal.h"

/* TASKDB_TRACE and the caller's tracer, for a new connection (conn.c). */
void tdb_trace_setup(tdb_conn *conn, tdb_trace_fn fn, void *ctx);

/* Keeps the host and port of a connection about to be dropped, for its events. */
void tdb_trace_keep_host(tdb_conn *conn);

/* A few loads and stores, whether tracing is on or not: a tracer set meanwhile finds them. */
static inline void tdb_trace_begin(tdb_conn *conn, tdb_trace_mark *m)
{
    m->t0 = tdb_now();
    m->resends = conn->resends;
    m->reconnects = conn->reconnects;
    m->connect_retries = conn->connect_retries;
    m->begin_pending = conn->begin_pending;
}

/* `statements` statements begun at `m` are over: counts them; returns the time now. */
static inline double tdb_trace_count(tdb_conn *conn, const tdb_trace_mark *m,
                                     unsigned long long statements)
{
    double now = tdb_now();
    conn->statements += statements;
    conn->wait_seconds += now - m->t0;
    return now;
}

/* An event begun at `m` and ending at `end`: time, counters, whether BEGIN went with it. */
void tdb_trace_init(const tdb_conn *conn, const tdb_trace_mark *m, double end,
                    tdb_trace_kind kind, tdb_sql_id id, tdb_trace_event *ev);

/* ok, rows, error and sqlstate: from the result, or (res NULL) from err. */
void tdb_trace_outcome(tdb_trace_event *ev, const PGresult *res, const tdb_error *err);

/* Adds the host and port and hands the event to the tracer (which must be set). */
void tdb_trace_emit(tdb_conn *conn, tdb_trace_event *ev);

/*
 * A statement run by tdb_conn_exec_around is over: its event, with `then`
 * (TDB_SQL_NONE: none) and its result when it is a COMMIT or RELEASE.
 */
void tdb_trace_statement(tdb_conn *conn, const tdb_trace_mark *m, double end, tdb_sql_id id,
                         tdb_sql_id then, const PGresult *res, const PGresult *then_res,
                         const tdb_error *err);

#endif

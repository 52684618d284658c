/*
 * trace.h — one event per statement, for logs and metrics.
 *
 * A connection with a tracer (tdb_conn_options.trace, or
 * tdb_conn_set_trace) calls it once for every catalogue statement the core
 * runs on it: a single statement (with what travelled in its round trip:
 * its transaction's BEGIN, a COMMIT after it), transaction control, a whole
 * COPY, and each call of a pipeline.  TASKDB_TRACE=1 in the environment
 * adds tdb_trace_stderr to every connection made while it is set.
 *
 * An event holds the statement's catalogue label, numbers, the host, the
 * error kind and the SQLSTATE: never a parameter value, a server message
 * or a password.  The event and its strings live only during the call.
 * The tracer runs in the middle of the core's work on the connection: it
 * must not use that connection (any other is fine).  With no tracer the
 * cost is one pointer test per statement.
 */
#ifndef TDB_TRACE_H
#define TDB_TRACE_H

#include <stddef.h>

#include "error.h"

typedef enum tdb_trace_kind {
    TDB_TRACE_STATEMENT,   /* one statement, with what travelled in its round trip */
    TDB_TRACE_COPY,        /* a COPY, from the statement that starts it to its end */
    TDB_TRACE_PIPELINE     /* one call of a pipeline */
} tdb_trace_kind;

typedef struct tdb_trace_event {
    tdb_trace_kind kind;
    const char *label;     /* the catalogue's label: "get_user", "commit", "copy_start" */
    int ok;
    double ms;             /* wall time, reconnecting and resending included; a pipeline
                              call: from the start of the pipeline to its answer */
    long long rows;        /* returned, or written by a COPY; 0 when it failed */
    const char *host;      /* host name, address or socket directory (PQhost); "" if none */
    const char *port;      /* "" if none */
    unsigned resends;      /* times it was sent again after its answer was lost */
    unsigned reconnects;   /* connections re-established for it */
    unsigned retries;      /* rounds over the URL's hosts retried while re-establishing */
    tdb_kind error;        /* why it failed; TDB_OK when ok */
    const char *sqlstate;  /* the server's SQLSTATE when it failed; "" if none */
    int begin;             /* its transaction's BEGIN went in the same round trip */
    const char *ends;      /* "commit" or "release" sent in the same round trip; NULL */
    int aborted;           /* a COPY the client ended early (CopyFail): nothing written */
    size_t index;          /* a pipeline call's 1-based position; 0 otherwise */
} tdb_trace_event;

typedef void (*tdb_trace_fn)(void *ctx, const tdb_trace_event *ev);

/* "statement", "copy" or "pipeline". */
const char *tdb_trace_kind_name(tdb_trace_kind kind);

/*
 * The event as one line of key=value pairs, no newline, truncated to fit:
 * "taskdb trace: label=get_user kind=statement ok=true ms=0.213 rows=1
 * host=/run/postgresql port=5432 resends=0 reconnects=0 retries=0", then
 * "error=... sqlstate=..." on failure and begin, ends, aborted, index when
 * they apply.  Returns what snprintf returns.
 */
int tdb_trace_format(char *buf, size_t cap, const tdb_trace_event *ev);

/* A tracer that writes tdb_trace_format's line to stderr (ctx unused). */
void tdb_trace_stderr(void *ctx, const tdb_trace_event *ev);

#endif

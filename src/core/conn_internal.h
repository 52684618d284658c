/*
 * conn_internal.h — the connection struct and the statement-running
 * primitives shared by conn.c (establishing and re-establishing), exec.c
 * (one statement), txn.c (transactions) and copy.c (COPY).  Not for
 * callers outside the core.
 */
#ifndef TDB_CONN_INTERNAL_H
#define TDB_CONN_INTERNAL_H

#include <poll.h>

#include "conn.h"
#include "conninfo.h"

typedef struct tdb_router tdb_router;

/* Where a traced call started: the clock and the counters (trace_internal.h). */
typedef struct tdb_trace_mark {
    double t0;
    unsigned long long resends;
    unsigned reconnects, connect_retries;
    int begin_pending;
} tdb_trace_mark;

struct tdb_conn {
    PGconn *pg;                 /* NULL after a drop; re-established on next use */

    /* What to connect with, kept for reconnecting (owned, NULL-terminated). */
    tdb_conninfo url;           /* the URL, read (its keywords are used below) */
    const char **keywords;
    char **values;
    int remote;                 /* a TCP host other than loopback */
    int pooler_host;            /* a pooled endpoint by name (Neon: "-pooler") */

    double connect_timeout;
    double statement_timeout;
    int retries;
    tdb_prepare_mode prepare_mode;

    int use_prepared;           /* named statements on this connection */
    int proxy;                  /* backend key is not the backend's: a pooler */
    int proxy_unknown;          /* not asked yet: asked with the first statement */
    unsigned char prepared[TDB_SQL_STMT_COUNT];

    double copy_deadline;       /* statement_timeout of the COPY under way (0: none) */
    double copy_grace_end;      /* that COPY was cancelled: its last moment (0: not) */

    int goodbye;                /* the server sent FATAL outside a statement */
    int txn_depth;
    int begin_pending;          /* BEGIN not sent yet: it goes with the first statement */
    int txn_broken;             /* the connection died inside the transaction */
    unsigned reconnects;
    tdb_router *router;         /* read_url given: where reads go (route.c) */

    /* Counters (tdb_conn_info) and tracing (trace.c). */
    unsigned long long statements, round_trips, resends;
    unsigned connect_retries;   /* rounds over the hosts retried after a pause (connect.c) */
    double wait_seconds;
    tdb_trace_fn trace;         /* where events go; NULL: tracing is off */
    void *trace_ctx;
    tdb_trace_fn trace_user;    /* the caller's tracer */
    void *trace_user_ctx;
    int trace_stderr;           /* TASKDB_TRACE=1 */
    char last_host[256];        /* of the connection dropped last, for its events */
    char last_port[16];
    tdb_trace_mark copy_mark;   /* the COPY under way ... */
    tdb_sql_id copy_id;
    int copy_open;              /* ... has not had its event yet */
};

/* Monotonic seconds. */
double tdb_now(void);

/*
 * Waits for pfd's events until `deadline` (monotonic seconds; <= 0: no
 * limit), through EINTR.  1: ready; 0: the deadline came, or a
 * tdb_interrupt request (interrupt.h); -1: poll failed.
 */
int tdb_poll_until(struct pollfd *pfd, double deadline);

/*
 * Makes conn->pg usable: connects if there is none, or the server closed
 * it since the last call.  Inside a transaction it marks the transaction
 * broken instead and fails.  `probe` 0 skips asking the socket (a system
 * call) and trusts what libpq already knows: for statements that are
 * safely resent when the connection turns out to be gone.
 */
int tdb_conn_ensure_live(tdb_conn *conn, int probe, tdb_error *err);

/*
 * Connects to the first host of the URL that answers and suits its
 * target_session_attrs, retrying within connect_timeout (connect.c).
 * NULL with err set (connection, timeout or memory).
 */
PGconn *tdb_connect_hosts(tdb_conn *conn, tdb_error *err);

/* Drops the PGconn (the next call reconnects). */
void tdb_conn_drop(tdb_conn *conn);

/*
 * The connection is gone: inside a transaction the server has rolled it
 * back, so the transaction is marked broken; then the PGconn is dropped.
 */
void tdb_conn_lose(tdb_conn *conn);

/* --- read routing (route.c) ------------------------------------------------ */

enum { TDB_READ_NONE, TDB_READ_PRIMARY, TDB_READ_REPLICA };

/* NULL with err set (config: a malformed read_url; memory). */
tdb_router *tdb_router_new(const tdb_conn_options *opts, tdb_error *err);
void tdb_router_free(tdb_router *r);
/* Whether statement `id` goes through tdb_route_read now (else it is noted as read on the primary). */
int tdb_route_wants(tdb_conn *conn, tdb_sql_id id);
/* A pipelined task read: it goes to the primary. */
void tdb_route_note_pipeline_read(tdb_conn *conn, tdb_sql_id id);
PGresult *tdb_route_read(tdb_conn *conn, tdb_sql_id id, const tdb_params *p, tdb_error *err);
/* A write went to the primary: the next read must see it. */
void tdb_route_note_write(tdb_conn *conn);
/* The replica connection (and the next one) traces to `fn` too. */
void tdb_route_set_trace(tdb_conn *conn, tdb_trace_fn fn, void *ctx);
void tdb_route_info(const tdb_conn *conn, tdb_conn_info *info);

/* --- running statements (exec.c) ------------------------------------------- */

#define TDB_CANCEL_GRACE 2.0   /* seconds to wait for the server to honour a cancel */

typedef enum tdb_run_status {
    TDB_RUN_OK,
    TDB_RUN_SERVER_ERROR,   /* the server answered with an error; connection fine */
    TDB_RUN_NOT_SENT,       /* the connection failed before the statement left */
    TDB_RUN_LOST,           /* sent, and the answer was lost: outcome unknown */
    TDB_RUN_TIMEOUT,        /* cancelled on the server after statement_timeout */
    TDB_RUN_TIMEOUT_LOST    /* no answer even to the cancel: connection dropped */
} tdb_run_status;

/* Waits until libpq has a whole result (or the deadline; <= 0 means none). */
int tdb_wait_result(PGconn *pg, double deadline);

/* PQcancel on a thread, given up on after `grace` seconds. */
void tdb_cancel_bounded(PGconn *pg, double grace);

/*
 * Collects one statement's results until the connection is idle (or COPY
 * starts): the first is kept in *out (an error wins over a later result).
 * Past `deadline` the statement is cancelled once; a server that does not
 * answer the cancel either is dropped (tdb_conn_lose; TDB_RUN_TIMEOUT_LOST).
 */
tdb_run_status tdb_collect(tdb_conn *conn, double deadline, PGresult **out);

/*
 * Statements without parameters pipelined around another, in its round
 * trip and its implicit transaction: `before` (a check it depends on) and
 * `then` (TDB_SQL_COMMIT or TDB_SQL_RELEASE, or a read after it);
 * TDB_SQL_NONE for none.  Their results are set only when the statement
 * succeeded (caller clears); the server skips them when it fails.
 */
typedef struct tdb_around {
    tdb_sql_id before, then;
    PGresult *before_res, *then_res;
} tdb_around;

PGresult *tdb_conn_exec_around(tdb_conn *conn, tdb_sql_id id, const tdb_params *params,
                               tdb_around *around, tdb_error *err);

/*
 * tdb_conn_exec with no count and no trace event, for a statement that is
 * part of a call traced as a whole (a COPY, a pipeline).
 */
PGresult *tdb_conn_exec_quiet(tdb_conn *conn, tdb_sql_id id, const tdb_params *params,
                              tdb_error *err);

/*
 * Runs `id` and ends the innermost transaction level in the same round
 * trip (txn.c).  On failure the level is over (rolled back when the
 * statement failed) and err says why.
 */
PGresult *tdb_conn_exec_commit(tdb_conn *conn, tdb_sql_id id, const tdb_params *params,
                               tdb_error *err);

/*
 * Starts a batch (bulk.c) with one simple-protocol query that opens a
 * transaction level, reads one row and starts COPY (the catalogue's
 * copy_start texts).  The level is opened (txn_depth + 1) whatever
 * happens; the caller rolls it back on failure.  On success *rows gets the
 * row's result (caller clears).  Non-blocking from here to tdb_conn_copy_end.
 */
int tdb_conn_copy_start(tdb_conn *conn, tdb_sql_id id, PGresult **rows, tdb_error *err);

/* Waits for the next result, cancelling once at `deadline` (exec.c; see there). */
int tdb_next_result(tdb_conn *conn, double deadline, int *timed_out, PGresult **res);

/* Of two results of one statement, the one to keep: the first error, else the first. */
PGresult *tdb_keep_first_error(PGresult *keep, PGresult *res);

/* Whether the result's SQLSTATE is `code` (res may be NULL). */
int tdb_result_is(const PGresult *res, const char *code);

#endif

/*
 * conn.h — a connection that survives a serverless database.
 *
 * tdb_connect resolves the URL (config.h), reads and checks it before
 * anything is dialled (conninfo.h: a malformed URL or option is a config
 * error at once), adds safe defaults (UTF-8, sslmode=require for remote
 * hosts), and connects within connect_timeout, retrying connection-class
 * failures with jittered exponential backoff.
 * tdb_conn_exec runs one catalogue statement (sql.h): it re-establishes a
 * connection that died between calls, resends a read whose outcome is
 * unknown, and refuses to guess about a write.  Inside a transaction
 * nothing is resent or reconnected: the transaction is reported broken.
 *
 * Every statement can be traced (trace.h) and is counted in
 * tdb_conn_info.
 *
 * The caller owns the tdb_conn (tdb_conn_close frees it) and every
 * PGresult returned (PQclear).  Not thread-safe: one thread per tdb_conn.
 */
#ifndef TDB_CONN_H
#define TDB_CONN_H

#include <stddef.h>

#include "error.h"
#include "sql.h"
#include "trace.h"

typedef enum tdb_prepare_mode {
    TDB_PREPARE_AUTO = -1, /* named statements unless a proxy is detected */
    TDB_PREPARE_OFF = 0,   /* unnamed statements only (transaction poolers) */
    TDB_PREPARE_ON = 1     /* named statements always */
} tdb_prepare_mode;

typedef struct tdb_conn_options {
    const char *url;               /* NULL: DATABASE_URL, else ./.env */
    double connect_timeout;        /* seconds, whole budget incl. retries; default 5 */
    int retries;                   /* further attempts after the first; default 3 */
    double statement_timeout;      /* seconds; 0: none.  Cancelled on the server. */
    const char *application_name;  /* NULL: "taskshell" unless the URL names one */
    tdb_prepare_mode prepare;      /* default TDB_PREPARE_AUTO */
    const char *read_url;          /* NULL: none; else reads may go to this replica */
    tdb_trace_fn trace;            /* NULL: none (TASKDB_TRACE=1 still prints to stderr) */
    void *trace_ctx;               /* passed to trace */
} tdb_conn_options;

typedef struct tdb_conn tdb_conn;

#define TDB_MAX_PARAMS 8

typedef struct tdb_params {
    int n;
    const char *values[TDB_MAX_PARAMS];   /* text format; NULL is SQL NULL */
} tdb_params;

typedef struct tdb_conn_info {
    int backend_pid;          /* as the server sees it (0 if unknown) */
    int server_version;       /* e.g. 150018 */
    unsigned reconnects;      /* transparent reconnects so far */
    int prepared;             /* named prepared statements in use */
    int proxy;                /* a pooler/proxy was detected */
    int txn_depth;            /* 0: not in a transaction */
    const char *host;         /* as libpq reports it; owned by the connection */
    const char *dbname;
    const char *user;
    const char *sslmode_used; /* "on" when the connection is encrypted */
    const char *last_read;    /* with read_url: "replica" or "primary" (NULL: none yet) */
    unsigned replica_reads;   /* reads the replica answered */
    const char *replica_host; /* the replica connected to, if any */
    const char *application_name;  /* as the server reports it (ParameterStatus) */
    /* Since connecting; README "Tracing and counters" says what each counts. */
    unsigned long long statements;   /* one per trace event */
    unsigned long long round_trips;  /* sent, then waited for the answer */
    unsigned long long resends;      /* statements sent again after a lost answer */
    double wait_seconds;             /* from sending to having the answer, summed */
} tdb_conn_info;

void tdb_conn_options_init(tdb_conn_options *opts);

/* NULL on failure, with err set (config, connection, timeout or memory). */
tdb_conn *tdb_connect(const tdb_conn_options *opts, tdb_error *err);

/* Closes and frees; NULL is fine. */
void tdb_conn_close(tdb_conn *conn);

/*
 * Runs a catalogue statement.  Returns a result whose status is
 * PGRES_TUPLES_OK, PGRES_COMMAND_OK or PGRES_EMPTY_QUERY; NULL with err set
 * otherwise.
 */
PGresult *tdb_conn_exec(tdb_conn *conn, tdb_sql_id id, const tdb_params *params,
                        tdb_error *err);

/* tdb_conn_exec for a statement whose result is not needed: 0, or -1 with err set. */
int tdb_conn_run(tdb_conn *conn, tdb_sql_id id, const tdb_params *params, tdb_error *err);

/* One round trip. */
int tdb_conn_ping(tdb_conn *conn, tdb_error *err);

/*
 * Transactions nest: the outermost is BEGIN/COMMIT, inner ones savepoints.
 * commit on a transaction the server already aborted rolls back and fails.
 */
int tdb_conn_begin(tdb_conn *conn, tdb_error *err);
int tdb_conn_commit(tdb_conn *conn, tdb_error *err);
int tdb_conn_rollback(tdb_conn *conn, tdb_error *err);
int tdb_conn_txn_depth(const tdb_conn *conn);

/* COPY ... FROM STDIN inside a transaction (bulk writes). */
int tdb_conn_copy_begin(tdb_conn *conn, tdb_sql_id id, tdb_error *err);
int tdb_conn_copy_put(tdb_conn *conn, const char *data, size_t len, tdb_error *err);
/*
 * `abort_reason` non-NULL aborts the COPY instead of finishing it; that
 * fails only with what the server reported before the abort (a row it
 * rejected) or a lost connection.
 */
int tdb_conn_copy_end(tdb_conn *conn, const char *abort_reason, tdb_error *err);

void tdb_conn_get_info(tdb_conn *conn, tdb_conn_info *info);

/*
 * Replaces the tracer given at connect (NULL: none).  TASKDB_TRACE=1's
 * stderr lines, if on, stay on.
 */
void tdb_conn_set_trace(tdb_conn *conn, tdb_trace_fn fn, void *ctx);

#endif

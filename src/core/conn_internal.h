/*
 * conn_internal.h — the connection struct, shared by conn.c (establishing
 * and re-establishing) and exec.c (running statements).  Not for callers
 * outside the core.
 */
#ifndef TDB_CONN_INTERNAL_H
#define TDB_CONN_INTERNAL_H

#include <poll.h>

#include "conn.h"

#define TDB_MAX_CONN_PARAMS 8

struct tdb_conn {
    PGconn *pg;                 /* NULL after a drop; re-established on next use */

    /* What to connect with, kept for reconnecting (owned strings). */
    const char *keywords[TDB_MAX_CONN_PARAMS + 1];
    char *values[TDB_MAX_CONN_PARAMS + 1];
    char *secret;               /* the password, to scrub from messages */
    int remote;                 /* a TCP host other than loopback */
    int pooler_host;            /* a pooled endpoint by name (Neon: "-pooler") */

    double connect_timeout;
    double statement_timeout;
    int retries;
    tdb_prepare_mode prepare_mode;

    int use_prepared;           /* named statements on this connection */
    int proxy;                  /* backend key is not the backend's: a pooler */
    unsigned char prepared[TDB_SQL_STMT_COUNT];

    double copy_deadline;       /* statement_timeout of the COPY under way (0: none) */
    double copy_grace_end;      /* that COPY was cancelled: its last moment (0: not) */

    int goodbye;                /* the server sent FATAL outside a statement */
    int txn_depth;
    int txn_broken;             /* the connection died inside the transaction */
    unsigned reconnects;
};

/* Monotonic seconds. */
double tdb_now(void);

/*
 * Waits for pfd's events until `deadline` (monotonic seconds; <= 0: no
 * limit), through EINTR.  1: ready; 0: the deadline came; -1: poll failed.
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

/* Drops the PGconn (the next call reconnects). */
void tdb_conn_drop(tdb_conn *conn);

/* Scrubs the connection's password out of err->message. */
void tdb_conn_scrub(const tdb_conn *conn, tdb_error *err);

#endif

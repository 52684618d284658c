/*
 * error.h — errors as data.
 *
 * Every core call that can fail takes a `tdb_error *` and fills it in; the
 * core never allocates to report an error.  The kinds are the API's
 * (docs/API.md).  The caller owns the struct (usually on its stack).
 * Messages are one line and never contain a password, by construction and
 * not by masking: what libpq and the server say after a connection is made
 * holds none, and connection failures are reported from the URL's
 * non-secret parts (conninfo.h).  Nothing else in a message is altered.
 */
#ifndef TDB_ERROR_H
#define TDB_ERROR_H

#include <stdarg.h>
#include <stddef.h>

#include "libpq-fe.h"

typedef enum tdb_kind {
    TDB_OK = 0,
    TDB_INVALID,     /* bad argument; nothing was sent */
    TDB_CONFIG,      /* no or bad DATABASE_URL */
    TDB_CONNECTION,  /* cannot connect, lost, authentication */
    TDB_TIMEOUT,     /* connect_timeout or statement_timeout ran out */
    TDB_CLOSED,      /* used after close */
    TDB_SCHEMA,      /* the existing table does not match */
    TDB_DATABASE,    /* anything else the server reported */
    TDB_NOMEM        /* out of memory in the core */
} tdb_kind;

#define TDB_MESSAGE_MAX 4096   /* init_db names every difference of a table at once */

typedef struct tdb_error {
    tdb_kind kind;
    char sqlstate[6];               /* "" when the server gave none */
    char field[32];                 /* "" unless kind == TDB_INVALID */
    long row;                       /* 1-based row of a bulk call; 0: none */
    char message[TDB_MESSAGE_MAX];
} tdb_error;

/* Named SQLSTATEs the core classifies by (PostgreSQL errcodes.txt). */
#define TDB_SQLSTATE_QUERY_CANCELED        "57014"
#define TDB_SQLSTATE_ADMIN_SHUTDOWN        "57P01"
#define TDB_SQLSTATE_CRASH_SHUTDOWN        "57P02"
#define TDB_SQLSTATE_CANNOT_CONNECT_NOW    "57P03"
#define TDB_SQLSTATE_IDLE_SESSION_TIMEOUT  "57P05"
#define TDB_SQLSTATE_TOO_MANY_CONNECTIONS  "53300"
#define TDB_SQLSTATE_INVALID_PASSWORD      "28P01"
#define TDB_SQLSTATE_INVALID_AUTH_SPEC     "28000"
#define TDB_SQLSTATE_UNDEFINED_PSTATEMENT  "26000"
#define TDB_SQLSTATE_DUPLICATE_PSTATEMENT  "42P05"
#define TDB_SQLSTATE_LOCK_NOT_AVAILABLE    "55P03"
#define TDB_SQLSTATE_CHECK_VIOLATION       "23514"
#define TDB_SQLSTATE_NOT_NULL_VIOLATION    "23502"
#define TDB_SQLSTATE_STRING_TOO_LONG       "22001"
#define TDB_SQLSTATE_IN_FAILED_TXN         "25P02"
#define TDB_SQLSTATE_DIVISION_BY_ZERO      "22012"

/* SQLSTATE classes (the first two characters), by PostgreSQL's names. */
#define TDB_SQLCLASS_CONNECTION_EXCEPTION  "08"
#define TDB_SQLCLASS_INVALID_AUTHORIZATION "28"
#define TDB_SQLCLASS_TXN_ROLLBACK          "40"
#define TDB_SQLCLASS_INSUFFICIENT_RESOURCES "53"
#define TDB_SQLCLASS_NOT_IN_PREREQ_STATE   "55"
#define TDB_SQLCLASS_OPERATOR_INTERVENTION "57"
#define TDB_SQLCLASS_SYSTEM_ERROR          "58"
#define TDB_SQLCLASS_INTERNAL_ERROR        "XX"
/* Within class 57: the server is ending the session (57P01..57P05). */
#define TDB_SQLSTATE_PREFIX_SESSION_ENDING "57P"

/* Whether `state` (may be NULL) starts with the class or prefix `prefix`. */
int tdb_sqlstate_in(const char *state, const char *prefix);

const char *tdb_kind_name(tdb_kind kind);

void tdb_error_clear(tdb_error *err);

/* Sets kind, field (may be NULL) and a printf-style message. */
void tdb_error_set(tdb_error *err, tdb_kind kind, const char *field,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * From a failed result: the server's primary message and SQLSTATE, kind
 * chosen by SQLSTATE class.  `res` may be NULL (then the connection's
 * message is used).  `what` prefixes the message ("create_task: ...").
 */
void tdb_error_from_result(tdb_error *err, PGconn *pg, const PGresult *res,
                           const char *what);

/* From the connection's last message (PQerrorMessage), with a kind. */
void tdb_error_from_conn(tdb_error *err, tdb_kind kind, PGconn *pg,
                         const char *what);

/* Copies `src` into `dst` as one line: newlines folded, trailing blanks cut. */
void tdb_copy_line(char *dst, size_t cap, const char *src);

#endif

/* error.c — filling tdb_error from libpq, classified by SQLSTATE. */
#include <stdio.h>
#include <string.h>

#include "error.h"

const char *tdb_kind_name(tdb_kind kind)
{
    switch (kind) {
    case TDB_OK:         return "ok";
    case TDB_INVALID:    return "invalid";
    case TDB_CONFIG:     return "config";
    case TDB_CONNECTION: return "connection";
    case TDB_TIMEOUT:    return "timeout";
    case TDB_CLOSED:     return "closed";
    case TDB_SCHEMA:     return "schema";
    case TDB_DATABASE:   return "database";
    case TDB_NOMEM:      return "memory";
    }
    return "database";
}

void tdb_error_clear(tdb_error *err)
{
    err->kind = TDB_OK;
    err->sqlstate[0] = '\0';
    err->field[0] = '\0';
    err->row = 0;
    err->message[0] = '\0';
}

void tdb_error_set(tdb_error *err, tdb_kind kind, const char *field,
                   const char *fmt, ...)
{
    va_list ap;
    tdb_error_clear(err);
    err->kind = kind;
    if (field)
        snprintf(err->field, sizeof err->field, "%s", field);
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
}

void tdb_copy_line(char *dst, size_t cap, const char *src)
{
    size_t n = 0;
    int space = 0;
    if (cap == 0)
        return;
    for (; src && *src && n + 1 < cap; src++) {
        char c = *src;
        if (c == '\n' || c == '\r' || c == '\t') {
            space = 1;
            continue;
        }
        if (space && n > 0)
            dst[n++] = ' ';
        space = 0;
        if (n + 1 < cap)
            dst[n++] = c;
    }
    while (n > 0 && dst[n - 1] == ' ')
        n--;
    dst[n] = '\0';
}

int tdb_sqlstate_in(const char *state, const char *prefix)
{
    return state && strncmp(state, prefix, strlen(prefix)) == 0;
}

static int sqlstate_is(const char *state, const char *code)
{
    return strcmp(state, code) == 0;
}

static tdb_kind kind_of_sqlstate(const char *state)
{
    if (state[0] == '\0')
        return TDB_DATABASE;
    if (sqlstate_is(state, TDB_SQLSTATE_QUERY_CANCELED))
        return TDB_TIMEOUT;
    if (tdb_sqlstate_in(state, TDB_SQLCLASS_CONNECTION_EXCEPTION) ||
        tdb_sqlstate_in(state, TDB_SQLCLASS_INVALID_AUTHORIZATION))
        return TDB_CONNECTION;
    if (sqlstate_is(state, TDB_SQLSTATE_ADMIN_SHUTDOWN) ||
        sqlstate_is(state, TDB_SQLSTATE_CRASH_SHUTDOWN) ||
        sqlstate_is(state, TDB_SQLSTATE_CANNOT_CONNECT_NOW) ||
        sqlstate_is(state, TDB_SQLSTATE_IDLE_SESSION_TIMEOUT) ||
        sqlstate_is(state, TDB_SQLSTATE_TOO_MANY_CONNECTIONS))
        return TDB_CONNECTION;
    return TDB_DATABASE;
}

void tdb_error_from_result(tdb_error *err, PGconn *pg, const PGresult *res,
                           const char *what)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    char line[TDB_MESSAGE_MAX];

    tdb_error_clear(err);
    if (!primary || !*primary)
        primary = res ? PQresultErrorMessage(res) : NULL;
    if ((!primary || !*primary) && pg)
        primary = PQerrorMessage(pg);
    tdb_copy_line(line, sizeof line, primary && *primary ? primary : "unknown error");
    snprintf(err->sqlstate, sizeof err->sqlstate, "%s", state ? state : "");
    err->kind = kind_of_sqlstate(err->sqlstate);
    if (err->kind == TDB_DATABASE && !state && pg && PQstatus(pg) == CONNECTION_BAD)
        err->kind = TDB_CONNECTION;
    snprintf(err->message, sizeof err->message, "%s%s%s",
             what ? what : "", what ? ": " : "", line);
}

void tdb_error_from_conn(tdb_error *err, tdb_kind kind, PGconn *pg,
                         const char *what)
{
    char line[TDB_MESSAGE_MAX];
    const char *msg = pg ? PQerrorMessage(pg) : NULL;
    tdb_copy_line(line, sizeof line, msg && *msg ? msg : "connection failed");
    tdb_error_set(err, kind, NULL, "%s%s%s", what ? what : "", what ? ": " : "", line);
}

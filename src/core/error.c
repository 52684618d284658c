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
    tdb_error_scrub(err->message, NULL);
}

void tdb_error_from_conn(tdb_error *err, tdb_kind kind, PGconn *pg,
                         const char *what)
{
    char line[TDB_MESSAGE_MAX];
    const char *msg = pg ? PQerrorMessage(pg) : NULL;
    tdb_copy_line(line, sizeof line, msg && *msg ? msg : "connection failed");
    tdb_error_set(err, kind, NULL, "%s%s%s", what ? what : "", what ? ": " : "", line);
    tdb_error_scrub(err->message, NULL);
}

/* Overwrites [start, end) with three `mask` characters, shifting the tail left. */
static char *mask_span_with(char *start, char *end, char mask)
{
    size_t tail = strlen(end) + 1;
    size_t span = (size_t)(end - start);
    if (span < 3)
        return end; /* never grow the string: a short secret is blanked */
    memset(start, mask, 3);
    memmove(start + 3, end, tail);
    return start + 3;
}

static char *mask_span(char *start, char *end)
{
    return mask_span_with(start, end, '*');
}

static void scrub_secret(char *msg, const char *secret)
{
    size_t len = secret ? strlen(secret) : 0;
    /* The mask must not contain the secret, or the secret would survive. */
    char mask = strchr(secret ? secret : "", '*') ? (strchr(secret, '#') ? 'x' : '#') : '*';
    char *p = msg;
    if (len == 0)
        return;
    if (mask == 'x' && strchr(secret, 'x'))
        mask = '?';
    while ((p = strstr(p, secret)) != NULL) {
        if (len < 3) {
            memset(p, mask, len);
            p += len;
        } else {
            p = mask_span_with(p, p + len, mask);
        }
    }
}

/* scheme://user:PASS@host  →  scheme://user:***@host */
static void scrub_uri_passwords(char *msg)
{
    char *p = msg;
    while ((p = strstr(p, "://")) != NULL) {
        char *auth = p + 3;
        char *at = auth, *colon = NULL;
        while (*at && *at != '@' && *at != '/' && *at != ' ' && *at != '?') {
            if (*at == ':' && !colon)
                colon = at;
            at++;
        }
        if (*at == '@' && colon && at > colon + 1) {
            char *end = mask_span(colon + 1, at);
            if (end == at) /* too short to mask: blank it */
                memset(colon + 1, '*', (size_t)(at - colon - 1));
            p = colon + 1;
        } else {
            p = auth;
        }
    }
}

/* password=VALUE or password='VALUE' (key/value conninfo) */
static void scrub_keyword_passwords(char *msg)
{
    char *p = msg;
    while ((p = strstr(p, "password")) != NULL) {
        char *v = p + 8;
        char *end;
        while (*v == ' ')
            v++;
        if (*v != '=') {
            p = v;
            continue;
        }
        v++;
        while (*v == ' ')
            v++;
        end = v;
        if (*v == '\'') {
            end = v + 1;
            while (*end && *end != '\'') {
                if (*end == '\\' && end[1])
                    end++;
                end++;
            }
            if (*end)
                end++;
        } else {
            while (*end && *end != ' ' && *end != '&')
                end++;
        }
        if (end - v >= 3)
            p = mask_span(v, end);
        else {
            memset(v, '*', (size_t)(end - v));
            p = end;
        }
    }
}

void tdb_error_scrub(char *msg, const char *secret)
{
    scrub_secret(msg, secret);
    scrub_uri_passwords(msg);
    scrub_keyword_passwords(msg);
}

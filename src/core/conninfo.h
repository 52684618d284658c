/*
 * conninfo.h — what a database URL says, checked before libpq sees it.
 *
 * tdb_conninfo_parse takes a libpq URI or key=value string, checks its
 * grammar, where its password sits, and every option value libpq would
 * otherwise reject only while connecting; then returns the options as
 * libpq keywords with the facts connecting needs: the hosts, whether any
 * is remote (the TLS default), the URL's own per-host connect_timeout and
 * target_session_attrs.  Connection options from the environment (PGHOST,
 * PGPORT, ...) fill what the URL leaves out, as in libpq.
 *
 * Messages are built from the URL's non-secret parts only, never by
 * masking afterwards: no part of a password appears in one, even when a
 * badly encoded password is what makes the URL malformed.
 *
 * The caller owns the struct; tdb_conninfo_free releases what it holds.
 */
#ifndef TDB_CONNINFO_H
#define TDB_CONNINFO_H

#include "error.h"

/* target_session_attrs, libpq's values. */
typedef enum tdb_target {
    TDB_TARGET_ANY = 0,
    TDB_TARGET_READ_WRITE,
    TDB_TARGET_READ_ONLY,
    TDB_TARGET_PRIMARY,
    TDB_TARGET_STANDBY,
    TDB_TARGET_PREFER_STANDBY
} tdb_target;

typedef struct tdb_host {
    char *host;       /* name, address or socket directory; "" when none */
    char *hostaddr;   /* numeric address to dial; "" when none */
    char *port;       /* "" when none (libpq's default) */
} tdb_host;

typedef struct tdb_conninfo {
    int nopts;
    char **keywords;          /* every option the URL sets, as libpq keywords */
    char **values;            /* (never empty strings) */
    int nhosts;               /* >= 1 */
    tdb_host *hosts;          /* the URL's (else the environment's) host list */
    int hosts_listed;         /* host or hostaddr given by the URL or environment */
    int remote;               /* some host is neither loopback nor a Unix socket */
    int has_sslmode;          /* the URL or PGSSLMODE chooses the TLS mode */
    int has_application_name;
    int pooler_host;          /* a pooled endpoint by name (Neon: "-pooler") */
    double host_timeout;      /* the URL's connect_timeout, per host (s); 0: none */
    tdb_target target;        /* the URL's target_session_attrs (or the environment's) */
} tdb_conninfo;

/* 0 on success; -1 with err set (TDB_CONFIG, or TDB_NOMEM). */
int tdb_conninfo_parse(const char *url, tdb_conninfo *ci, tdb_error *err);

/* The value the URL gives `keyword`, or NULL. */
const char *tdb_conninfo_get(const tdb_conninfo *ci, const char *keyword);

void tdb_conninfo_free(tdb_conninfo *ci);

#endif

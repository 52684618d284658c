/*
 * conn.c — the connection's life: made from the URL (conninfo.c), its
 * hosts connected within connect_timeout (connect.c), re-established when
 * the server closed it between calls, closed.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "interrupt.h"
#include "trace_internal.h"

#define DEFAULT_CONNECT_TIMEOUT 5.0
#define DEFAULT_RETRIES 3

double tdb_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static volatile sig_atomic_t interrupt_requested;  /* by tdb_interrupt, not yet taken */
static volatile sig_atomic_t interrupt_taken;      /* a wait ended on a request */
static volatile sig_atomic_t interrupt_delivered;  /* an error has said so */
static volatile sig_atomic_t waiting;              /* tdb_poll_until is about to poll */

int tdb_interrupt(void)
{
    interrupt_requested = 1;
    return waiting;
}

void tdb_interrupt_clear(void)
{
    interrupt_requested = 0;
    interrupt_taken = 0;
    interrupt_delivered = 0;
}

int tdb_interrupt_taken(void)
{
    int taken = interrupt_taken;
    interrupt_taken = 0;
    if (taken)
        interrupt_delivered = 1;
    return taken;
}

int tdb_interrupt_delivered(void)
{
    int delivered = interrupt_delivered;
    interrupt_delivered = 0;
    return delivered;
}

/* A signal that arrives during poll ends it with EINTR; one that arrived
 * before is seen at the top of the loop.  Either way a tdb_interrupt
 * request reads as the deadline. */
int tdb_poll_until(struct pollfd *pfd, double deadline)
{
    for (;;) {
        int ms = -1, r;
        waiting = 1;
        if (interrupt_requested) {
            interrupt_requested = 0;
            interrupt_taken = 1;
            waiting = 0;
            return 0;
        }
        if (deadline > 0) {
            double left = deadline - tdb_now();
            if (left <= 0) {
                waiting = 0;
                return 0;
            }
            ms = left * 1000.0 >= (double)INT_MAX ? INT_MAX : (int)ceil(left * 1000.0);
        }
        r = poll(pfd, 1, ms);
        waiting = 0;
        if (r >= 0)
            return r > 0;
        if (errno != EINTR)
            return -1;
    }
}

void tdb_conn_options_init(tdb_conn_options *opts)
{
    memset(opts, 0, sizeof *opts);
    opts->connect_timeout = DEFAULT_CONNECT_TIMEOUT;
    opts->retries = DEFAULT_RETRIES;
    opts->prepare = TDB_PREPARE_AUTO;
}

static int add_param(tdb_conn *conn, int *n, const char *key, const char *value)
{
    conn->keywords[*n] = key;
    conn->values[*n] = strdup(value);
    if (!conn->values[*n])
        return -1;
    (*n)++;
    return 0;
}

/* Set per attempt by connect.c: one host at a time, target_session_attrs decided there. */
static int per_attempt(const char *keyword)
{
    return strcmp(keyword, "host") == 0 || strcmp(keyword, "hostaddr") == 0 ||
           strcmp(keyword, "port") == 0 || strcmp(keyword, "target_session_attrs") == 0;
}

/*
 * Defaults go before the URL's options (they may override them), forced
 * values after (they override them): every connection speaks UTF-8, and a
 * password is never sent in clear to a remote host by default.  The URL
 * goes in as the keywords conninfo.c read from it, not as a string libpq
 * would read again.
 */
static int build_params(tdb_conn *conn, const tdb_conninfo *ci, const tdb_conn_options *opts)
{
    int n = 0;
    conn->keywords = calloc((size_t)ci->nopts + 8, sizeof *conn->keywords);
    conn->values = calloc((size_t)ci->nopts + 8, sizeof *conn->values);
    if (!conn->keywords || !conn->values)
        return -1;
    if (add_param(conn, &n, "fallback_application_name", "taskshell"))
        return -1;
    for (int i = 0; i < ci->nopts; i++) {
        if (per_attempt(ci->keywords[i]))
            continue;
        if (add_param(conn, &n, ci->keywords[i], ci->values[i]))
            return -1;
    }
    if (add_param(conn, &n, "client_encoding", "UTF8"))
        return -1;
    if (ci->remote && !ci->has_sslmode && add_param(conn, &n, "sslmode", "require"))
        return -1;
    if (opts->application_name && add_param(conn, &n, "application_name", opts->application_name))
        return -1;
    return 0;
}

/*
 * Which backend are we on?  A proxy answers the startup with its own key,
 * so the server's pid tells; it is asked with the first statement (exec.c),
 * not in a round trip of its own.  Until then statements are unnamed,
 * which is always safe.
 */
static void after_connect(tdb_conn *conn)
{
    memset(conn->prepared, 0, sizeof conn->prepared);
    conn->proxy_unknown = 0;
    switch (conn->prepare_mode) {
    case TDB_PREPARE_ON:  conn->use_prepared = 1; break;
    case TDB_PREPARE_OFF: conn->use_prepared = 0; break;
    case TDB_PREPARE_AUTO:
        conn->proxy = 1;
        conn->proxy_unknown = !conn->pooler_host;
        conn->use_prepared = 0;
        break;
    }
}

/* Every host of the URL, retried, all inside connect_timeout (connect.c). */
static int connect_with_retry(tdb_conn *conn, tdb_error *err)
{
    conn->pg = tdb_connect_hosts(conn, err);
    if (!conn->pg)
        return -1;
    after_connect(conn);
    tdb_error_clear(err);
    return 0;
}

static void free_params(tdb_conn *conn)
{
    for (int i = 0; conn->values && conn->keywords[i]; i++) {
        if (strcmp(conn->keywords[i], "password") == 0)
            memset(conn->values[i], 0, strlen(conn->values[i]));
        free(conn->values[i]);
    }
    free(conn->values);
    free(conn->keywords);
    conn->values = NULL;
    conn->keywords = NULL;
    tdb_conninfo_free(&conn->url);
}

tdb_conn *tdb_connect(const tdb_conn_options *opts, tdb_error *err)
{
    tdb_conn_options defaults;
    tdb_conn *conn = NULL;
    char *url = NULL;

    tdb_error_clear(err);
    if (!opts) {
        tdb_conn_options_init(&defaults);
        opts = &defaults;
    }
    url = opts->url ? strdup(opts->url) : tdb_config_database_url(NULL, err);
    if (!url) {
        if (opts->url)
            tdb_error_set(err, TDB_NOMEM, NULL, "not enough memory");
        return NULL;
    }
    conn = calloc(1, sizeof *conn);
    if (!conn) {
        tdb_error_set(err, TDB_NOMEM, NULL, "not enough memory");
        goto fail;
    }
    if (tdb_conninfo_parse(url, &conn->url, err) != 0)
        goto fail;
    if (build_params(conn, &conn->url, opts) != 0) {
        tdb_error_set(err, TDB_NOMEM, NULL, "not enough memory");
        goto fail;
    }
    conn->remote = conn->url.remote;
    conn->pooler_host = conn->url.pooler_host;
    conn->connect_timeout = opts->connect_timeout > 0 ? opts->connect_timeout : DEFAULT_CONNECT_TIMEOUT;
    conn->statement_timeout = opts->statement_timeout > 0 ? opts->statement_timeout : 0;
    conn->retries = opts->retries >= 0 ? opts->retries : 0;
    conn->prepare_mode = opts->prepare;
    tdb_trace_setup(conn, opts->trace, opts->trace_ctx);
    if (opts->read_url && !(conn->router = tdb_router_new(opts, err)))
        goto fail;
    if (connect_with_retry(conn, err) != 0)
        goto fail;
    memset(url, 0, strlen(url));
    free(url);
    return conn;

fail:
    memset(url, 0, strlen(url));
    free(url);
    tdb_conn_close(conn);
    return NULL;
}

void tdb_conn_drop(tdb_conn *conn)
{
    if (conn->pg) {
        tdb_trace_keep_host(conn);
        PQfinish(conn->pg);
        conn->pg = NULL;
    }
    conn->goodbye = 0;
    memset(conn->prepared, 0, sizeof conn->prepared);
}

void tdb_conn_close(tdb_conn *conn)
{
    if (!conn)
        return;
    tdb_router_free(conn->router);
    conn->router = NULL;
    tdb_conn_drop(conn);
    free_params(conn);
    free(conn);
}

/*
 * A server that closed the connection (restart, crash, pg_terminate_backend,
 * idle_session_timeout) has left a FATAL message or EOF in the socket: a
 * zero-timeout poll finds it before anything is sent, so even a write can be
 * sent safely on a fresh connection.
 */
static int server_hung_up(tdb_conn *conn, int probe)
{
    PGconn *pg = conn->pg;
    struct pollfd pfd;
    if (conn->goodbye || PQstatus(pg) != CONNECTION_OK)
        return 1;
    if (!probe)   /* what libpq already knows is enough */
        return 0;
    pfd.fd = PQsocket(pg);
    pfd.events = POLLIN;
    if (pfd.fd < 0)
        return 1;
    while (poll(&pfd, 1, 0) > 0) {
        if (!PQconsumeInput(pg))
            return 1;
        for (PGnotify *n; (n = PQnotifies(pg)) != NULL;)
            PQfreemem(n);
        if (conn->goodbye || PQstatus(pg) != CONNECTION_OK)
            return 1;
    }
    return 0;
}

int tdb_conn_ensure_live(tdb_conn *conn, int probe, tdb_error *err)
{
    if (conn->txn_broken) {
        tdb_error_set(err, TDB_CONNECTION, NULL,
                      "the connection was lost inside this transaction; the server rolled it back");
        return -1;
    }
    if (conn->pg && !server_hung_up(conn, probe))
        return 0;
    /* A transaction whose BEGIN has not gone out yet has lost nothing. */
    if (conn->txn_depth > 0 && !conn->begin_pending) {
        tdb_conn_lose(conn);
        tdb_error_set(err, TDB_CONNECTION, NULL,
                      "the connection was lost inside a transaction; the server rolled it back");
        return -1;
    }
    tdb_conn_drop(conn);
    if (connect_with_retry(conn, err) != 0)
        return -1;
    conn->reconnects++;
    return 0;
}

void tdb_conn_get_info(tdb_conn *conn, tdb_conn_info *info)
{
    tdb_error ignored;
    memset(info, 0, sizeof *info);
    /* Asked for: find out now rather than report a guess. */
    if (conn->proxy_unknown && conn->pg && !conn->begin_pending && conn->txn_depth == 0)
        tdb_conn_ping(conn, &ignored);
    info->reconnects = conn->reconnects;
    info->prepared = conn->use_prepared;
    info->proxy = conn->proxy;
    info->txn_depth = conn->txn_depth;
    info->statements = conn->statements;
    info->round_trips = conn->round_trips;
    info->resends = conn->resends;
    info->wait_seconds = conn->wait_seconds;
    if (conn->pg && PQstatus(conn->pg) == CONNECTION_OK) {
        info->backend_pid = PQbackendPID(conn->pg);
        info->server_version = PQserverVersion(conn->pg);
        info->host = PQhost(conn->pg);
        info->dbname = PQdb(conn->pg);
        info->user = PQuser(conn->pg);
        info->sslmode_used = PQsslInUse(conn->pg) ? "on" : "off";
        info->application_name = PQparameterStatus(conn->pg, "application_name");
    }
    tdb_route_info(conn, info);
}

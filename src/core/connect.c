/*
 * connect.c — one connect: every host of the URL, within one deadline.
 *
 * libpq is given one host at a time (host, hostaddr and port of that
 * entry), so each attempt has a deadline of its own: the URL's
 * connect_timeout when it sets one (libpq's meaning: per host), otherwise
 * an equal share of the whole.  A host that accepts but never answers uses
 * up its own deadline only, and the next is reached in time; the option
 * connect_timeout still bounds everything, pauses included.
 * target_session_attrs is decided here (as libpq decides it: the server's
 * reported in_hot_standby and default_transaction_read_only, else a SHOW),
 * so each host's state is known: refused, timed out, read-only, ...
 *
 * Rounds over the hosts are retried with jittered backoff while every
 * failure may pass (what may be retried is decided in one place,
 * host_retryable).  A round that found a host up but of the wrong kind
 * (a failover in progress) does not count against `retries`: those go on
 * until connect_timeout runs out.  An authentication failure is never
 * retried.
 */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* DEFAULT_PGSOCKET_DIR, the host of an empty entry: libpq-dev ships both headers. */
#include "pg_config.h"
#include "pg_config_manual.h"

#include "conn_internal.h"

#define BACKOFF_FIRST 0.1        /* seconds; doubles per round, jittered */
#define BACKOFF_MAX 2.0
#define WRONG_ROLE_PAUSE_MAX 0.5 /* a failover is watched closely */

typedef enum host_state {
    HOST_UNTRIED = 0,
    HOST_OK,
    HOST_REFUSED,        /* the server never answered: refused, unreachable, TLS */
    HOST_TIMED_OUT,      /* no answer within the attempt's deadline */
    HOST_WRONG_ROLE,     /* up, but not what target_session_attrs asks for */
    HOST_AUTH_FAILED,    /* class 28, or a password is needed and none was given */
    HOST_NOT_NOW,        /* starting up, shutting down, too many connections */
    HOST_FAILED          /* any other answer (no such database, ...) */
} host_state;

typedef struct attempt {
    host_state state;
    int out_of_time;             /* ended by the whole connect_timeout */
    char sqlstate[6];
    char detail[TDB_MESSAGE_MAX];   /* libpq's line, for one host's message */
} attempt;

/*
 * Server notices (NOTICE, WARNING) never reach the user's stderr.  A FATAL
 * outside a statement arrives here too: the server is closing the session
 * (restart, pg_terminate_backend, idle_session_timeout).
 */
static void receive_notice(void *arg, const PGresult *res)
{
    tdb_conn *conn = arg;
    const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    if (severity && (strcmp(severity, "FATAL") == 0 || strcmp(severity, "PANIC") == 0))
        conn->goodbye = 1;
}

/*
 * The SQLSTATE of a failed connection attempt.  libpq exposes it only in
 * the formatted message, so attempts run with PQERRORS_VERBOSE, whose
 * format is "SEVERITY:  SQLSTATE: message".  "" when the server never
 * answered (refused, unreachable, TLS).
 */
static void connect_sqlstate(const char *msg, char state[6])
{
    const char *p;
    state[0] = '\0';
    for (p = msg; p && (p = strstr(p, ":  ")) != NULL; p += 3) {
        const char *s = p + 3;
        int ok = 1;
        for (int i = 0; i < 5 && ok; i++)
            if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'Z')))
                ok = 0;
        if (ok && s[5] == ':') {
            memcpy(state, s, 5);
            state[5] = '\0';
            return;
        }
    }
}

/* The message without the verbose extras: "FATAL:  28P01: x\nLOCATION: …" → "FATAL:  x". */
static void connect_message(char *dst, size_t cap, const char *msg, const char *state)
{
    char buf[TDB_MESSAGE_MAX * 2];
    char *loc, *code;
    snprintf(buf, sizeof buf, "%s", msg ? msg : "");
    while ((loc = strstr(buf, "\nLOCATION:")) != NULL) {
        char *end = strchr(loc + 1, '\n');
        if (end)
            memmove(loc, end, strlen(end) + 1);
        else
            *loc = '\0';
    }
    if (state[0]) {
        char pat[9];
        snprintf(pat, sizeof pat, "%s: ", state);
        while ((code = strstr(buf, pat)) != NULL)
            memmove(code, code + 7, strlen(code + 7) + 1);
    }
    tdb_copy_line(dst, cap, buf);
}

/* What a failed attempt's answer says about the host. */
static host_state classify(PGconn *pg, const char *state)
{
    if (state[0] == '\0')
        return pg && PQconnectionNeedsPassword(pg) ? HOST_AUTH_FAILED : HOST_REFUSED;
    if (tdb_sqlstate_in(state, TDB_SQLCLASS_INVALID_AUTHORIZATION))
        return HOST_AUTH_FAILED;
    if (strcmp(state, TDB_SQLSTATE_CANNOT_CONNECT_NOW) == 0 ||
        strcmp(state, TDB_SQLSTATE_TOO_MANY_CONNECTIONS) == 0 ||
        strcmp(state, TDB_SQLSTATE_ADMIN_SHUTDOWN) == 0 ||
        tdb_sqlstate_in(state, TDB_SQLCLASS_CONNECTION_EXCEPTION))
        return HOST_NOT_NOW;
    return HOST_FAILED;
}

/* May a round that left this host in this state be tried again? */
static int host_retryable(host_state s)
{
    return s == HOST_REFUSED || s == HOST_TIMED_OUT || s == HOST_WRONG_ROLE || s == HOST_NOT_NOW ||
           s == HOST_UNTRIED;
}

static int wait_socket(PGconn *pg, int for_write, double deadline)
{
    struct pollfd pfd;
    pfd.fd = PQsocket(pg);
    pfd.events = for_write ? POLLOUT : POLLIN;
    return tdb_poll_until(&pfd, deadline);
}

/* "on"/"off" of a parameter the server reported; -1 when it did not. */
static int reported_on(PGconn *pg, const char *name)
{
    const char *v = PQparameterStatus(pg, name);
    return v ? strcmp(v, "on") == 0 : -1;
}

/* Runs a one-value catalogue query: 1 for "on"/"t", 0 otherwise; -1 on failure or timeout. */
static int ask(PGconn *pg, tdb_sql_id id, double deadline)
{
    PGresult *res;
    int answer = -1;
    if (!PQsendQueryParams(pg, tdb_sql_get(id)->text, 0, NULL, NULL, NULL, NULL, 0) ||
        tdb_wait_result(pg, deadline) != 1)
        return -1;
    while ((res = PQgetResult(pg)) != NULL) {
        if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && PQnfields(res) == 1) {
            const char *v = PQgetvalue(res, 0, 0);
            answer = strcmp(v, "on") == 0 || strcmp(v, "t") == 0;
        }
        PQclear(res);
    }
    return answer;
}

/*
 * Does the session suit `target`?  1 yes, 0 no (HOST_WRONG_ROLE), -1 it
 * could not be told in time.  As libpq: the reported parameters when the
 * server (14 and later) reports both, else the same questions it asks.
 */
static int session_suits(PGconn *pg, tdb_target target, double deadline)
{
    int hot = reported_on(pg, "in_hot_standby");
    int ro = reported_on(pg, "default_transaction_read_only");
    int v;
    switch (target) {
    case TDB_TARGET_ANY:
        return 1;
    case TDB_TARGET_READ_WRITE:
    case TDB_TARGET_READ_ONLY:
        v = hot >= 0 && ro >= 0 ? (hot || ro) : ask(pg, TDB_SQL_SESSION_READ_ONLY, deadline);
        return v < 0 ? -1 : v == (target == TDB_TARGET_READ_ONLY);
    case TDB_TARGET_PRIMARY:
    case TDB_TARGET_STANDBY:
    case TDB_TARGET_PREFER_STANDBY:
        v = hot >= 0 ? hot : ask(pg, TDB_SQL_IN_RECOVERY, deadline);
        return v < 0 ? -1 : v == (target != TDB_TARGET_PRIMARY);
    }
    return 1;
}

/* The base parameters (conn.c), then this host's entry, then target_session_attrs=any. */
static int host_params(const tdb_conn *conn, const tdb_host *h, const char ***kw, const char ***val)
{
    int n = 0, i = 0;
    while (conn->keywords[n])
        n++;
    *kw = calloc((size_t)n + 5, sizeof **kw);
    *val = calloc((size_t)n + 5, sizeof **val);
    if (!*kw || !*val)
        return -1;   /* the caller frees both */
    for (; i < n; i++) {
        (*kw)[i] = conn->keywords[i];
        (*val)[i] = conn->values[i];
    }
    if (conn->url.hosts_listed) {
        /* An empty entry in a list is libpq's default socket directory. */
        const char *host = h->host[0] || h->hostaddr[0] ? h->host : DEFAULT_PGSOCKET_DIR;
        if (host[0]) {
            (*kw)[i] = "host";
            (*val)[i++] = host;
        }
        if (h->hostaddr[0]) {
            (*kw)[i] = "hostaddr";
            (*val)[i++] = h->hostaddr;
        }
    }
    if (h->port[0]) {
        (*kw)[i] = "port";
        (*val)[i++] = h->port;
    }
    (*kw)[i] = "target_session_attrs";
    (*val)[i] = "any";
    return 0;
}

/*
 * One attempt on one host until `deadline`.  Returns the connection, or
 * NULL with *a filled in; -1 in *nomem when memory ran out.
 */
static PGconn *connect_host(tdb_conn *conn, const tdb_host *h, tdb_target target,
                            double deadline, double all_deadline, attempt *a, int *nomem)
{
    const char **kw = NULL, **val = NULL;
    PGconn *pg = NULL;
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    int timed_out = 0, suits;

    memset(a, 0, sizeof *a);
    if (host_params(conn, h, &kw, &val) == 0)
        pg = PQconnectStartParams(kw, val, 0);
    free(kw);
    free(val);
    if (!pg) {
        *nomem = 1;
        return NULL;
    }
    PQsetErrorVerbosity(pg, PQERRORS_VERBOSE);
    PQsetNoticeReceiver(pg, receive_notice, conn);
    /* CONNECTION_BAD already: a Unix socket refused at once (options were checked by conninfo.c). */
    if (PQstatus(pg) == CONNECTION_BAD)
        st = PGRES_POLLING_FAILED;
    while (st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
        int r = wait_socket(pg, st == PGRES_POLLING_WRITING, deadline);
        if (r == 0) {
            timed_out = 1;
            break;
        }
        if (r < 0)
            break;
        st = PQconnectPoll(pg);
    }
    if (st == PGRES_POLLING_OK) {
        suits = session_suits(pg, target, deadline);
        if (suits == 1) {
            PQsetErrorVerbosity(pg, PQERRORS_DEFAULT);
            a->state = HOST_OK;
            return pg;
        }
        if (suits == 0) {
            a->state = HOST_WRONG_ROLE;
            PQfinish(pg);
            return NULL;
        }
        timed_out = PQstatus(pg) == CONNECTION_OK;   /* else it broke while asked */
    }
    if (timed_out) {
        a->state = HOST_TIMED_OUT;
        a->out_of_time = tdb_now() >= all_deadline;
    } else {
        connect_sqlstate(PQerrorMessage(pg), a->sqlstate);
        connect_message(a->detail, sizeof a->detail, PQerrorMessage(pg), a->sqlstate);
        a->state = classify(pg, a->sqlstate);
        if (a->state == HOST_AUTH_FAILED && !a->sqlstate[0])
            snprintf(a->detail, sizeof a->detail, "the server requires a password and none was given");
    }
    PQfinish(pg);
    return NULL;
}

static void sleep_seconds(double s)
{
    struct timespec ts;
    if (s <= 0)
        return;
    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static double jitter(void)
{
    static unsigned seed;
    if (!seed)
        seed = (unsigned)getpid() ^ (unsigned)time(NULL);
    return 0.5 + (double)(rand_r(&seed) % 1000) / 1000.0;  /* 0.5 .. 1.5 */
}

/* ---- the error ------------------------------------------------------------- */

static const char *const TARGET_NAMES[] = {
    "any", "read-write", "read-only", "primary", "standby", "prefer-standby" };

/* What a host was found to be when it did not suit the target. */
static const char *wrong_role_name(tdb_target target)
{
    switch (target) {
    case TDB_TARGET_READ_WRITE: return "read-only";
    case TDB_TARGET_READ_ONLY:  return "read-write";
    case TDB_TARGET_PRIMARY:    return "a standby";
    default:                    return "not a standby";
    }
}

static const char *state_name(const attempt *a, tdb_target target)
{
    switch (a->state) {
    case HOST_UNTRIED:     return "not tried";
    case HOST_OK:          return "connected";
    case HOST_REFUSED:     return "refused";
    case HOST_TIMED_OUT:   return "timed out";
    case HOST_WRONG_ROLE:  return wrong_role_name(target);
    case HOST_AUTH_FAILED: return "authentication failed";
    case HOST_NOT_NOW:
        if (strcmp(a->sqlstate, TDB_SQLSTATE_TOO_MANY_CONNECTIONS) == 0)
            return "too many connections";
        if (strcmp(a->sqlstate, TDB_SQLSTATE_ADMIN_SHUTDOWN) == 0)
            return "shutting down";
        return "not accepting connections yet";
    case HOST_FAILED:      return "failed";
    }
    return "failed";
}

/* "db.example.com:5432", "[::1]:5433", "/var/run/postgresql:5432" */
static void host_label(char *buf, size_t cap, const tdb_host *h)
{
    const char *name = h->host[0] ? h->host : h->hostaddr[0] ? h->hostaddr : DEFAULT_PGSOCKET_DIR;
    int v6 = strchr(name, ':') && name[0] != '/';
    snprintf(buf, cap, "%s%s%s%s%s", v6 ? "[" : "", name, v6 ? "]" : "", h->port[0] ? ":" : "",
             h->port);
}

/* The server's own words of a failure's detail, without libpq's "connection to ... failed: FATAL:  " */
static const char *server_words(const char *detail)
{
    const char *p = strstr(detail, "FATAL:  ");
    return p ? p + 8 : detail;
}

static void fail_message(tdb_conn *conn, const attempt *last, int attempts, double start,
                         tdb_error *err)
{
    const tdb_conninfo *ci = &conn->url;
    tdb_target target = ci->target;
    int timed_out = 1, auth = -1;
    size_t len;

    /* A timeout when connect_timeout ran out waiting, or nothing tried ever answered. */
    for (int i = 0; i < ci->nhosts; i++) {
        if (last[i].state != HOST_TIMED_OUT && last[i].state != HOST_UNTRIED)
            timed_out = 0;
        if (last[i].state == HOST_AUTH_FAILED && auth < 0)
            auth = i;
    }
    for (int i = 0; i < ci->nhosts; i++)
        timed_out = timed_out || last[i].out_of_time;
    if (auth >= 0)
        timed_out = 0;
    if (ci->nhosts == 1) {
        const attempt *a = &last[0];
        if (a->state == HOST_TIMED_OUT && a->out_of_time)
            tdb_error_set(err, TDB_TIMEOUT, NULL,
                          "could not connect within connect_timeout (%g s): the server did not answer",
                          conn->connect_timeout);
        else if (a->state == HOST_TIMED_OUT)
            tdb_error_set(err, TDB_TIMEOUT, NULL,
                          "could not connect: the server did not answer within the URL's "
                          "connect_timeout (%g s)", ci->host_timeout);
        else if (a->state == HOST_WRONG_ROLE) {
            char label[160];
            host_label(label, sizeof label, &ci->hosts[0]);
            tdb_error_set(err, TDB_CONNECTION, NULL, "could not connect: %s is %s "
                          "(target_session_attrs=%s)", label, wrong_role_name(target),
                          TARGET_NAMES[ci->target]);
        } else
            tdb_error_set(err, TDB_CONNECTION, NULL, "could not connect: %s",
                          a->detail[0] ? a->detail : "connection failed");
        snprintf(err->sqlstate, sizeof err->sqlstate, "%s", a->sqlstate);
    } else {
        tdb_error_set(err, timed_out ? TDB_TIMEOUT : TDB_CONNECTION, NULL,
                      "could not connect to any of the %d hosts%s%s%s:", ci->nhosts,
                      ci->target != TDB_TARGET_ANY ? " (target_session_attrs=" : "",
                      ci->target != TDB_TARGET_ANY ? TARGET_NAMES[ci->target] : "",
                      ci->target != TDB_TARGET_ANY ? ")" : "");
        for (int i = 0; i < ci->nhosts; i++) {
            char label[160];
            host_label(label, sizeof label, &ci->hosts[i]);
            len = strlen(err->message);
            snprintf(err->message + len, sizeof err->message - len, "%s %s %s", i ? "," : "",
                     label, state_name(&last[i], target));
            if (last[i].state == HOST_FAILED && last[i].detail[0]) {
                len = strlen(err->message);
                snprintf(err->message + len, sizeof err->message - len, " (%s)",
                         server_words(last[i].detail));
            }
        }
        if (auth >= 0)
            snprintf(err->sqlstate, sizeof err->sqlstate, "%s", last[auth].sqlstate);
    }
    if (attempts > 1) {
        len = strlen(err->message);
        snprintf(err->message + len, sizeof err->message - len,
                 " (%d attempts in %.1f s)", attempts, tdb_now() - start);
    }
}

/* ---- rounds ------------------------------------------------------------------ */

PGconn *tdb_connect_hosts(tdb_conn *conn, tdb_error *err)
{
    const tdb_conninfo *ci = &conn->url;
    double start = tdb_now();
    double deadline = start + conn->connect_timeout;
    double share = ci->host_timeout > 0 ? ci->host_timeout : conn->connect_timeout / ci->nhosts;
    attempt *last = calloc((size_t)ci->nhosts, sizeof *last);
    int attempts = 0, counted = 0, nomem = 0;
    PGconn *pg = NULL;

    if (!last) {
        tdb_error_set(err, TDB_NOMEM, NULL, "not enough memory to connect");
        return NULL;
    }
    for (int round = 0;; round++) {
        int retry = 1, wrong_role = 0, passes = ci->target == TDB_TARGET_PREFER_STANDBY ? 2 : 1;
        double pause, left;

        /* prefer-standby: every host for a standby first, then any (libpq's two passes). */
        for (int pass = 0; pass < passes && !pg; pass++) {
            tdb_target target = passes == 1 ? ci->target : pass == 0 ? TDB_TARGET_STANDBY : TDB_TARGET_ANY;
            for (int i = 0; i < ci->nhosts && !pg && !nomem; i++) {
                double now = tdb_now();
                attempt a;
                if (now >= deadline)
                    break;
                pg = connect_host(conn, &ci->hosts[i], target,
                                  fmin(deadline, now + share), deadline, &a, &nomem);
                attempts++;
                /* Cut short by the end of connect_timeout: what an earlier round found still stands. */
                if (!(a.state == HOST_TIMED_OUT && a.out_of_time && last[i].state != HOST_UNTRIED &&
                      last[i].state != HOST_TIMED_OUT))
                    last[i] = a;
            }
        }
        if (pg || nomem)
            break;
        for (int i = 0; i < ci->nhosts; i++) {
            retry = retry && host_retryable(last[i].state);
            wrong_role = wrong_role || last[i].state == HOST_WRONG_ROLE;
        }
        left = deadline - tdb_now();
        if (!retry || left <= 0)
            break;
        /* Hosts up but of the wrong kind: a failover; wait for it, not for `retries`. */
        if (!wrong_role && counted++ >= conn->retries)
            break;
        pause = fmin(BACKOFF_FIRST * pow(2.0, round), wrong_role ? WRONG_ROLE_PAUSE_MAX : BACKOFF_MAX);
        pause *= jitter();
        if (wrong_role)
            pause = fmin(pause, left - 0.05);
        if (pause >= left || pause < 0)
            break;
        sleep_seconds(pause);
        conn->connect_retries++;
    }
    if (nomem)
        tdb_error_set(err, TDB_NOMEM, NULL, "not enough memory to connect");
    else if (!pg)
        fail_message(conn, last, attempts, start, err);
    free(last);
    return pg;
}

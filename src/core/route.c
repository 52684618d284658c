/*
 * route.c — reads on a replica (read_url), writes and transactions on the
 * primary, and read-your-writes without extra round trips.
 *
 * After a write on the handle, the next read goes to the primary, and the
 * primary's WAL insert position is read in the same round trip (a
 * position at or past the write's commit).  Later reads go to the replica
 * with its replay position read just before them in the same round trip;
 * a replica that has not replayed that far is not used for that read (it
 * goes to the primary), so a read never misses a write the handle made.
 * Once the replica is seen past the position, reads skip the check until
 * the next write.  A replica that cannot be reached, or fails a read, is
 * left alone for a while and its reads go to the primary, without an error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn_internal.h"
#include "conninfo.h"

#define REPLICA_CONNECT_TIMEOUT 2.0   /* seconds, at most: the primary is there */
#define REPLICA_COOLDOWN 5.0          /* seconds before a failed replica is tried again */

struct tdb_router {
    tdb_conn_options opts;        /* for connecting to the replica (strings owned here) */
    char *read_url;
    char *application_name;
    tdb_conn *replica;            /* NULL until the first routed read */
    double retry_at;              /* replica left alone until then */
    int dirty;                    /* a write since the primary's position was read */
    unsigned long long written;   /* the primary's position after the handle's writes */
    unsigned long long replayed;  /* the replica seen at or past this position */
    int last_read;                /* TDB_READ_* */
    unsigned replica_reads;
    /* Counters of replica connections closed so far: the handle's info() adds them. */
    unsigned long long statements, round_trips, resends;
    double wait_seconds;
};

tdb_router *tdb_router_new(const tdb_conn_options *opts, tdb_error *err)
{
    tdb_router *r;
    tdb_conninfo ci;
    /* Checked now, with the same rules as url: a bad read_url must not fall back silently. */
    if (tdb_conninfo_parse(opts->read_url, &ci, err) != 0) {
        char why[TDB_MESSAGE_MAX];
        snprintf(why, sizeof why, "%s", err->message);
        snprintf(err->message, sizeof err->message, "read_url: %s", why);
        return NULL;
    }
    tdb_conninfo_free(&ci);
    r = calloc(1, sizeof *r);
    if (!r || !(r->read_url = strdup(opts->read_url)) ||
        (opts->application_name && !(r->application_name = strdup(opts->application_name)))) {
        tdb_router_free(r);
        tdb_error_set(err, TDB_NOMEM, NULL, "not enough memory");
        return NULL;
    }
    r->opts = *opts;
    r->opts.url = r->read_url;
    r->opts.application_name = r->application_name;
    r->opts.read_url = NULL;
    r->opts.retries = 0;
    if (r->opts.connect_timeout <= 0 || r->opts.connect_timeout > REPLICA_CONNECT_TIMEOUT)
        r->opts.connect_timeout = REPLICA_CONNECT_TIMEOUT;
    r->last_read = TDB_READ_NONE;
    return r;
}

void tdb_router_free(tdb_router *r)
{
    if (!r)
        return;
    tdb_conn_close(r->replica);
    free(r->read_url);
    free(r->application_name);
    free(r);
}

/* Only the task reads: init_db's inspection and everything else stay on the primary. */
static int task_read(tdb_sql_id id)
{
    switch (id) {
    case TDB_SQL_GET:
    case TDB_SQL_GET_USER:
    case TDB_SQL_LIST_ALL_ASC:
    case TDB_SQL_LIST_ALL_DESC:
    case TDB_SQL_LIST_ALL_ASC_AFTER:
    case TDB_SQL_LIST_ALL_DESC_AFTER:
    case TDB_SQL_LIST_USER_ASC:
    case TDB_SQL_LIST_USER_DESC:
    case TDB_SQL_LIST_USER_ASC_AFTER:
    case TDB_SQL_LIST_USER_DESC_AFTER:
    case TDB_SQL_COUNT_ALL:
    case TDB_SQL_COUNT_USER:
        return 1;
    default:
        return 0;
    }
}

int tdb_route_wants(tdb_conn *conn, tdb_sql_id id)
{
    if (!conn->router || !task_read(id))
        return 0;
    if (conn->txn_depth == 0 && !conn->begin_pending)
        return 1;
    conn->router->last_read = TDB_READ_PRIMARY;   /* a transaction's reads stay with it */
    return 0;
}

void tdb_route_note_pipeline_read(tdb_conn *conn, tdb_sql_id id)
{
    if (conn->router && task_read(id))
        conn->router->last_read = TDB_READ_PRIMARY;
}

void tdb_route_note_write(tdb_conn *conn)
{
    if (conn->router)
        conn->router->dirty = 1;
}

/* "16/B374D848" -> 0x16B374D848; 0 when NULL or not a position. */
static unsigned long long wal_position(const PGresult *res)
{
    unsigned hi, lo;
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 ||
        PQgetisnull(res, 0, 0) || sscanf(PQgetvalue(res, 0, 0), "%X/%X", &hi, &lo) != 2)
        return 0;
    return ((unsigned long long)hi << 32) | lo;
}

static PGresult *on_primary(tdb_conn *conn, tdb_sql_id id, const tdb_params *p, tdb_error *err)
{
    tdb_router *r = conn->router;
    tdb_around around = { TDB_SQL_NONE, TDB_SQL_NONE, NULL, NULL };
    PGresult *res;
    if (r->dirty)
        around.then = TDB_SQL_PRIMARY_LSN;
    res = tdb_conn_exec_around(conn, id, p, r->dirty ? &around : NULL, err);
    if (res) {
        unsigned long long at = wal_position(around.then_res);
        r->last_read = TDB_READ_PRIMARY;
        if (r->dirty && at > 0) {
            r->written = at > r->written ? at : r->written;
            r->dirty = 0;
        }
    }
    PQclear(around.then_res);
    return res;
}

static int replica_usable(tdb_router *r)
{
    tdb_error ignored;
    if (r->replica)
        return 1;
    if (r->retry_at > 0 && tdb_now() < r->retry_at)
        return 0;
    r->replica = tdb_connect(&r->opts, &ignored);
    if (!r->replica)
        r->retry_at = tdb_now() + REPLICA_COOLDOWN;
    return r->replica != NULL;
}

static void replica_failed(tdb_router *r)
{
    r->statements += r->replica->statements;
    r->round_trips += r->replica->round_trips;
    r->resends += r->replica->resends;
    r->wait_seconds += r->replica->wait_seconds;
    tdb_conn_close(r->replica);
    r->replica = NULL;
    r->retry_at = tdb_now() + REPLICA_COOLDOWN;
}

PGresult *tdb_route_read(tdb_conn *conn, tdb_sql_id id, const tdb_params *p, tdb_error *err)
{
    tdb_router *r = conn->router;
    tdb_around around = { TDB_SQL_NONE, TDB_SQL_NONE, NULL, NULL };
    tdb_error replica_err;
    int check;
    PGresult *res;

    if (r->dirty || !replica_usable(r))
        return on_primary(conn, id, p, err);
    /* Checked on every read after a write: the replica answering may not be the one seen before. */
    check = r->written > 0;
    if (check)
        around.before = TDB_SQL_REPLAY_LSN;
    res = tdb_conn_exec_around(r->replica, id, p, check ? &around : NULL, &replica_err);
    if (!res) {
        replica_failed(r);
        return on_primary(conn, id, p, err);
    }
    if (check) {
        unsigned long long at = wal_position(around.before_res);
        PQclear(around.before_res);
        if (at < r->written) {   /* not replayed that far yet (or not a standby) */
            PQclear(res);
            return on_primary(conn, id, p, err);
        }
        r->replayed = at;
    }
    r->last_read = TDB_READ_REPLICA;
    r->replica_reads++;
    tdb_error_clear(err);
    return res;
}

void tdb_route_info(const tdb_conn *conn, tdb_conn_info *info)
{
    const tdb_router *r = conn->router;
    if (!r)
        return;
    info->last_read = r->last_read == TDB_READ_REPLICA ? "replica"
                    : r->last_read == TDB_READ_PRIMARY ? "primary" : NULL;
    info->replica_reads = r->replica_reads;
    /* The replica's statements are the handle's too (and go to its tracer). */
    info->statements += r->statements + (r->replica ? r->replica->statements : 0);
    info->round_trips += r->round_trips + (r->replica ? r->replica->round_trips : 0);
    info->resends += r->resends + (r->replica ? r->replica->resends : 0);
    info->wait_seconds += r->wait_seconds + (r->replica ? r->replica->wait_seconds : 0);
    info->replica_host = r->replica && r->replica->pg ? PQhost(r->replica->pg) : NULL;
}

void tdb_route_set_trace(tdb_conn *conn, tdb_trace_fn fn, void *ctx)
{
    tdb_router *r = conn->router;
    if (!r)
        return;
    r->opts.trace = fn;
    r->opts.trace_ctx = ctx;
    if (r->replica)
        tdb_conn_set_trace(r->replica, fn, ctx);
}

/*
 * txn.c — transactions: BEGIN/COMMIT/ROLLBACK at the outermost level,
 * savepoints inside.  A connection lost inside a transaction marks it
 * broken: nothing is resent or reconnected until the outermost level ends,
 * and commit reports the loss instead of pretending.
 */
#include <stdio.h>
#include <string.h>

#include "conn_internal.h"

void tdb_conn_lose(tdb_conn *conn)
{
    if (conn->txn_depth > 0)
        conn->txn_broken = 1;
    tdb_conn_drop(conn);
}

int tdb_conn_txn_depth(const tdb_conn *conn)
{
    return conn ? conn->txn_depth : 0;
}

int tdb_conn_begin(tdb_conn *conn, tdb_error *err)
{
    if (!conn) {
        tdb_error_set(err, TDB_CLOSED, NULL, "the connection is closed");
        return -1;
    }
    tdb_error_clear(err);
    /* BEGIN travels with the transaction's first statement (exec.c): no round trip of its own. */
    if (conn->txn_depth == 0) {
        conn->begin_pending = 1;
    } else if (tdb_conn_run(conn, TDB_SQL_SAVEPOINT, NULL, err) != 0) {
        return -1;
    }
    conn->txn_depth++;
    return 0;
}

/* Leaves one level; the outermost level also forgets a broken connection. */
static void txn_pop(tdb_conn *conn)
{
    if (conn->txn_depth > 0)
        conn->txn_depth--;
    if (conn->txn_depth == 0) {
        conn->txn_broken = 0;
        conn->begin_pending = 0;
    }
}

int tdb_conn_rollback(tdb_conn *conn, tdb_error *err)
{
    int rc = 0;
    tdb_error_clear(err);
    if (!conn || conn->txn_depth == 0)
        return 0;
    if (conn->txn_broken || !conn->pg || conn->begin_pending) {
        txn_pop(conn);   /* the server already rolled everything back, or never began */
        return 0;
    }
    if (conn->txn_depth == 1) {
        rc = tdb_conn_run(conn, TDB_SQL_ROLLBACK, NULL, err);
    } else {
        rc = tdb_conn_run(conn, TDB_SQL_ROLLBACK_TO, NULL, err);
        if (rc == 0)
            rc = tdb_conn_run(conn, TDB_SQL_RELEASE, NULL, err);
    }
    txn_pop(conn);
    return rc;
}

/* Why the transaction cannot commit (err set, level left), or 0 when it can be tried. */
static int commit_refused(tdb_conn *conn, tdb_error *err)
{
    if (conn->txn_broken || !conn->pg) {
        txn_pop(conn);
        tdb_error_set(err, TDB_CONNECTION, NULL,
                      "commit: the connection was lost inside this transaction; "
                      "the server rolled it back");
        return -1;
    }
    /* An aborted transaction must not look committed: COMMIT would answer "ROLLBACK". */
    if (PQtransactionStatus(conn->pg) == PQTRANS_INERROR) {
        tdb_error ignored;
        tdb_conn_rollback(conn, &ignored);
        tdb_error_set(err, TDB_DATABASE, NULL,
                      "commit: an earlier statement failed, so the transaction was rolled back");
        snprintf(err->sqlstate, sizeof err->sqlstate, "%s", TDB_SQLSTATE_IN_FAILED_TXN);
        return -1;
    }
    return 0;
}

int tdb_conn_commit(tdb_conn *conn, tdb_error *err)
{
    PGresult *res = NULL;
    int rc = -1;
    tdb_error_clear(err);
    if (!conn || conn->txn_depth == 0) {
        tdb_error_set(err, TDB_INVALID, NULL, "commit outside a transaction");
        return -1;
    }
    if (conn->begin_pending && conn->txn_depth == 1) {
        txn_pop(conn);   /* nothing was sent: nothing to commit */
        return 0;
    }
    if (commit_refused(conn, err) != 0)
        return -1;
    if (conn->txn_depth > 1) {
        rc = tdb_conn_run(conn, TDB_SQL_RELEASE, NULL, err);
        txn_pop(conn);
        return rc;
    }
    /* Lost before COMMIT is sent: certainly rolled back.  Lost after: unknown. */
    if (tdb_conn_ensure_live(conn, 1, err) != 0)
        goto done;
    res = tdb_conn_exec(conn, TDB_SQL_COMMIT, NULL, err);
    if (!res) {
        if (err->kind == TDB_CONNECTION)
            snprintf(err->message, sizeof err->message,
                     "commit: the connection was lost during COMMIT; "
                     "whether the transaction was committed is unknown");
        goto done;
    }
    if (strcmp(PQcmdStatus(res), "ROLLBACK") == 0) {
        tdb_error_set(err, TDB_DATABASE, NULL, "commit: the server rolled the transaction back");
        goto done;
    }
    rc = 0;
done:
    txn_pop(conn);
    PQclear(res);
    return rc;
}

/*
 * Runs `id` and ends the innermost level (COMMIT, or RELEASE for a
 * savepoint) in the same round trip.  When the statement fails, the server
 * skips the end and the level is rolled back here; err is the statement's.
 */
PGresult *tdb_conn_exec_commit(tdb_conn *conn, tdb_sql_id id, const tdb_params *params,
                               tdb_error *err)
{
    PGresult *res = NULL, *end;
    tdb_around around = { TDB_SQL_NONE, TDB_SQL_NONE, NULL, NULL };
    tdb_error ignored;
    tdb_error_clear(err);
    if (!conn || conn->txn_depth == 0) {
        tdb_error_set(err, TDB_INVALID, NULL, "commit outside a transaction");
        return NULL;
    }
    around.then = conn->txn_depth == 1 ? TDB_SQL_COMMIT : TDB_SQL_RELEASE;
    res = tdb_conn_exec_around(conn, id, params, &around, err);
    if (!res) {
        /* Lost, or dropped unanswered after a timeout, once COMMIT had left: unknown. */
        if ((err->kind == TDB_CONNECTION || (err->kind == TDB_TIMEOUT && !err->sqlstate[0])) &&
            around.then == TDB_SQL_COMMIT && !conn->begin_pending)
            snprintf(err->message, sizeof err->message,
                     "commit: the connection was lost during COMMIT; "
                     "whether the transaction was committed is unknown");
        tdb_conn_rollback(conn, &ignored);
        return NULL;
    }
    txn_pop(conn);
    end = around.then_res;
    if (PQresultStatus(end) != PGRES_COMMAND_OK || strcmp(PQcmdStatus(end), "ROLLBACK") == 0) {
        if (PQresultStatus(end) == PGRES_COMMAND_OK)
            tdb_error_set(err, TDB_DATABASE, NULL, "commit: the server rolled the transaction back");
        else
            tdb_error_from_result(err, conn->pg, end, "commit");
        PQclear(end);
        PQclear(res);
        return NULL;
    }
    PQclear(end);
    return res;
}

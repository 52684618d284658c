/* schema.c — init_db and the repair: look in one round trip, change only under a lock. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema.h"
#include "schema_check.h"

static const char *value(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

static int inspect(tdb_conn *conn, tdb_schema_facts *f, tdb_error *err)
{
    PGresult *res = tdb_conn_exec(conn, TDB_SQL_SCHEMA_INSPECT, NULL, err);
    tdb_schema_facts_init(f);
    if (!res)
        return -1;
    for (int i = 0; i < PQntuples(res); i++)
        tdb_schema_fact(f, value(res, i, 0), value(res, i, 1), value(res, i, 2),
                        value(res, i, 3), value(res, i, 4), value(res, i, 5));
    PQclear(res);
    return 0;
}

/* An existing relation: a table with nothing missing or different, or an error. */
static int judge(const tdb_schema_facts *f, tdb_error *err)
{
    if (f->relkind != 'r' && f->relkind != 'p') {
        tdb_error_set(err, TDB_SCHEMA, NULL,
                      "init_db: public.tasks exists but is not a table (relkind %c); taskdb "
                      "never alters or drops it", f->relkind);
        return -1;
    }
    tdb_error_clear(err);
    if (tdb_schema_differences(f, err->message, sizeof err->message) == 0)
        return 0;
    err->kind = TDB_SCHEMA;
    return -1;
}

static int indexes_complete(const tdb_schema_facts *f)
{
    for (int i = 0; i < TDB_IDX_COUNT; i++)
        if (tdb_schema_index_needed(f, i) && !f->index_ok[i])
            return 0;
    return 1;
}

/*
 * Under the lock, with what exists now (another process may have made it
 * while we waited): a new table is created whole, an existing one that
 * passes gets only the indexes it lacks.  A new table on a Citus
 * coordinator is distributed in the same transaction, so no caller ever
 * sees it undistributed.
 */
static int create_locked(tdb_conn *conn, tdb_error *err)
{
    tdb_schema_facts f;
    static const tdb_sql_id index_stmt[TDB_IDX_COUNT] = {
        [TDB_IDX_USER] = TDB_SQL_CREATE_INDEX_USER,
        [TDB_IDX_CREATED] = TDB_SQL_CREATE_INDEX_CREATED,
        [TDB_IDX_ID] = TDB_SQL_CREATE_INDEX_ID,
    };
    if (tdb_conn_run(conn, TDB_SQL_SCHEMA_LOCK, NULL, err) != 0 || inspect(conn, &f, err) != 0)
        return -1;
    if (!f.exists) {
        if (tdb_conn_run(conn, f.citus ? TDB_SQL_CREATE_TABLE_KEYED : TDB_SQL_CREATE_TABLE, NULL,
                         err) != 0)
            return -1;
        f.key = f.citus ? TDB_KEY_USER_ID : TDB_KEY_ID;
    } else if (judge(&f, err) != 0) {
        return -1;
    }
    for (int i = 0; i < TDB_IDX_COUNT; i++)
        if (tdb_schema_index_needed(&f, i) && !f.index_ok[i] &&
            tdb_conn_run(conn, index_stmt[i], NULL, err) != 0)
            return -1;
    if (!f.exists && f.citus && tdb_conn_run(conn, TDB_SQL_DISTRIBUTE, NULL, err) != 0)
        return -1;
    return 0;
}

int tdb_schema_init(tdb_conn *conn, tdb_error *err)
{
    tdb_schema_facts f;
    tdb_error ignored;
    if (inspect(conn, &f, err) != 0)
        return -1;
    if (f.exists) {
        if (judge(&f, err) != 0)
            return -1;
        if (indexes_complete(&f))
            return 0;
    }
    if (tdb_conn_begin(conn, err) != 0)
        return -1;
    if (create_locked(conn, err) != 0) {
        tdb_conn_rollback(conn, &ignored);
        return -1;
    }
    return tdb_conn_commit(conn, err);
}

/* The rows whose user_id or title only the old CHECKs let in. */
static int find_blank_rows(tdb_conn *conn, tdb_repair_plan *plan, tdb_error *err)
{
    PGresult *res = tdb_conn_exec(conn, TDB_SQL_REPAIR_BLANK_ROWS, NULL, err);
    if (!res)
        return -1;
    for (int i = 0; i < PQntuples(res) && plan->nblank < TDB_REPAIR_MAX_ROWS; i++)
        plan->blank_ids[plan->nblank++] = strtoll(PQgetvalue(res, i, 0), NULL, 10);
    PQclear(res);
    return 0;
}

static int plan_repair(tdb_conn *conn, tdb_repair_plan *plan, tdb_error *err)
{
    tdb_schema_facts f;
    if (inspect(conn, &f, err) != 0)
        return -1;
    plan->nsteps = f.exists ? tdb_schema_repair_steps(&f, plan->steps) : 0;
    for (int i = 0; i < plan->nsteps; i++)
        if (plan->steps[i] != TDB_SQL_REPAIR_CLOCK_CHECK)
            return find_blank_rows(conn, plan, err);
    return 0;
}

static int repair_locked(tdb_conn *conn, tdb_repair_plan *plan, tdb_error *err)
{
    size_t n;
    if (tdb_conn_run(conn, TDB_SQL_SCHEMA_LOCK, NULL, err) != 0 || plan_repair(conn, plan, err) != 0)
        return -1;
    if (plan->nblank > 0) {
        tdb_error_set(err, TDB_SCHEMA, NULL,
                      "repair_schema: %s%d row%s of public.tasks %s a user_id or title made only "
                      "of white space, which the new CHECKs refuse; fix or delete them first "
                      "(nothing was changed): ids",
                      plan->nblank == TDB_REPAIR_MAX_ROWS ? "at least " : "", plan->nblank,
                      plan->nblank == 1 ? "" : "s", plan->nblank == 1 ? "has" : "have");
        n = strlen(err->message);
        for (int i = 0; i < plan->nblank && n < sizeof err->message; i++)
            n += (size_t)snprintf(err->message + n, sizeof err->message - n, "%s %lld",
                                  i ? "," : "", plan->blank_ids[i]);
        return -1;
    }
    for (int i = 0; i < plan->nsteps; i++)
        if (tdb_conn_run(conn, plan->steps[i], NULL, err) != 0)
            return -1;
    return 0;
}

int tdb_schema_repair(tdb_conn *conn, int apply, tdb_repair_plan *plan, tdb_error *err)
{
    tdb_error ignored;
    memset(plan, 0, sizeof *plan);
    if (!apply)
        return plan_repair(conn, plan, err);
    if (tdb_conn_begin(conn, err) != 0)
        return -1;
    if (repair_locked(conn, plan, err) != 0) {
        tdb_error saved = *err;
        tdb_conn_rollback(conn, &ignored);
        *err = saved;
        return -1;
    }
    if (tdb_conn_commit(conn, err) != 0)
        return -1;
    plan->applied = plan->nsteps > 0;
    return 0;
}

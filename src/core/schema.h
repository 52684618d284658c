/*
 * schema.h — init_db (idempotent creation of the tasks table; no
 * migrations) and the one repair taskdb performs, on request.
 *
 * tdb_schema_init checks the catalogue in one round trip and judges an
 * existing table (schema_check.h): any difference is a TDB_SCHEMA error
 * naming every difference with its remedy, and nothing is altered.  Only
 * when something is missing does it take a transaction-scoped advisory
 * lock (so any number of processes can run it at once), look again, and
 * create what is absent: the table with its CHECKs and indexes, or only
 * our indexes.  On a Citus coordinator (the citus extension installed) a
 * new table gets the key (user_id, id) and an index on id, and is
 * distributed by user_id in the same transaction.
 *
 * tdb_schema_repair fixes a table made by taskshell's earlier versions
 * (their blank CHECKs refused the letter v; a CHECK compared updated_at
 * with created_at): the only statements in taskdb that alter the table.
 */
#ifndef TDB_SCHEMA_H
#define TDB_SCHEMA_H

#include "conn.h"

int tdb_schema_init(tdb_conn *conn, tdb_error *err);

#define TDB_REPAIR_MAX_STEPS 3
#define TDB_REPAIR_MAX_ROWS 20

typedef struct tdb_repair_plan {
    int nsteps;                                  /* 0: nothing to repair */
    tdb_sql_id steps[TDB_REPAIR_MAX_STEPS];      /* catalogue statements, in order */
    int applied;                                 /* the steps were committed */
    int nblank;                                  /* rows the new CHECKs would refuse */
    long long blank_ids[TDB_REPAIR_MAX_ROWS];    /* the first of them, by id */
} tdb_repair_plan;

/*
 * Fills plan with the repair the table needs.  With apply, performs it in
 * one transaction (under init_db's lock, after looking again): it fails
 * with TDB_SCHEMA, changing nothing, while rows exist that the new CHECKs
 * would refuse (a title of only NBSP, allowed by the old CHECK).
 */
int tdb_schema_repair(tdb_conn *conn, int apply, tdb_repair_plan *plan, tdb_error *err);

#endif

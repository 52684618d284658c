/*
 * pipeline.h — independent statements sent together: one round trip per
 * batch instead of one per statement (libpq's pipeline mode).
 *
 * Calls are queued (tdb_pipeline_add copies what it needs, so the caller's
 * strings may go away), then tdb_pipeline_run sends them all and collects
 * every call's outcome in order.  Each call has its own Sync: outside a
 * transaction each commits on its own; inside one, all are part of it.
 * A connection lost midway: answered calls keep their outcomes; reads not
 * answered are run again on a fresh connection; writes not answered fail
 * with a `connection` error saying their outcome is unknown (never sent
 * twice); calls that never left are run; inside a transaction every call
 * not answered fails and the transaction is broken.
 *
 * The caller owns the pipeline (tdb_pipeline_free) and, through it, the
 * results.  Not thread-safe.
 */
#ifndef TDB_PIPELINE_H
#define TDB_PIPELINE_H

#include <stddef.h>

#include "conn.h"

typedef struct tdb_pipeline tdb_pipeline;

/* NULL when out of memory. */
tdb_pipeline *tdb_pipeline_new(void);
void tdb_pipeline_free(tdb_pipeline *pl);

/* Queues a statement; copies the parameters.  -1 (err set) when out of memory. */
int tdb_pipeline_add(tdb_pipeline *pl, tdb_sql_id id, const tdb_params *params, tdb_error *err);

size_t tdb_pipeline_count(const tdb_pipeline *pl);

/*
 * Sends every queued call and collects the outcomes.  -1 (err set) only
 * when nothing could be sent (closed handle, no connection): then no call
 * has an outcome.  Otherwise 0, and each call has a result or an error.
 */
int tdb_pipeline_run(tdb_conn *conn, tdb_pipeline *pl, tdb_error *err);

/*
 * Call i's outcome: its result (owned by the pipeline), or NULL with the
 * call's error copied to *err.  A call queued as TDB_SQL_NONE (nothing to
 * send) has neither: tdb_pipeline_skipped says so.
 */
int tdb_pipeline_skipped(const tdb_pipeline *pl, size_t i);

const PGresult *tdb_pipeline_result(const tdb_pipeline *pl, size_t i, tdb_error *err);

#endif

/*
 * schema.h — idempotent creation of the tasks table; no migrations.
 *
 * tdb_schema_init checks the catalogue in one round trip; only when
 * something is missing does it take a transaction-scoped advisory lock
 * (so any number of processes can run it at once) and create what is
 * absent.  An existing table that lacks a column the layer needs, or has it
 * with another type, is a TDB_SCHEMA error naming the difference; nothing
 * is ever altered or dropped.
 */
#ifndef TDB_SCHEMA_H
#define TDB_SCHEMA_H

#include "conn.h"

int tdb_schema_init(tdb_conn *conn, tdb_error *err);

#endif

/*
 * schema_check.h — judging an existing public.tasks against what taskdb
 * needs, and saying how to fix every difference.
 *
 * Internal to the core.  schema.c runs TDB_SQL_SCHEMA_INSPECT and hands
 * each of its rows to tdb_schema_fact; tdb_schema_differences then writes
 * one line naming every difference with its remedy.  Constraints and
 * indexes are recognised by their definitions (sql.h, tdb_sql_definition),
 * whatever client made them.  Nothing here allocates or talks to the
 * server; the facts live in a caller-owned struct.
 */
#ifndef TDB_SCHEMA_CHECK_H
#define TDB_SCHEMA_CHECK_H

#include <stddef.h>

#include "sql.h"

/* The table's key: (id) everywhere, (user_id, id) so Citus can distribute it. */
typedef enum tdb_key_form {
    TDB_KEY_NONE = 0,
    TDB_KEY_ID,
    TDB_KEY_USER_ID,
    TDB_KEY_OTHER
} tdb_key_form;

/* The CHECKs of taskshell's earlier versions, repaired by tdb_schema_repair. */
enum { TDB_OLD_CLOCK, TDB_OLD_USER_ID, TDB_OLD_TITLE, TDB_OLD_COUNT };

/* taskdb's own indexes (created by init_db when missing). */
enum { TDB_IDX_USER, TDB_IDX_CREATED, TDB_IDX_ID, TDB_IDX_COUNT };

#define TDB_SCHEMA_COLUMNS 7
#define TDB_SCHEMA_NAME 130      /* a quoted identifier of up to 63 bytes, and more */
#define TDB_SCHEMA_EXTRA 8       /* extra NOT NULL columns without a default, named */

typedef struct tdb_schema_column {
    int seen;
    int notnull;
    int has_default;
    char type[TDB_SCHEMA_NAME];
    char dflt[200];              /* "identity", or the default's expression */
    char sequence[TDB_SCHEMA_NAME];   /* id only: the sequence the column owns, or "" */
} tdb_schema_column;

typedef struct tdb_schema_facts {
    int exists;                  /* a relation named public.tasks */
    char relkind;
    int citus;                   /* the citus extension is installed */
    tdb_key_form key;
    char key_name[TDB_SCHEMA_NAME];
    char key_columns[TDB_SCHEMA_NAME];
    tdb_schema_column column[TDB_SCHEMA_COLUMNS];
    int not_blank[2];            /* our CHECK on user_id, on title */
    int old[TDB_OLD_COUNT];      /* an earlier version's CHECK, by definition */
    int old_named[TDB_OLD_COUNT];     /* ... under the name that version gave it */
    char old_name[TDB_OLD_COUNT][TDB_SCHEMA_NAME];
    int index_ok[TDB_IDX_COUNT];      /* present, with our definition */
    int index_other[TDB_IDX_COUNT];   /* our name, another definition */
    int nextra;
    char extra[TDB_SCHEMA_EXTRA][TDB_SCHEMA_NAME];
} tdb_schema_facts;

void tdb_schema_facts_init(tdb_schema_facts *f);

/* One row of TDB_SQL_SCHEMA_INSPECT: kind, name and up to four details (NULL: SQL NULL). */
void tdb_schema_fact(tdb_schema_facts *f, const char *kind, const char *name,
                     const char *a, const char *b, const char *c, const char *d);

/* The indexes the table should have, given its key. */
int tdb_schema_index_needed(const tdb_schema_facts *f, int index);

/*
 * Writes every difference, numbered, each with its remedy, as one line
 * into msg (truncated with "..." if cap is too small); returns how many
 * there are (0: the table is what taskdb needs, maybe short of indexes).
 */
int tdb_schema_differences(const tdb_schema_facts *f, char *msg, size_t cap);

/*
 * The repair of a table made by taskshell's earlier versions: the
 * catalogue statements that fix its CHECKs, in order (at most
 * TDB_OLD_COUNT); returns how many (0: nothing to repair).
 */
int tdb_schema_repair_steps(const tdb_schema_facts *f, tdb_sql_id steps[TDB_OLD_COUNT]);

#endif

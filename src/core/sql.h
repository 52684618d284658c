/*
 * sql.h — every SQL statement the core sends, in one catalogue.
 *
 * Each entry is a fixed, parameterized text; values travel only as $n
 * parameters.  Task-returning statements select TDB_TASK_COLUMNS in this
 * order, in binary format (see task.h for decoding).  The catalogue is also
 * what the benchmark's pgbench baseline runs (build/taskdb-sql prints it),
 * so both sides send the very same statements.  Everything here is static
 * and read-only.
 */
#ifndef TDB_SQL_H
#define TDB_SQL_H

typedef enum tdb_sql_id {
    TDB_SQL_INSERT,
    TDB_SQL_GET,
    TDB_SQL_GET_USER,
    TDB_SQL_UPDATE,
    TDB_SQL_UPDATE_USER,
    TDB_SQL_TOGGLE,
    TDB_SQL_TOGGLE_USER,
    TDB_SQL_DELETE,
    TDB_SQL_DELETE_USER,
    TDB_SQL_LIST_ALL_ASC,
    TDB_SQL_LIST_ALL_DESC,
    TDB_SQL_LIST_ALL_ASC_AFTER,
    TDB_SQL_LIST_ALL_DESC_AFTER,
    TDB_SQL_LIST_USER_ASC,
    TDB_SQL_LIST_USER_DESC,
    TDB_SQL_LIST_USER_ASC_AFTER,
    TDB_SQL_LIST_USER_DESC_AFTER,
    TDB_SQL_COUNT_ALL,
    TDB_SQL_COUNT_USER,
    TDB_SQL_COPY_START_TXN,
    TDB_SQL_COPY_START_SAVEPOINT,
    TDB_SQL_COPY_START_TXN_SAVEPOINT,
    TDB_SQL_IDS_PROVEN,
    TDB_SQL_NEXT_IDS,
    TDB_SQL_COPY_IN_IDS,
    TDB_SQL_SCHEMA_INSPECT,
    TDB_SQL_SCHEMA_LOCK,
    TDB_SQL_CREATE_TABLE,
    TDB_SQL_CREATE_INDEX_USER,
    TDB_SQL_CREATE_INDEX_CREATED,
    TDB_SQL_CREATE_TABLE_KEYED,
    TDB_SQL_CREATE_INDEX_ID,
    TDB_SQL_DISTRIBUTE,
    TDB_SQL_REPAIR_CLOCK_CHECK,
    TDB_SQL_REPAIR_USER_ID_CHECK,
    TDB_SQL_REPAIR_TITLE_CHECK,
    TDB_SQL_REPAIR_BLANK_ROWS,
    TDB_SQL_PING,
    TDB_SQL_BEGIN,
    TDB_SQL_COMMIT,
    TDB_SQL_ROLLBACK,
    TDB_SQL_SAVEPOINT,
    TDB_SQL_RELEASE,
    TDB_SQL_ROLLBACK_TO,
    TDB_SQL_BACKEND_PID,
    TDB_SQL_PRIMARY_LSN,
    TDB_SQL_REPLAY_LSN,
    TDB_SQL_SESSION_READ_ONLY,
    TDB_SQL_IN_RECOVERY,
    /* set-based calls */
    TDB_SQL_UPDATE_MANY,
    TDB_SQL_UPDATE_MANY_USER,
    TDB_SQL_UPDATE_MANY_IDS,
    TDB_SQL_UPDATE_MANY_USER_IDS,
    TDB_SQL_DELETE_MANY,
    TDB_SQL_DELETE_MANY_USER,
    TDB_SQL_DELETE_MANY_IDS,
    TDB_SQL_DELETE_MANY_USER_IDS,
    TDB_SQL_STMT_COUNT,
    TDB_SQL_NONE = TDB_SQL_STMT_COUNT   /* no statement (an optional step left out) */
} tdb_sql_id;

typedef struct tdb_sql {
    const char *label;      /* short name, for errors and the benchmark */
    const char *text;
    int nparams;
    unsigned char is_read;  /* no side effects: safe to resend when the outcome is unknown */
    unsigned char binary;   /* results requested in binary format */
    unsigned char prepare;  /* worth a named prepared statement (hot path) */
} tdb_sql;

/*
 * "Not blank" in the table's CHECKs: the value has a character outside
 * Unicode's White_Space set (validate.c's set, code point for code point).
 * TDB_SQL_WHITE_SPACE_CLASS is the regular expression as the server shows
 * it back (pg_get_constraintdef); the literal is how the DDL writes it, an
 * E'' string so it means the same whatever standard_conforming_strings is.
 */
#define TDB_SQL_WHITE_SPACE_CLASS \
    "[^\\u0009-\\u000d\\u0020\\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029" \
    "\\u202f\\u205f\\u3000]"
#define TDB_SQL_WHITE_SPACE_LITERAL \
    "E'[^\\\\u0009-\\\\u000d\\\\u0020\\\\u0085\\\\u00a0\\\\u1680\\\\u2000-\\\\u200a" \
    "\\\\u2028\\\\u2029\\\\u202f\\\\u205f\\\\u3000]'"

/* Column order of every task-returning statement. */
enum {
    TDB_COL_ID, TDB_COL_USER_ID, TDB_COL_TITLE, TDB_COL_DESCRIPTION,
    TDB_COL_COMPLETED, TDB_COL_CREATED_AT, TDB_COL_UPDATED_AT, TDB_COL_COUNT
};

const tdb_sql *tdb_sql_get(tdb_sql_id id);

/* Definitions init_db recognises, as the server prints them back. */
typedef enum tdb_sql_def {
    TDB_DEF_USER_ID_NOT_BLANK,
    TDB_DEF_TITLE_NOT_BLANK,
    TDB_DEF_USER_ID_NOT_BLANK_TEXT,
    TDB_DEF_TITLE_NOT_BLANK_TEXT,
    TDB_DEF_OLD_USER_ID_CHECK,   /* earlier versions: trims the letter v */
    TDB_DEF_OLD_TITLE_CHECK,
    TDB_DEF_OLD_CLOCK_CHECK,     /* earlier versions: updated_at >= created_at */
    TDB_DEF_INDEX_USER,
    TDB_DEF_INDEX_CREATED,
    TDB_DEF_INDEX_ID,
    TDB_DEF_COUNT
} tdb_sql_def;

const char *tdb_sql_definition(tdb_sql_def def);

/*
 * The server-side name of a prepared statement: "taskdb_" plus a hash of
 * its text, so two clients (or two releases) sharing a pooled backend can
 * never mean different things by one name.
 */
const char *tdb_sql_prepared_name(tdb_sql_id id);

#endif

/* sql.c — the statement catalogue.  Read it beside DESIGN.md's field rules. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include "sql.h"

#define TASK_COLUMNS \
    "id, user_id, title, description, completed, created_at, updated_at"

/* updated_at must move forward even twice in one transaction (now() would not). */
#define TOUCH "updated_at = GREATEST(clock_timestamp(), updated_at + interval '1 microsecond')"

static const char sql_insert[] =
    "INSERT INTO public.tasks (user_id, title, description, completed) "
    "VALUES ($1, $2, $3, COALESCE($4::boolean, false)) RETURNING " TASK_COLUMNS;

static const char sql_get[] =
    "SELECT " TASK_COLUMNS " FROM public.tasks WHERE id = $1";
static const char sql_get_user[] =
    "SELECT " TASK_COLUMNS " FROM public.tasks WHERE id = $1 AND user_id = $2";

/* $2 title (NULL keeps), $3 whether to set description, $4 description, $5 completed (NULL keeps) */
#define UPDATE_SET \
    "UPDATE public.tasks SET title = COALESCE($2, title), " \
    "description = CASE WHEN $3::boolean THEN $4 ELSE description END, " \
    "completed = COALESCE($5::boolean, completed), " TOUCH " WHERE id = $1"
static const char sql_update[] = UPDATE_SET " RETURNING " TASK_COLUMNS;
static const char sql_update_user[] = UPDATE_SET " AND user_id = $6 RETURNING " TASK_COLUMNS;

/* Atomic in SQL: two concurrent toggles are two flips, never one. */
#define TOGGLE_SET "UPDATE public.tasks SET completed = NOT completed, " TOUCH " WHERE id = $1"
static const char sql_toggle[] = TOGGLE_SET " RETURNING " TASK_COLUMNS;
static const char sql_toggle_user[] = TOGGLE_SET " AND user_id = $2 RETURNING " TASK_COLUMNS;

static const char sql_delete[] = "DELETE FROM public.tasks WHERE id = $1";
static const char sql_delete_user[] = "DELETE FROM public.tasks WHERE id = $1 AND user_id = $2";

/*
 * Listing: one text per (user filter, direction, keyset) so that each plans
 * to an index scan on (user_id, created_at, id) or (created_at, id).
 * completed = NULL means any; LIMIT NULL means all.
 */
#define LIST_ALL  "SELECT " TASK_COLUMNS " FROM public.tasks WHERE ($1::boolean IS NULL OR completed = $1)"
#define LIST_USER "SELECT " TASK_COLUMNS " FROM public.tasks WHERE user_id = $1 AND ($2::boolean IS NULL OR completed = $2)"
#define ASC  " ORDER BY created_at, id"
#define DESC " ORDER BY created_at DESC, id DESC"

static const char sql_list_all_asc[]   = LIST_ALL ASC " LIMIT $2";
static const char sql_list_all_desc[]  = LIST_ALL DESC " LIMIT $2";
static const char sql_list_all_asc_after[] =
    LIST_ALL " AND (created_at, id) > ($3::timestamptz, $4::bigint)" ASC " LIMIT $2";
static const char sql_list_all_desc_after[] =
    LIST_ALL " AND (created_at, id) < ($3::timestamptz, $4::bigint)" DESC " LIMIT $2";
static const char sql_list_user_asc[]  = LIST_USER ASC " LIMIT $3";
static const char sql_list_user_desc[] = LIST_USER DESC " LIMIT $3";
static const char sql_list_user_asc_after[] =
    LIST_USER " AND (created_at, id) > ($4::timestamptz, $5::bigint)" ASC " LIMIT $3";
static const char sql_list_user_desc_after[] =
    LIST_USER " AND (created_at, id) < ($4::timestamptz, $5::bigint)" DESC " LIMIT $3";

static const char sql_count_all[] =
    "SELECT count(*) FROM public.tasks WHERE ($1::boolean IS NULL OR completed = $1)";
static const char sql_count_user[] =
    "SELECT count(*) FROM public.tasks WHERE user_id = $1 AND ($2::boolean IS NULL OR completed = $2)";

/*
 * Bulk.  Rows normally take their ids from the column default inside COPY;
 * the sequence's last value read before and this session's last value
 * after tell which ids they got (see bulk.c).  The mark is NULL when that
 * proof cannot hold (a step or cache other than 1, or no right to read the
 * sequence): then ids are drawn first and COPY carries them.
 */
#define ID_SEQUENCE "pg_get_serial_sequence('public.tasks', 'id')"
#define ID_MARK \
    "SELECT CASE WHEN q.seqincrement = 1 AND q.seqcache = 1" \
    " AND has_sequence_privilege(q.seqrelid, 'USAGE, SELECT')" \
    " THEN pg_sequence_last_value(q.seqrelid) END " \
    "FROM pg_catalog.pg_sequence q WHERE q.seqrelid = " ID_SEQUENCE "::regclass"
#define COPY_IN "COPY public.tasks (user_id, title, description, completed) FROM STDIN (FORMAT binary)"
/*
 * The start of a batch in one round trip: its transaction (or savepoint),
 * the mark and COPY, as one simple-protocol query (none has parameters).
 */
static const char sql_copy_start_txn[] = "BEGIN; " ID_MARK "; " COPY_IN;
static const char sql_copy_start_savepoint[] = "SAVEPOINT taskdb_sp; " ID_MARK "; " COPY_IN;
static const char sql_copy_start_txn_savepoint[] =
    "BEGIN; SAVEPOINT taskdb_sp; " ID_MARK "; " COPY_IN;
/*
 * The proof ($1 mark, $2 rows): fails with division_by_zero unless this
 * session's last id is mark + rows, so the COMMIT pipelined after it is
 * skipped when the ids are not the ones the batch assumes.
 */
static const char sql_ids_proven[] =
    "SELECT 1 / (currval(" ID_SEQUENCE ") = $1::bigint + $2::bigint)::integer";
static const char sql_next_ids[] =
    "WITH s AS MATERIALIZED (SELECT " ID_SEQUENCE "::regclass AS seq) "
    "SELECT nextval(s.seq) FROM s, generate_series(1, $1::integer)";
static const char sql_copy_in_ids[] =
    "COPY public.tasks (id, user_id, title, description, completed) FROM STDIN (FORMAT binary)";

/*
 * One row per column of public.tasks (one with a NULL name if it has
 * none; no row if there is no such relation), each carrying the relation's
 * kind and whether both indexes exist.  Kept to the catalogues a new
 * backend must read anyway: this is the first statement of most scripts.
 */
static const char sql_schema_inspect[] =
    "SELECT c.relkind::text, "
    "to_regclass('public.tasks_user_created_idx') IS NOT NULL "
    "AND to_regclass('public.tasks_created_idx') IS NOT NULL, "
    "a.attname, format_type(a.atttypid, a.atttypmod), a.attidentity <> '' OR a.atthasdef "
    "FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_attribute a "
    "ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
    "WHERE c.oid = to_regclass('public.tasks')";

static const char sql_schema_lock[] =
    "SELECT pg_advisory_xact_lock(7361737464620001)";

static const char sql_create_table[] =
    "CREATE TABLE IF NOT EXISTS public.tasks ("
    " id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    " user_id varchar(255) NOT NULL"
    "   CONSTRAINT tasks_user_id_check CHECK (char_length(btrim(user_id, E' \\t\\n\\r\\f\\v')) > 0),"
    " title varchar(200) NOT NULL"
    "   CONSTRAINT tasks_title_check CHECK (char_length(btrim(title, E' \\t\\n\\r\\f\\v')) > 0),"
    " description varchar(1000),"
    " completed boolean NOT NULL DEFAULT false,"
    " created_at timestamptz NOT NULL DEFAULT now(),"
    " updated_at timestamptz NOT NULL DEFAULT now(),"
    " CONSTRAINT tasks_updated_after_created CHECK (updated_at >= created_at))";

/* A user's ordered listing (and keyset pages) is one index range scan. */
static const char sql_create_index_user[] =
    "CREATE INDEX IF NOT EXISTS tasks_user_created_idx ON public.tasks (user_id, created_at, id)";
static const char sql_create_index_created[] =
    "CREATE INDEX IF NOT EXISTS tasks_created_idx ON public.tasks (created_at, id)";

static const char sql_ping[] = "";
static const char sql_begin[] = "BEGIN";
static const char sql_commit[] = "COMMIT";
static const char sql_rollback[] = "ROLLBACK";
/* One name serves every level: PostgreSQL resolves a reused name to the newest. */
static const char sql_savepoint[] = "SAVEPOINT taskdb_sp";
static const char sql_release[] = "RELEASE SAVEPOINT taskdb_sp";
static const char sql_rollback_to[] = "ROLLBACK TO SAVEPOINT taskdb_sp";
/* Read-your-writes on a replica (route.c): positions in the WAL, as text "X/Y". */
static const char sql_primary_lsn[] = "SELECT pg_current_wal_insert_lsn()::text";
static const char sql_replay_lsn[] = "SELECT pg_last_wal_replay_lsn()::text";
/* A proxy (PgBouncer, a cloud pooler) hands out its own backend key: compare. */
static const char sql_backend_pid[] = "SELECT pg_backend_pid()";

/*
 * Set-based calls (task_set.c): one statement whatever the number of rows.
 * One text per (user filter, id list) pair, so a user's rows are one index
 * range and an id list one primary-key probe each.  `ids` is a single
 * bigint[] parameter.  completed = NULL means any.  The same TOUCH as the
 * single update: updated_at moves forward on every row changed.
 *   update: $1 title (NULL keeps), $2 whether to set description, $3 description,
 *           $4 completed (NULL keeps), $5 filter completed, then user_id and/or ids
 *   delete: $1 filter completed, then user_id and/or ids
 */
#define UPDATE_MANY \
    "UPDATE public.tasks SET title = COALESCE($1, title), " \
    "description = CASE WHEN $2::boolean THEN $3 ELSE description END, " \
    "completed = COALESCE($4::boolean, completed), " TOUCH \
    " WHERE ($5::boolean IS NULL OR completed = $5)"
#define DELETE_MANY "DELETE FROM public.tasks WHERE ($1::boolean IS NULL OR completed = $1)"
static const char sql_update_many[] = UPDATE_MANY;
static const char sql_update_many_user[] = UPDATE_MANY " AND user_id = $6";
static const char sql_update_many_ids[] = UPDATE_MANY " AND id = ANY($6::bigint[])";
static const char sql_update_many_user_ids[] =
    UPDATE_MANY " AND user_id = $6 AND id = ANY($7::bigint[])";
static const char sql_delete_many[] = DELETE_MANY;
static const char sql_delete_many_user[] = DELETE_MANY " AND user_id = $2";
static const char sql_delete_many_ids[] = DELETE_MANY " AND id = ANY($2::bigint[])";
static const char sql_delete_many_user_ids[] =
    DELETE_MANY " AND user_id = $2 AND id = ANY($3::bigint[])";

/*                         label           text                     n  read bin prep */
static const tdb_sql catalog[TDB_SQL_STMT_COUNT] = {
    [TDB_SQL_INSERT]      = { "create",      sql_insert,               4, 0, 1, 1 },
    [TDB_SQL_GET]         = { "get",         sql_get,                  1, 1, 1, 1 },
    [TDB_SQL_GET_USER]    = { "get_user",    sql_get_user,             2, 1, 1, 1 },
    [TDB_SQL_UPDATE]      = { "update",      sql_update,               5, 0, 1, 1 },
    [TDB_SQL_UPDATE_USER] = { "update_user", sql_update_user,          6, 0, 1, 1 },
    [TDB_SQL_TOGGLE]      = { "toggle",      sql_toggle,               1, 0, 1, 1 },
    [TDB_SQL_TOGGLE_USER] = { "toggle_user", sql_toggle_user,          2, 0, 1, 1 },
    [TDB_SQL_DELETE]      = { "delete",      sql_delete,               1, 0, 1, 1 },
    [TDB_SQL_DELETE_USER] = { "delete_user", sql_delete_user,          2, 0, 1, 1 },
    [TDB_SQL_LIST_ALL_ASC]        = { "list_all",            sql_list_all_asc,         2, 1, 1, 1 },
    [TDB_SQL_LIST_ALL_DESC]       = { "list_all_desc",       sql_list_all_desc,        2, 1, 1, 1 },
    [TDB_SQL_LIST_ALL_ASC_AFTER]  = { "list_all_after",      sql_list_all_asc_after,   4, 1, 1, 1 },
    [TDB_SQL_LIST_ALL_DESC_AFTER] = { "list_all_desc_after", sql_list_all_desc_after,  4, 1, 1, 1 },
    [TDB_SQL_LIST_USER_ASC]        = { "list_user",            sql_list_user_asc,        3, 1, 1, 1 },
    [TDB_SQL_LIST_USER_DESC]       = { "list_user_desc",       sql_list_user_desc,       3, 1, 1, 1 },
    [TDB_SQL_LIST_USER_ASC_AFTER]  = { "list_user_after",      sql_list_user_asc_after,  5, 1, 1, 1 },
    [TDB_SQL_LIST_USER_DESC_AFTER] = { "list_user_desc_after", sql_list_user_desc_after, 5, 1, 1, 1 },
    [TDB_SQL_COUNT_ALL]   = { "count_all",   sql_count_all,            1, 1, 1, 1 },
    [TDB_SQL_COUNT_USER]  = { "count_user",  sql_count_user,           2, 1, 1, 1 },
    [TDB_SQL_COPY_START_TXN]       = { "copy_start",      sql_copy_start_txn,       0, 0, 0, 0 },
    [TDB_SQL_COPY_START_SAVEPOINT] = { "copy_start_sp",   sql_copy_start_savepoint, 0, 0, 0, 0 },
    [TDB_SQL_COPY_START_TXN_SAVEPOINT] = { "copy_start_txn_sp", sql_copy_start_txn_savepoint, 0, 0, 0, 0 },
    [TDB_SQL_IDS_PROVEN]  = { "ids_proven",  sql_ids_proven,           2, 1, 1, 0 },
    [TDB_SQL_NEXT_IDS]    = { "next_ids",    sql_next_ids,             1, 0, 1, 0 },
    [TDB_SQL_COPY_IN_IDS] = { "copy_in_ids", sql_copy_in_ids,          0, 0, 0, 0 },
    [TDB_SQL_SCHEMA_INSPECT] = { "schema_inspect", sql_schema_inspect, 0, 1, 0, 0 },
    [TDB_SQL_SCHEMA_LOCK]    = { "schema_lock",    sql_schema_lock,    0, 0, 0, 0 },
    [TDB_SQL_CREATE_TABLE]   = { "create_table",   sql_create_table,   0, 0, 0, 0 },
    [TDB_SQL_CREATE_INDEX_USER]    = { "create_index_user",    sql_create_index_user,    0, 0, 0, 0 },
    [TDB_SQL_CREATE_INDEX_CREATED] = { "create_index_created", sql_create_index_created, 0, 0, 0, 0 },
    [TDB_SQL_PING]        = { "ping",        sql_ping,                 0, 1, 0, 0 },
    [TDB_SQL_BEGIN]       = { "begin",       sql_begin,                0, 0, 0, 0 },
    [TDB_SQL_COMMIT]      = { "commit",      sql_commit,               0, 0, 0, 0 },
    [TDB_SQL_ROLLBACK]    = { "rollback",    sql_rollback,             0, 0, 0, 0 },
    [TDB_SQL_SAVEPOINT]   = { "savepoint",   sql_savepoint,            0, 0, 0, 0 },
    [TDB_SQL_RELEASE]     = { "release",     sql_release,              0, 0, 0, 0 },
    [TDB_SQL_ROLLBACK_TO] = { "rollback_to", sql_rollback_to,          0, 0, 0, 0 },
    [TDB_SQL_BACKEND_PID] = { "backend_pid", sql_backend_pid,          0, 1, 0, 0 },
    [TDB_SQL_PRIMARY_LSN] = { "primary_lsn", sql_primary_lsn,          0, 1, 0, 0 },
    [TDB_SQL_REPLAY_LSN]  = { "replay_lsn",  sql_replay_lsn,           0, 1, 0, 0 },
    /* Set-based calls: rare and shaped by their arguments (a user, an id
     * list), so unnamed: planned for the values at hand, one round trip. */
    [TDB_SQL_UPDATE_MANY]          = { "update_tasks",          sql_update_many,          5, 0, 0, 0 },
    [TDB_SQL_UPDATE_MANY_USER]     = { "update_tasks_user",     sql_update_many_user,     6, 0, 0, 0 },
    [TDB_SQL_UPDATE_MANY_IDS]      = { "update_tasks_ids",      sql_update_many_ids,      6, 0, 0, 0 },
    [TDB_SQL_UPDATE_MANY_USER_IDS] = { "update_tasks_user_ids", sql_update_many_user_ids, 7, 0, 0, 0 },
    [TDB_SQL_DELETE_MANY]          = { "delete_tasks",          sql_delete_many,          1, 0, 0, 0 },
    [TDB_SQL_DELETE_MANY_USER]     = { "delete_tasks_user",     sql_delete_many_user,     2, 0, 0, 0 },
    [TDB_SQL_DELETE_MANY_IDS]      = { "delete_tasks_ids",      sql_delete_many_ids,      2, 0, 0, 0 },
    [TDB_SQL_DELETE_MANY_USER_IDS] = { "delete_tasks_user_ids", sql_delete_many_user_ids, 3, 0, 0, 0 },
};

const tdb_sql *tdb_sql_get(tdb_sql_id id)
{
    return &catalog[id];
}

static char prepared_names[TDB_SQL_STMT_COUNT][24];
static pthread_once_t names_once = PTHREAD_ONCE_INIT;

/* FNV-1a, 64-bit: stable across builds and machines. */
static uint64_t text_hash(const char *s)
{
    uint64_t h = 14695981039346656037ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

static void make_names(void)
{
    for (int i = 0; i < TDB_SQL_STMT_COUNT; i++)
        snprintf(prepared_names[i], sizeof prepared_names[i], "taskdb_%016llx",
                 (unsigned long long)text_hash(catalog[i].text));
}

const char *tdb_sql_prepared_name(tdb_sql_id id)
{
    pthread_once(&names_once, make_names);
    return prepared_names[id];
}

/* sql.c — the statement catalogue.  Read it beside the field rules (docs/API.md). */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include "sql.h"

/*
 * The casts make every task-returning statement yield exactly the types the
 * decoder reads (int8, text, bool, timestamptz), whatever the table's own
 * column types: on a table init_db would refuse, a column that cannot be
 * cast fails the statement before anything is written, and a 4-byte id
 * decodes as well as an 8-byte one.  On our own table they cost nothing.
 */
#define TASK_COLUMNS \
    "id::bigint, user_id::text, title::text, description::text, completed::boolean, " \
    "created_at::timestamptz, updated_at::timestamptz"

/*
 * Writes return the same columns, but a NULL where a task needs a value (a
 * table without our NOT NULLs or defaults) fails the statement itself, so
 * the row is not written; decoding it afterwards would raise after the
 * commit.  Only IMMUTABLE functions: Citus accepts them in any statement.
 */
#define TASK_RETURNING \
    " RETURNING CASE WHEN num_nulls(id, user_id, title, completed, created_at, updated_at) = 0" \
    " THEN id::bigint ELSE ('public.tasks has a NULL where taskdb needs a value, in the row with id '" \
    " || COALESCE(id::text, 'NULL') || ' (init_db names what the table lacks)')::bigint END AS id, " \
    "user_id::text, title::text, description::text, completed::boolean, " \
    "created_at::timestamptz, updated_at::timestamptz"

/*
 * updated_at moves forward on every change, even twice in one transaction
 * (now() would not): the later of the statement's start and one
 * microsecond past the current value.  Citus refuses VOLATILE functions in
 * an UPDATE (clock_timestamp()) and STABLE ones applied to a column
 * (timestamptz + interval), so the column goes through AT TIME ZONE 'UTC'
 * and timestamp + interval, which are IMMUTABLE and exact.
 */
#define TOUCH \
    "updated_at = GREATEST(statement_timestamp(), " \
    "((updated_at AT TIME ZONE 'UTC') + interval '1 microsecond') AT TIME ZONE 'UTC')"

static const char sql_insert[] =
    "INSERT INTO public.tasks (user_id, title, description, completed) "
    "VALUES ($1, $2, $3, COALESCE($4::boolean, false))" TASK_RETURNING;

static const char sql_get[] =
    "SELECT " TASK_COLUMNS " FROM public.tasks WHERE id = $1";
static const char sql_get_user[] =
    "SELECT " TASK_COLUMNS " FROM public.tasks WHERE id = $1 AND user_id = $2";

/* $2 title (NULL keeps), $3 whether to set description, $4 description, $5 completed (NULL keeps) */
#define UPDATE_SET \
    "UPDATE public.tasks SET title = COALESCE($2, title), " \
    "description = CASE WHEN $3::boolean THEN $4 ELSE description END, " \
    "completed = COALESCE($5::boolean, completed), " TOUCH " WHERE id = $1"
static const char sql_update[] = UPDATE_SET TASK_RETURNING;
static const char sql_update_user[] = UPDATE_SET " AND user_id = $6" TASK_RETURNING;

/* Atomic in SQL: two concurrent toggles are two flips, never one. */
#define TOGGLE_SET "UPDATE public.tasks SET completed = NOT completed, " TOUCH " WHERE id = $1"
static const char sql_toggle[] = TOGGLE_SET TASK_RETURNING;
static const char sql_toggle_user[] = TOGGLE_SET " AND user_id = $2" TASK_RETURNING;

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
 * Everything init_db judges public.tasks by, in one round trip: one row per
 * fact, (kind, name, a, b, c, d).  No row at all: there is no such relation.
 *   relation   relkind
 *   column     name, format_type, attnotnull, default ("identity", its
 *              expression, or NULL), for id the sequence the column owns
 *   constraint name, contype, pg_get_constraintdef, key columns in order
 *   index      name, pg_get_indexdef
 *   citus      extversion: the extension is installed (a coordinator)
 */
static const char sql_schema_inspect[] =
    "WITH t AS (SELECT to_regclass('public.tasks') AS oid) "
    "SELECT 'relation', c.relkind::text, NULL, NULL, NULL, NULL "
    "FROM t JOIN pg_catalog.pg_class c ON c.oid = t.oid "
    "UNION ALL "
    "SELECT 'column', a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull::text, "
    "CASE WHEN a.attidentity <> '' THEN 'identity' ELSE pg_get_expr(d.adbin, d.adrelid) END, "
    "CASE WHEN a.attname = 'id' THEN pg_get_serial_sequence('public.tasks', 'id') END "
    "FROM t JOIN pg_catalog.pg_attribute a ON a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped "
    "LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
    "UNION ALL "
    "SELECT 'constraint', n.conname::text, n.contype::text, pg_get_constraintdef(n.oid), "
    "(SELECT string_agg(k.attname, ',' ORDER BY u.ord) FROM unnest(n.conkey) WITH ORDINALITY u(num, ord) "
    "JOIN pg_catalog.pg_attribute k ON k.attrelid = n.conrelid AND k.attnum = u.num), NULL "
    "FROM t JOIN pg_catalog.pg_constraint n ON n.conrelid = t.oid "
    "UNION ALL "
    "SELECT 'index', i.relname::text, pg_get_indexdef(x.indexrelid), NULL, NULL, NULL "
    "FROM t JOIN pg_catalog.pg_index x ON x.indrelid = t.oid "
    "JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid "
    "UNION ALL "
    "SELECT 'citus', e.extversion, NULL, NULL, NULL, NULL FROM pg_catalog.pg_extension e "
    "WHERE e.extname = 'citus'";

static const char sql_schema_lock[] =
    "SELECT pg_advisory_xact_lock(7361737464620001)";

/*
 * Nothing in the table depends on the writer's clock: updated_at's order
 * is kept by taskdb's own statements (TOUCH), not by a CHECK that another
 * client with a slower clock would trip over.  "Blank" is the White_Space
 * set of validate.c, written out, so every client gets the same answer.
 */
#define TABLE_COLUMNS \
    " id bigint GENERATED BY DEFAULT AS IDENTITY," \
    " user_id varchar(255) NOT NULL" \
    "   CONSTRAINT tasks_user_id_not_blank CHECK (user_id ~ " TDB_SQL_WHITE_SPACE_LITERAL ")," \
    " title varchar(200) NOT NULL" \
    "   CONSTRAINT tasks_title_not_blank CHECK (title ~ " TDB_SQL_WHITE_SPACE_LITERAL ")," \
    " description varchar(1000)," \
    " completed boolean NOT NULL DEFAULT false," \
    " created_at timestamptz NOT NULL DEFAULT now()," \
    " updated_at timestamptz NOT NULL DEFAULT now(),"

static const char sql_create_table[] =
    "CREATE TABLE IF NOT EXISTS public.tasks (" TABLE_COLUMNS " CONSTRAINT tasks_pkey PRIMARY KEY (id))";

/* Citus distributes by user_id only when every unique key includes it. */
static const char sql_create_table_keyed[] =
    "CREATE TABLE IF NOT EXISTS public.tasks (" TABLE_COLUMNS
    " CONSTRAINT tasks_pkey PRIMARY KEY (user_id, id))";

/* A user's ordered listing (and keyset pages) is one index range scan. */
static const char sql_create_index_user[] =
    "CREATE INDEX IF NOT EXISTS tasks_user_created_idx ON public.tasks (user_id, created_at, id)";
static const char sql_create_index_created[] =
    "CREATE INDEX IF NOT EXISTS tasks_created_idx ON public.tasks (created_at, id)";
/* With the (user_id, id) key, a lookup by id alone needs its own index. */
static const char sql_create_index_id[] =
    "CREATE INDEX IF NOT EXISTS tasks_id_idx ON public.tasks (id)";

/* Idempotent under init_db's lock: a table already distributed is left alone. */
static const char sql_distribute[] =
    "SELECT pg_catalog.create_distributed_table('public.tasks', 'user_id') "
    "WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_dist_partition "
    "WHERE logicalrelid = 'public.tasks'::regclass)";

/*
 * The repair of a table made by this project's earlier versions (run on
 * request only, in one transaction): their blank CHECKs trimmed the letter
 * v (E'\v' is no escape in PostgreSQL) and a CHECK compared updated_at
 * with created_at.  The names are the ones those versions gave.
 */
static const char sql_repair_clock_check[] =
    "ALTER TABLE public.tasks DROP CONSTRAINT tasks_updated_after_created";
static const char sql_repair_user_id_check[] =
    "ALTER TABLE public.tasks DROP CONSTRAINT tasks_user_id_check, "
    "ADD CONSTRAINT tasks_user_id_not_blank CHECK (user_id ~ " TDB_SQL_WHITE_SPACE_LITERAL ")";
static const char sql_repair_title_check[] =
    "ALTER TABLE public.tasks DROP CONSTRAINT tasks_title_check, "
    "ADD CONSTRAINT tasks_title_not_blank CHECK (title ~ " TDB_SQL_WHITE_SPACE_LITERAL ")";
/* Rows the old CHECKs let in and the new ones refuse (a title of only NBSP). */
static const char sql_repair_blank_rows[] =
    "SELECT id FROM public.tasks WHERE NOT (user_id ~ " TDB_SQL_WHITE_SPACE_LITERAL
    " AND title ~ " TDB_SQL_WHITE_SPACE_LITERAL ") ORDER BY id LIMIT 20";

/*
 * What init_db recognises an existing table's constraints and indexes by:
 * their definitions as the server prints them back (pg_get_constraintdef,
 * pg_get_indexdef), whatever client created them.
 */
static const char *const definitions[TDB_DEF_COUNT] = {
    [TDB_DEF_USER_ID_NOT_BLANK] =
        "CHECK (((user_id)::text ~ '" TDB_SQL_WHITE_SPACE_CLASS "'::text))",
    [TDB_DEF_TITLE_NOT_BLANK] =
        "CHECK (((title)::text ~ '" TDB_SQL_WHITE_SPACE_CLASS "'::text))",
    /* The same CHECKs on a text column (its type is reported on its own). */
    [TDB_DEF_USER_ID_NOT_BLANK_TEXT] = "CHECK ((user_id ~ '" TDB_SQL_WHITE_SPACE_CLASS "'::text))",
    [TDB_DEF_TITLE_NOT_BLANK_TEXT] = "CHECK ((title ~ '" TDB_SQL_WHITE_SPACE_CLASS "'::text))",
    /* Earlier versions: E' \t\n\r\f\v' is read as " \t\n\r\fv". */
    [TDB_DEF_OLD_USER_ID_CHECK] =
        "CHECK ((char_length(btrim((user_id)::text, ' \t\n\r\fv'::text)) > 0))",
    [TDB_DEF_OLD_TITLE_CHECK] =
        "CHECK ((char_length(btrim((title)::text, ' \t\n\r\fv'::text)) > 0))",
    [TDB_DEF_OLD_CLOCK_CHECK] = "CHECK ((updated_at >= created_at))",
    [TDB_DEF_INDEX_USER] =
        "CREATE INDEX tasks_user_created_idx ON public.tasks USING btree (user_id, created_at, id)",
    [TDB_DEF_INDEX_CREATED] =
        "CREATE INDEX tasks_created_idx ON public.tasks USING btree (created_at, id)",
    [TDB_DEF_INDEX_ID] = "CREATE INDEX tasks_id_idx ON public.tasks USING btree (id)",
};

const char *tdb_sql_definition(tdb_sql_def def)
{
    return definitions[def];
}

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
/* target_session_attrs, asked as libpq asks when the server does not report it. */
static const char sql_session_read_only[] = "SHOW transaction_read_only";
static const char sql_in_recovery[] = "SELECT pg_catalog.pg_is_in_recovery()";

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
    [TDB_SQL_CREATE_TABLE_KEYED]   = { "create_table_keyed",   sql_create_table_keyed,   0, 0, 0, 0 },
    [TDB_SQL_CREATE_INDEX_ID]      = { "create_index_id",      sql_create_index_id,      0, 0, 0, 0 },
    [TDB_SQL_DISTRIBUTE]           = { "distribute",           sql_distribute,           0, 0, 0, 0 },
    [TDB_SQL_REPAIR_CLOCK_CHECK]   = { "repair_clock_check",   sql_repair_clock_check,   0, 0, 0, 0 },
    [TDB_SQL_REPAIR_USER_ID_CHECK] = { "repair_user_id_check", sql_repair_user_id_check, 0, 0, 0, 0 },
    [TDB_SQL_REPAIR_TITLE_CHECK]   = { "repair_title_check",   sql_repair_title_check,   0, 0, 0, 0 },
    [TDB_SQL_REPAIR_BLANK_ROWS]    = { "repair_blank_rows",    sql_repair_blank_rows,    0, 1, 0, 0 },
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
    [TDB_SQL_SESSION_READ_ONLY] = { "session_read_only", sql_session_read_only, 0, 1, 0, 0 },
    [TDB_SQL_IN_RECOVERY] = { "in_recovery", sql_in_recovery,          0, 1, 0, 0 },
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

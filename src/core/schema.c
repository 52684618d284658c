/* schema.c — init_db: inspect in one round trip, create under a lock when needed. */
#include <stdio.h>
#include <string.h>

#include "schema.h"

typedef struct column_rule {
    const char *name;
    const char *types[3];   /* accepted format_type() spellings, with or without "(n)" */
    int needs_default;      /* COPY and INSERT rely on the table's default */
} column_rule;

static const column_rule rules[] = {
    { "id",          { "bigint", NULL, NULL },                     1 },
    { "user_id",     { "character varying", "text", NULL },       0 },
    { "title",       { "character varying", "text", NULL },       0 },
    { "description", { "character varying", "text", NULL },       0 },
    { "completed",   { "boolean", NULL, NULL },                    0 },
    { "created_at",  { "timestamp with time zone", NULL, NULL },   1 },
    { "updated_at",  { "timestamp with time zone", NULL, NULL },   1 },
};
#define NRULES (sizeof rules / sizeof rules[0])

typedef struct schema_state {
    int table;                  /* a relation named public.tasks exists */
    char relkind[4];
    int indexes;                /* both of ours exist */
    int seen[NRULES];
} schema_state;

/* "character varying(255)" is character varying; "bigint[]" is not bigint. */
static int type_ok(const column_rule *r, const char *type)
{
    for (int i = 0; i < 3 && r->types[i]; i++) {
        size_t n = strlen(r->types[i]);
        if (strncmp(type, r->types[i], n) == 0 &&
            (type[n] == '\0' || (type[n] == '(' && type[strlen(type) - 1] == ')')))
            return 1;
    }
    return 0;
}

static int check_column(const char *name, const char *type, int has_default,
                        schema_state *st, tdb_error *err)
{
    for (size_t r = 0; r < NRULES; r++) {
        if (strcmp(name, rules[r].name) != 0)
            continue;
        st->seen[r] = 1;
        if (!type_ok(&rules[r], type)) {
            tdb_error_set(err, TDB_SCHEMA, NULL, "init_db: public.tasks.%s is %s; taskdb needs %s",
                          name, type, rules[r].types[0]);
            return -1;
        }
        if (rules[r].needs_default && !has_default) {
            tdb_error_set(err, TDB_SCHEMA, NULL,
                          "init_db: public.tasks.%s has no default%s; taskdb needs one",
                          name, r == 0 ? " (identity or sequence)" : "");
            return -1;
        }
    }
    return 0;
}

static int inspect(tdb_conn *conn, schema_state *st, tdb_error *err)
{
    PGresult *res = tdb_conn_exec(conn, TDB_SQL_SCHEMA_INSPECT, NULL, err);
    int rc = 0;
    memset(st, 0, sizeof *st);
    if (!res)
        return -1;
    for (int i = 0; i < PQntuples(res) && rc == 0; i++) {
        st->table = 1;
        snprintf(st->relkind, sizeof st->relkind, "%s", PQgetvalue(res, i, 0));
        st->indexes = PQgetvalue(res, i, 1)[0] == 't';
        if (!PQgetisnull(res, i, 2))
            rc = check_column(PQgetvalue(res, i, 2), PQgetvalue(res, i, 3),
                              PQgetvalue(res, i, 4)[0] == 't', st, err);
    }
    PQclear(res);
    if (rc != 0 || !st->table)
        return rc;
    if (strcmp(st->relkind, "r") != 0 && strcmp(st->relkind, "p") != 0) {
        tdb_error_set(err, TDB_SCHEMA, NULL,
                      "init_db: public.tasks exists but is not a table (relkind %s)", st->relkind);
        return -1;
    }
    for (size_t r = 0; r < NRULES; r++) {
        if (!st->seen[r]) {
            tdb_error_set(err, TDB_SCHEMA, NULL,
                          "init_db: public.tasks has no column %s (%s); taskdb never alters "
                          "an existing table",
                          rules[r].name, rules[r].types[0]);
            return -1;
        }
    }
    return 0;
}

/* Serialized by an advisory lock held until commit: concurrent callers queue. */
static int create_missing(tdb_conn *conn, tdb_error *err)
{
    tdb_error ignored;
    if (tdb_conn_begin(conn, err) != 0)
        return -1;
    if (tdb_conn_run(conn, TDB_SQL_SCHEMA_LOCK, NULL, err) != 0 ||
        tdb_conn_run(conn, TDB_SQL_CREATE_TABLE, NULL, err) != 0 ||
        tdb_conn_run(conn, TDB_SQL_CREATE_INDEX_USER, NULL, err) != 0 ||
        tdb_conn_run(conn, TDB_SQL_CREATE_INDEX_CREATED, NULL, err) != 0) {
        tdb_conn_rollback(conn, &ignored);
        return -1;
    }
    return tdb_conn_commit(conn, err);
}

int tdb_schema_init(tdb_conn *conn, tdb_error *err)
{
    schema_state st;
    if (inspect(conn, &st, err) != 0)
        return -1;
    if (st.table && st.indexes)
        return 0;
    if (create_missing(conn, err) != 0)
        return -1;
    /* Another process may have made the table first: check what exists now. */
    return inspect(conn, &st, err);
}

/*
 * task.h — the Task operations: validation, then one fixed statement.
 *
 * Every operation validates its input (validate.h) before anything is
 * sent.  `scope` is a user id that filters every statement in SQL (a
 * scoped handle); NULL means unscoped.  Operations returning rows give a
 * PGresult laid out as TDB_TASK_COLUMNS (sql.h), binary format, owned by
 * the caller (PQclear); decode rows with tdb_task_row.  Not found is not an
 * error: zero rows, or 0 from tdb_task_delete.
 */
#ifndef TDB_TASK_H
#define TDB_TASK_H

#include <stdint.h>

#include "conn.h"
#include "validate.h"

typedef struct tdb_task_new {
    tdb_str user_id;        /* ptr NULL: absent (taken from scope) */
    tdb_str title;
    tdb_str description;    /* ptr NULL: absent (SQL NULL) */
    int completed;          /* -1: default (false) */
} tdb_task_new;

typedef enum tdb_patch_op { TDB_KEEP = 0, TDB_SET, TDB_CLEAR } tdb_patch_op;

typedef struct tdb_task_patch {
    tdb_patch_op title_op;         /* TDB_CLEAR is invalid for title */
    tdb_str title;
    tdb_patch_op description_op;
    tdb_str description;
    int completed;                 /* -1: keep */
} tdb_task_patch;

#define TDB_TIME_MAX 40    /* "4714-11-24 00:00:00.000000+00 BC" + NUL, with room */
#define TDB_CURSOR_MAX 64

/* A keyset position: (created_at, id) of the last row of a page. */
typedef struct tdb_cursor {
    int64_t created_at;     /* as tdb_task's */
    long long id;
} tdb_cursor;

typedef struct tdb_list_opts {
    tdb_str user_id;        /* ptr NULL: every user */
    int completed;          /* -1: any */
    long long limit;        /* -1: all */
    int desc;               /* newest first */
    int has_after;
    tdb_cursor after;
} tdb_list_opts;

/* A decoded row; strings point into the PGresult (valid until PQclear). */
typedef struct tdb_task {
    long long id;
    tdb_str user_id;
    tdb_str title;
    tdb_str description;    /* ptr NULL when SQL NULL */
    int completed;
    int64_t created_at;     /* microseconds since 2000-01-01 UTC */
    int64_t updated_at;
} tdb_task;

void tdb_list_opts_init(tdb_list_opts *opts);
void tdb_task_new_init(tdb_task_new *t);
void tdb_task_patch_init(tdb_task_patch *p);

/* Validation alone (also done by every operation below). */
int tdb_task_check_new(const tdb_str *scope, tdb_task_new *t, tdb_error *err);
int tdb_task_check_patch(const tdb_task_patch *p, tdb_error *err);
int tdb_list_check(const tdb_str *scope, tdb_list_opts *opts, tdb_error *err);

/*
 * A validated statement and its parameters, ready to run now
 * (tdb_conn_exec) or later (a pipeline, which copies what it needs).
 * Parameters point into the request and into the caller's strings: do not
 * copy the struct, and keep the strings until it is run.  The builders
 * validate exactly as the operations below do.
 */
typedef struct tdb_request {
    tdb_sql_id id;
    tdb_params params;
    char numbers[3][24];   /* ids and limits as text */
    int used_numbers;
    char *owned;           /* a parameter allocated for the request (an id array), or NULL */
    char after[TDB_TIME_MAX];   /* a cursor's instant, as the server reads it */
} tdb_request;

/* Frees what the request owns (safe on any built or failed request). */
void tdb_request_release(tdb_request *r);

int tdb_request_create(const tdb_str *scope, tdb_task_new *t, tdb_request *r, tdb_error *err);
int tdb_request_get(const tdb_str *scope, long long id, tdb_request *r, tdb_error *err);
int tdb_request_update(const tdb_str *scope, long long id, const tdb_task_patch *p,
                       tdb_request *r, tdb_error *err);
int tdb_request_toggle(const tdb_str *scope, long long id, tdb_request *r, tdb_error *err);
int tdb_request_delete(const tdb_str *scope, long long id, tdb_request *r, tdb_error *err);
int tdb_request_list(const tdb_str *scope, tdb_list_opts *opts, tdb_request *r, tdb_error *err);
int tdb_request_count(const tdb_str *scope, tdb_list_opts *opts, tdb_request *r, tdb_error *err);

/* A delete's result: 1 when a row was deleted. */
int tdb_deleted(const PGresult *res);
/* A count's result into *n; -1 with err set if it is not one. */
int tdb_count_of(const PGresult *res, long long *n, tdb_error *err);

PGresult *tdb_task_create(tdb_conn *c, const tdb_str *scope, tdb_task_new *t, tdb_error *err);
PGresult *tdb_task_get(tdb_conn *c, const tdb_str *scope, long long id, tdb_error *err);
PGresult *tdb_task_update(tdb_conn *c, const tdb_str *scope, long long id,
                          const tdb_task_patch *p, tdb_error *err);
PGresult *tdb_task_toggle(tdb_conn *c, const tdb_str *scope, long long id, tdb_error *err);
/* 1 deleted, 0 not found, -1 error. */
int tdb_task_delete(tdb_conn *c, const tdb_str *scope, long long id, tdb_error *err);
PGresult *tdb_task_list(tdb_conn *c, const tdb_str *scope, tdb_list_opts *opts, tdb_error *err);
/* -1 on error. */
long long tdb_task_count(tdb_conn *c, const tdb_str *scope, tdb_list_opts *opts, tdb_error *err);

/*
 * Bulk create: every row is validated first (err->row names the first bad
 * one, 1-based), then all are written in one transaction (a savepoint
 * inside an open one) with COPY.  ids[i] receives row i's id.
 */
int tdb_task_create_many(tdb_conn *c, const tdb_str *scope, tdb_task_new *rows, size_t n,
                         long long *ids, tdb_error *err);

/* Decodes row `row` of a task result.  -1 if the result is not laid out as expected. */
int tdb_task_row(const PGresult *res, int row, tdb_task *out);

/*
 * "2026-11-24T10:15:30.123456Z"; returns the length.  Years outside
 * 0000-9999 in ISO 8601's expanded form ("-0044-03-15T12:00:00.000000Z",
 * "+10000-01-01T00:00:00.000000Z"; astronomical: 0000 is 1 BC, -0001 is
 * 2 BC), and "infinity" / "-infinity".
 */
size_t tdb_format_time(int64_t micros, char buf[TDB_TIME_MAX]);
/*
 * The inverse for exactly that text, limited to the server's range
 * (4714-11-24 BC .. 294276 AD, and the infinities).  0, or -1 when s is not one.
 */
int tdb_parse_time(const char *s, size_t len, int64_t *out);
/* The text sent to the server for a timestamptz parameter (its own ISO output). */
size_t tdb_time_param(int64_t micros, char buf[TDB_TIME_MAX]);

/*
 * A cursor string, "<created_at as tdb_format_time writes it>/<id>", for
 * the position after `t`; returns the length.  tdb_cursor_parse accepts
 * exactly what these write (TDB_INVALID on the field "after" otherwise).
 */
size_t tdb_cursor_format(const tdb_task *t, char buf[TDB_CURSOR_MAX]);
size_t tdb_cursor_text(const tdb_cursor *c, char buf[TDB_CURSOR_MAX]);
int tdb_cursor_parse(const char *s, size_t len, tdb_cursor *out, tdb_error *err);

#endif

/*
 * task_set.h — set-based calls: update or delete every task a filter
 * matches, with one statement (one round trip) whatever their number.
 *
 * The filter is validated like the single calls' arguments before anything
 * is sent.  `scope` (a scoped handle's user, or NULL) is added to the
 * filter; a filter user_id that differs from it is invalid.  An unscoped
 * filter with neither user_id nor ids must say `all` explicitly.  The id
 * list is the caller's (not copied beyond the call) and travels as one
 * bigint[] parameter.  Both return the number of tasks changed, or -1
 * with err set.
 */
#ifndef TDB_TASK_SET_H
#define TDB_TASK_SET_H

#include <stddef.h>

#include "task.h"

/* The most ids one call takes: a bound on the parameter (about 21 bytes an id). */
#define TDB_IDS_MAX 100000

typedef struct tdb_task_filter {
    tdb_str user_id;          /* ptr NULL: any user (or the scope's) */
    int completed;            /* -1: either */
    int has_ids;              /* 0: no id list */
    const long long *ids;     /* has_ids: n_ids ids (duplicates are harmless) */
    size_t n_ids;
    int all;                  /* an unscoped filter with no user_id or ids means it */
} tdb_task_filter;

void tdb_task_filter_init(tdb_task_filter *f);

/* Validation alone (also done by both calls); fills f->user_id from scope. */
int tdb_task_check_filter(const tdb_str *scope, tdb_task_filter *f, tdb_error *err);

/*
 * Applies the patch (the rules of tdb_task_update) to every matching task;
 * updated_at moves forward on each.  An empty patch, or an empty id list,
 * changes nothing and sends nothing: 0.
 */
long long tdb_task_update_many(tdb_conn *c, const tdb_str *scope, tdb_task_filter *f,
                               const tdb_task_patch *p, tdb_error *err);

/* Deletes every matching task.  An empty id list sends nothing: 0. */
long long tdb_task_delete_many(tdb_conn *c, const tdb_str *scope, tdb_task_filter *f,
                               tdb_error *err);

/*
 * The two calls as requests (task.h), for a pipeline: r->id is
 * TDB_SQL_NONE when nothing needs sending (the outcome is 0).  The id
 * array is owned by the request: tdb_request_release after queueing.
 */
int tdb_request_update_many(const tdb_str *scope, tdb_task_filter *f,
                            const tdb_task_patch *p, tdb_request *r, tdb_error *err);
int tdb_request_delete_many(const tdb_str *scope, tdb_task_filter *f, tdb_request *r,
                            tdb_error *err);
/* The number of tasks a set-based statement changed; -1 with err set if unreadable. */
long long tdb_changed_count(const PGresult *res, tdb_error *err);

#endif

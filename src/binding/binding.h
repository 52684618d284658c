/*
 * binding.h — shared pieces of the Lua binding (not part of the core).
 *
 * The handles: "taskdb.Connection" (tdbl_conn, owns a tdb_conn),
 * "taskdb.User" (a scoped handle: user value 1 is its connection, 2 its
 * user id) and "taskdb.Iterator" (each_task).  Every failure is raised as
 * one kind of error table ("taskdb.Error"), built by tdbl_raise.
 */
#ifndef TDBL_BINDING_H
#define TDBL_BINDING_H

#include "lua.h"
#include "lauxlib.h"

#include "conn.h"
#include "schema.h"
#include "task.h"

#define TDBL_CONNECTION "taskdb.Connection"
#define TDBL_USER       "taskdb.User"
#define TDBL_ITERATOR   "taskdb.Iterator"
#define TDBL_ERROR      "taskdb.Error"
#define TDBL_NULL       "taskdb.null"
#define TDBL_RESULT     "taskdb.Result"
#define TDBL_PIPELINE   "taskdb.Pipeline"

typedef struct tdbl_conn {
    tdb_conn *conn;       /* NULL once closed */
} tdbl_conn;

/* What a method runs against: the connection, and the scope of a User handle. */
typedef struct tdbl_target {
    tdbl_conn *c;
    tdb_str scope;        /* ptr NULL: unscoped */
    const tdb_str *scopep;
} tdbl_target;

/* errors.c */
void tdbl_error_init(lua_State *L);
int tdbl_raise(lua_State *L, const tdb_error *err);
int tdbl_raise_kind(lua_State *L, tdb_kind kind, const char *field, const char *fmt, ...);
void tdbl_push_error(lua_State *L, const tdb_error *err);

/* conn.c */
void tdbl_conn_init(lua_State *L);
int tdbl_connect(lua_State *L);
tdbl_conn *tdbl_checkconn(lua_State *L, int idx);      /* type only */
tdbl_conn *tdbl_checkopen(lua_State *L, int idx);      /* also raises `closed` */
/* Arg 1 is a Connection or a User; raises otherwise, or if closed. */
void tdbl_target_of(lua_State *L, tdbl_target *t);
void tdbl_target_at(lua_State *L, int idx, tdbl_target *t);
/*
 * A per-call box ("taskdb.Result" userdata, pushed on the stack) that owns
 * a PGresult while it is converted: if converting raises, the collector
 * frees it; nothing else (a finalizer calling back into the handle) can.
 */
PGresult **tdbl_box(lua_State *L);
void tdbl_unbox(PGresult **box);

/* user.c */
void tdbl_user_init(lua_State *L);
int tdbl_user_new(lua_State *L);   /* db:user(id) */

/* args.c — reading Lua arguments in one pass, before anything is sent. */
int tdbl_is_null(lua_State *L, int idx);
long long tdbl_check_id(lua_State *L, int idx);
void tdbl_check_table(lua_State *L, int idx, const char *what);
int tdbl_opt_table(lua_State *L, int idx, const char *what);  /* 0 if nil/none */
/* row > 0 names the element of a bulk list in errors. */
void tdbl_read_new_task(lua_State *L, int idx, tdb_task_new *t, long row);
void tdbl_read_patch(lua_State *L, int idx, tdb_task_patch *p);
void tdbl_read_list_opts(lua_State *L, int idx, tdb_list_opts *o, int for_count);
void tdbl_read_connect_opts(lua_State *L, int idx, tdb_conn_options *o);
void tdbl_read_cursor(lua_State *L, int idx, tdb_cursor *cur);

/* push.c — core results to Lua values. */
void tdbl_push_task(lua_State *L, const tdb_task *t);
/* Row 0 as a task, or nil when there is none. */
void tdbl_push_task_or_nil(lua_State *L, const PGresult *res);
/* Appends the rows to the array on top of the stack, after index `offset`. */
void tdbl_append_tasks(lua_State *L, const PGresult *res, lua_Integer offset);
void tdbl_push_cursor(lua_State *L, const PGresult *res, int row);

/* ops.c — the task methods, shared by Connection and User handles. */
extern const luaL_Reg tdbl_task_methods[];

/* iter.c */
void tdbl_iter_init(lua_State *L);
int tdbl_each_task(lua_State *L);

/* txn.c */
int tdbl_transaction(lua_State *L);

/* set.c — the set-based calls; the filter reader is shared with pipelines. */
#define TDBL_FILTER_SLOTS 3
typedef struct tdb_task_filter tdb_task_filter;
void tdbl_read_filter(lua_State *L, int idx, int base, tdb_task_filter *f, const char *what);

/* pipeline.c */
void tdbl_pipeline_init(lua_State *L);
int tdbl_pipeline(lua_State *L);

/* set.c — the set-based calls. */
int tdbl_update_tasks(lua_State *L);
int tdbl_delete_tasks(lua_State *L);

#endif

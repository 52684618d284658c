/*
 * binding.h — shared pieces of the Lua binding (not part of the core).
 *
 * The handles: "taskdb.Connection" (tdbl_conn, owns a tdb_conn),
 * "taskdb.User" (a scoped handle: its user id in its own memory, user
 * value 1 its connection) and "taskdb.Iterator" (each_task).  A
 * Connection's user value 1 is its trace function, if it has one.  Every
 * failure is raised as one kind of error table ("taskdb.Error"), built by
 * tdbl_raise.
 *
 * Lifetimes: C keeps pointers into Lua values (strings, userdata) only
 * while something anchors them, and no Lua code may run in between unless
 * the anchor survives it.  Lua code runs not only in metamethods
 * (__index, __tostring, ...) but in any finalizer, and a finalizer may run
 * at any allocation (a pushed string, a table, a userdata); a trace
 * function runs after each statement (trace.c).  So: tables
 * are read raw (lua_next), strings are borrowed only from values of type
 * string (never converted), what a method keeps across an allocation is
 * anchored on its stack (tdbl_target_at, tdbl_read_list_opts) or copied
 * into userdata memory, and the connection is looked up again right before
 * each core call (tdbl_live), since a finalizer may have closed it.
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
    lua_State *L;         /* the thread of the call under way: where trace events go */
    int in_trace;         /* its trace function is running: the connection is busy */
    int trace_error_shown;
    int hold;             /* keep trace events until tdbl_trace_release */
    struct tdbl_held *held;
    size_t nheld, held_cap;
} tdbl_conn;

/* A User handle's memory: its user id, which Lua code cannot change. */
typedef struct tdbl_user {
    size_t len;
    char id[];            /* NUL-terminated */
} tdbl_user;

/* What a method runs against: the connection, and the scope of a User handle. */
typedef struct tdbl_target {
    tdbl_conn *c;
    tdb_str scope;        /* ptr NULL: unscoped; else into the User's memory */
    const tdb_str *scopep;
} tdbl_target;

/* errors.c */
void tdbl_error_init(lua_State *L);
int tdbl_raise(lua_State *L, const tdb_error *err);
int tdbl_raise_kind(lua_State *L, tdb_kind kind, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void tdbl_push_error(lua_State *L, const tdb_error *err);

/* handle.c */
void tdbl_conn_init(lua_State *L);
int tdbl_connect(lua_State *L);
tdbl_conn *tdbl_checkconn(lua_State *L, int idx);      /* type only */
tdbl_conn *tdbl_checkopen(lua_State *L, int idx);      /* also raises `closed` */
/*
 * Arg 1 (idx) is a Connection or a User; raises otherwise, or if closed, or
 * if a User's connection (user value 1) was replaced.  Pushes the
 * connection, which anchors t->c for as long as it stays on the stack.
 * tdbl_target_of first sets the stack to the method's `nargs` arguments
 * (missing ones nil, LUA_MULTRET: as they are), so the push takes no
 * argument's place.
 */
void tdbl_target_of(lua_State *L, int nargs, tdbl_target *t);
void tdbl_target_at(lua_State *L, int idx, tdbl_target *t);
/* t's connection, checked open right before a core call; raises `closed`. */
tdb_conn *tdbl_live(lua_State *L, const tdbl_target *t);
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
/* Pushes one value, the user_id string (or nil), which anchors o->user_id. */
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

/* trace.c */
void tdbl_trace_init(lua_State *L);
/* Every call on a connection starts here: raises when it is busy, notes the thread. */
void tdbl_enter(lua_State *L, tdbl_conn *c);
void tdbl_trace_attach(lua_State *L, int opts_idx, int ud_idx, tdbl_conn *c,
                       tdb_conn_options *opts);
void tdbl_trace_hold(tdbl_conn *c);
void tdbl_trace_release(lua_State *L, tdbl_conn *c);
void tdbl_trace_free(tdbl_conn *c);

/* pipeline.c */
void tdbl_pipeline_init(lua_State *L);
int tdbl_pipeline(lua_State *L);

/* set.c — the set-based calls. */
int tdbl_update_tasks(lua_State *L);
int tdbl_delete_tasks(lua_State *L);

#endif

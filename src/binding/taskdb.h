/*
 * taskdb.h — the binding's entry points.
 *
 * luaopen_taskdb builds the `taskdb` module table (connect, null, version,
 * the error and handle metatables).  The host registers it in
 * package.preload; stock lua5.4 finds it in build/taskdb.so.
 *
 * taskdb_interrupt is async-signal-safe, for a host's SIGINT handler: the
 * statement taskdb is waiting for (or the next one) is cancelled on the
 * server and fails with a `timeout` error saying it was interrupted; a
 * connect under way fails as timed out.  It returns 1 when taskdb is
 * waiting and takes the request at once.  taskdb_interrupt_delivered says
 * (once) whether such an error has been raised since: if not (the cancel
 * came too late, or nothing was waiting), the host stops its own code.
 * taskdb_interrupt_clear forgets every request (call it before running the
 * next command).
 */
#ifndef TASKDB_H
#define TASKDB_H

#include "lua.h"

#if defined(__GNUC__)
#define TASKDB_EXPORT __attribute__((visibility("default")))
#else
#define TASKDB_EXPORT
#endif

TASKDB_EXPORT int luaopen_taskdb(lua_State *L);
TASKDB_EXPORT int taskdb_interrupt(void);
TASKDB_EXPORT void taskdb_interrupt_clear(void);
TASKDB_EXPORT int taskdb_interrupt_delivered(void);

#endif

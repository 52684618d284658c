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
 * waiting and takes the request at once (the error then comes back into
 * Lua by itself), 0 when the host must stop its own code.
 * taskdb_interrupt_clear drops a request nothing has taken yet (call it
 * before running the next command).
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

#endif

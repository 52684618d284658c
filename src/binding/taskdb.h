/*
 * taskdb.h — the binding's one entry point.
 *
 * luaopen_taskdb builds the `taskdb` module table (connect, null, version,
 * the error and handle metatables).  The host registers it in
 * package.preload; stock lua5.4 finds it in build/taskdb.so.
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

#endif

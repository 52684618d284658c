/*
 * alloc.h — the allocator behind taskshell's Lua state (see alloc.c).
 * Plain C: the host passes host_alloc_fn and its host_alloc to
 * lua_newstate, and deletes the host_alloc after lua_close.
 */
#ifndef TASKSHELL_ALLOC_H
#define TASKSHELL_ALLOC_H

#include <stddef.h>

/* Blocks up to this size come from the free lists; larger ones from malloc. */
#define ALLOC_SMALL_MAX 256

typedef struct host_alloc host_alloc;

/* NULL when out of memory. */
host_alloc *host_alloc_new(void);
void host_alloc_delete(host_alloc *a);

/* A lua_Alloc: `ud` is the host_alloc. */
void *host_alloc_fn(void *ud, void *ptr, size_t osize, size_t nsize);

/* 1 when every block comes from malloc (under ASan or valgrind). */
int host_alloc_is_system(const host_alloc *a);

#endif

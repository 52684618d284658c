/*
 * alloc.c — the allocator behind taskshell's Lua state.
 *
 * A result row becomes a table, its node array and a few strings, and the
 * collector frees them a moment later: hundreds of small blocks per call.
 * Blocks of up to ALLOC_SMALL_MAX bytes therefore come from per-size free
 * lists carved out of 64 KiB slabs (no header, no locking, no search),
 * and larger ones from malloc.  Lua passes the block's size to every
 * resize and free, so the size alone says where a block came from.
 *
 * Freed small blocks are kept for reuse until the state closes.  Under
 * AddressSanitizer or valgrind every block comes from malloc instead, so
 * those tools still see each Lua object.  TASKSHELL_ALLOC=system or =pool
 * overrides that choice (pool: to profile the pool under callgrind).
 */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define UNDER_VALGRIND() RUNNING_ON_VALGRIND
#endif
#endif
#ifndef UNDER_VALGRIND
#define UNDER_VALGRIND() 0
#endif

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

#define GRAIN 16                     /* every block is 16-byte aligned */
#define CLASSES (ALLOC_SMALL_MAX / GRAIN)
#define SLAB_SIZE (64 * 1024)

typedef struct slab {
    struct slab *next;
    _Alignas(GRAIN) char blocks[];
} slab;

struct host_alloc {
    void *free_list[CLASSES];        /* class c holds blocks of (c + 1) * GRAIN bytes */
    char *bump, *bump_end;           /* the unused rest of the newest slab */
    slab *slabs;
    int system;                      /* 1: everything from malloc */
};

static size_t class_of(size_t size)
{
    return (size - 1) / GRAIN;
}

static void *small_get(host_alloc *a, size_t size)
{
    size_t c = class_of(size), bytes = (c + 1) * GRAIN;
    void *p = a->free_list[c];
    if (p) {
        memcpy(&a->free_list[c], p, sizeof p);
        return p;
    }
    if ((size_t)(a->bump_end - a->bump) < bytes) {
        slab *s = malloc(SLAB_SIZE);
        if (!s)
            return NULL;
        s->next = a->slabs;
        a->slabs = s;
        a->bump = s->blocks;
        a->bump_end = (char *)s + SLAB_SIZE;
    }
    p = a->bump;
    a->bump += bytes;
    return p;
}

static void small_put(host_alloc *a, void *p, size_t size)
{
    size_t c = class_of(size);
    memcpy(p, &a->free_list[c], sizeof p);
    a->free_list[c] = p;
}

static void release(host_alloc *a, void *p, size_t size)
{
    if (size <= ALLOC_SMALL_MAX)
        small_put(a, p, size);
    else
        free(p);
}

void *host_alloc_fn(void *ud, void *ptr, size_t osize, size_t nsize)
{
    host_alloc *a = ud;
    void *p;
    if (a->system) {
        if (nsize == 0) {
            free(ptr);
            return NULL;
        }
        return realloc(ptr, nsize);
    }
    if (!ptr)
        osize = 0;                   /* then osize only tells the object's type */
    if (nsize == 0) {
        if (ptr)
            release(a, ptr, osize);
        return NULL;
    }
    if (nsize <= ALLOC_SMALL_MAX) {
        if (ptr && osize <= ALLOC_SMALL_MAX && class_of(osize) == class_of(nsize))
            return ptr;
        p = small_get(a, nsize);
        if (!p) {
            /* Lua requires a shrink to succeed: the old block is big enough.
             * (One from malloc then joins the free lists for good.) */
            return ptr && nsize <= osize ? ptr : NULL;
        }
    } else if (ptr && osize > ALLOC_SMALL_MAX) {
        return realloc(ptr, nsize);
    } else {
        p = malloc(nsize);
        if (!p)
            return NULL;
    }
    if (ptr) {
        memcpy(p, ptr, osize < nsize ? osize : nsize);
        release(a, ptr, osize);
    }
    return p;
}

host_alloc *host_alloc_new(void)
{
    host_alloc *a = calloc(1, sizeof *a);
    const char *choice = getenv("TASKSHELL_ALLOC");
    if (!a)
        return NULL;
    if (choice && strcmp(choice, "system") == 0)
        a->system = 1;
    else if (choice && strcmp(choice, "pool") == 0)
        a->system = 0;
    else
        a->system = UNDER_ASAN || UNDER_VALGRIND();
    return a;
}

int host_alloc_is_system(const host_alloc *a)
{
    return a->system;
}

void host_alloc_delete(host_alloc *a)
{
    if (!a)
        return;
    while (a->slabs) {
        slab *next = a->slabs->next;
        free(a->slabs);
        a->slabs = next;
    }
    free(a);
}

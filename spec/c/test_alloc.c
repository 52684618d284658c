/*
 * test_alloc.c — the host's Lua allocator (src/host/alloc.c), driven the
 * way Lua drives a lua_Alloc: every resize and free passes the block's
 * current size.  Runs the same checks with the free lists (pool) and with
 * plain malloc (system), whichever the environment would pick.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "ctest.h"

static void fill(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(seed * 31 + i);
}

static int intact(const unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != (unsigned char)(seed * 31 + i))
            return 0;
    return 1;
}

static host_alloc *make(const char *mode)
{
    setenv("TASKSHELL_ALLOC", mode, 1);
    return host_alloc_new();
}

static void test_sizes(const char *mode)
{
    host_alloc *a = make(mode);
    void *blocks[600];
    int aligned = 1, kept = 1;
    char name[96];
    for (size_t n = 1; n < 600; n++) {
        blocks[n] = host_alloc_fn(a, NULL, 0, n);
        if (!blocks[n] || ((uintptr_t)blocks[n] % 16) != 0)
            aligned = 0;
        if (blocks[n])
            fill(blocks[n], n, (unsigned)n);
    }
    for (size_t n = 1; n < 600; n++)
        if (blocks[n] && !intact(blocks[n], n, (unsigned)n))
            kept = 0;
    for (size_t n = 1; n < 600; n++)
        host_alloc_fn(a, blocks[n], n, 0);
    snprintf(name, sizeof name, "%s: sizes 1..599 are 16-byte aligned", mode);
    test_cond(name, aligned);
    snprintf(name, sizeof name, "%s: no two blocks overlap (every pattern intact)", mode);
    test_cond(name, kept);
    host_alloc_delete(a);
}

static void test_resize(const char *mode)
{
    host_alloc *a = make(mode);
    char name[96];
    unsigned char *p = host_alloc_fn(a, NULL, 5 /* a type tag, not a size */, 20);
    unsigned char *q;
    fill(p, 20, 1);
    q = host_alloc_fn(a, p, 20, 30);   /* same 32-byte class */
    if (!host_alloc_is_system(a)) {
        snprintf(name, sizeof name, "%s: a resize within the size class keeps the block", mode);
        test_cond(name, q == p);
    }
    snprintf(name, sizeof name, "%s: small -> larger small keeps the bytes", mode);
    p = host_alloc_fn(a, q, 30, 200);
    test_cond(name, p && intact(p, 20, 1));
    fill(p, 200, 2);
    snprintf(name, sizeof name, "%s: small -> large keeps the bytes", mode);
    q = host_alloc_fn(a, p, 200, 5000);
    test_cond(name, q && intact(q, 200, 2));
    fill(q, 5000, 3);
    snprintf(name, sizeof name, "%s: large -> larger keeps the bytes", mode);
    p = host_alloc_fn(a, q, 5000, 100000);
    test_cond(name, p && intact(p, 5000, 3));
    snprintf(name, sizeof name, "%s: large -> small keeps the bytes it still holds", mode);
    q = host_alloc_fn(a, p, 100000, 100);
    test_cond(name, q && intact(q, 100, 3));
    snprintf(name, sizeof name, "%s: small -> smaller small keeps the bytes", mode);
    p = host_alloc_fn(a, q, 100, 10);
    test_cond(name, p && intact(p, 10, 3));
    snprintf(name, sizeof name, "%s: freeing returns NULL", mode);
    test_cond(name, host_alloc_fn(a, p, 10, 0) == NULL);
    snprintf(name, sizeof name, "%s: freeing NULL is a no-op", mode);
    test_cond(name, host_alloc_fn(a, NULL, 3, 0) == NULL);
    host_alloc_delete(a);
}

static void test_reuse(const char *mode)
{
    host_alloc *a = make(mode);
    char name[96];
    void *first = host_alloc_fn(a, NULL, 0, 64), *again;
    host_alloc_fn(a, first, 64, 0);
    again = host_alloc_fn(a, NULL, 0, 60);   /* same 64-byte class */
    snprintf(name, sizeof name, "%s: a freed block is handed out again for its size class", mode);
    test_cond(name, again == first);
    host_alloc_fn(a, again, 60, 0);
    host_alloc_delete(a);
}

/* Lua-like churn: random allocate / resize / free, patterns checked at every step. */
static void test_churn(const char *mode)
{
    enum { SLOTS = 4096, STEPS = 300000 };
    static unsigned char *ptr[SLOTS];
    static size_t size[SLOTS];
    static unsigned seed[SLOTS];
    host_alloc *a = make(mode);
    uint64_t x = 88172645463325252ULL;
    int ok = 1;
    char name[96];
    memset(ptr, 0, sizeof ptr);
    for (int step = 0; step < STEPS && ok; step++) {
        size_t i, n;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        i = (size_t)(x % SLOTS);
        n = (x >> 20) % 8 == 0 ? 257 + (x >> 32) % 4000 : 1 + (x >> 32) % 256;
        if (ptr[i] && !intact(ptr[i], size[i], seed[i]))
            ok = 0;
        if (ptr[i] && (x >> 40) % 3 == 0) {
            host_alloc_fn(a, ptr[i], size[i], 0);
            ptr[i] = NULL;
            continue;
        }
        {
            size_t kept = ptr[i] ? (size[i] < n ? size[i] : n) : 0;
            ptr[i] = host_alloc_fn(a, ptr[i], ptr[i] ? size[i] : 0, n);
            if (!ptr[i] || !intact(ptr[i], kept, seed[i])) {
                ok = 0;
                break;
            }
        }
        seed[i] = (unsigned)step + 1;
        size[i] = n;
        fill(ptr[i], n, seed[i]);
    }
    for (size_t i = 0; i < SLOTS; i++) {
        if (ptr[i] && !intact(ptr[i], size[i], seed[i]))
            ok = 0;
        if (ptr[i])
            host_alloc_fn(a, ptr[i], size[i], 0);
    }
    snprintf(name, sizeof name, "%s: 300,000 random allocations, resizes and frees keep every block intact", mode);
    test_cond(name, ok);
    host_alloc_delete(a);
}

int main(void)
{
    const char *modes[] = { "pool", "system" };
    for (int m = 0; m < 2; m++) {
        test_sizes(modes[m]);
        test_resize(modes[m]);
        test_churn(modes[m]);
    }
    test_reuse("pool");
    setenv("TASKSHELL_ALLOC", "system", 1);
    {
        host_alloc *a = host_alloc_new();
        test_cond("TASKSHELL_ALLOC=system: every block from malloc", host_alloc_is_system(a));
        host_alloc_delete(a);
    }
    setenv("TASKSHELL_ALLOC", "pool", 1);
    {
        host_alloc *a = host_alloc_new();
        test_cond("TASKSHELL_ALLOC=pool: the free lists", !host_alloc_is_system(a));
        host_alloc_delete(a);
    }
    return test_report();
}

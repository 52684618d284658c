/*
 * ctest.h — a tiny test helper for the core's C unit tests (after sds's
 * testhelp.h).
 *
 *   test_cond("title is 200 code points", rc == 0);
 *   ...
 *   return test_report();
 *
 * test_cond prints "ok <name>" or "FAIL <name> at <file>:<line>" and counts;
 * test_report prints exactly one final line, "N passed, N failed", and
 * returns the exit status (0 when nothing failed, 1 otherwise), so that the
 * harness can add up the count lines of every test binary.  Everything here
 * is static inline, so a test that does not use a helper still compiles
 * under the project's -Werror warning set.  Output goes to stdout only and
 * is flushed per line, so it interleaves correctly with child processes.
 */
#ifndef TDB_CTEST_H
#define TDB_CTEST_H

#include <stdio.h>
#include <string.h>

static int ctest_passed;
static int ctest_failed;

static inline int ctest_check(int ok, const char *name, const char *file, int line)
{
    if (ok) {
        ctest_passed++;
        printf("ok %s\n", name);
    } else {
        ctest_failed++;
        printf("FAIL %s at %s:%d\n", name, file, line);
    }
    fflush(stdout);
    return ok;
}

/* Evaluates to the condition's truth, so a test can stop early on failure. */
#define test_cond(name, cond) ctest_check((cond) ? 1 : 0, (name), __FILE__, __LINE__)

/* A diagnostic line that is not a test (a skipped step, a value seen). */
static inline void test_note(const char *text)
{
    printf("# %s\n", text);
    fflush(stdout);
}

/* The one count line; the value is main's exit status. */
static inline int ctest_report(void)
{
    printf("%d passed, %d failed\n", ctest_passed, ctest_failed);
    fflush(stdout);
    return ctest_failed ? 1 : 0;
}

#define test_report() ctest_report()

/* Strings that may be NULL: equal when both are NULL or have the same bytes. */
static inline int ctest_streq(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

/* Does haystack (may be NULL) contain needle? */
static inline int ctest_contains(const char *haystack, const char *needle)
{
    return haystack && strstr(haystack, needle) != NULL;
}

#endif

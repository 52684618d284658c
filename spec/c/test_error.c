/*
 * test_error.c — errors as data: libpq's messages kept whole, one-line
 * copies, kind names, the error constructor.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctest.h"
#include "error.h"

/*
 * libpq's own words reach the message unaltered: nothing is masked after
 * the fact (passwords are kept out of messages where they are built), so
 * text that merely looks like a URI or a password=... pair stays whole.
 */
static void test_not_altered(void)
{
    static const char *const looks_secret[] = {
        "postgresql://u:pw@h/db", "password=s", "s", "p",
    };
    char conninfo[200], expected[TDB_MESSAGE_MAX];
    tdb_error err;

    for (size_t i = 0; i < sizeof looks_secret / sizeof looks_secret[0]; i++) {
        PGconn *pg;
        snprintf(conninfo, sizeof conninfo, "host=/nonexistent sslmode='%s'", looks_secret[i]);
        pg = PQconnectStart(conninfo);
        if (!pg || PQstatus(pg) != CONNECTION_BAD) {
            test_cond("not altered: libpq refuses the bogus sslmode", 0);
            PQfinish(pg);
            continue;
        }
        tdb_copy_line(expected, sizeof expected, PQerrorMessage(pg));
        tdb_error_from_conn(&err, TDB_CONNECTION, pg, "connect");
        snprintf(conninfo, sizeof conninfo, "not altered: libpq's message quoting \"%s\" is kept whole",
                 looks_secret[i]);
        test_cond(conninfo, ctest_contains(err.message, expected) &&
                            ctest_contains(err.message, looks_secret[i]) &&
                            ctest_contains(err.message, "sslmode value") &&
                            strncmp(err.message, "connect: ", 9) == 0);
        PQfinish(pg);
    }
}

static void test_copy_line(void)
{
    char buf[64], small[8];

    tdb_copy_line(buf, sizeof buf, "first\nsecond");
    test_cond("copy_line: newline folded to a space", strcmp(buf, "first second") == 0);
    tdb_copy_line(buf, sizeof buf, "a\r\n\tb");
    test_cond("copy_line: a run of CR, LF and tab is one space", strcmp(buf, "a b") == 0);
    tdb_copy_line(buf, sizeof buf, "col\tvalue");
    test_cond("copy_line: tab folded", strcmp(buf, "col value") == 0);
    tdb_copy_line(buf, sizeof buf, "FATAL:  no\n");
    test_cond("copy_line: trailing newline cut", strcmp(buf, "FATAL:  no") == 0);
    tdb_copy_line(buf, sizeof buf, "trailing   \n  ");
    test_cond("copy_line: trailing blanks cut", strcmp(buf, "trailing") == 0);
    tdb_copy_line(buf, sizeof buf, "\n\nlead");
    test_cond("copy_line: leading newlines dropped", strcmp(buf, "lead") == 0);
    tdb_copy_line(buf, sizeof buf, NULL);
    test_cond("copy_line: NULL source gives an empty line", buf[0] == '\0');

    memset(small, 'X', sizeof small);
    tdb_copy_line(small, 4, "abcdef");
    test_cond("copy_line: truncated to cap - 1 and terminated",
              strcmp(small, "abc") == 0 && small[4] == 'X');
    memset(small, 'X', sizeof small);
    tdb_copy_line(small, 5, "abc\ndef");
    test_cond("copy_line: a fold at the cut leaves no trailing space",
              strcmp(small, "abc") == 0 && small[5] == 'X');
    memset(small, 'X', sizeof small);
    tdb_copy_line(small, 1, "abc");
    test_cond("copy_line: cap 1 gives an empty string", small[0] == '\0' && small[1] == 'X');
    memset(small, 'X', sizeof small);
    tdb_copy_line(small, 0, "abc");
    test_cond("copy_line: cap 0 writes nothing", small[0] == 'X');
    memset(small, 'X', sizeof small);
    tdb_copy_line(small, sizeof small, "1234567");
    test_cond("copy_line: exactly cap - 1 characters fit", strcmp(small, "1234567") == 0);
}

static void test_kinds(void)
{
    static const struct { tdb_kind kind; const char *name; } kinds[] = {
        { TDB_OK, "ok" }, { TDB_INVALID, "invalid" }, { TDB_CONFIG, "config" },
        { TDB_CONNECTION, "connection" }, { TDB_TIMEOUT, "timeout" }, { TDB_CLOSED, "closed" },
        { TDB_SCHEMA, "schema" }, { TDB_DATABASE, "database" }, { TDB_NOMEM, "memory" },
    };
    char name[64];
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        snprintf(name, sizeof name, "kind_name: %s", kinds[i].name);
        test_cond(name, ctest_streq(tdb_kind_name(kinds[i].kind), kinds[i].name));
    }
    test_cond("kind_name: an out-of-range kind is never NULL", tdb_kind_name((tdb_kind)99) != NULL);
}

static void test_error_set(void)
{
    tdb_error err;
    char longmsg[TDB_MESSAGE_MAX * 2];

    tdb_error_set(&err, TDB_INVALID, "title", "title is %d characters long", 201);
    test_cond("error_set: kind, field and message",
              err.kind == TDB_INVALID && strcmp(err.field, "title") == 0 &&
              strcmp(err.message, "title is 201 characters long") == 0 &&
              err.sqlstate[0] == '\0' && err.row == 0);
    tdb_error_set(&err, TDB_CONFIG, NULL, "x");
    test_cond("error_set: NULL field leaves it empty", err.field[0] == '\0' && err.kind == TDB_CONFIG);
    memset(longmsg, 'm', sizeof longmsg - 1);
    longmsg[sizeof longmsg - 1] = '\0';
    tdb_error_set(&err, TDB_DATABASE, "a_field_name_far_longer_than_thirty_one_bytes", "%s", longmsg);
    test_cond("error_set: long message truncated and terminated",
              strlen(err.message) == TDB_MESSAGE_MAX - 1);
    test_cond("error_set: long field truncated and terminated", strlen(err.field) == sizeof err.field - 1);
    err.row = 3;
    snprintf(err.sqlstate, sizeof err.sqlstate, "23514");
    tdb_error_clear(&err);
    test_cond("error_clear: everything reset",
              err.kind == TDB_OK && err.field[0] == '\0' && err.message[0] == '\0' &&
              err.sqlstate[0] == '\0' && err.row == 0);

    tdb_error_from_result(&err, NULL, NULL, "get");
    test_cond("error_from_result: no result, no connection still gives a message",
              err.kind == TDB_DATABASE && ctest_contains(err.message, "get: ") && strlen(err.message) > 5);
    tdb_error_from_conn(&err, TDB_CONNECTION, NULL, NULL);
    test_cond("error_from_conn: no connection gives a generic line",
              err.kind == TDB_CONNECTION && strcmp(err.message, "connection failed") == 0);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    test_not_altered();
    test_copy_line();
    test_kinds();
    test_error_set();
    return test_report();
}

/*
 * test_error.c — errors as data: scrubbing passwords out of messages,
 * one-line copies, kind names, the error constructor.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctest.h"
#include "error.h"

/* Scrubs a copy of msg with secret; returns a static buffer. */
static const char *scrubbed(const char *msg, const char *secret)
{
    static char buf[TDB_MESSAGE_MAX * 2];
    snprintf(buf, sizeof buf, "%s", msg);
    tdb_error_scrub(buf, secret);
    return buf;
}

/*
 * Runs tdb_error_scrub in a child with a 2 s alarm: a scrubber that never
 * finishes must fail the test, not hang the suite.  1 when the child
 * finished and the secret is gone from its result.
 */
static int scrub_terminates(const char *msg, const char *secret)
{
    int fds[2], status = 0;
    char out[TDB_MESSAGE_MAX * 2] = "";
    ssize_t n;
    pid_t pid;
    if (pipe(fds) != 0)
        return 0;
    fflush(stdout);
    pid = fork();
    if (pid < 0)
        return 0;
    if (pid == 0) {
        const char *r;
        close(fds[0]);
        alarm(2);
        r = scrubbed(msg, secret);
        if (write(fds[1], r, strlen(r)) < 0)
            _exit(2);
        _exit(0);
    }
    close(fds[1]);
    n = read(fds[0], out, sizeof out - 1);
    close(fds[0]);
    out[n > 0 ? n : 0] = '\0';
    if (waitpid(pid, &status, 0) != pid)
        return 0;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 && strstr(out, secret) == NULL;
}

static void test_scrub(void)
{
    const char *r;

    r = scrubbed("could not connect to postgresql://u:secret@h/db", NULL);
    test_cond("scrub: URI password removed", !ctest_contains(r, "secret"));
    test_cond("scrub: URI user, host and database kept",
              ctest_contains(r, "postgresql://u:") && ctest_contains(r, "@h/db"));
    r = scrubbed("postgres://app:hunter22@db.example.com:5432/x?sslmode=require", NULL);
    test_cond("scrub: postgres:// URI with port and query",
              !ctest_contains(r, "hunter22") && ctest_contains(r, "db.example.com:5432/x?sslmode=require"));
    r = scrubbed("a postgresql://u:one1@h/a and postgresql://v:two2@k/b", NULL);
    test_cond("scrub: every URI in a message",
              !ctest_contains(r, "one1") && !ctest_contains(r, "two2") && ctest_contains(r, "@k/b"));
    r = scrubbed("invalid URI: \"postgresql://u:pw@h/db\"", NULL);
    test_cond("scrub: short URI password blanked", !ctest_contains(r, ":pw@") && ctest_contains(r, "@h/db"));
    r = scrubbed("see postgresql://u@h/db and postgresql://h:5432/db", NULL);
    test_cond("scrub: URIs without a password unchanged",
              strcmp(r, "see postgresql://u@h/db and postgresql://h:5432/db") == 0);

    r = scrubbed("host=h password=secret dbname=d", NULL);
    test_cond("scrub: password=secret removed", !ctest_contains(r, "secret"));
    test_cond("scrub: other key/value pairs kept", ctest_contains(r, "host=h") && ctest_contains(r, "dbname=d"));
    r = scrubbed("host=h password='se cret' user=x", NULL);
    test_cond("scrub: quoted password='se cret' removed",
              !ctest_contains(r, "se cret") && !ctest_contains(r, "cret") && ctest_contains(r, "user=x"));
    r = scrubbed("password = spaced dbname=d", NULL);
    test_cond("scrub: password = value with spaces", !ctest_contains(r, "spaced") && ctest_contains(r, "dbname=d"));
    r = scrubbed("password='it\\'s long' user=x", NULL);
    test_cond("scrub: quoted password with an escaped quote",
              !ctest_contains(r, "long") && !ctest_contains(r, "it") && ctest_contains(r, "user=x"));
    r = scrubbed("postgresql://h/db?user=u&password=qsecret&sslmode=require", NULL);
    test_cond("scrub: password in a URI query string",
              !ctest_contains(r, "qsecret") && ctest_contains(r, "sslmode=require"));
    r = scrubbed("password=x", NULL);
    test_cond("scrub: one-character password blanked", strcmp(r, "password=*") == 0);
    r = scrubbed("password authentication failed for user \"bob\"", NULL);
    test_cond("scrub: the word password alone is not a secret",
              strcmp(r, "password authentication failed for user \"bob\"") == 0);

    r = scrubbed("FATAL: hunter2 rejected; hunter2 again", "hunter2");
    test_cond("scrub: the explicit secret removed everywhere", !ctest_contains(r, "hunter2"));
    test_cond("scrub: the text around the secret kept",
              ctest_contains(r, "FATAL: ") && ctest_contains(r, " rejected; ") && ctest_contains(r, " again"));
    r = scrubbed("xxabyyab", "ab");
    test_cond("scrub: a 2-character secret blanked", !ctest_contains(r, "ab") && strlen(r) == 8);
    r = scrubbed("banana", "a");
    test_cond("scrub: a 1-character secret blanked", strcmp(r, "b*n*n*") == 0);
    r = scrubbed("no secrets in here", "");
    test_cond("scrub: an empty secret changes nothing", strcmp(r, "no secrets in here") == 0);
    r = scrubbed("connection to server at \"127.0.0.1\", port 1 failed: Connection refused", "zzz");
    test_cond("scrub: a message without secrets is unchanged",
              strcmp(r, "connection to server at \"127.0.0.1\", port 1 failed: Connection refused") == 0);
    r = scrubbed("", "secret");
    test_cond("scrub: an empty message stays empty", r[0] == '\0');
    r = scrubbed("p@ss/w0rd and postgresql://u:p%40ss@h/db", "p@ss/w0rd");
    test_cond("scrub: a secret with URI punctuation removed", !ctest_contains(r, "p@ss/w0rd") &&
              !ctest_contains(r, "p%40ss"));

    /* Passwords made of the mask's own character must not hang the scrubber. */
    test_cond("scrub: secret \"***\" terminates and is removed", scrub_terminates("pw *** here", "***"));
    test_cond("scrub: secret \"*\" terminates and is removed", scrub_terminates("pw * here", "*"));
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
    test_scrub();
    test_copy_line();
    test_kinds();
    test_error_set();
    return test_report();
}

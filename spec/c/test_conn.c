/*
 * test_conn.c — the core against a live server, through the C API alone:
 * connect, ping, init, the task operations (scoped and not), listing with
 * cursors, bulk create, transactions, and failures that must be clear and
 * must not leak a password.
 *
 * The server is TASKDB_TEST_URL (set by the test harness, spec/run.sh).
 * Without it this program still runs the tests that need no server and
 * counts the missing server as one failed test: it never passes silently.
 * Every row it writes belongs to user ids unique to this run, and is
 * deleted before it exits.  Every PGresult is cleared (the suite also runs
 * under valgrind).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"
#include "ctest.h"
#include "schema.h"
#include "task.h"

#define SECRET "Pw-Secr3t-Value"

static char user_a[96], user_b[96], user_bulk[96], user_txn[96];

static tdb_str S(const char *s)
{
    tdb_str r = { s, strlen(s) };
    return r;
}

static int str_is(tdb_str s, const char *expected)
{
    return s.ptr && s.len == strlen(expected) && memcmp(s.ptr, expected, s.len) == 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Prints why a call failed (never a test by itself). */
static void show(const char *what, const tdb_error *err)
{
    if (err->kind != TDB_OK)
        printf("#   %s: %s error: %s%s%s\n", what, tdb_kind_name(err->kind), err->message,
               err->sqlstate[0] ? " sqlstate " : "", err->sqlstate);
}

/* The task in a one-row result; the result is cleared.  0 when there is none. */
static int take_one(PGresult *res, tdb_task *out, char *title, size_t cap)
{
    int ok = res && PQntuples(res) == 1 && tdb_task_row(res, 0, out) == 0;
    if (ok && title)
        snprintf(title, cap, "%.*s", (int)out->title.len, out->title.ptr);
    if (ok) {
        /* The strings die with the result: keep only the scalars. */
        out->user_id.ptr = out->title.ptr = NULL;
        out->description.ptr = out->description.ptr ? "" : NULL;
    }
    PQclear(res);
    return ok;
}

static int rows(PGresult *res)
{
    int n = res ? PQntuples(res) : -1;
    PQclear(res);
    return n;
}

static tdb_conn *connect_url(const char *url, tdb_error *err)
{
    tdb_conn_options o;
    tdb_conn_options_init(&o);
    o.url = url;
    return tdb_connect(&o, err);
}

static long long count_user(tdb_conn *c, const char *user)
{
    tdb_list_opts o;
    tdb_error err;
    long long n;
    tdb_list_opts_init(&o);
    o.user_id = S(user);
    n = tdb_task_count(c, NULL, &o, &err);
    show("count", &err);
    return n;
}

/* Deletes every task of `user`; returns how many. */
static long remove_user(tdb_conn *c, const char *user)
{
    tdb_list_opts o;
    tdb_error err;
    PGresult *res;
    long n = 0;
    tdb_list_opts_init(&o);
    o.user_id = S(user);
    res = tdb_task_list(c, NULL, &o, &err);
    if (!res) {
        show("cleanup list", &err);
        return -1;
    }
    for (int i = 0; i < PQntuples(res); i++) {
        tdb_task t;
        if (tdb_task_row(res, i, &t) == 0 && tdb_task_delete(c, NULL, t.id, &err) == 1)
            n++;
    }
    PQclear(res);
    return n;
}

/* ---- no server needed ---------------------------------------------------- */

static void test_offline(void)
{
    tdb_error err;
    tdb_conn *c;
    tdb_conn_options o;
    double t0;

    tdb_conn_close(NULL);
    test_cond("close(NULL) is harmless", 1);
    test_cond("exec on NULL is a closed error",
              tdb_conn_exec(NULL, TDB_SQL_PING, NULL, &err) == NULL && err.kind == TDB_CLOSED);
    test_cond("begin on NULL is a closed error", tdb_conn_begin(NULL, &err) == -1 && err.kind == TDB_CLOSED);
    test_cond("txn_depth(NULL) is 0", tdb_conn_txn_depth(NULL) == 0);

    tdb_conn_options_init(&o);
    test_cond("options default: 5 s, 3 retries, auto prepare",
              o.connect_timeout == 5.0 && o.retries == 3 && o.prepare == TDB_PREPARE_AUTO && !o.url);

    o.url = "postgresql://127.0.0.1:1/taskdb?sslmode=disable";
    o.retries = 2;
    o.connect_timeout = 2;
    t0 = now_s();
    c = tdb_connect(&o, &err);
    t0 = now_s() - t0;
    test_cond("refused port: connect fails", c == NULL);
    show("refused port", &err);
    test_cond("refused port: kind connection", err.kind == TDB_CONNECTION);
    test_cond("refused port: message counts the attempts",
              ctest_contains(err.message, "attempts") && ctest_contains(err.message, "3 attempts"));
    test_cond("refused port: gives up within connect_timeout", t0 < 2.5);
    tdb_conn_close(c);

    o.url = "postgresql://tdbuser:" SECRET "@127.0.0.1:1/db?sslmode=disable";
    o.retries = 0;
    c = tdb_connect(&o, &err);
    test_cond("URI with a password, refused: fails without the password in the message",
              c == NULL && err.kind == TDB_CONNECTION && err.message[0] && !ctest_contains(err.message, SECRET));
    tdb_conn_close(c);

    o.url = "host=127.0.0.1 port=1 user=u password=" SECRET " sslmode=disable";
    c = tdb_connect(&o, &err);
    test_cond("key/value with a password, refused: no password in the message",
              c == NULL && err.kind == TDB_CONNECTION && !ctest_contains(err.message, SECRET));
    tdb_conn_close(c);

    o.url = "postgresql://u:" SECRET "@[::1/db";
    c = tdb_connect(&o, &err);
    show("bad URI", &err);
    test_cond("malformed URI with a password: config error without the password",
              c == NULL && err.kind == TDB_CONFIG && !ctest_contains(err.message, SECRET));
    tdb_conn_close(c);

    o.url = "host=127.0.0.1 password=" SECRET " bogus_option=1";
    c = tdb_connect(&o, &err);
    test_cond("unknown key/value option: config error without the password",
              c == NULL && err.kind == TDB_CONFIG && !ctest_contains(err.message, SECRET));
    tdb_conn_close(c);
}

/* A wrong password over TCP: fails at once (not retried), no password in the message. */
static void test_auth_failure(void)
{
    const char *tcp = getenv("TASKDB_TEST_TCP_URL");
    const char *pw = getenv("TASKDB_TEST_PASSWORD");
    char url[1024];
    const char *at;
    tdb_error err;
    tdb_conn *c;
    tdb_conn_options o;

    if (!tcp || !*tcp || !pw || !*pw || !(at = strstr(tcp, pw))) {
        test_note("skipped wrong-password test: TASKDB_TEST_TCP_URL / TASKDB_TEST_PASSWORD not set");
        return;
    }
    snprintf(url, sizeof url, "%.*s%s%s", (int)(at - tcp), tcp, "wrong-" SECRET, at + strlen(pw));
    tdb_conn_options_init(&o);
    o.url = url;
    c = tdb_connect(&o, &err);
    show("wrong password", &err);
    test_cond("wrong password: connection error, sqlstate 28P01, not retried",
              c == NULL && err.kind == TDB_CONNECTION && strcmp(err.sqlstate, "28P01") == 0 &&
              !ctest_contains(err.message, "attempts"));
    test_cond("wrong password: neither password in the message",
              !ctest_contains(err.message, SECRET) && !ctest_contains(err.message, pw));
    tdb_conn_close(c);
}

/* ---- live server --------------------------------------------------------- */

static void test_connect(const char *url)
{
    tdb_error err;
    tdb_conn *c;
    tdb_conn_info info;
    char *saved = getenv("DATABASE_URL") ? strdup(getenv("DATABASE_URL")) : NULL;

    c = connect_url(url, &err);
    show("connect", &err);
    test_cond("connect with options.url", c != NULL && err.kind == TDB_OK);
    test_cond("ping", c && tdb_conn_ping(c, &err) == 0);
    if (c) {
        tdb_conn_get_info(c, &info);
        test_cond("info: a backend pid and server version, no transaction",
                  info.backend_pid > 0 && info.server_version >= 100000 && info.txn_depth == 0 &&
                  info.reconnects == 0);
    }
    tdb_conn_close(c);

    setenv("DATABASE_URL", url, 1);
    c = tdb_connect(NULL, &err);
    show("connect(NULL)", &err);
    test_cond("connect(NULL options) uses DATABASE_URL", c != NULL && tdb_conn_ping(c, &err) == 0);
    tdb_conn_close(c);
    if (saved) {
        setenv("DATABASE_URL", saved, 1);
        free(saved);
    } else {
        unsetenv("DATABASE_URL");
    }
}

static void test_schema(tdb_conn *c)
{
    tdb_error err;
    int rc = tdb_schema_init(c, &err);
    show("schema_init", &err);
    test_cond("schema_init", rc == 0);
    rc = tdb_schema_init(c, &err);
    show("schema_init again", &err);
    test_cond("schema_init again (idempotent)", rc == 0 && tdb_conn_txn_depth(c) == 0);
}

static void test_crud(tdb_conn *c)
{
    tdb_error err;
    tdb_task_new n;
    tdb_task_patch p;
    tdb_task t, t2;
    tdb_str scope_a = S(user_a), scope_b = S(user_b);
    char title[512];   /* a 200-character title is up to 800 bytes: see below */
    long long id;
    int64_t created, updated;

    tdb_task_new_init(&n);
    n.user_id = S(user_a);
    n.title = S("Buy groceries");
    n.description = S("milk");
    test_cond("create returns the task",
              take_one(tdb_task_create(c, NULL, &n, &err), &t, title, sizeof title) &&
              strcmp(title, "Buy groceries") == 0 && t.description.ptr && !t.completed && t.id > 0);
    show("create", &err);
    id = t.id;
    created = t.created_at;
    updated = t.updated_at;
    test_cond("create: created_at == updated_at", created == updated && created != 0);

    {
        PGresult *res = tdb_task_get(c, NULL, id, &err);
        tdb_task g;
        int ok = res && PQntuples(res) == 1 && tdb_task_row(res, 0, &g) == 0 && g.id == id &&
                 str_is(g.user_id, user_a) && str_is(g.title, "Buy groceries") &&
                 str_is(g.description, "milk") && !g.completed && g.created_at == created;
        PQclear(res);
        test_cond("get returns every field as created", ok);
    }
    test_cond("get of a missing id: no rows, no error",
              rows(tdb_task_get(c, NULL, -1, &err)) == 0 && err.kind == TDB_OK);
    test_cond("scoped get by the owner finds it", rows(tdb_task_get(c, &scope_a, id, &err)) == 1);
    test_cond("scoped get by another user: not found", rows(tdb_task_get(c, &scope_b, id, &err)) == 0);

    tdb_task_new_init(&n);
    n.title = S("no description");
    test_cond("scoped create without description: user from scope, description NULL",
              take_one(tdb_task_create(c, &scope_a, &n, &err), &t2, NULL, 0) && !t2.description.ptr);
    tdb_task_new_init(&n);
    n.user_id = S(user_a);
    n.title = S("x");
    tdb_error_clear(&err);
    test_cond("scoped create with another user's id: invalid user_id",
              tdb_task_create(c, &scope_b, &n, &err) == NULL && err.kind == TDB_INVALID &&
              strcmp(err.field, "user_id") == 0);
    tdb_task_new_init(&n);
    n.user_id = S(user_a);
    n.title = S("  ");
    test_cond("create with a blank title: invalid title, nothing written",
              tdb_task_create(c, NULL, &n, &err) == NULL && err.kind == TDB_INVALID &&
              strcmp(err.field, "title") == 0 && count_user(c, user_a) == 2);

    /* A 200-character title counts code points on the server too. */
    {
        char big[401];   /* 200 x 2 bytes; title (512) holds it */
        for (int i = 0; i < 200; i++)
            memcpy(big + 2 * i, "\xC3\xA9", 2);
        big[400] = '\0';
        tdb_task_new_init(&n);
        n.user_id = S(user_a);
        n.title = S(big);
        test_cond("create with 200 x U+00E9: accepted by the server as well",
                  take_one(tdb_task_create(c, NULL, &n, &err), &t2, title, sizeof title) &&
                  strcmp(title, big) == 0);
        show("create 200", &err);
        test_cond("delete it", tdb_task_delete(c, NULL, t2.id, &err) == 1);
    }

    tdb_task_patch_init(&p);
    p.title_op = TDB_SET;
    p.title = S("Buy bread");
    p.description_op = TDB_CLEAR;
    test_cond("update sets the title and clears the description",
              take_one(tdb_task_update(c, NULL, id, &p, &err), &t, title, sizeof title) &&
              strcmp(title, "Buy bread") == 0 && !t.description.ptr && !t.completed);
    test_cond("update: updated_at moves forward, created_at stays",
              t.updated_at > updated && t.created_at == created);
    updated = t.updated_at;

    tdb_task_patch_init(&p);
    test_cond("update with an empty patch returns the task unchanged",
              take_one(tdb_task_update(c, NULL, id, &p, &err), &t, title, sizeof title) &&
              strcmp(title, "Buy bread") == 0 && t.updated_at == updated);
    p.completed = 1;
    test_cond("scoped update by another user: not found, nothing changed",
              rows(tdb_task_update(c, &scope_b, id, &p, &err)) == 0 && err.kind == TDB_OK);
    test_cond("update of a missing id: not found", rows(tdb_task_update(c, NULL, -1, &p, &err)) == 0);
    p.completed = 0;
    p.description_op = TDB_SET;
    p.description = S("rye");
    test_cond("scoped update by the owner",
              take_one(tdb_task_update(c, &scope_a, id, &p, &err), &t, NULL, 0) &&
              t.description.ptr && !t.completed);
    tdb_task_patch_init(&p);
    p.title_op = TDB_CLEAR;
    test_cond("update clearing the title: invalid",
              tdb_task_update(c, NULL, id, &p, &err) == NULL && err.kind == TDB_INVALID);
    updated = t.updated_at;

    test_cond("toggle marks it complete",
              take_one(tdb_task_toggle(c, NULL, id, &err), &t, NULL, 0) && t.completed &&
              t.updated_at > updated);
    updated = t.updated_at;
    test_cond("toggle again marks it incomplete",
              take_one(tdb_task_toggle(c, &scope_a, id, &err), &t, NULL, 0) && !t.completed &&
              t.updated_at > updated);
    test_cond("scoped toggle by another user: not found",
              rows(tdb_task_toggle(c, &scope_b, id, &err)) == 0 && err.kind == TDB_OK);
    test_cond("toggle of a missing id: not found", rows(tdb_task_toggle(c, NULL, -1, &err)) == 0);
    test_cond("another user's toggle changed nothing",
              take_one(tdb_task_get(c, NULL, id, &err), &t, NULL, 0) && !t.completed);

    test_cond("scoped delete by another user: false, still there",
              tdb_task_delete(c, &scope_b, id, &err) == 0 && rows(tdb_task_get(c, NULL, id, &err)) == 1);
    test_cond("delete: true", tdb_task_delete(c, &scope_a, id, &err) == 1);
    test_cond("delete again: false", tdb_task_delete(c, NULL, id, &err) == 0 && err.kind == TDB_OK);
    test_cond("get after delete: not found", rows(tdb_task_get(c, NULL, id, &err)) == 0);
}

static void test_list(tdb_conn *c)
{
    tdb_error err;
    tdb_task_new n;
    tdb_list_opts o;
    tdb_str scope_a = S(user_a), scope_b = S(user_b);
    long long ids[4];
    PGresult *res;
    char cursor[TDB_CURSOR_MAX];
    int ok;

    remove_user(c, user_a);
    for (int i = 0; i < 4; i++) {
        char title[32];
        tdb_task t;
        snprintf(title, sizeof title, "list %d", i);
        tdb_task_new_init(&n);
        n.user_id = S(user_a);
        n.title = S(title);
        n.completed = i % 2;
        ids[i] = take_one(tdb_task_create(c, NULL, &n, &err), &t, NULL, 0) ? t.id : -1;
    }
    tdb_task_new_init(&n);
    n.user_id = S(user_b);
    n.title = S("bob's");
    rows(tdb_task_create(c, NULL, &n, &err));

    tdb_list_opts_init(&o);
    o.user_id = S(user_a);
    res = tdb_task_list(c, NULL, &o, &err);
    ok = res && PQntuples(res) == 4;
    for (int i = 0; ok && i < 4; i++) {
        tdb_task t;
        ok = tdb_task_row(res, i, &t) == 0 && t.id == ids[i] && str_is(t.user_id, user_a);
    }
    if (ok) {
        tdb_task t;
        tdb_task_row(res, 0, &t);
        tdb_cursor_format(&t, cursor);
    }
    PQclear(res);
    test_cond("list by user: 4 rows in creation order", ok);

    tdb_list_opts_init(&o);
    o.user_id = S(user_a);
    o.completed = 1;
    test_cond("list completed only", rows(tdb_task_list(c, NULL, &o, &err)) == 2);
    tdb_list_opts_init(&o);
    o.user_id = S(user_a);
    o.limit = 3;
    test_cond("list with limit 3", rows(tdb_task_list(c, NULL, &o, &err)) == 3);
    o.limit = 0;
    test_cond("list with limit 0", rows(tdb_task_list(c, NULL, &o, &err)) == 0);

    tdb_list_opts_init(&o);
    o.user_id = S(user_a);
    o.desc = 1;
    res = tdb_task_list(c, NULL, &o, &err);
    {
        tdb_task t;
        ok = res && PQntuples(res) == 4 && tdb_task_row(res, 0, &t) == 0 && t.id == ids[3];
    }
    PQclear(res);
    test_cond("list desc: newest first", ok);

    tdb_list_opts_init(&o);
    o.user_id = S(user_a);
    o.has_after = tdb_cursor_parse(cursor, strlen(cursor), &o.after, &err) == 0;
    res = tdb_task_list(c, NULL, &o, &err);
    {
        tdb_task t;
        ok = o.has_after && res && PQntuples(res) == 3 && tdb_task_row(res, 0, &t) == 0 && t.id == ids[1];
    }
    PQclear(res);
    test_cond("list after the first row's cursor: the other 3, in order", ok);
    o.desc = 1;
    test_cond("list desc after the first row: nothing before it",
              rows(tdb_task_list(c, NULL, &o, &err)) == 0);

    tdb_list_opts_init(&o);
    test_cond("scoped list: only the owner's rows", rows(tdb_task_list(c, &scope_a, &o, &err)) == 4);
    tdb_list_opts_init(&o);
    test_cond("scoped list of the other user: only theirs", rows(tdb_task_list(c, &scope_b, &o, &err)) == 1);
    tdb_list_opts_init(&o);
    o.user_id = S(user_a);
    tdb_error_clear(&err);
    test_cond("scoped list asking for another user: invalid user_id",
              tdb_task_list(c, &scope_b, &o, &err) == NULL && err.kind == TDB_INVALID &&
              strcmp(err.field, "user_id") == 0);
    tdb_list_opts_init(&o);
    res = tdb_task_list(c, NULL, &o, &err);
    test_cond("unscoped list of every user includes both", res && PQntuples(res) >= 5);
    PQclear(res);

    tdb_list_opts_init(&o);
    test_cond("count: scoped", tdb_task_count(c, &scope_a, &o, &err) == 4);
    tdb_list_opts_init(&o);
    o.completed = 0;
    test_cond("count: scoped, incomplete", tdb_task_count(c, &scope_a, &o, &err) == 2);
    tdb_list_opts_init(&o);
    o.user_id = S(user_b);
    test_cond("count: by user_id", tdb_task_count(c, NULL, &o, &err) == 1);
    tdb_list_opts_init(&o);
    test_cond("count: every user", tdb_task_count(c, NULL, &o, &err) >= 5);
    tdb_list_opts_init(&o);
    o.limit = -7;
    test_cond("count with a negative limit: invalid", tdb_task_count(c, NULL, &o, &err) == -1 &&
              err.kind == TDB_INVALID);

    /*
     * A cursor of the right shape but an impossible date is refused: today by
     * the server (a database error with its SQLSTATE), or, if the parser
     * learns to check dates, as invalid "after" before anything is sent.
     */
    tdb_list_opts_init(&o);
    o.user_id = S(user_a);
    tdb_error_clear(&err);
    if (tdb_cursor_parse("2026-13-45T99:99:99.000000Z/1", 29, &o.after, &err) == 0) {
        o.has_after = 1;
        res = tdb_task_list(c, NULL, &o, &err);
        show("impossible date", &err);
        PQclear(res);
    } else {
        res = NULL;
    }
    test_cond("an impossible cursor date is refused with a clear error",
              res == NULL && ((err.kind == TDB_DATABASE && strlen(err.sqlstate) == 5) ||
                              (err.kind == TDB_INVALID && strcmp(err.field, "after") == 0)));

    /* A statement the server refuses (RELEASE outside a transaction, 25P01). */
    res = tdb_conn_exec(c, TDB_SQL_RELEASE, NULL, &err);
    show("release outside a transaction", &err);
    test_cond("a server error: database kind, its SQLSTATE, no result",
              res == NULL && err.kind == TDB_DATABASE && strlen(err.sqlstate) == 5 &&
              ctest_contains(err.message, "release: "));
    PQclear(res);
    test_cond("the connection is usable after a server error", tdb_conn_ping(c, &err) == 0);
}

static void test_bulk(tdb_conn *c)
{
    enum { N = 1000 };
    tdb_task_new *list = calloc(N, sizeof *list);
    char (*titles)[32] = calloc(N, sizeof *titles);
    long long *ids = calloc(N, sizeof *ids);
    tdb_error err;
    tdb_list_opts o;
    PGresult *res;
    int rc, ascending = 1, ok;

    if (!list || !titles || !ids) {
        test_cond("bulk: memory", 0);
        goto done;
    }
    for (int i = 0; i < N; i++) {
        tdb_task_new_init(&list[i]);
        snprintf(titles[i], sizeof titles[i], "bulk %04d", i);
        list[i].user_id = S(user_bulk);
        list[i].title = S(titles[i]);
    }
    /* COPY's escapes: tab, newline, backslash, CR; a NULL; a completed row. */
    list[0].title = S("tab\there");
    list[0].description = S("line1\nline2\\end\r");
    list[1].completed = 1;
    list[2].description = S("\\N");

    rc = tdb_task_create_many(c, NULL, list, N, ids, &err);
    show("create_many", &err);
    test_cond("create_many of 1000 rows", rc == 0 && tdb_conn_txn_depth(c) == 0);
    for (int i = 1; i < N; i++)
        if (ids[i] <= ids[i - 1])
            ascending = 0;
    test_cond("create_many: ids ascending in input order", rc == 0 && ascending && ids[0] > 0);

    tdb_list_opts_init(&o);
    o.user_id = S(user_bulk);
    res = tdb_task_list(c, NULL, &o, &err);
    ok = res && PQntuples(res) == N;
    for (int i = 0; ok && i < N; i++) {
        tdb_task t;
        ok = tdb_task_row(res, i, &t) == 0 && t.id == ids[i] &&
             str_is(t.title, i == 0 ? "tab\there" : titles[i]);
        if (!ok)
            printf("#   row %d differs\n", i);
    }
    test_cond("create_many: listed back in order with the same ids and titles", ok);
    if (ok) {
        tdb_task t0, t1, t2;
        tdb_task_row(res, 0, &t0);
        tdb_task_row(res, 1, &t1);
        tdb_task_row(res, 2, &t2);
        test_cond("create_many: escapes survive COPY",
                  str_is(t0.description, "line1\nline2\\end\r") && !t0.completed);
        test_cond("create_many: completed and absent description",
                  t1.completed && !t1.description.ptr);
        test_cond("create_many: a literal \\N description is text, not NULL",
                  str_is(t2.description, "\\N"));
    }
    PQclear(res);

    list[4].title = S(" ");
    rc = tdb_task_create_many(c, NULL, list, N, ids, &err);
    test_cond("create_many with a bad 5th row: invalid, row 5, field title",
              rc == -1 && err.kind == TDB_INVALID && err.row == 5 && strcmp(err.field, "title") == 0);
    test_cond("create_many with a bad row wrote nothing", count_user(c, user_bulk) == N);
    list[4].title = S(titles[4]);

    {
        tdb_str scope = S(user_a);
        rc = tdb_task_create_many(c, &scope, list, 3, ids, &err);
        test_cond("scoped create_many with another user's rows: invalid user_id, row 1",
                  rc == -1 && err.kind == TDB_INVALID && err.row == 1 && strcmp(err.field, "user_id") == 0);
    }
    test_cond("create_many of 0 rows", tdb_task_create_many(c, NULL, list, 0, ids, &err) == 0);

done:
    free(list);
    free(titles);
    free(ids);
}

static void test_transactions(tdb_conn *c)
{
    tdb_error err;
    tdb_task_new n;
    tdb_task t;
    PGresult *res;
    long long id_a = -1, id_b = -1, ids[2];
    int rc;

    tdb_task_new_init(&n);
    n.user_id = S(user_txn);
    n.title = S("rolled back");

    test_cond("begin", tdb_conn_begin(c, &err) == 0 && tdb_conn_txn_depth(c) == 1);
    test_cond("create inside", take_one(tdb_task_create(c, NULL, &n, &err), &t, NULL, 0));
    id_a = t.id;
    test_cond("visible inside the transaction", rows(tdb_task_get(c, NULL, id_a, &err)) == 1);
    test_cond("rollback", tdb_conn_rollback(c, &err) == 0 && tdb_conn_txn_depth(c) == 0);
    test_cond("begin/rollback leaves nothing",
              rows(tdb_task_get(c, NULL, id_a, &err)) == 0 && count_user(c, user_txn) == 0);

    test_cond("begin a bulk transaction", tdb_conn_begin(c, &err) == 0);
    {
        tdb_task_new two[2];
        tdb_task_new_init(&two[0]);
        tdb_task_new_init(&two[1]);
        two[0].user_id = two[1].user_id = S(user_txn);
        two[0].title = S("bulk a");
        two[1].title = S("bulk b");
        rc = tdb_task_create_many(c, NULL, two, 2, ids, &err);
    }
    test_cond("create_many inside a transaction keeps it open (savepoint)",
              rc == 0 && tdb_conn_txn_depth(c) == 1);
    test_cond("rollback of the outer transaction undoes the bulk rows",
              tdb_conn_rollback(c, &err) == 0 && count_user(c, user_txn) == 0);

    n.title = S("outer");
    test_cond("nested: begin, begin",
              tdb_conn_begin(c, &err) == 0 && take_one(tdb_task_create(c, NULL, &n, &err), &t, NULL, 0) &&
              tdb_conn_begin(c, &err) == 0 && tdb_conn_txn_depth(c) == 2);
    id_a = t.id;
    n.title = S("inner");
    test_cond("nested: create inside the savepoint", take_one(tdb_task_create(c, NULL, &n, &err), &t, NULL, 0));
    id_b = t.id;
    test_cond("nested: inner commit", tdb_conn_commit(c, &err) == 0 && tdb_conn_txn_depth(c) == 1);
    test_cond("nested: outer commit", tdb_conn_commit(c, &err) == 0 && tdb_conn_txn_depth(c) == 0);
    test_cond("nested begin/commit keeps both rows",
              rows(tdb_task_get(c, NULL, id_a, &err)) == 1 && rows(tdb_task_get(c, NULL, id_b, &err)) == 1);

    n.title = S("kept");
    tdb_conn_begin(c, &err);
    take_one(tdb_task_create(c, NULL, &n, &err), &t, NULL, 0);
    id_a = t.id;
    tdb_conn_begin(c, &err);
    n.title = S("dropped");
    take_one(tdb_task_create(c, NULL, &n, &err), &t, NULL, 0);
    id_b = t.id;
    test_cond("nested: inner rollback", tdb_conn_rollback(c, &err) == 0 && tdb_conn_txn_depth(c) == 1);
    test_cond("nested: outer commit after an inner rollback", tdb_conn_commit(c, &err) == 0);
    test_cond("inner rollback drops only the inner row",
              rows(tdb_task_get(c, NULL, id_a, &err)) == 1 && rows(tdb_task_get(c, NULL, id_b, &err)) == 0);

    /* A failed statement aborts the transaction: commit must not pretend. */
    tdb_conn_begin(c, &err);
    n.title = S("lost with the transaction");
    take_one(tdb_task_create(c, NULL, &n, &err), &t, NULL, 0);
    id_a = t.id;
    res = tdb_conn_exec(c, TDB_SQL_RELEASE, NULL, &err);   /* no savepoint (3B001): refused */
    test_cond("a failed statement inside the transaction", res == NULL && err.kind == TDB_DATABASE);
    PQclear(res);
    rc = tdb_conn_commit(c, &err);
    show("commit after an error", &err);
    test_cond("commit after a failed statement fails (25P02) and rolls back",
              rc == -1 && err.kind == TDB_DATABASE && strcmp(err.sqlstate, "25P02") == 0 &&
              tdb_conn_txn_depth(c) == 0);
    test_cond("nothing of that transaction was written", rows(tdb_task_get(c, NULL, id_a, &err)) == 0);

    tdb_error_clear(&err);
    test_cond("commit outside a transaction: invalid",
              tdb_conn_commit(c, &err) == -1 && err.kind == TDB_INVALID);
    test_cond("rollback outside a transaction: harmless", tdb_conn_rollback(c, &err) == 0);
    test_cond("the connection is usable afterwards", tdb_conn_ping(c, &err) == 0);
}

int main(void)
{
    const char *url = getenv("TASKDB_TEST_URL");
    tdb_error err;
    tdb_conn *c;
    unsigned salt;

    test_offline();
    if (!url || !*url) {
        printf("# TASKDB_TEST_URL is not set: no server to test against "
               "(spec/run.sh sets it; or export it yourself)\n");
        test_cond("TASKDB_TEST_URL is set", 0);
        return test_report();
    }
    test_auth_failure();

    salt = (unsigned)getpid() ^ (unsigned)time(NULL);
    snprintf(user_a, sizeof user_a, "ctest-conn-%u-a", salt);
    snprintf(user_b, sizeof user_b, "ctest-conn-%u-b", salt);
    snprintf(user_bulk, sizeof user_bulk, "ctest-conn-%u-bulk", salt);
    snprintf(user_txn, sizeof user_txn, "ctest-conn-%u-txn", salt);

    test_connect(url);
    c = connect_url(url, &err);
    if (!test_cond("connect for the task tests", c != NULL)) {
        show("connect", &err);
        return test_report();
    }
    test_schema(c);
    test_crud(c);
    test_list(c);
    test_bulk(c);
    test_transactions(c);

    remove_user(c, user_a);
    remove_user(c, user_b);
    remove_user(c, user_bulk);
    remove_user(c, user_txn);
    test_cond("cleanup: no rows of this run are left",
              count_user(c, user_a) + count_user(c, user_b) + count_user(c, user_bulk) +
              count_user(c, user_txn) == 0);
    tdb_conn_close(c);
    return test_report();
}

/*
 * test_trace.c — tracing and the statement counters through the C API:
 * the key=value line (no server needed), a tracer given at connect and
 * replaced later, one event per statement, transaction, pipeline call and
 * COPY, the counters of tdb_conn_info, and TASKDB_TRACE=1's stderr lines.
 *
 * The server is TASKDB_TEST_URL (spec/run.sh sets it); without it the
 * missing server counts as one failed test.  Rows written here belong to a
 * user id unique to this run and are deleted before it exits.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"
#include "ctest.h"
#include "pipeline.h"
#include "schema.h"
#include "task.h"

#define MAX_SEEN 64

/* What a test tracer keeps of each event (the event itself dies with the call). */
typedef struct seen_event {
    tdb_trace_event ev;
    char host[256];
    char sqlstate[6];
    char line[768];
} seen_event;

typedef struct seen {
    seen_event ev[MAX_SEEN];
    int n;
} seen;

static char user[96];

static void collect(void *ctx, const tdb_trace_event *ev)
{
    seen *s = ctx;
    seen_event *e;
    if (s->n >= MAX_SEEN)
        return;
    e = &s->ev[s->n++];
    e->ev = *ev;
    snprintf(e->host, sizeof e->host, "%s", ev->host);
    snprintf(e->sqlstate, sizeof e->sqlstate, "%s", ev->sqlstate);
    e->ev.host = e->host;
    e->ev.sqlstate = e->sqlstate;
    tdb_trace_format(e->line, sizeof e->line, ev);
}

static tdb_str S(const char *s)
{
    tdb_str r = { s, strlen(s) };
    return r;
}

static void show(const char *what, const tdb_error *err)
{
    if (err->kind != TDB_OK)
        printf("#   %s: %s error: %s\n", what, tdb_kind_name(err->kind), err->message);
}

static const seen_event *last(const seen *s)
{
    return s->n > 0 ? &s->ev[s->n - 1] : NULL;
}

/* ---- no server needed ---------------------------------------------------- */

static void test_format(void)
{
    tdb_trace_event ev;
    char line[512], tiny[16];
    int n;

    memset(&ev, 0, sizeof ev);
    ev.kind = TDB_TRACE_STATEMENT;
    ev.label = "get_user";
    ev.ok = 1;
    ev.ms = 1.25;
    ev.rows = 1;
    ev.host = "/run/postgresql";
    ev.port = "5432";
    ev.sqlstate = "";
    n = tdb_trace_format(line, sizeof line, &ev);
    test_cond("format: a success is one key=value line",
              ctest_streq(line, "taskdb trace: label=get_user kind=statement ok=true ms=1.250 "
                                "rows=1 host=/run/postgresql port=5432 resends=0 reconnects=0 "
                                "retries=0") && n == (int)strlen(line));

    ev.ok = 0;
    ev.rows = 0;
    ev.error = TDB_DATABASE;
    ev.sqlstate = "23514";
    ev.kind = TDB_TRACE_PIPELINE;
    ev.index = 3;
    ev.begin = 1;
    ev.ends = "commit";
    ev.resends = 1;
    ev.reconnects = 2;
    ev.retries = 4;
    tdb_trace_format(line, sizeof line, &ev);
    test_cond("format: a failure has error and sqlstate",
              ctest_contains(line, " ok=false ") &&
              ctest_contains(line, " error=database sqlstate=23514"));
    test_cond("format: counters, begin, ends and index",
              ctest_contains(line, "resends=1 reconnects=2 retries=4") &&
              ctest_contains(line, " begin=true ends=commit index=3") &&
              ctest_contains(line, "kind=pipeline"));

    ev.host = "/tmp/a dir";
    ev.port = "";
    tdb_trace_format(line, sizeof line, &ev);
    test_cond("format: a value with a blank is quoted; an empty one too",
              ctest_contains(line, " host=\"/tmp/a dir\" port=\"\" "));

    n = tdb_trace_format(tiny, sizeof tiny, &ev);
    test_cond("format: truncated to the buffer, full length returned",
              strlen(tiny) == sizeof tiny - 1 && n > (int)sizeof tiny &&
              strncmp(tiny, "taskdb trace: l", sizeof tiny - 1) == 0);

    test_cond("kind names", ctest_streq(tdb_trace_kind_name(TDB_TRACE_STATEMENT), "statement") &&
                            ctest_streq(tdb_trace_kind_name(TDB_TRACE_COPY), "copy") &&
                            ctest_streq(tdb_trace_kind_name(TDB_TRACE_PIPELINE), "pipeline"));
    tdb_conn_set_trace(NULL, collect, NULL);   /* harmless */
}

/* ---- against the server ---------------------------------------------------- */

static tdb_conn *connect_traced(const char *url, seen *s, tdb_error *err)
{
    tdb_conn_options o;
    tdb_conn_options_init(&o);
    o.url = url;
    o.trace = collect;
    o.trace_ctx = s;
    return tdb_connect(&o, err);
}

static void test_statements(tdb_conn *c, seen *s)
{
    tdb_error err;
    tdb_params p = { 0 };
    tdb_conn_info before, after;
    tdb_task_new t;
    PGresult *res;
    long long id = 0;
    const seen_event *e;

    tdb_conn_get_info(c, &before);
    s->n = 0;
    tdb_task_new_init(&t);
    t.user_id = S(user);
    t.title = S("trace-title-V4LU3");
    res = tdb_task_create(c, NULL, &t, &err);
    if (res) {
        tdb_task row;
        if (tdb_task_row(res, 0, &row) == 0)
            id = row.id;
        PQclear(res);
    }
    show("create", &err);
    e = last(s);
    test_cond("create: one event, label create, 1 row, ok",
              s->n == 1 && e && ctest_streq(e->ev.label, "create") && e->ev.ok &&
              e->ev.rows == 1 && e->ev.kind == TDB_TRACE_STATEMENT && e->ev.ms > 0);
    test_cond("create: the event names the host, never a value",
              e && e->host[0] && !ctest_contains(e->line, "V4LU3"));

    res = tdb_task_get(c, NULL, -7, &err);
    PQclear(res);
    e = last(s);
    test_cond("a get that finds nothing: ok, 0 rows",
              s->n == 2 && e && ctest_streq(e->ev.label, "get") && e->ev.ok && e->ev.rows == 0);

    /* A parameter the server refuses: the SQLSTATE, never the value or the message. */
    p.n = 1;
    p.values[0] = "not-a-number-Q9Z";
    res = tdb_conn_exec(c, TDB_SQL_GET, &p, &err);
    e = last(s);
    test_cond("a server error: ok false, error database, sqlstate 22P02",
              !res && s->n == 3 && e && !e->ev.ok && e->ev.error == TDB_DATABASE &&
              ctest_streq(e->sqlstate, "22P02") && e->ev.rows == 0);
    test_cond("a server error: the line has its sqlstate, not the value",
              e && ctest_contains(e->line, "error=database sqlstate=22P02") &&
              !ctest_contains(e->line, "Q9Z"));

    tdb_conn_get_info(c, &after);
    test_cond("info: three statements, three round trips, time waited",
              after.statements - before.statements == 3 &&
              after.round_trips - before.round_trips == 3 &&
              after.wait_seconds > before.wait_seconds && after.resends == before.resends);
    test_cond("info: application_name as the server reports it",
              ctest_streq(after.application_name, "taskshell"));

    /* Replaced, then removed: the counters go on. */
    tdb_conn_set_trace(c, NULL, NULL);
    tdb_conn_ping(c, &err);
    tdb_conn_get_info(c, &before);
    test_cond("no tracer: no event; still counted",
              s->n == 3 && before.statements == after.statements + 1);
    tdb_conn_set_trace(c, collect, s);
    if (id > 0)
        tdb_task_delete(c, NULL, id, &err);
    test_cond("a tracer set again gets events", s->n == 4 && ctest_streq(last(s)->ev.label, "delete"));
}

static void test_transaction(tdb_conn *c, seen *s)
{
    tdb_error err;
    tdb_task_new t;
    PGresult *res;
    s->n = 0;
    tdb_task_new_init(&t);
    t.user_id = S(user);
    t.title = S("in a transaction");
    if (tdb_conn_begin(c, &err) != 0) {
        show("begin", &err);
        test_cond("begin", 0);
        return;
    }
    test_cond("begin alone sends nothing, so no event", s->n == 0);
    res = tdb_task_create(c, NULL, &t, &err);
    PQclear(res);
    tdb_conn_begin(c, &err);              /* a savepoint */
    tdb_conn_rollback(c, &err);           /* rollback_to, release */
    tdb_conn_commit(c, &err);
    test_cond("transaction: create (with its BEGIN), savepoint, rollback_to, release, commit",
              s->n == 5 && ctest_streq(s->ev[0].ev.label, "create") && s->ev[0].ev.begin &&
              ctest_streq(s->ev[1].ev.label, "savepoint") && !s->ev[1].ev.begin &&
              ctest_streq(s->ev[2].ev.label, "rollback_to") &&
              ctest_streq(s->ev[3].ev.label, "release") &&
              ctest_streq(s->ev[4].ev.label, "commit") && s->ev[4].ev.ok);
}

static void test_pipeline(tdb_conn *c, seen *s)
{
    tdb_pipeline *pl = tdb_pipeline_new();
    tdb_params p = { 0 };
    tdb_error err;
    tdb_conn_info before, after;
    int ok = 1;
    if (!pl) {
        test_cond("pipeline_new", 0);
        return;
    }
    tdb_conn_get_info(c, &before);
    s->n = 0;
    p.n = 1;
    p.values[0] = "-1";
    tdb_pipeline_add(pl, TDB_SQL_GET, &p, &err);
    p.values[0] = "bad";
    tdb_pipeline_add(pl, TDB_SQL_GET, &p, &err);
    p.values[0] = NULL;
    tdb_pipeline_add(pl, TDB_SQL_COUNT_ALL, &p, &err);
    tdb_pipeline_run(c, pl, &err);
    tdb_conn_get_info(c, &after);
    for (int i = 0; i < 3 && ok; i++)
        ok = s->n == 3 && s->ev[i].ev.kind == TDB_TRACE_PIPELINE && s->ev[i].ev.index == (size_t)i + 1;
    test_cond("pipeline: one event per call, in order, with its index", ok);
    test_cond("pipeline: each call's own outcome",
              ok && s->ev[0].ev.ok && !s->ev[1].ev.ok && ctest_streq(s->ev[1].sqlstate, "22P02") &&
              s->ev[2].ev.ok && ctest_streq(s->ev[2].ev.label, "count_all") &&
              s->ev[2].ev.rows == 1);
    test_cond("pipeline: three statements, one round trip",
              after.statements - before.statements == 3 &&
              after.round_trips - before.round_trips == 1);
    tdb_pipeline_free(pl);
}

static void test_copy(tdb_conn *c, seen *s)
{
    tdb_task_new rows[3];
    long long ids[3];
    tdb_error err;
    tdb_conn_info before, after;
    tdb_conn_get_info(c, &before);
    s->n = 0;
    for (int i = 0; i < 3; i++) {
        tdb_task_new_init(&rows[i]);
        rows[i].user_id = S(user);
        rows[i].title = S("bulk");
    }
    if (tdb_task_create_many(c, NULL, rows, 3, ids, &err) != 0)
        show("create_many", &err);
    tdb_conn_get_info(c, &after);
    test_cond("create_tasks: a copy event with its rows, then ids_proven with its COMMIT",
              s->n == 2 && s->ev[0].ev.kind == TDB_TRACE_COPY && s->ev[0].ev.ok &&
              s->ev[0].ev.rows == 3 && ctest_streq(s->ev[0].ev.label, "copy_start") &&
              ctest_streq(s->ev[1].ev.label, "ids_proven") &&
              ctest_streq(s->ev[1].ev.ends, "commit"));
    test_cond("create_tasks: two statements in three round trips",
              after.statements - before.statements == 2 &&
              after.round_trips - before.round_trips == 3);
}

/* TASKDB_TRACE=1: the stderr tracer, beside the caller's own. */
static void test_env(const char *url)
{
    char path[] = "/tmp/taskdb-trace-XXXXXX";
    char buf[4096] = "";
    int fd = mkstemp(path), saved = dup(2);
    seen s = { .n = 0 };
    tdb_error err;
    tdb_conn *c;
    ssize_t got;
    if (fd < 0 || saved < 0) {
        test_cond("a temporary file for stderr", 0);
        return;
    }
    setenv("TASKDB_TRACE", "1", 1);
    fflush(stderr);
    dup2(fd, 2);
    c = connect_traced(url, &s, &err);
    tdb_conn_ping(c, &err);
    tdb_conn_close(c);
    setenv("TASKDB_TRACE", "0", 1);
    c = connect_traced(url, &s, &err);
    tdb_conn_ping(c, &err);
    tdb_conn_close(c);
    unsetenv("TASKDB_TRACE");
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    lseek(fd, 0, SEEK_SET);
    got = read(fd, buf, sizeof buf - 1);
    buf[got > 0 ? got : 0] = '\0';
    close(fd);
    unlink(path);
    test_cond("TASKDB_TRACE=1: one stderr line for the ping",
              ctest_contains(buf, "taskdb trace: label=ping kind=statement ok=true") &&
              strchr(buf, '\n') == strrchr(buf, '\n'));
    test_cond("TASKDB_TRACE=1: the caller's tracer still gets its events; =0: stderr stays quiet",
              s.n == 2);
}

int main(void)
{
    const char *url = getenv("TASKDB_TEST_URL");
    tdb_error err;
    tdb_conn *c;
    seen *s;

    test_format();
    if (!url || !*url) {
        printf("# TASKDB_TEST_URL is not set: no server to test against\n");
        test_cond("TASKDB_TEST_URL is set", 0);
        return test_report();
    }
    unsetenv("TASKDB_TRACE");
    snprintf(user, sizeof user, "ctest-trace-%u", (unsigned)getpid() ^ (unsigned)time(NULL));
    s = calloc(1, sizeof *s);
    c = s ? connect_traced(url, s, &err) : NULL;
    if (!test_cond("connect with a tracer", c != NULL)) {
        show("connect", &err);
        free(s);
        return test_report();
    }
    test_cond("connecting is not a statement: no event", s->n == 0);
    if (tdb_schema_init(c, &err) != 0)
        show("init_db", &err);
    test_statements(c, s);
    test_transaction(c, s);
    test_pipeline(c, s);
    test_copy(c, s);
    test_env(url);

    {
        tdb_list_opts o;
        PGresult *res;
        tdb_list_opts_init(&o);
        o.user_id = S(user);
        res = tdb_task_list(c, NULL, &o, &err);
        for (int i = 0; res && i < PQntuples(res); i++) {
            tdb_task t;
            if (tdb_task_row(res, i, &t) == 0)
                tdb_task_delete(c, NULL, t.id, &err);
        }
        PQclear(res);
    }
    tdb_conn_close(c);
    free(s);
    return test_report();
}

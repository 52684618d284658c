/*
 * test_timefmt.c — timestamps (microseconds since 2000-01-01 UTC, as a
 * binary timestamptz arrives) as text, and the keyset cursor string.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ctest.h"
#include "task.h"

#define PG_EPOCH_UNIX 946684800LL   /* 2000-01-01T00:00:00Z in Unix seconds */
/* The server's range of timestamptz: [MIN_MICROS, END_MICROS), and the infinities. */
#define MIN_MICROS (-211813488000000000LL)
#define END_MICROS 9223371331200000000LL
#define YEAR1_MICROS (-63082281600000000LL)   /* 0001-01-01T00:00:00Z */
#define YEAR0_MICROS (-63113904000000000LL)   /* 0000-01-01T00:00:00Z, 1 BC */

/* 1 when micros formats to exactly `expected` and the length matches. */
static int formats(int64_t micros, const char *expected)
{
    char buf[TDB_TIME_MAX];
    size_t n;
    memset(buf, 'X', sizeof buf);
    n = tdb_format_time(micros, buf);
    if (strcmp(buf, expected) != 0 || n != strlen(expected)) {
        printf("#   %lld -> [%s] (%zu), expected [%s]\n", (long long)micros, buf, n, expected);
        return 0;
    }
    return 1;
}

/* The same instant through the C library, for a broad cross-check. */
static void reference(int64_t micros, char out[64])
{
    long long secs = micros / 1000000, frac = micros % 1000000;
    time_t t;
    struct tm tm;
    if (frac < 0) {
        frac += 1000000;
        secs--;
    }
    t = (time_t)(secs + PG_EPOCH_UNIX);
    gmtime_r(&t, &tm);
    snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

static void test_format(void)
{
    uint64_t x = 0x9E3779B97F4A7C15ULL;
    int agree = 1;

    test_cond("time: 0 is the PostgreSQL epoch", formats(0, "2000-01-01T00:00:00.000000Z"));
    test_cond("time: one microsecond", formats(1, "2000-01-01T00:00:00.000001Z"));
    test_cond("time: -1 is the last microsecond of 1999", formats(-1, "1999-12-31T23:59:59.999999Z"));
    test_cond("time: minus one day", formats(-86400000000LL, "1999-12-31T00:00:00.000000Z"));
    test_cond("time: minus one day and a microsecond",
              formats(-86400000001LL, "1999-12-30T23:59:59.999999Z"));
    test_cond("time: the Unix epoch", formats(-946684800000000LL, "1970-01-01T00:00:00.000000Z"));
    test_cond("time: 1969 (before the Unix epoch)", formats(-960867740000000LL, "1969-07-20T20:17:40.000000Z"));
    test_cond("time: 1900-03-01 (1900 not a leap year)",
              formats(-3150576000000000LL, "1900-03-01T00:00:00.000000Z"));
    test_cond("time: 2000-02-29 (a leap century)", formats(5097600000000LL, "2000-02-29T00:00:00.000000Z"));
    test_cond("time: leap day 2024-02-29", formats(762525296789012LL, "2024-02-29T12:34:56.789012Z"));
    test_cond("time: 2024-02-28 + 1 day is the leap day",
              formats(762525296789012LL - 86400000000LL, "2024-02-28T12:34:56.789012Z"));
    test_cond("time: the leap day + 1 day is March 1st",
              formats(762525296789012LL + 86400000000LL, "2024-03-01T12:34:56.789012Z"));
    test_cond("time: 2100-03-01 (2100 not a leap year)",
              formats(3160857600000000LL, "2100-03-01T00:00:00.000000Z"));
    test_cond("time: the API's example 2026-11-24T10:15:30.123456Z",
              formats(848830530123456LL, "2026-11-24T10:15:30.123456Z"));
    test_cond("time: infinity", formats(INT64_MAX, "infinity"));
    test_cond("time: -infinity", formats(INT64_MIN, "-infinity"));
    test_cond("time: 9999's last microsecond (4 digits)",
              formats(252455615999999999LL, "9999-12-31T23:59:59.999999Z"));
    test_cond("time: year 10000 is expanded with '+'",
              formats(252455616000000000LL, "+10000-01-01T00:00:00.000000Z"));
    test_cond("time: the server's last microsecond",
              formats(END_MICROS - 1, "+294276-12-31T23:59:59.999999Z"));
    test_cond("time: 0001-01-01", formats(YEAR1_MICROS, "0001-01-01T00:00:00.000000Z"));
    test_cond("time: 1 BC is year 0000 (ISO 8601, astronomical)",
              formats(YEAR1_MICROS - 1, "0000-12-31T23:59:59.999999Z"));
    test_cond("time: 1 BC starts 366 days before year 1 (a leap year)",
              formats(YEAR0_MICROS, "0000-01-01T00:00:00.000000Z"));
    test_cond("time: 2 BC is -0001, with four digits", formats(YEAR0_MICROS - 1, "-0001-12-31T23:59:59.999999Z"));
    test_cond("time: 44 BC", formats(-64464465600000000LL, "-0043-03-15T12:00:00.000000Z"));
    test_cond("time: the server's first microsecond (4714-11-24 BC)",
              formats(MIN_MICROS, "-4713-11-24T00:00:00.000000Z"));

    /* 20000 pseudo-random instants between 1901 and 2199 against gmtime_r. */
    for (int i = 0; i < 20000 && agree; i++) {
        int64_t span = 3155760000LL * 3 * 1000000LL;     /* ~300 years of microseconds */
        int64_t v;
        char got[TDB_TIME_MAX], want[64];
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v = (int64_t)(x % (uint64_t)span) - 3155760000LL * 1000000LL;   /* from ~1900 */
        tdb_format_time(v, got);
        reference(v, want);
        if (strcmp(got, want) != 0) {
            printf("#   %lld -> [%s], gmtime_r says [%s]\n", (long long)v, got, want);
            agree = 0;
        }
    }
    test_cond("time: 20000 instants 1900..2200 agree with gmtime_r", agree);
}

static tdb_task task_at(int64_t created_at, long long id)
{
    tdb_task t;
    memset(&t, 0, sizeof t);
    t.created_at = created_at;
    t.updated_at = created_at;
    t.id = id;
    return t;
}

/* format → parse gives the same (created_at, id). */
static int round_trips(int64_t created_at, long long id)
{
    tdb_task t = task_at(created_at, id);
    char buf[TDB_CURSOR_MAX];
    tdb_cursor c;
    tdb_error err;
    size_t n = tdb_cursor_format(&t, buf);
    memset(&c, 0, sizeof c);
    tdb_error_clear(&err);
    if (n != strlen(buf) || tdb_cursor_parse(buf, n, &c, &err) != 0) {
        printf("#   cursor [%s] did not parse: %s\n", buf, err.message);
        return 0;
    }
    if (c.created_at != created_at || c.id != id) {
        printf("#   cursor [%s] parsed as %lld/%lld\n", buf, (long long)c.created_at, c.id);
        return 0;
    }
    return 1;
}

/* The text sent to the server for micros. */
static int param_is(int64_t micros, const char *expected)
{
    char buf[TDB_TIME_MAX];
    size_t n = tdb_time_param(micros, buf);
    if (strcmp(buf, expected) != 0 || n != strlen(expected)) {
        printf("#   %lld -> [%s], expected [%s]\n", (long long)micros, buf, expected);
        return 0;
    }
    return 1;
}

/* The cursor is refused as TDB_INVALID on the field "after". */
static int rejected(const char *s, size_t len)
{
    tdb_cursor c;
    tdb_error err;
    tdb_error_clear(&err);
    if (tdb_cursor_parse(s, len, &c, &err) != -1) {
        printf("#   cursor [%.*s] was accepted\n", (int)len, s);
        return 0;
    }
    return err.kind == TDB_INVALID && strcmp(err.field, "after") == 0 && err.message[0];
}

#define REJECTED(lit) rejected((lit), sizeof(lit) - 1)

static void test_cursor(void)
{
    tdb_task t = task_at(848830530123456LL, 42);
    char buf[TDB_CURSOR_MAX];
    tdb_cursor c;
    tdb_error err;

    tdb_cursor_format(&t, buf);
    test_cond("cursor: format is created_at/id", strcmp(buf, "2026-11-24T10:15:30.123456Z/42") == 0);
    test_cond("cursor: parse gives created_at and id",
              tdb_cursor_parse(buf, strlen(buf), &c, &err) == 0 &&
              c.created_at == 848830530123456LL && c.id == 42);
    test_cond("cursor: round trip, id 1", round_trips(848830530123456LL, 1));
    test_cond("cursor: round trip, id 0 at the epoch", round_trips(0, 0));
    test_cond("cursor: round trip, before 2000", round_trips(-1, 7));
    test_cond("cursor: round trip, leap day", round_trips(762525296789012LL, 123456789));
    test_cond("cursor: round trip, a 19-digit id", round_trips(1, 1000000000000000000LL));
    test_cond("cursor: round trip, id 9223372036854775799", round_trips(1, 9223372036854775799LL));
    /* tdb_cursor_format writes it, so tdb_cursor_parse must take it back. */
    test_cond("cursor: round trip, the largest bigint id", round_trips(1, INT64_MAX));
    test_cond("cursor: only len bytes are read",
              tdb_cursor_parse("2026-11-24T10:15:30.123456Z/42trailing", 30, &c, &err) == 0 && c.id == 42);

    test_cond("cursor: empty rejected", rejected("", 0));
    test_cond("cursor: junk rejected", REJECTED("not a cursor"));
    test_cond("cursor: a bare number rejected", REJECTED("42"));
    test_cond("cursor: no id rejected", REJECTED("2026-11-24T10:15:30.123456Z"));
    test_cond("cursor: empty id rejected", REJECTED("2026-11-24T10:15:30.123456Z/"));
    test_cond("cursor: an id without digits rejected", REJECTED("2026-11-24T10:15:30.123456Z/-"));
    test_cond("cursor: id below the smallest bigint rejected",
              REJECTED("2026-11-24T10:15:30.123456Z/-9223372036854775809"));
    test_cond("cursor: a '+' id rejected", REJECTED("2026-11-24T10:15:30.123456Z/+1"));
    test_cond("cursor: space instead of T rejected", REJECTED("2026-11-24 10:15:30.123456Z/42"));
    test_cond("cursor: no Z rejected", REJECTED("2026-11-24T10:15:30.123456/42"));
    test_cond("cursor: milliseconds only rejected", REJECTED("2026-11-24T10:15:30.123Z/42"));
    test_cond("cursor: a letter in the date rejected", REJECTED("2026-1a-24T10:15:30.123456Z/42"));
    test_cond("cursor: id overflowing int64 rejected", REJECTED("2026-11-24T10:15:30.123456Z/9223372036854775808"));
    test_cond("cursor: 20-digit id rejected", REJECTED("2026-11-24T10:15:30.123456Z/99999999999999999999"));
    test_cond("cursor: an extra character rejected", REJECTED("2026-11-24T10:15:30.123456Z/42x"));
    test_cond("cursor: trailing space rejected", REJECTED("2026-11-24T10:15:30.123456Z/42 "));
    test_cond("cursor: a second slash rejected", REJECTED("2026-11-24T10:15:30.123456Z/42/1"));
    test_cond("cursor: embedded NUL rejected", REJECTED("2026-11-24T10:15:30.123456Z/4\0" "2"));
    test_cond("cursor: leading space rejected", REJECTED(" 2026-11-24T10:15:30.123456Z/42"));
    test_cond("cursor: Infinity (capital) rejected", REJECTED("Infinity/42"));
    test_cond("cursor: infinity with no id rejected", REJECTED("infinity"));
    test_cond("cursor: +infinity rejected", REJECTED("+infinity/42"));
    test_cond("cursor: before the server's range rejected", REJECTED("-4713-11-23T23:59:59.999999Z/1"));
    test_cond("cursor: after the server's range rejected", REJECTED("+294277-01-01T00:00:00.000000Z/1"));
    test_cond("cursor: a year past the server's rejected", REJECTED("+999999-01-01T00:00:00.000000Z/1"));
    test_cond("cursor: a 7-digit year rejected", REJECTED("+1000000-01-01T00:00:00.000000Z/1"));
    test_cond("cursor: year 10000 without '+' rejected", REJECTED("10000-01-01T00:00:00.000000Z/1"));
    test_cond("cursor: '+' with four digits rejected", REJECTED("+9999-01-01T00:00:00.000000Z/1"));
    test_cond("cursor: '+' with a leading zero rejected", REJECTED("+010000-01-01T00:00:00.000000Z/1"));
    test_cond("cursor: -0000 rejected (it is 0000)", REJECTED("-0000-01-01T00:00:00.000000Z/1"));
    test_cond("cursor: a needless leading zero rejected", REJECTED("-00044-03-15T12:00:00.000000Z/1"));
    test_cond("cursor: a three-digit year rejected", REJECTED("-044-03-15T12:00:00.000000Z/1"));
    test_cond("cursor: February 29 of 2 BC rejected", REJECTED("-0001-02-29T00:00:00.000000Z/1"));
    test_cond("cursor: February 29 of 1900 rejected", REJECTED("1900-02-29T00:00:00.000000Z/1"));
}

/* Every value the server can hold: its cursor parses back to it. */
static void test_cursor_range(void)
{
    uint64_t x = 0x2545F4914F6CDD1DULL;
    int all = 1;
    tdb_cursor c;
    tdb_error err;
    test_cond("cursor: round trip, infinity", round_trips(INT64_MAX, 3));
    test_cond("cursor: round trip, -infinity", round_trips(INT64_MIN, 3));
    test_cond("cursor: round trip, 1 BC", round_trips(YEAR0_MICROS, 1));
    test_cond("cursor: round trip, 2 BC", round_trips(YEAR0_MICROS - 1, 1));
    test_cond("cursor: round trip, the server's first microsecond", round_trips(MIN_MICROS, 1));
    test_cond("cursor: round trip, the server's last microsecond", round_trips(END_MICROS - 1, 1));
    test_cond("cursor: round trip, year 10000", round_trips(252455616000000000LL, 1));
    test_cond("cursor: round trip, a negative id", round_trips(0, -5));
    test_cond("cursor: round trip, the smallest bigint id", round_trips(0, INT64_MIN));
    test_cond("cursor: 0000-01-01 is 1 BC, as written",
              tdb_cursor_parse("0000-01-01T00:00:00.000000Z/1", 29, &c, &err) == 0 &&
              c.created_at == YEAR0_MICROS && c.id == 1);
    test_cond("cursor: February 29 of 1 BC (a leap year) accepted",
              tdb_cursor_parse("0000-02-29T00:00:00.000000Z/1", 29, &c, &err) == 0);
    test_cond("cursor: -infinity/-1", tdb_cursor_parse("-infinity/-1", 12, &c, &err) == 0 &&
              c.created_at == INT64_MIN && c.id == -1);

    /* 20000 pseudo-random instants over the server's whole range. */
    for (int i = 0; i < 20000 && all; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        all = round_trips((int64_t)((uint64_t)MIN_MICROS + x % ((uint64_t)END_MICROS - (uint64_t)MIN_MICROS)),
                          (long long)(x >> 1) - (long long)(x >> 2));
    }
    test_cond("cursor: 20000 instants 4713 BC..294276 round-trip", all);
}

/* The server's own ISO text (checked against a live server by the specs). */
static void test_param(void)
{
    test_cond("param: 2000", param_is(0, "2000-01-01 00:00:00.000000+00"));
    test_cond("param: the API's example", param_is(848830530123456LL, "2026-11-24 10:15:30.123456+00"));
    test_cond("param: 0001-01-01", param_is(YEAR1_MICROS, "0001-01-01 00:00:00.000000+00"));
    test_cond("param: year 0000 is 1 BC", param_is(YEAR0_MICROS, "0001-01-01 00:00:00.000000+00 BC"));
    test_cond("param: -0001 is 2 BC", param_is(YEAR0_MICROS - 1, "0002-12-31 23:59:59.999999+00 BC"));
    test_cond("param: the first microsecond", param_is(MIN_MICROS, "4714-11-24 00:00:00.000000+00 BC"));
    test_cond("param: the last microsecond", param_is(END_MICROS - 1, "294276-12-31 23:59:59.999999+00"));
    test_cond("param: infinity", param_is(INT64_MAX, "infinity"));
    test_cond("param: -infinity", param_is(INT64_MIN, "-infinity"));
}

int main(void)
{
    test_format();
    test_cursor();
    test_cursor_range();
    test_param();
    return test_report();
}

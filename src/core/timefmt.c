/*
 * timefmt.c — timestamps and keyset cursors as text.
 *
 * Task rows arrive in binary format, so a timestamptz is microseconds since
 * 2000-01-01 UTC whatever the session's TimeZone or DateStyle: no session
 * state is needed (a transaction pooler would not keep it).
 *
 * Every value a timestamptz can hold has one text form (ISO 8601, UTC,
 * astronomical years: 0000 is 1 BC; years before 0 and after 9999 in the
 * expanded form, "-0044-03-15T..." and "+10000-01-01T..."; "infinity" and
 * "-infinity"), and a cursor is that text, "/" and the id.  A cursor is
 * parsed back to microseconds and checked against the server's range, so
 * one the client accepts is one the server accepts; what is sent is the
 * server's own text for the instant (tdb_time_param).
 */
#include <stdio.h>
#include <string.h>

#include "task.h"

#define POSTGRES_EPOCH_DAYS 10957   /* 1970-01-01 .. 2000-01-01 */
#define USECS_PER_DAY 86400000000LL
/* The server's range: 4714-11-24 BC (Julian day 0) up to, not including, 294277-01-01. */
#define MIN_TIMESTAMP (-211813488000000000LL)
#define END_TIMESTAMP 9223371331200000000LL
#define MIN_YEAR (-4713)
#define MAX_YEAR 294276

/* Howard Hinnant's civil_from_days. */
static void civil_from_days(long long z, int *y, unsigned *m, unsigned *d)
{
    long long era, yoe, doy, mp;
    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    yoe = z - era * 146097;
    yoe = (yoe - yoe / 1460 + yoe / 36524 - yoe / 146096) / 365;
    doy = z - era * 146097 - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

/* Its inverse, days_from_civil. */
static long long days_from_civil(long long y, unsigned m, unsigned d)
{
    long long era, yoe, doy, doe;
    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Splits micros into a civil date and the time of day. */
static void split_time(int64_t micros, int *y, unsigned *mo, unsigned *d, unsigned *secs,
                       unsigned *frac)
{
    long long days = micros / USECS_PER_DAY, rem = micros % USECS_PER_DAY;
    if (rem < 0) {
        rem += USECS_PER_DAY;
        days--;
    }
    civil_from_days(days + POSTGRES_EPOCH_DAYS, y, mo, d);
    *secs = (unsigned)(rem / 1000000);   /* < 86,400: 32-bit from here on */
    *frac = (unsigned)(rem % 1000000);
}

/* "00" .. "99": two digits per table lookup. */
static const char digit_pairs[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

static char *pair(char *out, unsigned v)   /* v < 100 */
{
    memcpy(out, &digit_pairs[2 * v], 2);
    return out + 2;
}

/* Hand-written: it runs for every row returned, and snprintf costs ~20x more. */
size_t tdb_format_time(int64_t micros, char buf[TDB_TIME_MAX])
{
    unsigned secs, frac, mo, d;
    int y;
    char *p = buf;
    if (micros == INT64_MAX)
        return (size_t)snprintf(buf, TDB_TIME_MAX, "infinity");
    if (micros == INT64_MIN)
        return (size_t)snprintf(buf, TDB_TIME_MAX, "-infinity");
    split_time(micros, &y, &mo, &d, &secs, &frac);
    if (y < 0 || y > 9999)   /* ISO 8601's expanded years: rare enough for snprintf */
        return (size_t)snprintf(buf, TDB_TIME_MAX, "%c%0*d-%02u-%02uT%02u:%02u:%02u.%06uZ",
                                y < 0 ? '-' : '+', y < 0 ? 4 : 5, y < 0 ? -y : y, mo, d,
                                secs / 3600, secs / 60 % 60, secs % 60, frac);
    p = pair(p, (unsigned)y / 100);
    p = pair(p, (unsigned)y % 100);
    *p++ = '-';
    p = pair(p, mo);
    *p++ = '-';
    p = pair(p, d);
    *p++ = 'T';
    p = pair(p, secs / 3600);
    *p++ = ':';
    p = pair(p, secs / 60 % 60);
    *p++ = ':';
    p = pair(p, secs % 60);
    *p++ = '.';
    p = pair(p, frac / 10000);
    p = pair(p, frac / 100 % 100);
    p = pair(p, frac % 100);
    *p++ = 'Z';
    *p = '\0';
    return (size_t)(p - buf);
}

/*
 * The server's own ISO output for the instant, which its input reads back
 * whatever DateStyle and TimeZone the session has: years as PostgreSQL
 * counts them (1 BC is "0001 ... BC", there is no year 0), offset +00.
 */
size_t tdb_time_param(int64_t micros, char buf[TDB_TIME_MAX])
{
    unsigned secs, frac, mo, d;
    int y;
    if (micros == INT64_MAX || micros == INT64_MIN)
        return tdb_format_time(micros, buf);
    split_time(micros, &y, &mo, &d, &secs, &frac);
    return (size_t)snprintf(buf, TDB_TIME_MAX, "%04d-%02u-%02u %02u:%02u:%02u.%06u+00%s",
                            y > 0 ? y : 1 - y, mo, d, secs / 3600, secs / 60 % 60, secs % 60,
                            frac, y > 0 ? "" : " BC");
}

size_t tdb_cursor_text(const tdb_cursor *c, char buf[TDB_CURSOR_MAX])
{
    char when[TDB_TIME_MAX];
    int n;
    tdb_format_time(c->created_at, when);
    n = snprintf(buf, TDB_CURSOR_MAX, "%s/%lld", when, c->id);
    return n > 0 ? (size_t)n : 0;
}

size_t tdb_cursor_format(const tdb_task *t, char buf[TDB_CURSOR_MAX])
{
    tdb_cursor c;
    c.created_at = t->created_at;
    c.id = t->id;
    return tdb_cursor_text(&c, buf);
}

/* n decimal digits at s, all of them digits; -1 otherwise. */
static long long digits(const char *s, size_t n)
{
    long long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static int leap(long long y)   /* proleptic Gregorian, astronomical years */
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(long long y, long long m)
{
    static const unsigned days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    return days[m - 1] + (m == 2 && leap(y));
}

/*
 * The year of a tdb_format_time text, exactly as it writes it: four digits,
 * or '-' and at least four (no extra leading zero, not -0000), or '+' and
 * at least five (no leading zero).  Returns the year's length, 0 if bad.
 */
static size_t parse_year(const char *s, size_t len, long long *year)
{
    size_t start = s[0] == '-' || s[0] == '+', n = start;
    long long v;
    while (n < len && n - start < 7 && s[n] >= '0' && s[n] <= '9')
        n++;
    n -= start;
    if (n < 4 || n > 6 || (start == 0 && n != 4) || (s[0] == '+' && n < 5) ||
        (n > 4 && s[start] == '0'))
        return 0;
    v = digits(s + start, n);
    if (s[0] == '-' && v == 0)
        return 0;
    *year = s[0] == '-' ? -v : v;
    return start + n;
}

int tdb_parse_time(const char *s, size_t len, int64_t *out)
{
    /* after the year: "-MM-DDTHH:MM:SS.ffffffZ" */
    static const char shape[] = "-dd-ddTdd:dd:dd.ddddddZ";
    size_t fixed = sizeof shape - 1, at;
    long long year, mo, d, h, mi, sec, frac, days, micros;
    if (len == 8 && memcmp(s, "infinity", 8) == 0) {
        *out = INT64_MAX;
        return 0;
    }
    if (len == 9 && memcmp(s, "-infinity", 9) == 0) {
        *out = INT64_MIN;
        return 0;
    }
    if (len == 0 || (at = parse_year(s, len, &year)) == 0 || len - at != fixed)
        return -1;
    s += at;
    for (size_t i = 0; i < fixed; i++) {
        if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i])
            return -1;
    }
    mo = digits(s + 1, 2);
    d = digits(s + 4, 2);
    h = digits(s + 7, 2);
    mi = digits(s + 10, 2);
    sec = digits(s + 13, 2);
    frac = digits(s + 16, 6);
    if (year < MIN_YEAR || year > MAX_YEAR || mo < 1 || mo > 12 || d < 1 ||
        d > days_in_month(year, mo) || h > 23 || mi > 59 || sec > 59)
        return -1;
    days = days_from_civil(year, (unsigned)mo, (unsigned)d) - POSTGRES_EPOCH_DAYS;
    micros = days * USECS_PER_DAY + ((h * 60 + mi) * 60 + sec) * 1000000 + frac;
    if (micros < MIN_TIMESTAMP || micros >= END_TIMESTAMP)
        return -1;
    *out = micros;
    return 0;
}

/* An id as "%lld" writes it (leading zeros allowed); -1 when it is not one. */
static int parse_id(const char *s, size_t len, long long *out)
{
    int neg = len > 0 && s[0] == '-';
    long long id = 0;
    size_t i = (size_t)neg;
    if (len == i)
        return -1;
    for (; i < len; i++) {
        int digit = s[i] - '0';
        if (digit < 0 || digit > 9)
            return -1;
        /* accumulate negatively: INT64_MIN has no positive counterpart */
        if (id < (INT64_MIN + digit) / 10)
            return -1;
        id = id * 10 - digit;
    }
    if (!neg) {
        if (id == INT64_MIN)
            return -1;
        id = -id;
    }
    *out = id;
    return 0;
}

/* "<tdb_format_time text>/<id>", as tdb_cursor_text writes it. */
int tdb_cursor_parse(const char *s, size_t len, tdb_cursor *out, tdb_error *err)
{
    const char *slash = memchr(s, '/', len);
    int64_t when;
    long long id;
    if (!slash || tdb_parse_time(s, (size_t)(slash - s), &when) != 0 ||
        parse_id(slash + 1, len - (size_t)(slash - s) - 1, &id) != 0) {
        tdb_error_set(err, TDB_INVALID, "after",
                      "after must be a cursor returned by get_tasks (or a task)");
        return -1;
    }
    out->created_at = when;
    out->id = id;
    return 0;
}

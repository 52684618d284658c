/*
 * timefmt.c — timestamps and keyset cursors as text.
 *
 * Task rows arrive in binary format, so a timestamptz is microseconds since
 * 2000-01-01 UTC whatever the session's TimeZone or DateStyle: no session
 * state is needed (a transaction pooler would not keep it).
 */
#include <stdio.h>
#include <string.h>

#include "task.h"

#define POSTGRES_EPOCH_DAYS 10957   /* 1970-01-01 .. 2000-01-01 */
#define USECS_PER_DAY 86400000000LL

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
    long long days, rem;
    unsigned secs, frac, mo, d;
    int y;
    char *p = buf;
    if (micros == INT64_MAX)
        return (size_t)snprintf(buf, TDB_TIME_MAX, "infinity");
    if (micros == INT64_MIN)
        return (size_t)snprintf(buf, TDB_TIME_MAX, "-infinity");
    days = micros / USECS_PER_DAY;
    rem = micros % USECS_PER_DAY;
    if (rem < 0) {
        rem += USECS_PER_DAY;
        days--;
    }
    civil_from_days(days + POSTGRES_EPOCH_DAYS, &y, &mo, &d);
    secs = (unsigned)(rem / 1000000);   /* < 86,400: 32-bit from here on */
    frac = (unsigned)(rem % 1000000);
    if (y < 0 || y > 9999)   /* outside ISO's four digits: rare enough for snprintf */
        return (size_t)snprintf(buf, TDB_TIME_MAX, "%04d-%02u-%02uT%02u:%02u:%02u.%06uZ",
                                y, mo, d, secs / 3600, secs / 60 % 60, secs % 60, frac);
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

size_t tdb_cursor_format(const tdb_task *t, char buf[TDB_CURSOR_MAX])
{
    char when[TDB_TIME_MAX];
    int n;
    tdb_format_time(t->created_at, when);
    n = snprintf(buf, TDB_CURSOR_MAX, "%s/%lld", when, t->id);
    return n > 0 ? (size_t)n : 0;
}

static int in_range(const char *two_digits, int lo, int hi)
{
    int v = (two_digits[0] - '0') * 10 + (two_digits[1] - '0');
    return v >= lo && v <= hi;
}

/* From "YYYY-MM-...": the month must already be known to be 1..12. */
static int days_in_month(const char *s)
{
    static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    int year = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    int month = (s[5] - '0') * 10 + (s[6] - '0');
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (month < 1 || month > 12)
        return 0;
    return days[month - 1] + (month == 2 && leap);
}

/* Exactly "YYYY-MM-DDTHH:MM:SS.ffffffZ/ID", as tdb_cursor_format writes it. */
int tdb_cursor_parse(const char *s, size_t len, tdb_cursor *out, tdb_error *err)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd.ddddddZ/";
    size_t fixed = sizeof shape - 1, i;
    long long id = 0;
    if (len <= fixed || len > fixed + 19)
        goto bad;
    for (i = 0; i < fixed; i++) {
        if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i])
            goto bad;
    }
    for (; i < len; i++) {
        int digit = s[i] - '0';
        if (digit < 0 || digit > 9 || id > (INT64_MAX - digit) / 10)
            goto bad;
        id = id * 10 + digit;
    }
    if (!in_range(s + 5, 1, 12) || !in_range(s + 8, 1, days_in_month(s)) || !in_range(s + 11, 0, 23) ||
        !in_range(s + 14, 0, 59) || !in_range(s + 17, 0, 59))
        goto bad;
    memcpy(out->created_at, s, fixed - 1);
    out->created_at[fixed - 1] = '\0';
    out->id = id;
    return 0;
bad:
    tdb_error_set(err, TDB_INVALID, "after",
                  "after must be a cursor returned by get_tasks (or a task)");
    return -1;
}

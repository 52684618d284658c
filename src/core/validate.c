/* validate.c — UTF-8, code-point lengths, blanks; one message style. */
#include <stdint.h>
#include <string.h>

#include "validate.h"

static const char *const field_names[] = {
    [TDB_FIELD_UNKNOWN] = "?",
    [TDB_FIELD_ID] = "id",
    [TDB_FIELD_USER_ID] = "user_id",
    [TDB_FIELD_TITLE] = "title",
    [TDB_FIELD_DESCRIPTION] = "description",
    [TDB_FIELD_COMPLETED] = "completed",
    [TDB_FIELD_CREATED_AT] = "created_at",
    [TDB_FIELD_UPDATED_AT] = "updated_at",
};

/* Runs for every key of every row of a bulk call: pick the one candidate by length. */
tdb_field tdb_field_lookup(const char *name, size_t len)
{
    tdb_field f;
    switch (len) {
    case 2:  f = TDB_FIELD_ID; break;
    case 5:  f = TDB_FIELD_TITLE; break;
    case 7:  f = TDB_FIELD_USER_ID; break;
    case 9:  f = TDB_FIELD_COMPLETED; break;
    case 10: f = name[0] == 'c' ? TDB_FIELD_CREATED_AT : TDB_FIELD_UPDATED_AT; break;
    case 11: f = TDB_FIELD_DESCRIPTION; break;
    default: return TDB_FIELD_UNKNOWN;
    }
    return memcmp(field_names[f], name, len) == 0 ? f : TDB_FIELD_UNKNOWN;
}

const char *tdb_field_name(tdb_field field)
{
    return field_names[field];
}

/* RFC 3629, as lutf8lib's utf8_decode with strict = 1. */
/*
 * The code point starting at s[i] (i < len, s[i] >= 0x80): its length in
 * bytes, with *cp set, or 0 when the bytes there are not UTF-8 (a stray
 * or truncated sequence, an overlong form, a surrogate, past U+10FFFF).
 */
static size_t decode_at(const unsigned char *s, size_t len, size_t i, unsigned *cp)
{
    unsigned c = s[i];
    size_t need;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
        *cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        *cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        *cp = c & 0x07;
    } else {
        return 0;
    }
    if (i + need >= len)
        return 0;   /* truncated sequence */
    for (size_t k = 1; k <= need; k++) {
        if ((s[i + k] & 0xC0) != 0x80)
            return 0;
        *cp = (*cp << 6) | (s[i + k] & 0x3F);
    }
    if ((need == 2 && *cp < 0x800) || (need == 3 && *cp < 0x10000) ||
        *cp > 0x10FFFF || (*cp >= 0xD800 && *cp <= 0xDFFF))
        return 0;
    return need + 1;
}

long tdb_utf8_count(const char *str, size_t len, size_t *bad_at)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    long count = 0;
    while (i < len) {
        unsigned cp;
        size_t n;
        /* Eight ASCII bytes with no NUL at a time: most text is plain ASCII. */
        while (i + 8 <= len) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if ((w & 0x8080808080808080ULL) ||
                ((w - 0x0101010101010101ULL) & ~w & 0x8080808080808080ULL))
                break;
            i += 8;
            count += 8;
        }
        if (i >= len)
            break;
        if (s[i] < 0x80) {
            if (s[i] == 0) {
                if (bad_at)
                    *bad_at = i;
                return -2;
            }
            i++;
            count++;
            continue;
        }
        if ((n = decode_at(s, len, i, &cp)) == 0) {
            if (bad_at)
                *bad_at = i;
            return -1;
        }
        i += n;
        count++;
    }
    return count;
}

/*
 * Unicode's White_Space property, exactly: the set the table's CHECKs name
 * (sql.c, TDB_WHITE_SPACE_CLASS) so that every client agrees on "blank".
 */
static int is_white_space(unsigned cp)
{
    if (cp <= 0x20)
        return cp == 0x20 || (cp >= 0x09 && cp <= 0x0D);
    if (cp < 0x85)
        return 0;
    return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
           cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

/* A byte sequence that is not UTF-8 counts as not blank. */
int tdb_is_blank(tdb_str s)
{
    const unsigned char *p = (const unsigned char *)s.ptr;
    size_t i = 0;
    while (i < s.len) {
        unsigned cp = p[i];
        size_t n = cp < 0x80 ? 1 : decode_at(p, s.len, i, &cp);
        if (n == 0 || !is_white_space(cp))
            return 0;
        i += n;
    }
    return 1;
}

static int check_text(const char *field, tdb_str s, long max, int required, tdb_error *err)
{
    size_t bad = 0;
    long n = tdb_utf8_count(s.ptr, s.len, &bad);
    if (n == -2) {
        tdb_error_set(err, TDB_INVALID, field, "%s must not contain a NUL byte (at byte %zu)",
                      field, bad + 1);
        return -1;
    }
    if (n < 0) {
        tdb_error_set(err, TDB_INVALID, field, "%s is not valid UTF-8 (at byte %zu)",
                      field, bad + 1);
        return -1;
    }
    if (required && (n == 0 || tdb_is_blank(s))) {
        tdb_error_set(err, TDB_INVALID, field, "%s must not be %s", field,
                      n == 0 ? "empty" : "blank");
        return -1;
    }
    if (n > max) {
        tdb_error_set(err, TDB_INVALID, field,
                      "%s is %ld characters long; at most %ld are allowed", field, n, max);
        return -1;
    }
    return 0;
}

int tdb_validate_user_id(tdb_str s, tdb_error *err)
{
    return check_text("user_id", s, TDB_USER_ID_MAX, 1, err);
}

int tdb_validate_title(tdb_str s, tdb_error *err)
{
    return check_text("title", s, TDB_TITLE_MAX, 1, err);
}

int tdb_validate_description(tdb_str s, tdb_error *err)
{
    return check_text("description", s, TDB_DESCRIPTION_MAX, 0, err);
}

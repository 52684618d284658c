/*
 * validate.h — the field rules (docs/API.md), checked before anything is sent.
 *
 * Strings are (pointer, length) pairs owned by the caller; nothing here
 * allocates.  Lengths are counted in Unicode code points; strings must be
 * valid UTF-8 (no overlongs, surrogates or values past U+10FFFF) with no
 * NUL byte.  A failure fills err with kind TDB_INVALID and the field name.
 */
#ifndef TDB_VALIDATE_H
#define TDB_VALIDATE_H

#include <stddef.h>

#include "error.h"

typedef struct tdb_str {
    const char *ptr;
    size_t len;
} tdb_str;

#define TDB_USER_ID_MAX 255
#define TDB_TITLE_MAX 200
#define TDB_DESCRIPTION_MAX 1000

typedef enum tdb_field {
    TDB_FIELD_UNKNOWN = 0,
    TDB_FIELD_ID,
    TDB_FIELD_USER_ID,
    TDB_FIELD_TITLE,
    TDB_FIELD_DESCRIPTION,
    TDB_FIELD_COMPLETED,
    TDB_FIELD_CREATED_AT,
    TDB_FIELD_UPDATED_AT
} tdb_field;

tdb_field tdb_field_lookup(const char *name, size_t len);
const char *tdb_field_name(tdb_field field);

/*
 * Code points in s, or -1 for invalid UTF-8, -2 for a NUL byte.
 * *bad_at (may be NULL) gets the byte offset of the first bad byte.
 */
long tdb_utf8_count(const char *s, size_t len, size_t *bad_at);

/*
 * True when s (valid UTF-8) has no character outside Unicode's White_Space
 * set (U+0009-000D, U+0020, U+0085, U+00A0, U+1680, U+2000-200A, U+2028,
 * U+2029, U+202F, U+205F, U+3000); the empty string is blank.
 */
int tdb_is_blank(tdb_str s);

int tdb_validate_user_id(tdb_str s, tdb_error *err);
int tdb_validate_title(tdb_str s, tdb_error *err);
int tdb_validate_description(tdb_str s, tdb_error *err);

#endif

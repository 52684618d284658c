/*
 * test_validate.c — the field rules (docs/API.md) as the core checks them:
 * strict UTF-8, code-point lengths, blanks, field names, and the checks
 * every task operation runs before it sends anything.
 */
#include <stdlib.h>
#include <string.h>

#include "ctest.h"
#include "task.h"
#include "validate.h"

static tdb_str S(const char *s)
{
    tdb_str r = { s, strlen(s) };
    return r;
}

/* n copies of unit, NUL-terminated; the caller frees. */
static char *repeat(const char *unit, size_t n)
{
    size_t u = strlen(unit);
    char *s = malloc(u * n + 1);
    if (!s)
        abort();
    for (size_t i = 0; i < n; i++)
        memcpy(s + i * u, unit, u);
    s[u * n] = '\0';
    return s;
}

/* tdb_utf8_count on (bytes, len): the count, and where it stopped. */
static long count(const char *bytes, size_t len, size_t *bad_at)
{
    *bad_at = (size_t)-1;
    return tdb_utf8_count(bytes, len, bad_at);
}

static void test_utf8(void)
{
    size_t bad;

    test_cond("utf8: empty string has 0 code points", count("", 0, &bad) == 0);
    test_cond("utf8: ASCII counts bytes", count("hello", 5, &bad) == 5);
    test_cond("utf8: len bounds the scan", count("hello", 3, &bad) == 3);
    test_cond("utf8: 2-byte U+00E9", count("\xC3\xA9", 2, &bad) == 1);
    test_cond("utf8: 3-byte U+20AC", count("\xE2\x82\xAC", 3, &bad) == 1);
    test_cond("utf8: 4-byte U+1D11E", count("\xF0\x9D\x84\x9E", 4, &bad) == 1);
    test_cond("utf8: mixed widths", count("a\xC3\xA9\xE2\x82\xAC\xF0\x9D\x84\x9E" "b", 11, &bad) == 5);
    test_cond("utf8: boundaries U+0080 U+07FF U+0800 U+FFFF U+10000 U+10FFFF",
              count("\xC2\x80\xDF\xBF\xE0\xA0\x80\xEF\xBF\xBF\xF0\x90\x80\x80\xF4\x8F\xBF\xBF",
                    18, &bad) == 6);
    test_cond("utf8: U+D7FF and U+E000 (around the surrogates) are valid",
              count("\xED\x9F\xBF\xEE\x80\x80", 6, &bad) == 2);
    test_cond("utf8: the bad_at pointer may be NULL",
              tdb_utf8_count("\xC0\xAF", 2, NULL) == -1 && tdb_utf8_count("a\0", 2, NULL) == -2);

    /* Overlong forms of '/' (U+002F). */
    test_cond("utf8: overlong C0 AF rejected", count("\xC0\xAF", 2, &bad) == -1 && bad == 0);
    test_cond("utf8: overlong C1 BF rejected", count("\xC1\xBF", 2, &bad) == -1 && bad == 0);
    test_cond("utf8: overlong E0 80 AF rejected", count("\xE0\x80\xAF", 3, &bad) == -1 && bad == 0);
    test_cond("utf8: overlong E0 9F BF rejected", count("\xE0\x9F\xBF", 3, &bad) == -1 && bad == 0);
    test_cond("utf8: overlong F0 80 80 AF rejected",
              count("\xF0\x80\x80\xAF", 4, &bad) == -1 && bad == 0);
    test_cond("utf8: overlong F0 8F BF BF rejected",
              count("\xF0\x8F\xBF\xBF", 4, &bad) == -1 && bad == 0);
    test_cond("utf8: overlong after valid text reports its offset",
              count("ab\xE0\x80\xAF", 5, &bad) == -1 && bad == 2);

    /* Surrogates and values past U+10FFFF. */
    test_cond("utf8: surrogate ED A0 80 rejected", count("\xED\xA0\x80", 3, &bad) == -1 && bad == 0);
    test_cond("utf8: surrogate ED BF BF rejected", count("x\xED\xBF\xBF", 4, &bad) == -1 && bad == 1);
    test_cond("utf8: F4 90 80 80 (> U+10FFFF) rejected",
              count("\xF4\x90\x80\x80", 4, &bad) == -1 && bad == 0);
    test_cond("utf8: F5 lead byte rejected", count("\xF5\x80\x80\x80", 4, &bad) == -1 && bad == 0);
    test_cond("utf8: FE and FF rejected",
              count("\xFE", 1, &bad) == -1 && count("a\xFF", 2, &bad) == -1 && bad == 1);

    /* Truncated sequences at the end of the string. */
    test_cond("utf8: truncated 2-byte at end", count("ab\xC3", 3, &bad) == -1 && bad == 2);
    test_cond("utf8: truncated 3-byte at end", count("a\xE2\x82", 3, &bad) == -1 && bad == 1);
    test_cond("utf8: truncated 4-byte at end", count("\xF0\x9D\x84", 3, &bad) == -1 && bad == 0);
    test_cond("utf8: a character cut by len is truncated", count("\xC3\xA9", 1, &bad) == -1 && bad == 0);
    test_cond("utf8: truncated sequence followed by ASCII",
              count("\xE2\x82z", 3, &bad) == -1 && bad == 0);

    /* Continuation bytes where a character should start. */
    test_cond("utf8: lone continuation byte", count("\x80", 1, &bad) == -1 && bad == 0);
    test_cond("utf8: lone continuation mid-string", count("a\x80" "b", 3, &bad) == -1 && bad == 1);
    test_cond("utf8: continuation after a complete character",
              count("\xC3\xA9\xA9", 3, &bad) == -1 && bad == 2);
    test_cond("utf8: bad continuation inside a sequence",
              count("\xE2(\xAC", 3, &bad) == -1 && bad == 0);

    /* NUL bytes. */
    test_cond("utf8: NUL gives -2", count("ab\0c", 4, &bad) == -2 && bad == 2);
    test_cond("utf8: leading NUL gives -2", count("\0", 1, &bad) == -2 && bad == 0);
    test_cond("utf8: NUL after multibyte text reports its byte offset",
              count("\xC3\xA9\0", 3, &bad) == -2 && bad == 2);
}

/* UTF-8 of one code point (no validation: the callers pass scalar values). */
static size_t utf8_of(unsigned cp, char out[4])
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Unicode's White_Space property (PropList.txt), written out independently. */
static int white_space(unsigned cp)
{
    static const unsigned ranges[][2] = {
        { 0x0009, 0x000D }, { 0x0020, 0x0020 }, { 0x0085, 0x0085 }, { 0x00A0, 0x00A0 },
        { 0x1680, 0x1680 }, { 0x2000, 0x200A }, { 0x2028, 0x2029 }, { 0x202F, 0x202F },
        { 0x205F, 0x205F }, { 0x3000, 0x3000 },
    };
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++)
        if (cp >= ranges[i][0] && cp <= ranges[i][1])
            return 1;
    return 0;
}

static void test_blank(void)
{
    tdb_str empty = { "", 0 };
    char buf[8];
    int every = 1, blanks = 0;
    test_cond("blank: empty string is blank", tdb_is_blank(empty));
    test_cond("blank: ASCII white space is blank", tdb_is_blank(S(" \t\n\r\f\v")));
    test_cond("blank: a letter is not blank", !tdb_is_blank(S("  a  ")));
    test_cond("blank: the letter v is not blank", !tdb_is_blank(S("v")) && !tdb_is_blank(S("vv v")));
    test_cond("blank: U+000B alone is blank", tdb_is_blank(S("\x0B")));
    test_cond("blank: NBSP and U+3000 are blank",
              tdb_is_blank(S("\xC2\xA0")) && tdb_is_blank(S("\xE3\x80\x80 \xC2\xA0")));
    test_cond("blank: NEL, U+1680, U+2000..200A, U+2028/9, U+202F, U+205F are blank",
              tdb_is_blank(S("\xC2\x85\xE1\x9A\x80\xE2\x80\x80\xE2\x80\x8A\xE2\x80\xA8"
                             "\xE2\x80\xA9\xE2\x80\xAF\xE2\x81\x9F")));
    test_cond("blank: ZWSP, BOM, U+180E and U+001C are not White_Space",
              !tdb_is_blank(S("\xE2\x80\x8B")) && !tdb_is_blank(S("\xEF\xBB\xBF")) &&
              !tdb_is_blank(S("\xE1\xA0\x8E")) && !tdb_is_blank(S("\x1C")));
    test_cond("blank: only len bytes are looked at", tdb_is_blank((tdb_str){ "  x", 2 }));
    /* Every code point, alone and after a blank prefix, against the property. */
    for (unsigned cp = 1; cp <= 0x10FFFF; cp++) {
        size_t n;
        if (cp >= 0xD800 && cp <= 0xDFFF)
            continue;
        buf[0] = ' ';
        n = utf8_of(cp, buf + 1);
        if (tdb_is_blank((tdb_str){ buf + 1, n }) != white_space(cp) ||
            tdb_is_blank((tdb_str){ buf, n + 1 }) != white_space(cp)) {
            printf("#   U+%04X: tdb_is_blank disagrees with White_Space\n", cp);
            every = 0;
        }
        blanks += white_space(cp);
    }
    test_cond("blank: every code point agrees with Unicode White_Space (25 of them)",
              every && blanks == 25);
}

static int invalid(const tdb_error *err, const char *field)
{
    return err->kind == TDB_INVALID && strcmp(err->field, field) == 0 && err->message[0] != '\0';
}

static void test_limits(void)
{
    tdb_error err;
    char *s;

    /* user_id: 1..255 code points, not blank. */
    s = repeat("a", 255);
    test_cond("user_id: 255 ASCII characters accepted", tdb_validate_user_id(S(s), &err) == 0);
    free(s);
    s = repeat("a", 256);
    tdb_error_clear(&err);
    test_cond("user_id: 256 ASCII characters rejected",
              tdb_validate_user_id(S(s), &err) == -1 && invalid(&err, "user_id") &&
              ctest_contains(err.message, "255"));
    free(s);
    s = repeat("\xC3\xA9", 255);
    test_cond("user_id: 255 x U+00E9 (510 bytes) accepted", tdb_validate_user_id(S(s), &err) == 0);
    free(s);
    s = repeat("\xC3\xA9", 256);
    tdb_error_clear(&err);
    test_cond("user_id: 256 x U+00E9 rejected",
              tdb_validate_user_id(S(s), &err) == -1 && invalid(&err, "user_id"));
    free(s);
    tdb_error_clear(&err);
    test_cond("user_id: empty rejected",
              tdb_validate_user_id(S(""), &err) == -1 && invalid(&err, "user_id") &&
              ctest_contains(err.message, "empty"));
    tdb_error_clear(&err);
    test_cond("user_id: blank rejected",
              tdb_validate_user_id(S(" \t "), &err) == -1 && invalid(&err, "user_id") &&
              ctest_contains(err.message, "blank"));
    tdb_error_clear(&err);
    test_cond("user_id: invalid UTF-8 rejected with the byte position",
              tdb_validate_user_id(S("ab\xC0\xAF"), &err) == -1 && invalid(&err, "user_id") &&
              ctest_contains(err.message, "UTF-8") && ctest_contains(err.message, "byte 3"));
    tdb_error_clear(&err);
    test_cond("user_id: NUL byte rejected",
              tdb_validate_user_id((tdb_str){ "a\0b", 3 }, &err) == -1 &&
              invalid(&err, "user_id") && ctest_contains(err.message, "NUL"));

    /* title: 1..200 code points, not blank. */
    s = repeat("\xC3\xA9", 200);
    test_cond("title: 200 x U+00E9 (400 bytes) accepted", tdb_validate_title(S(s), &err) == 0);
    free(s);
    s = repeat("\xC3\xA9", 201);
    tdb_error_clear(&err);
    test_cond("title: 201 x U+00E9 rejected, message gives both counts",
              tdb_validate_title(S(s), &err) == -1 && invalid(&err, "title") &&
              ctest_contains(err.message, "201") && ctest_contains(err.message, "200"));
    free(s);
    s = repeat("\xF0\x9F\x98\x80", 200);
    test_cond("title: 200 x 4-byte emoji (800 bytes) accepted", tdb_validate_title(S(s), &err) == 0);
    free(s);
    s = repeat("a", 201);
    tdb_error_clear(&err);
    test_cond("title: 201 ASCII characters rejected",
              tdb_validate_title(S(s), &err) == -1 && invalid(&err, "title"));
    free(s);
    tdb_error_clear(&err);
    test_cond("title: empty rejected",
              tdb_validate_title(S(""), &err) == -1 && invalid(&err, "title"));
    tdb_error_clear(&err);
    test_cond("title: blank rejected",
              tdb_validate_title(S("\n\t  "), &err) == -1 && invalid(&err, "title"));
    test_cond("title: one character accepted", tdb_validate_title(S("x"), &err) == 0);
    tdb_error_clear(&err);
    test_cond("title: surrogate rejected",
              tdb_validate_title(S("a\xED\xA0\x80"), &err) == -1 && invalid(&err, "title"));

    /* description: 0..1000 code points; empty and blank allowed. */
    s = repeat("\xC3\xA9", 1000);
    test_cond("description: 1000 x U+00E9 accepted", tdb_validate_description(S(s), &err) == 0);
    free(s);
    s = repeat("\xC3\xA9", 1001);
    tdb_error_clear(&err);
    test_cond("description: 1001 x U+00E9 rejected",
              tdb_validate_description(S(s), &err) == -1 && invalid(&err, "description") &&
              ctest_contains(err.message, "1001"));
    free(s);
    s = repeat("z", 1001);
    tdb_error_clear(&err);
    test_cond("description: 1001 ASCII rejected",
              tdb_validate_description(S(s), &err) == -1 && invalid(&err, "description"));
    free(s);
    test_cond("description: empty accepted", tdb_validate_description(S(""), &err) == 0);
    test_cond("description: blank accepted", tdb_validate_description(S("   "), &err) == 0);
    tdb_error_clear(&err);
    test_cond("description: NUL rejected",
              tdb_validate_description((tdb_str){ "x\0", 2 }, &err) == -1 &&
              invalid(&err, "description"));
}

static void test_fields(void)
{
    static const struct { const char *name; tdb_field f; } known[] = {
        { "id", TDB_FIELD_ID }, { "user_id", TDB_FIELD_USER_ID },
        { "title", TDB_FIELD_TITLE }, { "description", TDB_FIELD_DESCRIPTION },
        { "completed", TDB_FIELD_COMPLETED }, { "created_at", TDB_FIELD_CREATED_AT },
        { "updated_at", TDB_FIELD_UPDATED_AT },
    };
    int all = 1;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        if (tdb_field_lookup(known[i].name, strlen(known[i].name)) != known[i].f ||
            strcmp(tdb_field_name(known[i].f), known[i].name) != 0)
            all = 0;
    }
    test_cond("fields: every field name looks up and names back", all);
    test_cond("fields: a typo is unknown", tdb_field_lookup("titel", 5) == TDB_FIELD_UNKNOWN);
    test_cond("fields: case matters", tdb_field_lookup("Title", 5) == TDB_FIELD_UNKNOWN);
    test_cond("fields: a prefix is unknown", tdb_field_lookup("tit", 3) == TDB_FIELD_UNKNOWN);
    test_cond("fields: a longer key is unknown", tdb_field_lookup("titles", 6) == TDB_FIELD_UNKNOWN);
    test_cond("fields: only len bytes count", tdb_field_lookup("title=x", 5) == TDB_FIELD_TITLE);
    test_cond("fields: empty is unknown", tdb_field_lookup("", 0) == TDB_FIELD_UNKNOWN);
    test_cond("fields: the placeholder name is not a field", tdb_field_lookup("?", 1) == TDB_FIELD_UNKNOWN);
    test_cond("fields: embedded NUL is unknown", tdb_field_lookup("id\0x", 4) == TDB_FIELD_UNKNOWN);
}

static void test_check_new(void)
{
    tdb_task_new t;
    tdb_error err;
    tdb_str alice = S("alice");
    char *s;

    tdb_task_new_init(&t);
    test_cond("new: init leaves completed at default (-1)", t.completed == -1 && !t.user_id.ptr);

    t.title = S("Buy milk");
    tdb_error_clear(&err);
    test_cond("new: missing user_id without scope is invalid user_id",
              tdb_task_check_new(NULL, &t, &err) == -1 && invalid(&err, "user_id") &&
              ctest_contains(err.message, "required"));

    tdb_task_new_init(&t);
    t.user_id = S("u1");
    tdb_error_clear(&err);
    test_cond("new: missing title is invalid title",
              tdb_task_check_new(NULL, &t, &err) == -1 && invalid(&err, "title"));

    t.title = S("Buy milk");
    t.description = S("2 litres");
    test_cond("new: a complete task passes", tdb_task_check_new(NULL, &t, &err) == 0);

    tdb_task_new_init(&t);
    t.title = S("Buy milk");
    test_cond("new: a scoped task takes the scope's user_id",
              tdb_task_check_new(&alice, &t, &err) == 0 && t.user_id.ptr == alice.ptr &&
              t.user_id.len == alice.len);

    tdb_task_new_init(&t);
    t.user_id = S("alice");
    t.title = S("Buy milk");
    test_cond("new: the scope's own user_id is accepted", tdb_task_check_new(&alice, &t, &err) == 0);

    tdb_task_new_init(&t);
    t.user_id = S("bob");
    t.title = S("Buy milk");
    tdb_error_clear(&err);
    test_cond("new: scope mismatch is invalid user_id",
              tdb_task_check_new(&alice, &t, &err) == -1 && invalid(&err, "user_id"));

    tdb_task_new_init(&t);
    t.user_id = S("alic");
    t.title = S("Buy milk");
    tdb_error_clear(&err);
    test_cond("new: a prefix of the scope is a mismatch",
              tdb_task_check_new(&alice, &t, &err) == -1 && invalid(&err, "user_id"));

    tdb_task_new_init(&t);
    t.title = S("Buy milk");
    tdb_error_clear(&err);
    test_cond("new: a blank scope is invalid user_id",
              tdb_task_check_new(&(tdb_str){ "  ", 2 }, &t, &err) == -1 && invalid(&err, "user_id"));

    tdb_task_new_init(&t);
    t.user_id = S("u1");
    t.title = S("   ");
    tdb_error_clear(&err);
    test_cond("new: blank title is invalid title",
              tdb_task_check_new(NULL, &t, &err) == -1 && invalid(&err, "title"));

    s = repeat("d", 1001);
    tdb_task_new_init(&t);
    t.user_id = S("u1");
    t.title = S("ok");
    t.description = S(s);
    tdb_error_clear(&err);
    test_cond("new: long description is invalid description",
              tdb_task_check_new(NULL, &t, &err) == -1 && invalid(&err, "description"));
    free(s);

    tdb_task_new_init(&t);
    t.user_id = S("u\xC0\xAF");
    t.title = S("ok");
    tdb_error_clear(&err);
    test_cond("new: invalid UTF-8 in user_id is invalid user_id",
              tdb_task_check_new(NULL, &t, &err) == -1 && invalid(&err, "user_id"));
}

static void test_check_patch(void)
{
    tdb_task_patch p;
    tdb_error err;
    char *s;

    tdb_task_patch_init(&p);
    test_cond("patch: init keeps everything",
              p.title_op == TDB_KEEP && p.description_op == TDB_KEEP && p.completed == -1);
    test_cond("patch: an empty patch passes", tdb_task_check_patch(&p, &err) == 0);

    p.title_op = TDB_CLEAR;
    tdb_error_clear(&err);
    test_cond("patch: clearing the title is invalid title",
              tdb_task_check_patch(&p, &err) == -1 && invalid(&err, "title"));

    tdb_task_patch_init(&p);
    p.title_op = TDB_SET;
    p.title = S("");
    tdb_error_clear(&err);
    test_cond("patch: empty title is invalid title",
              tdb_task_check_patch(&p, &err) == -1 && invalid(&err, "title"));

    s = repeat("\xC3\xA9", 200);
    p.title = S(s);
    test_cond("patch: 200-character title passes", tdb_task_check_patch(&p, &err) == 0);
    free(s);

    tdb_task_patch_init(&p);
    s = repeat("\xC3\xA9", 1001);
    p.description_op = TDB_SET;
    p.description = S(s);
    tdb_error_clear(&err);
    test_cond("patch: 1001-character description is invalid description",
              tdb_task_check_patch(&p, &err) == -1 && invalid(&err, "description"));
    free(s);

    tdb_task_patch_init(&p);
    p.description_op = TDB_CLEAR;
    p.completed = 1;
    test_cond("patch: clearing the description passes", tdb_task_check_patch(&p, &err) == 0);
}

static void test_list_check(void)
{
    tdb_list_opts o;
    tdb_error err;
    tdb_str alice = S("alice");

    tdb_list_opts_init(&o);
    test_cond("list: init means every user, any state, no limit",
              !o.user_id.ptr && o.completed == -1 && o.limit == -1 && !o.desc && !o.has_after);
    test_cond("list: no user_id without scope is every user",
              tdb_list_check(NULL, &o, &err) == 0 && o.user_id.ptr == NULL);

    tdb_list_opts_init(&o);
    test_cond("list: a scope fills user_id",
              tdb_list_check(&alice, &o, &err) == 0 && o.user_id.ptr == alice.ptr &&
              o.user_id.len == 5);

    tdb_list_opts_init(&o);
    o.user_id = S("alice");
    test_cond("list: the scope's own user_id is accepted", tdb_list_check(&alice, &o, &err) == 0);

    tdb_list_opts_init(&o);
    o.user_id = S("bob");
    tdb_error_clear(&err);
    test_cond("list: scope mismatch is invalid user_id",
              tdb_list_check(&alice, &o, &err) == -1 && invalid(&err, "user_id"));

    tdb_list_opts_init(&o);
    o.user_id = S(" ");
    tdb_error_clear(&err);
    test_cond("list: a blank user_id filter is invalid user_id",
              tdb_list_check(NULL, &o, &err) == -1 && invalid(&err, "user_id"));

    tdb_list_opts_init(&o);
    o.limit = -5;
    tdb_error_clear(&err);
    test_cond("list: a negative limit is invalid limit",
              tdb_list_check(NULL, &o, &err) == -1 && invalid(&err, "limit"));

    tdb_list_opts_init(&o);
    o.limit = 0;
    test_cond("list: limit 0 is accepted", tdb_list_check(NULL, &o, &err) == 0);
}

int main(void)
{
    test_utf8();
    test_blank();
    test_limits();
    test_fields();
    test_check_new();
    test_check_patch();
    test_list_check();
    return test_report();
}

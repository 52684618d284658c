/*
 * test_sql.c — the statement catalogue: complete entries, parameter counts
 * that match the text, one statement per entry, the task column layout the
 * decoder relies on, the read/write flag that decides what may be resent,
 * and stable, collision-free prepared-statement names.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctest.h"
#include "sql.h"

static const char *const task_columns[TDB_COL_COUNT] = {
    [TDB_COL_ID] = "id", [TDB_COL_USER_ID] = "user_id", [TDB_COL_TITLE] = "title",
    [TDB_COL_DESCRIPTION] = "description", [TDB_COL_COMPLETED] = "completed",
    [TDB_COL_CREATED_AT] = "created_at", [TDB_COL_UPDATED_AT] = "updated_at",
};

/* The statements whose rows tdb_task_row decodes. */
static const tdb_sql_id task_returning[] = {
    TDB_SQL_INSERT, TDB_SQL_GET, TDB_SQL_GET_USER, TDB_SQL_UPDATE, TDB_SQL_UPDATE_USER,
    TDB_SQL_TOGGLE, TDB_SQL_TOGGLE_USER,
    TDB_SQL_LIST_ALL_ASC, TDB_SQL_LIST_ALL_DESC, TDB_SQL_LIST_ALL_ASC_AFTER,
    TDB_SQL_LIST_ALL_DESC_AFTER, TDB_SQL_LIST_USER_ASC, TDB_SQL_LIST_USER_DESC,
    TDB_SQL_LIST_USER_ASC_AFTER, TDB_SQL_LIST_USER_DESC_AFTER,
};
#define N_TASK_RETURNING (sizeof task_returning / sizeof task_returning[0])

static int returns_tasks(tdb_sql_id id)
{
    for (size_t i = 0; i < N_TASK_RETURNING; i++)
        if (task_returning[i] == id)
            return 1;
    return 0;
}

/* Highest $n in the text, and whether every $1..$n occurs. */
static int max_param(const char *text, int *dense)
{
    int max = 0;
    unsigned char seen[100] = { 0 };
    for (const char *p = text; *p; p++) {
        if (*p == '$' && isdigit((unsigned char)p[1])) {
            int n = (int)strtol(p + 1, NULL, 10);
            if (n > max)
                max = n;
            if (n > 0 && n < 100)
                seen[n] = 1;
        }
    }
    *dense = 1;
    for (int i = 1; i <= max && i < 100; i++)
        if (!seen[i])
            *dense = 0;
    return max;
}

/*
 * The name of one select-list item: its alias after a final " AS ", else
 * the expression with a trailing "::type" cast removed.
 */
static void item_name(char *item)
{
    char *as = NULL, *cast;
    while (*item == ' ')
        memmove(item, item + 1, strlen(item));
    for (char *e = item + strlen(item); e > item && e[-1] == ' ';)
        *--e = '\0';
    for (char *p = strstr(item, " AS "); p; p = strstr(p + 1, " AS "))
        as = p;
    if (as) {
        memmove(item, as + 4, strlen(as + 4) + 1);
        return;
    }
    if ((cast = strstr(item, "::")) != NULL)
        *cast = '\0';
}

/*
 * The column list after "RETURNING " (to the end) or after the first
 * "SELECT " (to " FROM "), split on commas outside parentheses and CASE:
 * 1 when it names exactly the seven TDB_COL_* columns in order.
 */
static int selects_task_columns(const char *text)
{
    char list[1024], item[512];
    const char *start, *end;
    int i = 0, depth = 0;
    size_t n = 0;
    if ((start = strstr(text, "RETURNING ")) != NULL) {
        start += strlen("RETURNING ");
        end = start + strlen(start);
    } else if ((start = strstr(text, "SELECT ")) != NULL) {
        start += strlen("SELECT ");
        end = strstr(start, " FROM ");
        if (!end)
            return 0;
    } else {
        return 0;
    }
    if ((size_t)(end - start) >= sizeof list)
        return 0;
    memcpy(list, start, (size_t)(end - start));
    list[end - start] = '\0';
    for (const char *p = list;; p++) {
        if (*p == '(' || strncmp(p, "CASE ", 5) == 0)
            depth++;
        else if (*p == ')' || strncmp(p, " END", 4) == 0)
            depth--;
        if ((*p == ',' && depth == 0) || *p == '\0') {
            item[n] = '\0';
            item_name(item);
            if (i >= TDB_COL_COUNT || strcmp(item, task_columns[i]) != 0)
                return 0;
            i++;
            n = 0;
            if (*p == '\0')
                break;
        } else if (n + 1 < sizeof item) {
            item[n++] = *p;
        }
    }
    return i == TDB_COL_COUNT;
}

static int starts_with_word(const char *text, const char *word)
{
    size_t n = strlen(word);
    return strncmp(text, word, n) == 0 && (text[n] == ' ' || text[n] == ';' || text[n] == '\0');
}

/* FNV-1a 64, written out again here: the names must not change between builds. */
static uint64_t fnv1a(const char *s)
{
    uint64_t h = 14695981039346656037ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

static void test_entries(void)
{
    int complete = 1, labels_unique = 1, params_ok = 1, dense_ok = 1, one_stmt = 1;
    int columns_ok = 1, binary_ok = 1, no_stray = 1, within_max = 1;

    for (int i = 0; i < TDB_SQL_STMT_COUNT; i++) {
        const tdb_sql *s = tdb_sql_get((tdb_sql_id)i);
        int dense, max;
        if (!s || !s->label || !s->label[0] || !s->text ||
            (i != TDB_SQL_PING && !s->text[0])) {
            printf("#   entry %d is incomplete\n", i);
            complete = 0;
            continue;
        }
        for (int j = 0; j < i; j++)
            if (strcmp(tdb_sql_get((tdb_sql_id)j)->label, s->label) == 0) {
                printf("#   label %s used twice\n", s->label);
                labels_unique = 0;
            }
        max = max_param(s->text, &dense);
        if (max != s->nparams) {
            printf("#   %s: nparams %d, highest $n %d\n", s->label, s->nparams, max);
            params_ok = 0;
        }
        if (!dense) {
            printf("#   %s: a parameter between $1 and $%d is never used\n", s->label, max);
            dense_ok = 0;
        }
        if (s->nparams > 8) /* TDB_MAX_PARAMS in conn.h */
            within_max = 0;
        /* Only the batch starts are several statements: simple protocol, so no parameters. */
        if (strchr(s->text, ';') && (strncmp(s->label, "copy_start", 10) != 0 || s->nparams != 0)) {
            printf("#   %s: contains ';'\n", s->label);
            one_stmt = 0;
        }
        if (returns_tasks((tdb_sql_id)i)) {
            if (!selects_task_columns(s->text)) {
                printf("#   %s: does not select the 7 task columns in order\n", s->label);
                columns_ok = 0;
            }
            if (!s->binary) {
                printf("#   %s: task rows must come back in binary format\n", s->label);
                binary_ok = 0;
            }
        } else if (strstr(s->text, "RETURNING") || selects_task_columns(s->text)) {
            printf("#   %s: returns task rows but is not in the task-returning list\n", s->label);
            no_stray = 0;
        }
    }
    test_cond("sql: every entry has a label and a text (only ping is empty)", complete);
    test_cond("sql: labels are unique", labels_unique);
    test_cond("sql: nparams equals the highest $n in the text", params_ok);
    test_cond("sql: every $1..$n is used (libpq must infer each type)", dense_ok);
    test_cond("sql: no statement has more parameters than tdb_params holds", within_max);
    test_cond("sql: no text contains ';' (one statement each) but the parameterless batch starts", one_stmt);
    test_cond("sql: task-returning statements select the 7 columns in TDB_COL_* order", columns_ok);
    test_cond("sql: task-returning statements ask for binary rows", binary_ok);
    test_cond("sql: no other statement returns task rows", no_stray);
    test_cond("sql: ping is the empty query", tdb_sql_get(TDB_SQL_PING)->text[0] == '\0');
}

static void test_read_flags(void)
{
    int writes_ok = 1, reads_ok = 1;
    for (int i = 0; i < TDB_SQL_STMT_COUNT; i++) {
        const tdb_sql *s = tdb_sql_get((tdb_sql_id)i);
        int writes = starts_with_word(s->text, "INSERT") || starts_with_word(s->text, "UPDATE") ||
                     starts_with_word(s->text, "DELETE") || starts_with_word(s->text, "COPY") ||
                     starts_with_word(s->text, "CREATE") || strstr(s->text, "nextval") ||
                     starts_with_word(s->text, "ALTER") || strstr(s->text, "create_distributed_table") ||
                     strstr(s->text, "advisory") || starts_with_word(s->text, "BEGIN") ||
                     starts_with_word(s->text, "COMMIT") || starts_with_word(s->text, "ROLLBACK") ||
                     starts_with_word(s->text, "SAVEPOINT") || starts_with_word(s->text, "RELEASE");
        if (writes && s->is_read) {
            printf("#   %s has side effects but is marked as a read (would be resent)\n", s->label);
            writes_ok = 0;
        }
        if (!writes && !s->is_read) {
            printf("#   %s looks like a read but is not marked as one\n", s->label);
            reads_ok = 0;
        }
    }
    test_cond("sql: no statement with side effects is marked safe to resend", writes_ok);
    test_cond("sql: plain SELECTs are marked as reads", reads_ok);
    test_cond("sql: toggle is a write (never resent: no double toggle)",
              !tdb_sql_get(TDB_SQL_TOGGLE)->is_read && !tdb_sql_get(TDB_SQL_TOGGLE_USER)->is_read);
    test_cond("sql: scoped statements filter by user_id in SQL",
              strstr(tdb_sql_get(TDB_SQL_GET_USER)->text, "user_id = $2") &&
              strstr(tdb_sql_get(TDB_SQL_UPDATE_USER)->text, "user_id = $6") &&
              strstr(tdb_sql_get(TDB_SQL_TOGGLE_USER)->text, "user_id = $2") &&
              strstr(tdb_sql_get(TDB_SQL_DELETE_USER)->text, "user_id = $2") &&
              strstr(tdb_sql_get(TDB_SQL_COUNT_USER)->text, "user_id = $1"));
    test_cond("sql: listing orders by created_at, id",
              strstr(tdb_sql_get(TDB_SQL_LIST_ALL_ASC)->text, "ORDER BY created_at, id") &&
              strstr(tdb_sql_get(TDB_SQL_LIST_USER_DESC)->text, "ORDER BY created_at DESC, id DESC"));
}

/* init_db creates what is absent; only the repair (run on request) alters or drops. */
static void test_only_repair_alters(void)
{
    int ok = 1, repairs = 0;
    for (int i = 0; i < TDB_SQL_STMT_COUNT; i++) {
        const tdb_sql *s = tdb_sql_get((tdb_sql_id)i);
        int alters = starts_with_word(s->text, "ALTER") || starts_with_word(s->text, "DROP") ||
                     strstr(s->text, "TRUNCATE") != NULL;
        int repair = strncmp(s->label, "repair_", 7) == 0;
        if (alters && !repair) {
            printf("#   %s alters the table but is not a repair statement\n", s->label);
            ok = 0;
        }
        repairs += alters && repair;
    }
    test_cond("sql: only the repair statements alter or drop anything", ok && repairs == 3);
    test_cond("sql: the table has no CHECK on the writer's clock",
              !strstr(tdb_sql_get(TDB_SQL_CREATE_TABLE)->text, "updated_at >=") &&
              !strstr(tdb_sql_get(TDB_SQL_CREATE_TABLE_KEYED)->text, "updated_at >="));
    test_cond("sql: no statement uses btrim's \\v (PostgreSQL reads it as the letter v)",
              !strstr(tdb_sql_get(TDB_SQL_CREATE_TABLE)->text, "btrim"));
}

static void test_prepared_names(void)
{
    int stable = 1, shaped = 1, unique = 1, by_text = 1, hashed = 1;
    char first[TDB_SQL_STMT_COUNT][32];

    for (int i = 0; i < TDB_SQL_STMT_COUNT; i++) {
        const char *name = tdb_sql_prepared_name((tdb_sql_id)i);
        char expect[32];
        snprintf(first[i], sizeof first[i], "%s", name ? name : "");
        if (!name || strncmp(name, "taskdb_", 7) != 0 || strlen(name) != 7 + 16 ||
            strspn(name + 7, "0123456789abcdef") != 16) {
            printf("#   statement %d: name [%s]\n", i, name ? name : "(null)");
            shaped = 0;
        }
        snprintf(expect, sizeof expect, "taskdb_%016llx",
                 (unsigned long long)fnv1a(tdb_sql_get((tdb_sql_id)i)->text));
        if (!name || strcmp(name, expect) != 0)
            hashed = 0;
    }
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < TDB_SQL_STMT_COUNT; i++)
            if (strcmp(tdb_sql_prepared_name((tdb_sql_id)i), first[i]) != 0)
                stable = 0;
    for (int i = 0; i < TDB_SQL_STMT_COUNT; i++) {
        for (int j = 0; j < i; j++) {
            int same_text = strcmp(tdb_sql_get((tdb_sql_id)i)->text, tdb_sql_get((tdb_sql_id)j)->text) == 0;
            int same_name = strcmp(first[i], first[j]) == 0;
            if (same_name)
                unique = 0;
            if (!same_text && same_name)
                by_text = 0;
        }
    }
    test_cond("prepared: names start with taskdb_ and 16 hex digits", shaped);
    test_cond("prepared: names are stable across calls", stable);
    test_cond("prepared: names are FNV-1a of the text (stable across builds)", hashed);
    test_cond("prepared: one name per statement", unique);
    test_cond("prepared: different texts never share a name", by_text);
    test_cond("prepared: the name is a valid identifier (< 64 bytes)",
              strlen(tdb_sql_prepared_name(TDB_SQL_INSERT)) < 64);
}

int main(void)
{
    test_entries();
    test_read_flags();
    test_only_repair_alters();
    test_prepared_names();
    return test_report();
}

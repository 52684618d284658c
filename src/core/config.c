/* config.c — DATABASE_URL from the environment or a dotenv file. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

static char *skip_blanks(char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

static void trim_right(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
}

/* Decodes the value part of a line in place; returns NULL if malformed. */
static char *dotenv_value(char *v)
{
    v = skip_blanks(v);
    if (*v == '\'') {
        char *end = strchr(v + 1, '\'');
        if (!end)
            return NULL;
        *end = '\0';
        return v + 1;
    }
    if (*v == '"') {
        char *r = v + 1, *w = v + 1;
        for (; *r && *r != '"'; r++) {
            if (*r == '\\' && r[1]) {
                r++;
                *w++ = *r == 'n' ? '\n' : *r;
            } else {
                *w++ = *r;
            }
        }
        if (*r != '"')
            return NULL;
        *w = '\0';
        return v + 1;
    }
    for (char *p = v; *p; p++) {
        if (*p == '#' && (p == v || p[-1] == ' ' || p[-1] == '\t')) {
            *p = '\0';
            break;
        }
    }
    trim_right(v);
    return v;
}

int tdb_dotenv_get(const char *path, const char *key, char **out, tdb_error *err)
{
    FILE *f = fopen(path, "r");
    char line[8192];
    size_t keylen = strlen(key);
    int lineno = 0, found = 0;

    *out = NULL;
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f)) {
        char *p = skip_blanks(line), *value;
        lineno++;
        trim_right(p);
        if (*p == '\0' || *p == '#')
            continue;
        if (strncmp(p, "export", 6) == 0 && (p[6] == ' ' || p[6] == '\t'))
            p = skip_blanks(p + 6);
        if (strncmp(p, key, keylen) != 0)
            continue;
        value = skip_blanks(p + keylen);
        if (*value != '=')
            continue;
        value = dotenv_value(value + 1);
        if (!value) {
            tdb_error_set(err, TDB_CONFIG, NULL,
                          "%s line %d: unterminated quote in %s", path, lineno, key);
            found = -1;
            break;
        }
        free(*out); /* a later assignment wins, as in a shell */
        *out = strdup(value);
        if (!*out) {
            tdb_error_set(err, TDB_NOMEM, NULL, "not enough memory");
            found = -1;
            break;
        }
        found = 1;
    }
    fclose(f);
    if (found < 0) {
        free(*out);
        *out = NULL;
    }
    return found;
}

char *tdb_config_database_url(const char *dotenv_path, tdb_error *err)
{
    const char *env = getenv("DATABASE_URL");
    char *url = NULL;
    int found;

    if (env && *env) {
        url = strdup(env);
        if (!url)
            tdb_error_set(err, TDB_NOMEM, NULL, "not enough memory");
        return url;
    }
    if (!dotenv_path)
        dotenv_path = TDB_DOTENV_DEFAULT;
    found = tdb_dotenv_get(dotenv_path, "DATABASE_URL", &url, err);
    if (found < 0)
        return NULL;
    if (found == 0 || !url || !*url) {
        free(url);
        tdb_error_set(err, TDB_CONFIG, NULL,
                      "DATABASE_URL is not set: export it, or put "
                      "DATABASE_URL=postgresql://USER:PASSWORD@HOST/DB?sslmode=require "
                      "in %s (see .env.example), or pass a URL to taskdb.connect",
                      dotenv_path);
        return NULL;
    }
    return url;
}

/* config.c — DATABASE_URL from the environment or a dotenv file. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/*
 * Opens the dotenv file for reading, or says what is wrong with it.  Opened
 * non-blocking, so a FIFO with no writer cannot hang the caller; anything
 * but a regular file is refused.  1: open (*f set); 0: there is no file;
 * -1: err set.
 */
static int open_dotenv(const char *path, FILE **f, tdb_error *err)
{
    struct stat st;
    const char *why = NULL;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);

    *f = NULL;
    if (fd < 0 && errno == ENOENT)
        return 0;
    if (fd < 0) {
        tdb_error_set(err, TDB_CONFIG, NULL, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) != 0)
        why = strerror(errno);
    else if (S_ISDIR(st.st_mode))
        why = "it is a directory, not a file";
    else if (!S_ISREG(st.st_mode))
        why = "it is not a regular file (a FIFO, socket or device); "
              "DATABASE_URL is read only from a regular file";
    if (why) {
        tdb_error_set(err, TDB_CONFIG, NULL, "cannot read %s: %s", path, why);
        close(fd);
        return -1;
    }
    *f = fdopen(fd, "r");
    if (!*f) {
        close(fd);
        tdb_error_set(err, TDB_NOMEM, NULL, "not enough memory");
        return -1;
    }
    return 1;
}

int tdb_dotenv_get(const char *path, const char *key, char **out, tdb_error *err)
{
    FILE *f;
    char *line = NULL;
    size_t cap = 0, keylen = strlen(key);
    int lineno = 0, found = 0, opened;

    *out = NULL;
    opened = open_dotenv(path, &f, err);
    if (opened <= 0)
        return opened;
    /* Whole lines, however long: a comment never ends early and becomes a line of its own. */
    while (getline(&line, &cap, f) >= 0) {
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
    if (found >= 0 && ferror(f)) {
        tdb_error_set(err, TDB_CONFIG, NULL, "cannot read %s: %s", path, strerror(errno));
        found = -1;
    }
    if (line) {
        memset(line, 0, cap);
        free(line);
    }
    fclose(f);
    if (found < 0) {
        free(*out);
        *out = NULL;
        return -1;
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

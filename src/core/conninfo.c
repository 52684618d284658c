/*
 * conninfo.c — a database URL checked and split before libpq sees it.
 *
 * The URL is read three times.  First by a reader that follows libpq's own
 * grammar (conninfo_parse, conninfo_uri_parse_options) but only looks:
 * it knows where the user name and password are and which words may be a
 * piece of a password that was not encoded or quoted, and says what is
 * wrong by naming the part, never by quoting it.  Then by PQconninfoParse,
 * for libpq's exact meaning of every option.  Then each option value that
 * libpq would reject only while connecting (and so report as a connection
 * failure, retried) is checked here, and named without its value.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "conninfo.h"

#define BAD "invalid database URL: "

typedef struct span {
    const char *p, *end;
} span;

enum { TOK_END = 0, TOK_OK = 1, TOK_NO_EQUALS = -1, TOK_OPEN_QUOTE = -2, TOK_EXTRA_EQUALS = -3 };

/* One key=value pair (or URI query parameter), located, not copied. */
typedef struct token {
    span key, value;
    int after_password;   /* a password came earlier: this may be a piece of it */
} token;

static int bad(tdb_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int bad(tdb_error *err, const char *fmt, ...)
{
    char line[TDB_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    tdb_error_set(err, TDB_CONFIG, NULL, BAD "%s", line);
    return -1;
}

static int nomem(tdb_error *err)
{
    tdb_error_set(err, TDB_NOMEM, NULL, "not enough memory");
    return -1;
}

static const char *uri_body(const char *url)
{
    if (strncmp(url, "postgresql://", 13) == 0)
        return url + 13;
    if (strncmp(url, "postgres://", 11) == 0)
        return url + 11;
    return NULL;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* libpq's percent-decoding rules: '%' and two hex digits, never %00. */
static int percent_ok(span s)
{
    for (const char *p = s.p; p < s.end; p++) {
        if (*p != '%')
            continue;
        if (s.end - p < 3 || hexval(p[1]) < 0 || hexval(p[2]) < 0 || (p[1] == '0' && p[2] == '0'))
            return 0;
        p += 2;
    }
    return 1;
}

/* Does the (percent-encoded) span decode to `word`? */
static int decodes_to(span s, const char *word)
{
    const char *p = s.p;
    for (; p < s.end && *word; word++) {
        int c = (unsigned char)*p;
        if (*p == '%' && s.end - p >= 3 && hexval(p[1]) >= 0 && hexval(p[2]) >= 0) {
            c = hexval(p[1]) * 16 + hexval(p[2]);
            p += 3;
        } else {
            p++;
        }
        if (c != (unsigned char)*word)
            return 0;
    }
    return p == s.end && *word == '\0';
}

static int span_is(span s, const char *word)
{
    size_t n = strlen(word);
    return (size_t)(s.end - s.p) == n && memcmp(s.p, word, n) == 0;
}

/*
 * A key may be quoted in a message only when it cannot be a piece of a
 * password: nothing that could be a password came before it, and it looks
 * like a keyword (lower-case letters, digits, '_').
 */
static int quotable(const token *t)
{
    if (t->after_password || t->key.end == t->key.p || t->key.end - t->key.p > 40)
        return 0;
    for (const char *p = t->key.p; p < t->key.end; p++)
        if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_'))
            return 0;
    return 1;
}

/* "option \"sslmod\"" or, when the key may not be quoted, `anonymous`. */
static void key_name(char *buf, size_t cap, const token *t, const char *what, const char *anonymous)
{
    if (quotable(t))
        snprintf(buf, cap, "%s \"%.*s\"", what, (int)(t->key.end - t->key.p), t->key.p);
    else
        snprintf(buf, cap, "%s", anonymous);
}

/* ---- key=value form, read as libpq's conninfo_parse reads it ------------ */

static int kv_next(const char **cursor, int *seen_password, token *t)
{
    const char *cp = *cursor;
    while (isspace((unsigned char)*cp))
        cp++;
    if (!*cp)
        return TOK_END;
    memset(t, 0, sizeof *t);
    t->after_password = *seen_password;
    t->key.p = cp;
    while (*cp && *cp != '=' && !isspace((unsigned char)*cp))
        cp++;
    t->key.end = cp;
    while (isspace((unsigned char)*cp))
        cp++;
    if (*cp != '=')
        return TOK_NO_EQUALS;
    cp++;
    while (isspace((unsigned char)*cp))
        cp++;
    t->value.p = cp;
    if (span_is(t->key, "password"))
        *seen_password = 1;
    if (*cp == '\'') {
        for (cp++;;) {
            if (!*cp)
                return TOK_OPEN_QUOTE;
            if (*cp == '\\') {
                cp++;
                if (*cp)
                    cp++;
                continue;
            }
            if (*cp++ == '\'')
                break;
        }
    } else {
        while (*cp && !isspace((unsigned char)*cp)) {
            if (*cp == '\\' && cp[1])
                cp++;
            cp++;
        }
    }
    t->value.end = cp;
    *cursor = cp;
    return TOK_OK;
}

static int check_keyvalue(const char *url, tdb_error *err)
{
    const char *cur = url;
    int seen = 0, r;
    token t;
    char name[80];
    while ((r = kv_next(&cur, &seen, &t)) == TOK_OK)
        ;
    if (r == TOK_NO_EQUALS) {
        if (t.after_password)
            return bad(err, "a word without '=' follows password=: put a password that holds "
                            "spaces in single quotes, password='...' (write ' and \\ inside as \\' and \\\\)");
        key_name(name, sizeof name, &t, "the word", "a word");
        return bad(err, "%s has no '=' (key=value form: host=... dbname=... user=...)", name);
    }
    if (r == TOK_OPEN_QUOTE) {
        if (span_is(t.key, "password"))
            return bad(err, "the password's quoted value has no closing quote "
                            "(write ' and \\ inside it as \\' and \\\\)");
        if (t.after_password)
            return bad(err, "a quoted value after password= has no closing quote");
        key_name(name, sizeof name, &t, "the value of", "a quoted value");
        return bad(err, "%s has no closing quote", name);
    }
    return 0;
}

/* ---- URI form, read as libpq's conninfo_uri_parse_options reads it -------- */

static int query_next(const char **cursor, int *seen_password, token *t)
{
    const char *p = *cursor;
    if (!*p)
        return TOK_END;
    memset(t, 0, sizeof *t);
    t->after_password = *seen_password;
    t->key.p = p;
    for (;; p++) {
        if (*p == '=') {
            if (t->value.p)
                return TOK_EXTRA_EQUALS;
            t->key.end = p;
            t->value.p = p + 1;
        } else if (*p == '&' || *p == '\0') {
            break;
        }
    }
    if (!t->value.p) {
        t->key.end = p;
        return TOK_NO_EQUALS;
    }
    t->value.end = p;
    *cursor = *p ? p + 1 : p;
    if (decodes_to(t->key, "password"))
        *seen_password = 1;
    return TOK_OK;
}

static int check_query(const char *q, tdb_error *err)
{
    int seen = 0, r;
    token t;
    char name[80];
    while ((r = query_next(&q, &seen, &t)) == TOK_OK) {
        if (!percent_ok(t.key) || !percent_ok(t.value)) {
            key_name(name, sizeof name, &t, "query parameter", "a query parameter");
            return bad(err, "%s holds '%%' not followed by two hex digits (or %%00); write '%%' as %%25", name);
        }
    }
    if (r == TOK_NO_EQUALS || r == TOK_EXTRA_EQUALS) {
        key_name(name, sizeof name, &t, "query parameter", "a query parameter");
        return bad(err, "%s has %s '=' (write each as key=value, joined by '&'; inside a value, "
                        "write '&' as %%26 and '=' as %%3D)%s",
                   name, r == TOK_NO_EQUALS ? "no" : "more than one",
                   t.after_password ? ", as in a password" : "");
    }
    return 0;
}

static int check_uri(const char *url, tdb_error *err)
{
    const char *body = uri_body(url), *p = body, *at = NULL;

    /* libpq: the user info ends at the first '@' before the first '/'. */
    while (*p && *p != '@' && *p != '/')
        p++;
    if (*p == '@')
        at = p;
    /*
     * Any other '@' means a password (or user name) was not encoded: its
     * pieces would be read as host, port, database or query.  Nothing of
     * it is quoted, since any part may be the password.
     */
    if (strchr(at ? at + 1 : body, '@'))
        return bad(err, "a URI may hold '@' only once, just before the host: in a password, "
                        "user name or query value write '@' as %%40 (and '/' as %%2F)");
    if (at) {
        span user_info = { body, at };
        if (!percent_ok(user_info))
            return bad(err, "the user name or password holds '%%' not followed by two hex digits "
                            "(or %%00); write '%%' as %%25");
        p = at + 1;
    } else {
        p = body;
    }
    for (;;) {
        const char *h = p;
        if (*p == '[') {
            const char *close = strchr(p, ']');
            if (!close)
                return bad(err, "an IPv6 address in brackets has no closing ']'");
            if (close == p + 1)
                return bad(err, "an IPv6 address in brackets is empty");
            p = close + 1;
            if (*p && !strchr(":/?,", *p))
                return bad(err, "unexpected character after an IPv6 address in brackets "
                                "(expected ':' or '/')");
        } else {
            while (*p && !strchr(":/?,", *p))
                p++;
        }
        if (!percent_ok((span){ h, p }))
            return bad(err, "a host name holds '%%' not followed by two hex digits; write '%%' as %%25");
        if (*p == ':') {
            const char *port = ++p;
            while (*p && !strchr("/?,", *p))
                p++;
            if (!percent_ok((span){ port, p }))
                return bad(err, "a port holds '%%' not followed by two hex digits");
        }
        if (*p != ',')
            break;
        p++;
    }
    if (*p == '/') {
        const char *db = ++p;
        while (*p && *p != '?')
            p++;
        if (!percent_ok((span){ db, p }))
            return bad(err, "the database name holds '%%' not followed by two hex digits "
                            "(or %%00); write '%%' as %%25");
    }
    if (*p == '?')
        return check_query(p + 1, err);
    return 0;
}

/*
 * 1 when the URL holds nothing that could be a password (no user info, no
 * password option): only then may a message quote what libpq says about
 * the URL as a whole.
 */
static int secret_free(const char *url)
{
    if (uri_body(url))
        return !strchr(url, '@') && !strchr(url, '%') && !strstr(url, "password");
    return !strstr(url, "password");
}

/* PQconninfoParse refused what the reader above accepted: an unknown keyword, or a gap here. */
static int explain_refusal(const char *url, const char *libpq_message, tdb_error *err)
{
    PQconninfoOption *known = PQconndefaults();
    const char *body = uri_body(url), *cur;
    int seen = 0, r;
    token t;
    char name[80], line[TDB_MESSAGE_MAX];

    if (!known)
        return nomem(err);
    if (body) {
        cur = strchr(body, '?');
        cur = cur ? cur + 1 : "";
    } else {
        cur = url;
    }
    while ((r = body ? query_next(&cur, &seen, &t) : kv_next(&cur, &seen, &t)) == TOK_OK) {
        int found = body && decodes_to(t.key, "ssl");   /* libpq's JDBC spelling of sslmode */
        for (PQconninfoOption *o = known; o->keyword && !found; o++)
            found = body ? decodes_to(t.key, o->keyword) : span_is(t.key, o->keyword);
        if (found)
            continue;
        PQconninfoFree(known);
        key_name(name, sizeof name, &t, body ? "unknown query parameter" : "unknown option",
                 body ? "an unknown query parameter" : "an unknown option");
        if (t.after_password)
            return bad(err, "%s after the password (%s)", name,
                       body ? "write '&' in a password as %26"
                            : "put a password that holds spaces in single quotes, password='...'");
        return bad(err, "%s (see libpq's list of connection parameters)", name);
    }
    PQconninfoFree(known);
    if (libpq_message && secret_free(url)) {
        tdb_copy_line(line, sizeof line, libpq_message);
        return bad(err, "%s", line);
    }
    return bad(err, "libpq cannot read it as a %s (its own message is not shown: it may quote "
                    "the password); percent-encode special characters in the password",
               body ? "URI" : "key=value string");
}

/* ---- option values ---------------------------------------------------------- */

static const char *const SSLMODES[] = {
    "disable", "allow", "prefer", "require", "verify-ca", "verify-full", NULL };
static const char *const GSSENCMODES[] = { "disable", "prefer", "require", NULL };
static const char *const CHANNEL_BINDINGS[] = { "disable", "prefer", "require", NULL };
static const char *const TARGETS[] = {   /* in tdb_target order */
    "any", "read-write", "read-only", "primary", "standby", "prefer-standby", NULL };
static const char *const TLS_VERSIONS[] = { "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3", NULL };
static const char *const INTEGER_OPTIONS[] = {
    "connect_timeout", "keepalives", "keepalives_idle", "keepalives_interval",
    "keepalives_count", "tcp_user_timeout", NULL };

static int index_of(const char *const *list, const char *value, int fold_case)
{
    for (int i = 0; list[i]; i++)
        if ((fold_case ? strcasecmp(list[i], value) : strcmp(list[i], value)) == 0)
            return i;
    return -1;
}

static int not_one_of(tdb_error *err, const char *what, const char *const *list)
{
    char choices[200] = "";
    size_t n = 0;
    for (int i = 0; list[i]; i++)
        n += (size_t)snprintf(choices + n, n < sizeof choices ? sizeof choices - n : 0, "%s%s",
                              i == 0 ? "" : list[i + 1] ? ", " : " or ", list[i]);
    return bad(err, "%s must be %s", what, choices);
}

/* libpq's parse_int_param: an int, blanks around it allowed. */
static int int_value(const char *s, long *out)
{
    char *end;
    long v;
    errno = 0;
    v = strtol(s, &end, 10);
    if (end == s || errno != 0 || v < INT_MIN || v > INT_MAX)
        return -1;
    while (isspace((unsigned char)*end))
        end++;
    if (*end)
        return -1;
    *out = v;
    return 0;
}

static int numeric_address(const char *s)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_flags = AI_NUMERICHOST;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(s, NULL, &hints, &res) != 0)
        return 0;
    freeaddrinfo(res);
    return 1;
}

/*
 * What libpq will use for `keyword`: the URL's value, else the
 * environment's (PGSSLMODE, ...) or libpq's compiled default, as
 * PQconndefaults reports them.  *name is what a message calls it: the
 * keyword, or the environment variable it came from.
 */
static const char *setting(const tdb_conninfo *ci, const PQconninfoOption *defaults,
                           const char *keyword, const char **name)
{
    const char *v = tdb_conninfo_get(ci, keyword);
    *name = keyword;
    if (v)
        return v;
    for (const PQconninfoOption *o = defaults; o->keyword; o++) {
        if (strcmp(o->keyword, keyword) != 0)
            continue;
        if (o->envvar && getenv(o->envvar) && *getenv(o->envvar))
            *name = o->envvar;
        return o->val && *o->val ? o->val : NULL;
    }
    return NULL;
}

/* Every value libpq checks only once it connects, checked now. */
static int check_values(const tdb_conninfo *ci, const PQconninfoOption *defaults, tdb_error *err)
{
    static const struct { const char *keyword; const char *const *choices; int fold_case; } enums[] = {
        { "sslmode", SSLMODES, 0 },
        { "gssencmode", GSSENCMODES, 0 },
        { "channel_binding", CHANNEL_BINDINGS, 0 },
        { "target_session_attrs", TARGETS, 0 },
        { "ssl_min_protocol_version", TLS_VERSIONS, 1 },
        { "ssl_max_protocol_version", TLS_VERSIONS, 1 },
    };
    const char *v, *name;
    long n;

    for (int i = 0; i < ci->nopts; i++) {
        /* The server would quote it back ("database ... does not exist"), password and all. */
        if (strcmp(ci->keywords[i], "password") != 0 && uri_body(ci->values[i]))
            return bad(err, "the value of %s is itself a URI; give that URI as the database URL",
                       ci->keywords[i]);
    }
    for (size_t i = 0; i < sizeof enums / sizeof enums[0]; i++) {
        v = setting(ci, defaults, enums[i].keyword, &name);
        if (v && index_of(enums[i].choices, v, enums[i].fold_case) < 0)
            return not_one_of(err, name, enums[i].choices);
    }
    for (int i = 0; INTEGER_OPTIONS[i]; i++) {
        v = setting(ci, defaults, INTEGER_OPTIONS[i], &name);
        if (v && int_value(v, &n) != 0)
            return bad(err, "%s must be a whole number%s", name,
                       strcmp(INTEGER_OPTIONS[i], "connect_timeout") == 0 ? " of seconds" : "");
    }
    return 0;
}

/* ---- hosts ------------------------------------------------------------------ */

static int count_items(const char *s)
{
    int n = 1;
    for (; *s; s++)
        n += *s == ',';
    return n;
}

/* The i-th comma-separated item of s, malloc'd ("" past the end). */
static char *item(const char *s, int i)
{
    size_t len;
    for (; i > 0 && *s; s++)
        if (*s == ',')
            i--;
    len = strcspn(s, ",");
    return strndup(s, len);
}

static int is_loopback_address(const char *s)
{
    unsigned char a[16];
    if (inet_pton(AF_INET, s, a) == 1)
        return a[0] == 127;
    if (inet_pton(AF_INET6, s, a) == 1) {
        static const unsigned char v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
        if (IN6_IS_ADDR_LOOPBACK((struct in6_addr *)a))
            return 1;
        return memcmp(a, v4mapped, 12) == 0 && a[12] == 127;
    }
    return 0;
}

/*
 * Is this host on this machine?  A Unix socket is; an address is when it is
 * in 127.0.0.0/8 or ::1; a name only when it is localhost.  The address
 * dialled (hostaddr) and the name (used for TLS and authentication) must
 * both be local: 127.example.com is a name, whatever it resolves to.
 */
static int host_is_local(const tdb_host *h)
{
    if (h->hostaddr[0] && !is_loopback_address(h->hostaddr))
        return 0;
    if (h->host[0] == '\0' || h->host[0] == '/' || h->host[0] == '@')
        return 1;
    return strcasecmp(h->host, "localhost") == 0 || is_loopback_address(h->host);
}

static int split_hosts(tdb_conninfo *ci, const PQconninfoOption *defaults, tdb_error *err)
{
    const char *host_from, *addr_from, *port_from;
    const char *host = setting(ci, defaults, "host", &host_from);
    const char *addr = setting(ci, defaults, "hostaddr", &addr_from);
    const char *port = setting(ci, defaults, "port", &port_from);
    int n = addr ? count_items(addr) : host ? count_items(host) : 1;
    int nports = port ? count_items(port) : 1;

    if (host && addr && count_items(host) != n)
        return bad(err, "%d host names (%s) but %d addresses (%s): give one address per name",
                   count_items(host), host_from, n, addr_from);
    if (nports != 1 && nports != n)
        return bad(err, "%d ports for %d hosts: give one port for all, or one per host", nports, n);
    ci->hosts_listed = host || addr;
    ci->hosts = calloc((size_t)n, sizeof *ci->hosts);
    if (!ci->hosts)
        return nomem(err);
    ci->nhosts = n;
    for (int i = 0; i < n; i++) {
        tdb_host *h = &ci->hosts[i];
        long v;
        h->host = item(host ? host : "", i);
        h->hostaddr = item(addr ? addr : "", i);
        h->port = item(port ? port : "", nports == 1 ? 0 : i);
        if (!h->host || !h->hostaddr || !h->port)
            return nomem(err);
        if (h->port[0] && (int_value(h->port, &v) != 0 || v < 1 || v > 65535))
            return bad(err, "%s must be a number from 1 to 65535%s", port_from,
                       nports > 1 ? " (one per host, separated by commas)" : "");
        if (h->hostaddr[0] && !numeric_address(h->hostaddr))
            return bad(err, "%s must hold IP addresses (a name goes in host)", addr_from);
        if (strcmp(h->host, "HOST") == 0)
            return bad(err, "the host is still the placeholder HOST from .env.example: put in your "
                            "database's user, password, host and database name (USER, PASSWORD, "
                            "HOST, DB), e.g. from the Neon console's connection details");
        if (!host_is_local(h))
            ci->remote = 1;
        if (strstr(h->host, "-pooler"))
            ci->pooler_host = 1;
    }
    return 0;
}

/* ---- the whole ---------------------------------------------------------------- */

const char *tdb_conninfo_get(const tdb_conninfo *ci, const char *keyword)
{
    for (int i = 0; i < ci->nopts; i++)
        if (strcmp(ci->keywords[i], keyword) == 0)
            return ci->values[i];
    return NULL;
}

static int keep_options(tdb_conninfo *ci, const PQconninfoOption *opts, tdb_error *err)
{
    int n = 0;
    for (const PQconninfoOption *o = opts; o->keyword; o++)
        n += o->val && *o->val;
    ci->keywords = calloc((size_t)n + 1, sizeof *ci->keywords);
    ci->values = calloc((size_t)n + 1, sizeof *ci->values);
    if (!ci->keywords || !ci->values)
        return nomem(err);
    for (const PQconninfoOption *o = opts; o->keyword; o++) {
        if (!o->val || !*o->val)
            continue;
        ci->keywords[ci->nopts] = strdup(o->keyword);
        ci->values[ci->nopts] = strdup(o->val);
        if (!ci->keywords[ci->nopts] || !ci->values[ci->nopts]) {
            free(ci->keywords[ci->nopts]);
            free(ci->values[ci->nopts]);
            return nomem(err);
        }
        ci->nopts++;
    }
    return 0;
}

static int is_blank(const char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    return *s == '\0';
}

/* Checks the grammar by the form the URL has; libpq tells the forms apart the same way. */
static int check_form(const char *url, tdb_error *err)
{
    size_t first_word = strcspn(url, "= \t\n\r");
    if (is_blank(url))
        return bad(err, "it is empty; set DATABASE_URL to a postgresql:// URI or a key=value string");
    if (uri_body(url))
        return check_uri(url, err);
    if (memmem(url, first_word, "://", 3))
        return bad(err, "only postgresql:// and postgres:// URIs are understood");
    if (!strchr(url, '='))
        return bad(err, "it is neither a postgresql:// URI nor a key=value string");
    return check_keyvalue(url, err);
}

int tdb_conninfo_parse(const char *url, tdb_conninfo *ci, tdb_error *err)
{
    PQconninfoOption *opts, *defaults = NULL;
    char *message = NULL;
    const char *v, *name;
    long n;
    int rc = -1;

    memset(ci, 0, sizeof *ci);
    if (check_form(url, err) != 0)
        return -1;
    opts = PQconninfoParse(url, &message);
    if (!opts) {
        rc = message ? explain_refusal(url, message, err) : nomem(err);
        PQfreemem(message);
        return rc;
    }
    defaults = PQconndefaults();
    if (!defaults) {
        nomem(err);
        goto done;
    }
    if (keep_options(ci, opts, err) != 0 || check_values(ci, defaults, err) != 0 ||
        split_hosts(ci, defaults, err) != 0)
        goto done;
    ci->has_sslmode = tdb_conninfo_get(ci, "sslmode") || (getenv("PGSSLMODE") && *getenv("PGSSLMODE"));
    ci->has_application_name = tdb_conninfo_get(ci, "application_name") != NULL;
    v = setting(ci, defaults, "connect_timeout", &name);
    if (v && int_value(v, &n) == 0 && n > 0)
        ci->host_timeout = n < 2 ? 2.0 : (double)n;   /* libpq's minimum is 2 s */
    v = setting(ci, defaults, "target_session_attrs", &name);
    ci->target = v ? (tdb_target)index_of(TARGETS, v, 0) : TDB_TARGET_ANY;
    rc = 0;

done:
    PQconninfoFree(opts);
    PQconninfoFree(defaults);
    if (rc != 0)
        tdb_conninfo_free(ci);
    return rc;
}

void tdb_conninfo_free(tdb_conninfo *ci)
{
    for (int i = 0; i < ci->nopts; i++) {
        if (strcmp(ci->keywords[i], "password") == 0)
            memset(ci->values[i], 0, strlen(ci->values[i]));
        free(ci->keywords[i]);
        free(ci->values[i]);
    }
    free(ci->keywords);
    free(ci->values);
    for (int i = 0; i < ci->nhosts; i++) {
        free(ci->hosts[i].host);
        free(ci->hosts[i].hostaddr);
        free(ci->hosts[i].port);
    }
    free(ci->hosts);
    memset(ci, 0, sizeof *ci);
}

/*
 * test_conninfo.c — reading a database URL before libpq does: hostile
 * passwords never reach a message (not even a piece of one), nothing else
 * in a message is masked, malformed options are config errors, and the
 * TLS default follows the loopback rule (a name is local only when it is
 * localhost).  No server needed.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conninfo.h"
#include "ctest.h"

/*
 * Passwords that break a URL when written raw: '@' and '/', a quote, '%'
 * not followed by hex digits, a space, and the characters of key=value
 * syntax.  Their pieces (runs of letters and digits) are what a parser
 * would spill into the host, port or an error message.
 */
static const char *const HOSTILE[] = {
    "Qx7@Zk9/Wm3Hy5",
    "Rt5\"Vb8%zzNm2 Lp4Kq",
    "Jh6'Gf3\\Dz1 Xc9=Ty2",
    "Ab3?Cd4#Ef5&Gh6=Ij7",
    "Mn8:Op9,Qr1[St2]",
    "Uv3%Wx4 %00Yz5",
};

/* 1 when no 3-character piece of a letter/digit run of pw occurs in msg. */
static int holds_no_piece(const char *msg, const char *pw)
{
    const char *p = pw;
    while (*p) {
        size_t run = 0;
        while (p[run] && isalnum((unsigned char)p[run]))
            run++;
        for (size_t i = 0; run >= 3 && i + 3 <= run; i++) {
            char piece[4];
            memcpy(piece, p + i, 3);
            piece[3] = '\0';
            if (strstr(msg, piece)) {
                printf("#   piece \"%s\" of the password is in: %s\n", piece, msg);
                return 0;
            }
        }
        p += run ? run : 1;
    }
    return 1;
}

/* Parses url: returns the result code, err filled; ci freed unless keep. */
static int parse(const char *url, tdb_conninfo *ci, tdb_error *err)
{
    tdb_error_clear(err);
    return tdb_conninfo_parse(url, ci, err);
}

static int config_error(const char *url, tdb_error *err)
{
    tdb_conninfo ci;
    int rc = parse(url, &ci, err);
    if (rc == 0)
        tdb_conninfo_free(&ci);
    return rc == -1 && err->kind == TDB_CONFIG;
}

/* Percent-encodes everything but unreserved characters. */
static void encode(char *out, size_t cap, const char *s)
{
    size_t n = 0;
    for (; *s && n + 4 < cap; s++) {
        if (isalnum((unsigned char)*s) || strchr("-._~", *s))
            out[n++] = *s;
        else
            n += (size_t)snprintf(out + n, cap - n, "%%%02X", (unsigned char)*s);
    }
    out[n] = '\0';
}

/* Quotes for key=value form: '...' with \' and \\. */
static void kv_quote(char *out, size_t cap, const char *s)
{
    size_t n = 0;
    out[n++] = '\'';
    for (; *s && n + 4 < cap; s++) {
        if (*s == '\'' || *s == '\\')
            out[n++] = '\\';
        out[n++] = *s;
    }
    out[n++] = '\'';
    out[n] = '\0';
}

static void test_hostile_passwords(void)
{
    char url[512], enc[256], name[200];
    tdb_conninfo ci;
    tdb_error err;

    for (size_t i = 0; i < sizeof HOSTILE / sizeof HOSTILE[0]; i++) {
        const char *pw = HOSTILE[i];
        int rc;

        /* Raw in a URI: refused, and the message holds no piece of it. */
        snprintf(url, sizeof url, "postgresql://someone:%s@127.0.0.1:1/db?sslmode=disable", pw);
        rc = parse(url, &ci, &err);
        if (rc == 0) {
            /* Some are valid as they stand (libpq reads them whole): then the password is exact. */
            snprintf(name, sizeof name, "URI, raw password %zu: read whole when valid", i);
            test_cond(name, ctest_streq(tdb_conninfo_get(&ci, "password"), pw) &&
                            ctest_streq(ci.hosts[0].host, "127.0.0.1") &&
                            ctest_streq(ci.hosts[0].port, "1") && ci.nhosts == 1);
            tdb_conninfo_free(&ci);
        } else {
            snprintf(name, sizeof name, "URI, raw password %zu: config error, no piece of it", i);
            test_cond(name, err.kind == TDB_CONFIG && holds_no_piece(err.message, pw));
        }

        /* Percent-encoded: valid, read back exactly. */
        encode(enc, sizeof enc, pw);
        snprintf(url, sizeof url, "postgresql://someone:%s@127.0.0.1:1/db", enc);
        rc = parse(url, &ci, &err);
        snprintf(name, sizeof name, "URI, encoded password %zu: valid and exact", i);
        test_cond(name, rc == 0 && ctest_streq(tdb_conninfo_get(&ci, "password"), pw) &&
                        ctest_streq(ci.hosts[0].host, "127.0.0.1"));
        if (rc == 0)
            tdb_conninfo_free(&ci);

        /* In the query string, raw. */
        snprintf(url, sizeof url, "postgresql://127.0.0.1:1/db?password=%s&sslmode=disable", pw);
        rc = parse(url, &ci, &err);
        snprintf(name, sizeof name, "URI query, raw password %zu: no piece in a message", i);
        test_cond(name, rc == 0 || (err.kind == TDB_CONFIG && holds_no_piece(err.message, pw)));
        if (rc == 0)
            tdb_conninfo_free(&ci);

        /* Raw in key=value form, first and last. */
        snprintf(url, sizeof url, "password=%s host=127.0.0.1 port=1 user=someone", pw);
        rc = parse(url, &ci, &err);
        snprintf(name, sizeof name, "key=value, raw password %zu first: no piece in a message", i);
        test_cond(name, rc == 0 || (err.kind == TDB_CONFIG && holds_no_piece(err.message, pw)));
        if (rc == 0)
            tdb_conninfo_free(&ci);
        snprintf(url, sizeof url, "host=127.0.0.1 port=1 user=someone password=%s", pw);
        rc = parse(url, &ci, &err);
        snprintf(name, sizeof name, "key=value, raw password %zu last: no piece in a message", i);
        test_cond(name, rc == 0 || (err.kind == TDB_CONFIG && holds_no_piece(err.message, pw)));
        if (rc == 0)
            tdb_conninfo_free(&ci);

        /* Quoted in key=value form: valid, exact. */
        kv_quote(enc, sizeof enc, pw);
        snprintf(url, sizeof url, "host=127.0.0.1 port=1 password=%s user=someone", enc);
        rc = parse(url, &ci, &err);
        snprintf(name, sizeof name, "key=value, quoted password %zu: valid and exact", i);
        test_cond(name, rc == 0 && ctest_streq(tdb_conninfo_get(&ci, "password"), pw) &&
                        ctest_streq(tdb_conninfo_get(&ci, "user"), "someone"));
        if (rc == 0)
            tdb_conninfo_free(&ci);
    }

    /* The two cases seen leaking: the pieces would have become host and port. */
    test_cond("Qx7@Zk9/Wm3Hy5 raw: refused before any host is looked up",
              config_error("postgresql://app:Qx7@Zk9/Wm3Hy5@127.0.0.1/db", &err) &&
              holds_no_piece(err.message, "Qx7@Zk9/Wm3Hy5") && ctest_contains(err.message, "%40"));
    test_cond("Qx7@Zk9/Wm3Hy5 raw, user only before it: refused",
              config_error("postgresql://Qx7@Zk9/Wm3Hy5@127.0.0.1:5432/db", &err) &&
              holds_no_piece(err.message, "Qx7@Zk9/Wm3Hy5"));
    test_cond("a password with '/' and no '@' after the host: refused (it would be the port)",
              config_error("postgresql://app:Qx7/Zk9@127.0.0.1/db", &err) &&
              holds_no_piece(err.message, "Qx7/Zk9"));
    test_cond("%zz in the password: refused without the token",
              config_error("postgresql://app:Qx7%zzZk9@127.0.0.1/db", &err) &&
              holds_no_piece(err.message, "Qx7zzZk9") && ctest_contains(err.message, "%25"));
    test_cond("an unterminated quoted password: refused without it",
              config_error("host=127.0.0.1 password='Qx7 Zk9", &err) &&
              holds_no_piece(err.message, "Qx7 Zk9") && ctest_contains(err.message, "quote"));
    test_cond("a password with a space, unquoted: the word after it is not quoted back",
              config_error("host=127.0.0.1 password=Qx7 Zk9 dbname=x", &err) &&
              holds_no_piece(err.message, "Qx7 Zk9") && ctest_contains(err.message, "single quotes"));
    test_cond("a password with a space whose tail looks like key=value: not quoted back",
              config_error("host=127.0.0.1 password=Qx7 Zk9=Wm3", &err) &&
              holds_no_piece(err.message, "Qx7 Zk9=Wm3"));
    test_cond("a query password with '&': the tail is not quoted back",
              config_error("postgresql://h/db?password=Qx7&Zk9Wm3&sslmode=disable", &err) &&
              holds_no_piece(err.message, "Qx7&Zk9Wm3"));
    test_cond("a query password with '&' and '=': the tail is not quoted back",
              config_error("postgresql://h/db?password=Qx7&Zk9=Wm3", &err) &&
              holds_no_piece(err.message, "Qx7&Zk9=Wm3"));
    test_cond("a URI given as dbname in key=value form: refused (the server would quote it)",
              config_error("dbname=postgresql://u:Qx7Zk9@h/db", &err) &&
              holds_no_piece(err.message, "Qx7Zk9"));
    test_cond("a JDBC URL: refused as an unknown scheme, nothing quoted",
              config_error("jdbc:postgresql://u:Qx7Zk9@h/db?ssl=true", &err) &&
              holds_no_piece(err.message, "Qx7Zk9") && ctest_contains(err.message, "postgresql://"));
}

/* Messages name what is wrong; what is not a password is not masked. */
static void test_messages(void)
{
    tdb_error err;
    test_cond("unknown keyword before any password: named",
              config_error("host=h nosuchoption=1 password=s", &err) &&
              ctest_contains(err.message, "\"nosuchoption\""));
    test_cond("unknown URI parameter: named",
              config_error("postgresql://u:s@h/db?nosuchoption=1", &err) &&
              ctest_contains(err.message, "\"nosuchoption\""));
    test_cond("unknown keyword after the password: not named (it may be a piece of it)",
              config_error("host=h password=s nosuchoption=1", &err) &&
              !ctest_contains(err.message, "nosuchoption"));
    test_cond("a word without '=': named when nothing secret came before",
              config_error("host=h hostx", &err) && ctest_contains(err.message, "\"hostx\""));
    test_cond("an unterminated IPv6 host: said so",
              config_error("postgresql://u:s@[::1/db", &err) && ctest_contains(err.message, "']'"));
    test_cond("an empty URL: said so", config_error("", &err) && ctest_contains(err.message, "empty"));
    test_cond("blanks only: said so", config_error(" \t ", &err) && ctest_contains(err.message, "empty"));
    test_cond("a bare word: neither URI nor key=value",
              config_error("mydb", &err) && ctest_contains(err.message, "key=value"));
    test_cond("an unknown scheme", config_error("mysql://h/db", &err) &&
              ctest_contains(err.message, "postgresql://"));
    test_cond("messages start with what they are about",
              config_error("postgresql://h/db?sslmode=bogus", &err) &&
              strncmp(err.message, "invalid database URL: ", 22) == 0);
}

static void test_option_values(void)
{
    static const struct { const char *url, *names; } bad[] = {
        { "postgresql://h/db?sslmode=bogus", "sslmode" },
        { "host=h sslmode=bogus", "sslmode" },
        { "postgresql://h:notaport/db", "port" },
        { "host=h port=notaport", "port" },
        { "host=h port=0", "port" },
        { "host=h port=65536", "port" },
        { "postgresql://h:5432,h2:x/db", "port" },
        { "host=a,b,c port=1,2", "port" },
        { "host=a,b hostaddr=127.0.0.1", "hostaddr" },
        { "hostaddr=db.example.com", "hostaddr" },
        { "postgresql://h/db?target_session_attrs=bogus", "target_session_attrs" },
        { "host=h gssencmode=bogus", "gssencmode" },
        { "host=h channel_binding=bogus", "channel_binding" },
        { "host=h connect_timeout=soon", "connect_timeout" },
        { "host=h keepalives_idle=x", "keepalives_idle" },
        { "host=h ssl_min_protocol_version=TLSv9", "ssl_min_protocol_version" },
        { "postgresql://USER:PASSWORD@HOST/DB?sslmode=require", "placeholder" },
    };
    static const char *const good[] = {
        "postgresql://h/db?sslmode=verify-full", "host=h port=5432", "host=a,b port=1,2",
        "host=a,b port=7", "postgresql://h1:1,h2:2/db?target_session_attrs=read-write",
        "host=h ssl_min_protocol_version=tlsv1.2", "host=h connect_timeout=10",
        "hostaddr=127.0.0.1,::1", "postgresql://h/db?ssl=true", "host=h dbname=a=b",
        "postgresql://u:p@h/db?application_name=a%40b", "host=host",
    };
    char name[200];
    tdb_error err;
    tdb_conninfo ci;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(name, sizeof name, "refused as config, naming %s: %s", bad[i].names, bad[i].url);
        test_cond(name, config_error(bad[i].url, &err) && ctest_contains(err.message, bad[i].names));
    }
    test_cond("the bogus value itself is not quoted",
              config_error("host=h sslmode=bogusvalue", &err) && !ctest_contains(err.message, "bogusvalue"));
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        int rc = parse(good[i], &ci, &err);
        snprintf(name, sizeof name, "accepted: %s", good[i]);
        test_cond(name, rc == 0);
        if (rc == 0)
            tdb_conninfo_free(&ci);
    }
    /* The environment's values are libpq's too: checked alike, named by their variable. */
    setenv("PGSSLMODE", "bogus", 1);
    test_cond("PGSSLMODE=bogus: config, naming PGSSLMODE",
              config_error("host=h", &err) && ctest_contains(err.message, "PGSSLMODE"));
    test_cond("PGSSLMODE=bogus but the URL's sslmode wins: accepted",
              parse("host=h sslmode=require", &ci, &err) == 0);
    if (err.kind == TDB_OK)
        tdb_conninfo_free(&ci);
    unsetenv("PGSSLMODE");
    setenv("PGPORT", "notaport", 1);
    test_cond("PGPORT=notaport: config, naming PGPORT",
              config_error("host=h", &err) && ctest_contains(err.message, "PGPORT"));
    unsetenv("PGPORT");

    if (parse("postgresql://h/db?ssl=true", &ci, &err) == 0) {
        test_cond("ssl=true is libpq's sslmode=require", ctest_streq(tdb_conninfo_get(&ci, "sslmode"), "require"));
        tdb_conninfo_free(&ci);
    }
}

static void test_hosts(void)
{
    tdb_conninfo ci;
    tdb_error err;

    if (parse("postgresql://u:p@[::1]:5432,db.example.com:5433,%2Ftmp%2Fsock/db?connect_timeout=1&"
              "target_session_attrs=read-write", &ci, &err) == 0) {
        test_cond("hosts: three, in order, with their ports",
                  ci.nhosts == 3 && ctest_streq(ci.hosts[0].host, "::1") &&
                  ctest_streq(ci.hosts[0].port, "5432") && ctest_streq(ci.hosts[1].host, "db.example.com") &&
                  ctest_streq(ci.hosts[1].port, "5433") && ctest_streq(ci.hosts[2].host, "/tmp/sock") &&
                  ci.hosts_listed);
        test_cond("hosts: the URL's connect_timeout, at least libpq's 2 s", ci.host_timeout == 2.0);
        test_cond("hosts: target_session_attrs read", ci.target == TDB_TARGET_READ_WRITE);
        tdb_conninfo_free(&ci);
    } else {
        test_cond("hosts: a multi-host URI parses", 0);
    }
    if (parse("host=a,b port=6543 connect_timeout=7", &ci, &err) == 0) {
        test_cond("hosts: one port for all", ci.nhosts == 2 && ctest_streq(ci.hosts[1].port, "6543") &&
                  ci.host_timeout == 7.0 && ci.target == TDB_TARGET_ANY);
        tdb_conninfo_free(&ci);
    } else {
        test_cond("hosts: a key=value host list parses", 0);
    }
    if (parse("dbname=x", &ci, &err) == 0) {
        test_cond("hosts: none given is one default (socket) host, not listed",
                  ci.nhosts == 1 && ci.hosts[0].host[0] == '\0' && !ci.hosts_listed && !ci.remote);
        tdb_conninfo_free(&ci);
    } else {
        test_cond("hosts: dbname alone parses", 0);
    }
}

/* The TLS default: remote unless every host is a socket, loopback, or named localhost. */
static void test_remote(void)
{
    static const struct { const char *url; int remote; } cases[] = {
        { "host=127.example.com hostaddr=127.0.0.1", 1 },
        { "host=127.0.0.1.nip.io", 1 },
        { "host=127.evil.example", 1 },
        { "host=localhost.example.com", 1 },
        { "host=localhost hostaddr=10.0.0.1", 1 },
        { "host=db.example.com", 1 },
        { "host=localhost,db.example.com", 1 },
        { "host=10.1.2.3", 1 },
        { "host=::2", 1 },
        { "host=localhost", 0 },
        { "host=LocalHost", 0 },
        { "host=127.0.0.1", 0 },
        { "host=127.255.0.9", 0 },
        { "host=::1", 0 },
        { "host=::ffff:127.0.0.1", 0 },
        { "hostaddr=127.0.0.1", 0 },
        { "host=localhost hostaddr=127.0.0.1", 0 },
        { "host=/var/run/postgresql", 0 },
        { "host=@abstract", 0 },
        { "dbname=x", 0 },
        { "postgresql://[::1]:5432/db", 0 },
        { "postgresql:///db?host=/tmp", 0 },
        { "postgresql://localhost,127.0.0.2/db", 0 },
    };
    char name[200];
    tdb_conninfo ci;
    tdb_error err;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = parse(cases[i].url, &ci, &err);
        snprintf(name, sizeof name, "TLS default: %s is %s", cases[i].url,
                 cases[i].remote ? "remote" : "local");
        test_cond(name, rc == 0 && ci.remote == cases[i].remote);
        if (rc == 0)
            tdb_conninfo_free(&ci);
    }
    setenv("PGHOST", "db.example.com", 1);
    if (parse("dbname=x", &ci, &err) == 0) {
        test_cond("TLS default: PGHOST counts when the URL names no host", ci.remote == 1);
        tdb_conninfo_free(&ci);
    }
    unsetenv("PGHOST");
}

int main(void)
{
    static const char *const libpq_env[] = {
        "PGHOST", "PGHOSTADDR", "PGPORT", "PGSSLMODE", "PGCONNECT_TIMEOUT",
        "PGTARGETSESSIONATTRS", "PGSERVICE", "PGDATABASE", "PGUSER", "PGPASSWORD",
    };
    for (size_t i = 0; i < sizeof libpq_env / sizeof libpq_env[0]; i++)
        unsetenv(libpq_env[i]);
    test_hostile_passwords();
    test_messages();
    test_option_values();
    test_hosts();
    test_remote();
    return test_report();
}

/*
 * test_config.c — where DATABASE_URL comes from: dotenv parsing rules, and
 * the environment winning over the file.  Files live in a private mkdtemp
 * directory that is removed at the end.
 */
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "ctest.h"

static char dir[PATH_MAX];
static char envfile[PATH_MAX];

static void write_env(const char *text)
{
    FILE *f = fopen(envfile, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
        perror(envfile);
        exit(2);
    }
}

/* Writes text as the dotenv file, looks key up; *value gets a copy (or NULL). */
static int lookup(const char *text, const char *key, char **value, tdb_error *err)
{
    write_env(text);
    tdb_error_clear(err);
    return tdb_dotenv_get(envfile, key, value, err);
}

/* 1 when the file text gives key exactly the expected value. */
static int gives(const char *text, const char *key, const char *expected)
{
    tdb_error err;
    char *value = NULL;
    int rc = lookup(text, key, &value, &err);
    int ok = rc == 1 && value && strcmp(value, expected) == 0;
    if (!ok)
        printf("#   %s -> rc %d, value [%s]\n", key, rc, value ? value : "(null)");
    free(value);
    return ok;
}

static void test_dotenv(void)
{
    tdb_error err;
    char *value = (char *)"untouched";
    int rc;

    test_cond("dotenv: plain KEY=value",
              gives("DATABASE_URL=postgresql://u@h/db\n", "DATABASE_URL", "postgresql://u@h/db"));
    test_cond("dotenv: no trailing newline", gives("K=v", "K", "v"));
    test_cond("dotenv: export prefix", gives("export K=exported\n", "K", "exported"));
    test_cond("dotenv: export with a tab and leading blanks", gives("  export\tK=x\n", "K", "x"));
    test_cond("dotenv: single quotes are literal",
              gives("K='a b # c \\n \"q\"'\n", "K", "a b # c \\n \"q\""));
    test_cond("dotenv: double quotes honour \\n \\\" \\\\",
              gives("K=\"line1\\nsaid \\\"hi\\\" back\\\\slash\"\n", "K", "line1\nsaid \"hi\" back\\slash"));
    test_cond("dotenv: a quoted value keeps its spaces and #", gives("K=\"  a # b  \"\n", "K", "  a # b  "));
    test_cond("dotenv: a comment after a quoted value", gives("K='v' # note\n", "K", "v"));
    test_cond("dotenv: # comment lines skipped", gives("# K=wrong\nK=right\n#K=wrong2\n", "K", "right"));
    test_cond("dotenv: inline comment after a space", gives("K=value # a comment\n", "K", "value"));
    test_cond("dotenv: inline comment after a tab", gives("K=value\t# a comment\n", "K", "value"));
    test_cond("dotenv: # without a space before it is part of the value",
              gives("K=pass#word\n", "K", "pass#word"));
    test_cond("dotenv: blank lines and white-space lines skipped",
              gives("\n   \n\t\nK=after-blanks\n\n", "K", "after-blanks"));
    test_cond("dotenv: surrounding blanks trimmed", gives("K=  padded  \n", "K", "padded"));
    test_cond("dotenv: CRLF line endings", gives("A=1\r\nK=crlf\r\n", "K", "crlf"));
    test_cond("dotenv: the last assignment wins", gives("K=first\nK=second\nexport K=third\n", "K", "third"));
    test_cond("dotenv: an empty value is found and empty", gives("K=\n", "K", ""));
    test_cond("dotenv: a longer key with the same prefix is another key",
              gives("K_OTHER=no\nK=yes\nKK=no\n", "K", "yes"));
    test_cond("dotenv: a value may contain =", gives("K=a=b=c\n", "K", "a=b=c"));
    test_cond("dotenv: a malformed line for another key is ignored", gives("OTHER='open\nK=v\n", "K", "v"));

    rc = lookup("A=1\nB=2\n", "K", &value, &err);
    test_cond("dotenv: missing key gives 0 and NULL", rc == 0 && value == NULL);
    rc = lookup("K_SUFFIX=1\n", "K", &value, &err);
    test_cond("dotenv: only a longer key gives 0", rc == 0 && value == NULL);

    value = (char *)"untouched";
    tdb_error_clear(&err);
    {
        char missing[PATH_MAX + 16];
        snprintf(missing, sizeof missing, "%s/does-not-exist.env", dir);
        rc = tdb_dotenv_get(missing, "K", &value, &err);
    }
    test_cond("dotenv: missing file gives 0 and NULL, no error", rc == 0 && value == NULL && err.kind == TDB_OK);

    rc = lookup("K='unterminated\n", "K", &value, &err);
    test_cond("dotenv: unterminated single quote gives -1 with TDB_CONFIG",
              rc == -1 && value == NULL && err.kind == TDB_CONFIG && ctest_contains(err.message, "quote"));
    test_cond("dotenv: the error names the file and line", ctest_contains(err.message, envfile) &&
              ctest_contains(err.message, "line 1"));
    rc = lookup("A=1\n\nK=\"unterminated\\\"\n", "K", &value, &err);
    test_cond("dotenv: unterminated double quote gives -1 with TDB_CONFIG",
              rc == -1 && value == NULL && err.kind == TDB_CONFIG && ctest_contains(err.message, "line 3"));
    rc = lookup("K=good\nK='bad\n", "K", &value, &err);
    test_cond("dotenv: a bad later assignment fails, nothing leaks", rc == -1 && value == NULL);
}

/* Lines of any length: a long comment is one line, whatever its tail says. */
static void test_long_lines(void)
{
    size_t pad = 3 * 8192 + 100;
    size_t cap = pad + 256;
    char *text = malloc(cap), *value = NULL;
    tdb_error err;
    int rc;

    if (!text) {
        test_cond("long lines: memory", 0);
        return;
    }
    /*
     * A real value, then a commented-out one at the end of a long comment;
     * 8189 + "# " puts the tail right where an 8 KB buffer would split.
     */
    for (size_t fill = 8189; fill <= pad; fill += pad - 8189) {
        size_t head = strlen("DATABASE_URL=postgresql://right@h/db\n# ");
        strcpy(text, "DATABASE_URL=postgresql://right@h/db\n# ");
        memset(text + head, 'x', fill);
        strcpy(text + head + fill, "DATABASE_URL=postgresql://commented-out@h/db\n");
        rc = lookup(text, "DATABASE_URL", &value, &err);
        test_cond(fill == 8189 ? "long lines: a comment split at 8 KB stays a comment"
                               : "long lines: a 24 KB comment ending in DATABASE_URL=... stays a comment",
                  rc == 1 && ctest_streq(value, "postgresql://right@h/db"));
        free(value);
        value = NULL;
    }

    /* A value longer than any fixed buffer is read whole. */
    strcpy(text, "K=");
    memset(text + 2, 'v', pad);
    strcpy(text + 2 + pad, "\n");
    rc = lookup(text, "K", &value, &err);
    test_cond("long lines: a 24 KB value is read whole", rc == 1 && value && strlen(value) == pad);
    free(value);
    free(text);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Files that exist but cannot be read say so, at once.  Each lookup runs in
 * a child with an alarm, so a lookup that blocks (a FIFO with no writer)
 * fails the test instead of hanging the suite.  As root the child reads as
 * `nobody`, for whom a mode-000 file is unreadable.
 */
static int lookup_in_child(const char *path, int as_nobody, char *msg, size_t cap)
{
    int fds[2], status = 0;
    ssize_t n;
    pid_t pid;
    if (pipe(fds) != 0)
        return -9;
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        tdb_error err;
        char *value = NULL;
        int rc;
        close(fds[0]);
        alarm(3);
        if (as_nobody && geteuid() == 0) {
            struct passwd *pw = getpwnam("nobody");
            if (!pw || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0)
                _exit(90);
        }
        tdb_error_clear(&err);
        rc = tdb_dotenv_get(path, "DATABASE_URL", &value, &err);
        if (write(fds[1], err.message, strlen(err.message)) < 0)
            _exit(91);
        free(value);
        _exit(rc == -1 && err.kind == TDB_CONFIG ? 0 : 10 + rc);
    }
    close(fds[1]);
    n = read(fds[0], msg, cap - 1);
    msg[n > 0 ? n : 0] = '\0';
    close(fds[0]);
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return -9;
    if (WIFSIGNALED(status))
        return -WTERMSIG(status);
    return WEXITSTATUS(status);
}

static void test_unreadable(void)
{
    char path[PATH_MAX + 32], msg[TDB_MESSAGE_MAX];
    tdb_error err;
    char *url;
    double t0;
    int rc;

    snprintf(path, sizeof path, "%s/fifo.env", dir);
    if (mkfifo(path, 0600) != 0) {
        test_cond("unreadable: mkfifo", 0);
    } else {
        t0 = now_s();
        rc = lookup_in_child(path, 0, msg, sizeof msg);
        test_cond("unreadable: a FIFO with no writer is a config error at once, not a hang",
                  rc == 0 && now_s() - t0 < 2.0);
        test_cond("unreadable: the FIFO message says it is not a regular file",
                  ctest_contains(msg, "not a regular file") && ctest_contains(msg, path));
        unlink(path);
    }

    snprintf(path, sizeof path, "%s/dir.env", dir);
    if (mkdir(path, 0700) != 0) {
        test_cond("unreadable: mkdir", 0);
    } else {
        rc = lookup_in_child(path, 0, msg, sizeof msg);
        test_cond("unreadable: a directory is a config error saying so",
                  rc == 0 && ctest_contains(msg, "is a directory") && ctest_contains(msg, path));
        rmdir(path);
    }

    snprintf(path, sizeof path, "%s/locked.env", dir);
    {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0000);
        if (fd < 0 || write(fd, "DATABASE_URL=postgresql://h/db\n", 31) != 31 || close(fd) != 0) {
            test_cond("unreadable: create a mode-000 file", 0);
        } else {
            /* nobody must reach the directory to meet the file's own mode */
            chmod(dir, 0711);
            rc = lookup_in_child(path, 1, msg, sizeof msg);
            chmod(dir, 0700);
            test_cond("unreadable: a file without read permission is a config error saying so",
                      rc == 0 && ctest_contains(msg, "Permission denied") && ctest_contains(msg, path));
        }
        unlink(path);
    }

    snprintf(path, sizeof path, "%s/dir2.env", dir);
    mkdir(path, 0700);
    unsetenv("DATABASE_URL");
    tdb_error_clear(&err);
    url = tdb_config_database_url(path, &err);
    test_cond("unreadable: DATABASE_URL from a directory is not 'not set' but what is wrong",
              url == NULL && err.kind == TDB_CONFIG && ctest_contains(err.message, "directory") &&
              !ctest_contains(err.message, "not set"));
    free(url);
    rmdir(path);
}

static void test_database_url(void)
{
    tdb_error err;
    char *url;
    char cwd[PATH_MAX];

    write_env("DATABASE_URL=postgresql://file@h/db\n");
    setenv("DATABASE_URL", "postgresql://env@h/db", 1);
    tdb_error_clear(&err);
    url = tdb_config_database_url(envfile, &err);
    test_cond("database_url: the environment wins over the file", ctest_streq(url, "postgresql://env@h/db"));
    free(url);

    unsetenv("DATABASE_URL");
    url = tdb_config_database_url(envfile, &err);
    test_cond("database_url: the file when the environment has none", ctest_streq(url, "postgresql://file@h/db"));
    free(url);

    write_env("OTHER=1\n");
    tdb_error_clear(&err);
    url = tdb_config_database_url(envfile, &err);
    test_cond("database_url: a file without the key is TDB_CONFIG", url == NULL && err.kind == TDB_CONFIG);
    test_cond("database_url: the message says what to do (DATABASE_URL, .env)",
              ctest_contains(err.message, "DATABASE_URL") && ctest_contains(err.message, ".env"));

    write_env("DATABASE_URL='oops\n");
    tdb_error_clear(&err);
    url = tdb_config_database_url(envfile, &err);
    test_cond("database_url: a malformed file is TDB_CONFIG", url == NULL && err.kind == TDB_CONFIG);

    /* The default path is ./.env: run from the empty directory. */
    if (!getcwd(cwd, sizeof cwd) || chdir(dir) != 0) {
        test_cond("database_url: chdir into the temporary directory", 0);
        return;
    }
    unlink(envfile);
    tdb_error_clear(&err);
    url = tdb_config_database_url(NULL, &err);
    test_cond("database_url: neither environment nor ./.env is TDB_CONFIG", url == NULL && err.kind == TDB_CONFIG);
    test_cond("database_url: that message mentions DATABASE_URL and .env",
              ctest_contains(err.message, "DATABASE_URL") && ctest_contains(err.message, ".env"));
    write_env("export DATABASE_URL=\"postgresql://dot@h/db\"\n");
    url = tdb_config_database_url(NULL, &err);
    test_cond("database_url: ./.env is read by default", ctest_streq(url, "postgresql://dot@h/db"));
    free(url);
    if (chdir(cwd) != 0)
        perror(cwd);
}

int main(void)
{
    char *saved = getenv("DATABASE_URL") ? strdup(getenv("DATABASE_URL")) : NULL;

    snprintf(dir, sizeof dir, "%s/taskdb-ctest-config.XXXXXX",
             getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 2;
    }
    snprintf(envfile, sizeof envfile, "%s/.env", dir);
    unsetenv("DATABASE_URL");

    test_dotenv();
    test_long_lines();
    test_unreadable();
    test_database_url();

    unlink(envfile);
    if (rmdir(dir) != 0)
        perror(dir);
    if (saved) {
        setenv("DATABASE_URL", saved, 1);
        free(saved);
    }
    return test_report();
}

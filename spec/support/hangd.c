/*
 * hangd: a TCP server that accepts connections and never answers.
 *
 * The specs point connect_timeout and statement handling at it to prove that
 * a hung server cannot hang the caller.  Usage: hangd PORT_FILE.  It binds
 * 127.0.0.1 on an ephemeral port, writes the port number to PORT_FILE
 * (atomically, so a poller never reads half a number), then accepts forever
 * and keeps every accepted socket open without reading or writing.  It exits
 * on SIGTERM/SIGINT/SIGHUP and by itself after 600 s, so a test run that dies
 * without cleaning up leaves nothing behind for long.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define HANGD_LIFETIME 600 /* seconds */

static void die(const char *what)
{
    fprintf(stderr, "hangd: %s: %s\n", what, strerror(errno));
    exit(1);
}

/* Write via a temporary name and rename(2) so readers see all or nothing. */
static void write_port_file(const char *path, unsigned port)
{
    char tmp[4096];
    FILE *f;

    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        die(path);
    }
    f = fopen(tmp, "w");
    if (f == NULL)
        die(tmp);
    fprintf(f, "%u\n", port);
    if (fclose(f) != 0)
        die(tmp);
    if (rename(tmp, path) != 0)
        die(path);
}

int main(int argc, char **argv)
{
    struct sockaddr_in addr;
    socklen_t len = sizeof addr;
    int fd;

    if (argc != 2) {
        fprintf(stderr, "usage: hangd PORT_FILE\n");
        return 2;
    }

    /* A shell starts background jobs with SIGINT ignored; undo that, and
     * let SIGALRM end us after the lifetime. */
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    signal(SIGALRM, SIG_DFL);
    signal(SIGPIPE, SIG_IGN);
    alarm(HANGD_LIFETIME);

    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket");
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0)
        die("bind");
    if (listen(fd, 128) != 0)
        die("listen");
    if (getsockname(fd, (struct sockaddr *)&addr, &len) != 0)
        die("getsockname");

    write_port_file(argv[1], ntohs(addr.sin_port));

    /* Accepted sockets are deliberately never closed: the peer must see an
     * open, silent connection.  At the descriptor limit, pause instead of
     * spinning; the backlog still completes handshakes meanwhile. */
    for (;;) {
        int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
                errno == ENOMEM) {
                sleep(1);
                continue;
            }
            die("accept");
        }
    }
}

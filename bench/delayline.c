/*
 * delayline — a TCP proxy on loopback that behaves like a network link:
 * every chunk of data is held for half the round trip in its own
 * direction, and counts the round trips that cross it.
 *
 *   delayline -u UPSTREAM -r RTT_MS [-l PORT] [-p PORTFILE] [-s STATSFILE]
 *
 *   UPSTREAM   host:port of the server (TCP), or the path of a Unix socket
 *              (e.g. /tmp/sock/.s.PGSQL.5432)
 *   -r RTT_MS  the round trip; each direction is delayed by RTT_MS / 2
 *   -l PORT    listen on 127.0.0.1:PORT (default 0: any free port)
 *   -p FILE    write the port there once listening (atomically)
 *   -s FILE    the counters, kept current in a memory-mapped text file
 *
 * The delay.  Each chunk read is stamped with the time it was read and
 * released to the other side at that time plus the one-way delay, never
 * later because another chunk is waiting: a burst of pipelined statements
 * crosses in one delay, and answers flow back while later requests are
 * still in flight, as on a real link.  Bandwidth is not limited.  The TCP
 * handshake itself is not delayed (the kernel completes it before the
 * proxy sees the connection): a real link adds one more round trip to
 * each new connection.
 *
 * The counters (one "name value" line each, fixed width):
 *   connections     connections accepted
 *   round_trips     server turns: the first data the server sends after
 *                   it was given client data since its previous turn.  A
 *                   request answered by many chunks (a large result, a
 *                   pipeline's results) counts once; data the server sends
 *                   on its own (a FATAL on shutdown) counts nothing; a
 *                   message nobody answers (Terminate) counts nothing.
 *                   This is "how many times did the client have to wait
 *                   for the other side of the link".
 *   client_flights  client turns: client data read after the client was
 *                   given server data (or the connection's first)
 *   bytes_up, bytes_down   client->server and server->client bytes
 *   chunks_up, chunks_down reads that brought them (each delayed on its own)
 * The file is updated before the data that changed it is released, so a
 * reader that has seen a call's answer also sees that call counted.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define CHUNK 65536
#define MAX_CONNS 256

typedef struct chunk {
    struct chunk *next;
    int64_t release;        /* monotonic ns */
    size_t len, off;
    char data[];
} chunk;

/* One direction of a connection: data read from `from`, written to `to`. */
typedef struct pipe_dir {
    int from, to;
    chunk *head, *tail;
    int eof;                /* `from` reached EOF (or failed) */
    int shut;               /* `to` was shut down for writing */
    int blocked;            /* `to` would block: wait for POLLOUT */
} pipe_dir;

typedef struct conn {
    pipe_dir up, down;      /* client->server, server->client */
    int given_up;           /* client data reached the server since its last turn */
    int given_down;         /* server data reached the client since its last turn */
    int client_started;
} conn;

static struct {
    unsigned long long connections, round_trips, client_flights, bytes_up, bytes_down;
    unsigned long long chunks_up, chunks_down;
} stats;
static char *stats_map;
static size_t stats_size;
static double rtt_ms;

static conn *conns[MAX_CONNS];
static int64_t one_way;     /* ns */

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *what)
{
    fprintf(stderr, "delayline: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void usage(void)
{
    fprintf(stderr, "usage: delayline -u HOST:PORT|SOCKET_PATH -r RTT_MS [-l PORT] "
                    "[-p PORTFILE] [-s STATSFILE]\n");
    exit(2);
}

static int format_stats(char *buf, size_t cap)
{
    return snprintf(buf, cap,
                    "connections %20llu\nround_trips %20llu\nclient_flights %20llu\n"
                    "bytes_up %20llu\nbytes_down %20llu\nchunks_up %20llu\nchunks_down %20llu\n"
                    "rtt_ms %20.3f\n",
                    stats.connections, stats.round_trips, stats.client_flights,
                    stats.bytes_up, stats.bytes_down, stats.chunks_up, stats.chunks_down, rtt_ms);
}

/* Fixed width: the file never changes size, so the map is rewritten in place. */
static void publish(void)
{
    char buf[512];
    int n;
    if (!stats_map)
        return;
    n = format_stats(buf, sizeof buf);
    if (n > 0 && (size_t)n <= stats_size)
        memcpy(stats_map, buf, (size_t)n);
}

static void open_stats(const char *path)
{
    char buf[512];
    int n = format_stats(buf, sizeof buf);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        die(path);
    if (write(fd, buf, (size_t)n) != n)
        die(path);
    stats_size = (size_t)n;
    stats_map = mmap(NULL, stats_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (stats_map == MAP_FAILED)
        die("mmap");
    close(fd);
}

static void set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void set_nodelay(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* A blocking connect to the server (local: immediate); -1 if it refuses. */
static int connect_upstream(const char *target)
{
    int fd = -1;
    if (target[0] == '/') {
        struct sockaddr_un sun;
        memset(&sun, 0, sizeof sun);
        sun.sun_family = AF_UNIX;
        if (strlen(target) >= sizeof sun.sun_path)
            return -1;
        strcpy(sun.sun_path, target);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof sun) != 0) {
            if (fd >= 0)
                close(fd);
            return -1;
        }
    } else {
        char host[256];
        const char *colon = strrchr(target, ':');
        struct addrinfo hints, *res = NULL, *ai;
        if (!colon || (size_t)(colon - target) >= sizeof host)
            return -1;
        memcpy(host, target, (size_t)(colon - target));
        host[colon - target] = '\0';
        memset(&hints, 0, sizeof hints);
        hints.ai_socktype = SOCK_STREAM;
        if (getaddrinfo(host, colon + 1, &hints, &res) != 0)
            return -1;
        for (ai = res; ai; ai = ai->ai_next) {
            fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
            if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
                break;
            if (fd >= 0)
                close(fd);
            fd = -1;
        }
        freeaddrinfo(res);
        if (fd < 0)
            return -1;
        set_nodelay(fd);
    }
    set_nonblock(fd);
    return fd;
}

static void free_queue(pipe_dir *d)
{
    while (d->head) {
        chunk *c = d->head;
        d->head = c->next;
        free(c);
    }
    d->tail = NULL;
}

static void close_conn(int i)
{
    conn *c = conns[i];
    free_queue(&c->up);
    free_queue(&c->down);
    close(c->up.from);
    close(c->up.to);
    free(c);
    conns[i] = NULL;
}

static void accept_one(int lfd, const char *target)
{
    int cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    int sfd, slot = -1;
    conn *c;
    if (cfd < 0)
        return;
    for (int i = 0; i < MAX_CONNS; i++)
        if (!conns[i]) {
            slot = i;
            break;
        }
    if (slot < 0 || (sfd = connect_upstream(target)) < 0) {
        close(cfd);
        return;
    }
    set_nodelay(cfd);
    c = calloc(1, sizeof *c);
    if (!c) {
        close(cfd);
        close(sfd);
        return;
    }
    c->up.from = cfd;
    c->up.to = sfd;
    c->down.from = sfd;
    c->down.to = cfd;
    conns[slot] = c;
    stats.connections++;
    publish();
}

/* Reads what `from` has, stamped with its release time; counts turns. */
static void read_side(conn *c, pipe_dir *d, int is_up, int64_t now)
{
    static char buf[CHUNK];
    for (;;) {
        ssize_t n = recv(d->from, buf, sizeof buf, 0);
        chunk *k;
        if (n <= 0) {
            if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
                d->eof = 1;
            return;
        }
        if (!(k = malloc(sizeof *k + (size_t)n))) {
            fprintf(stderr, "delayline: out of memory\n");
            exit(1);
        }
        memcpy(k->data, buf, (size_t)n);
        k->next = NULL;
        k->len = (size_t)n;
        k->off = 0;
        k->release = now + one_way;
        if (d->tail)
            d->tail->next = k;
        else
            d->head = k;
        d->tail = k;
        if (is_up) {
            stats.bytes_up += (unsigned long long)n;
            stats.chunks_up++;
            if (c->given_down || !c->client_started) {
                stats.client_flights++;
                c->given_down = 0;
                c->client_started = 1;
            }
        } else {
            stats.bytes_down += (unsigned long long)n;
            stats.chunks_down++;
            if (c->given_up) {
                stats.round_trips++;
                c->given_up = 0;
            }
        }
        publish();
        if ((size_t)n < sizeof buf)
            return;
    }
}

/* Writes every chunk whose time has come; stops when `to` would block. */
static void release_due(conn *c, pipe_dir *d, int is_up, int64_t now)
{
    d->blocked = 0;
    while (d->head && d->head->release <= now) {
        chunk *k = d->head;
        ssize_t n = send(d->to, k->data + k->off, k->len - k->off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                d->blocked = 1;
                return;
            }
            if (errno == EINTR)
                continue;
            free_queue(d);      /* the other side is gone: the data has nowhere to go */
            d->eof = 1;
            return;
        }
        if (is_up)
            c->given_up = 1;
        else
            c->given_down = 1;
        k->off += (size_t)n;
        if (k->off < k->len) {
            d->blocked = 1;
            return;
        }
        d->head = k->next;
        if (!d->head)
            d->tail = NULL;
        free(k);
    }
    /* All delivered after EOF: pass the EOF on. */
    if (d->eof && !d->head && !d->shut) {
        shutdown(d->to, SHUT_WR);
        d->shut = 1;
    }
}

static volatile sig_atomic_t stop;
static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static int listen_on(int port)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof sin;
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket");
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = htons((uint16_t)port);
    if (bind(fd, (struct sockaddr *)&sin, sizeof sin) != 0 || listen(fd, 64) != 0)
        die("listen");
    if (getsockname(fd, (struct sockaddr *)&sin, &len) != 0)
        die("getsockname");
    set_nonblock(fd);
    return fd;
}

static void write_port_file(const char *path, int port)
{
    char tmp[4096];
    FILE *f;
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (!(f = fopen(tmp, "w")) || fprintf(f, "%d\n", port) < 0 || fclose(f) != 0 ||
        rename(tmp, path) != 0)
        die(path);
}

int main(int argc, char **argv)
{
    const char *target = NULL, *portfile = NULL, *statsfile = NULL;
    int port = 0, opt, lfd;
    struct sockaddr_in sin;
    socklen_t slen = sizeof sin;
    struct sigaction sa;

    while ((opt = getopt(argc, argv, "u:r:l:p:s:")) != -1) {
        switch (opt) {
        case 'u': target = optarg; break;
        case 'r': rtt_ms = strtod(optarg, NULL); break;
        case 'l': port = atoi(optarg); break;
        case 'p': portfile = optarg; break;
        case 's': statsfile = optarg; break;
        default: usage();
        }
    }
    if (!target || !(rtt_ms >= 0) || port < 0 || port > 65535)
        usage();
    one_way = (int64_t)(rtt_ms * 1e6 / 2);
    /* Timers fire within a microsecond or so, not the default 50 us of slack. */
    prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (statsfile)
        open_stats(statsfile);
    lfd = listen_on(port);
    if (getsockname(lfd, (struct sockaddr *)&sin, &slen) != 0)
        die("getsockname");
    port = ntohs(sin.sin_port);
    if (portfile)
        write_port_file(portfile, port);
    fprintf(stderr, "delayline: 127.0.0.1:%d -> %s, round trip %.3f ms (%.3f ms each way)\n",
            port, target, rtt_ms, rtt_ms / 2);

    while (!stop) {
        struct pollfd pfd[1 + 2 * MAX_CONNS];
        int owner[1 + 2 * MAX_CONNS];
        int nfd = 0;
        int64_t now = now_ns(), next = -1;
        struct timespec ts, *tsp = NULL;

        pfd[nfd].fd = lfd;
        pfd[nfd].events = POLLIN;
        owner[nfd++] = -1;
        for (int i = 0; i < MAX_CONNS; i++) {
            conn *c = conns[i];
            if (!c)
                continue;
            release_due(c, &c->up, 1, now);
            release_due(c, &c->down, 0, now);
            /* Both directions ended and delivered: done. */
            if (c->up.eof && c->down.eof && !c->up.head && !c->down.head) {
                close_conn(i);
                continue;
            }
            for (int d = 0; d < 2; d++) {
                pipe_dir *p = d ? &c->down : &c->up;
                if (p->head && !p->blocked && (next < 0 || p->head->release < next))
                    next = p->head->release;
            }
            /* client socket: readable for `up`, writable for `down`; a socket
             * with nothing to wait for is left out (its HUP would spin). */
            pfd[nfd].events = (short)((c->up.eof ? 0 : POLLIN) | (c->down.blocked ? POLLOUT : 0));
            pfd[nfd].fd = pfd[nfd].events ? c->up.from : -1;
            owner[nfd++] = i;
            pfd[nfd].events = (short)((c->down.eof ? 0 : POLLIN) | (c->up.blocked ? POLLOUT : 0));
            pfd[nfd].fd = pfd[nfd].events ? c->down.from : -1;
            owner[nfd++] = i;
        }
        if (next >= 0) {
            int64_t wait = next - now;
            if (wait < 0)
                wait = 0;
            ts.tv_sec = (time_t)(wait / 1000000000);
            ts.tv_nsec = (long)(wait % 1000000000);
            tsp = &ts;
        }
        if (ppoll(pfd, (nfds_t)nfd, tsp, NULL) < 0) {
            if (errno == EINTR)
                continue;
            die("ppoll");
        }
        now = now_ns();
        for (int k = 0; k < nfd; k++) {
            conn *c;
            if (!pfd[k].revents)
                continue;
            if (owner[k] < 0) {
                accept_one(lfd, target);
                continue;
            }
            c = conns[owner[k]];
            if (!c)
                continue;
            if (pfd[k].fd == c->up.from) {
                if (pfd[k].revents & (POLLIN | POLLHUP | POLLERR))
                    if (!c->up.eof)
                        read_side(c, &c->up, 1, now);
            } else if (pfd[k].revents & (POLLIN | POLLHUP | POLLERR)) {
                if (!c->down.eof)
                    read_side(c, &c->down, 0, now);
            }
        }
    }
    for (int i = 0; i < MAX_CONNS; i++)
        if (conns[i])
            close_conn(i);
    close(lfd);
    return 0;
}

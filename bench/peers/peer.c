/* bench/peers: the protocol-neutral engine (see peer.h). */
#include "bench/peers/peer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PEER_ID_MAX 64  /* a job id as the peer hands it out (beanstalkd: a decimal u64) */
#define PEER_REQ_MAX 512 /* one request we build: a put of a ~40-byte job, or complete+take */

typedef struct pconn {
    int fd;
    int busy;          /* producer: a put is in flight */
    long long sent_us; /* producer: when it was sent */
    size_t got;
    char in[PEER_IN_MAX];
} pconn;

/* What the producer and consumer threads of one run share. */
typedef struct shared {
    atomic_long done; /* completions acknowledged */
    atomic_int stop;  /* set by a thread that failed */
} shared;

typedef struct side {
    const peer_proto *p;
    shared *sh;
    pconn *c;
    int n;
    long jobs;
    long long t0_us, deadline_us;
    long long *lat; /* producer: one per acknowledged put */
    long acked;     /* producer: puts acknowledged */
    long long last_us;
    int failed;
} side;

static long long now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int cmp_ll(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

static int open_conn(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        perror("peer: connect");
        if (fd >= 0) close(fd);
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

/* Small requests into a socket whose buffer holds at most one outstanding request: a short
 * write would be a bug in the peer or the kernel, and fails the run. */
static int send_all(int fd, const char *buf, size_t len) {
    return send(fd, buf, len, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

/* Reads what is there; 1 when bytes came, 0 on EAGAIN, -1 on close or error. */
static int read_some(pconn *c) {
    if (c->got == sizeof c->in) return -1; /* a reply larger than PEER_IN_MAX */
    ssize_t r = recv(c->fd, c->in + c->got, sizeof c->in - c->got, 0);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
    if (r <= 0) return -1;
    c->got += (size_t)r;
    return 1;
}

static void consume(pconn *c, size_t used) {
    memmove(c->in, c->in + used, c->got - used);
    c->got -= used;
}

static void *producer_run(void *arg) {
    side *s = arg;
    char req[PEER_REQ_MAX], id[PEER_ID_MAX];
    long sent = 0;
    int ep = epoll_create1(0);
    for (int i = 0; i < s->n; i++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, s->c[i].fd, &ev);
    }
    while (s->acked < s->jobs && !atomic_load(&s->sh->stop)) {
        for (int i = 0; i < s->n && sent < s->jobs; i++) {
            if (s->c[i].busy) continue;
            size_t len = s->p->put(req, sizeof req, sent);
            s->c[i].sent_us = now_us();
            if (send_all(s->c[i].fd, req, len) != 0) goto fail;
            s->c[i].busy = 1;
            sent++;
        }
        if (now_us() > s->deadline_us) break;
        struct epoll_event evs[256];
        int n = epoll_wait(ep, evs, 256, 100);
        for (int k = 0; k < n; k++) {
            pconn *c = &s->c[evs[k].data.u32];
            if (read_some(c) < 0) goto fail;
            size_t used;
            peer_reply r;
            while (c->busy && (r = s->p->parse(c->in, c->got, &used, id, sizeof id)) != PEER_R_MORE) {
                if (r != PEER_R_PUT) {
                    fprintf(stderr, "peer %s: unexpected answer to a put: %.60s\n", s->p->name, c->in);
                    goto fail;
                }
                s->last_us = now_us();
                s->lat[s->acked++] = s->last_us - c->sent_us;
                c->busy = 0;
                consume(c, used);
            }
        }
    }
    close(ep);
    return NULL;
fail:
    s->failed = 1;
    atomic_store(&s->sh->stop, 1);
    close(ep);
    return NULL;
}

static void *consumer_run(void *arg) {
    side *s = arg;
    char req[PEER_REQ_MAX], id[PEER_ID_MAX];
    int ep = epoll_create1(0);
    for (int i = 0; i < s->n; i++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, s->c[i].fd, &ev);
        size_t len = s->p->take(req, sizeof req);
        if (send_all(s->c[i].fd, req, len) != 0) goto fail;
    }
    while (atomic_load(&s->sh->done) < s->jobs && !atomic_load(&s->sh->stop)) {
        if (now_us() > s->deadline_us) break;
        struct epoll_event evs[256];
        int n = epoll_wait(ep, evs, 256, 100);
        for (int k = 0; k < n; k++) {
            pconn *c = &s->c[evs[k].data.u32];
            if (read_some(c) < 0) goto fail;
            size_t used, len;
            peer_reply r;
            while ((r = s->p->parse(c->in, c->got, &used, id, sizeof id)) != PEER_R_MORE) {
                switch (r) {
                case PEER_R_JOB:
                    len = s->p->complete_take(req, sizeof req, id);
                    if (send_all(c->fd, req, len) != 0) goto fail;
                    break;
                case PEER_R_EMPTY:
                    len = s->p->take(req, sizeof req);
                    if (send_all(c->fd, req, len) != 0) goto fail;
                    break;
                case PEER_R_DONE:
                    if (atomic_fetch_add(&s->sh->done, 1) + 1 == s->jobs) s->last_us = now_us();
                    break;
                default:
                    fprintf(stderr, "peer %s: unexpected answer to a take: %.60s\n", s->p->name,
                            c->in);
                    goto fail;
                }
                consume(c, used);
            }
        }
    }
    close(ep);
    return NULL;
fail:
    s->failed = 1;
    atomic_store(&s->sh->stop, 1);
    close(ep);
    return NULL;
}

static void close_all(pconn *c, int n) {
    for (int i = 0; i < n; i++)
        if (c[i].fd >= 0) close(c[i].fd);
}

int peer_run(const peer_proto *p, int port, int conns, long jobs, double max_seconds,
             peer_result *out) {
    int rc = 1;
    pconn *pc = calloc((size_t)conns, sizeof *pc), *cc = calloc((size_t)conns, sizeof *cc);
    long long *lat = malloc(sizeof *lat * (size_t)jobs);
    if (!pc || !cc || !lat) goto done;
    for (int i = 0; i < conns; i++) pc[i].fd = cc[i].fd = -1;
    for (int i = 0; i < conns; i++)
        if ((pc[i].fd = open_conn(port)) < 0 || (cc[i].fd = open_conn(port)) < 0) goto done;
    shared sh;
    atomic_init(&sh.done, 0);
    atomic_init(&sh.stop, 0);
    long long t0 = now_us(), deadline = t0 + (long long)(max_seconds * 1e6);
    side prod = {.p = p, .sh = &sh, .c = pc, .n = conns, .jobs = jobs, .t0_us = t0, .deadline_us = deadline,
                 .lat = lat, .last_us = t0};
    side cons = {.p = p, .sh = &sh, .c = cc, .n = conns, .jobs = jobs, .t0_us = t0, .deadline_us = deadline,
                 .last_us = t0};
    pthread_t tp, tc;
    pthread_create(&tc, NULL, consumer_run, &cons);
    pthread_create(&tp, NULL, producer_run, &prod);
    pthread_join(tp, NULL);
    pthread_join(tc, NULL);
    long done = atomic_load(&sh.done);
    if (done < jobs) cons.last_us = now_us();
    *out = (peer_result){.jobs = jobs,
                         .done = done,
                         .put_seconds = (double)(prod.last_us - t0) / 1e6,
                         .e2e_seconds = (double)(cons.last_us - t0) / 1e6,
                         .timed_out = done < jobs && !prod.failed && !cons.failed};
    if (prod.acked > 0) {
        qsort(lat, (size_t)prod.acked, sizeof *lat, cmp_ll);
        out->p50_ms = (double)lat[prod.acked / 2] / 1000.0;
        out->p99_ms = (double)lat[(long)((double)prod.acked * 0.99)] / 1000.0;
        out->p999_ms = (double)lat[(long)((double)prod.acked * 0.999)] / 1000.0;
    }
    out->jobs = prod.acked < jobs ? prod.acked : jobs;
    rc = prod.failed || cons.failed;
done:
    if (pc) close_all(pc, conns);
    if (cc) close_all(cc, conns);
    free(pc);
    free(cc);
    free(lat);
    return rc;
}

int peer_main(const peer_proto *p, int argc, char **argv) {
    int port = 0, conns = 32;
    long jobs = 100000;
    double max_seconds = 60;
    const char *label = p->name;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--port")) port = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--jobs")) jobs = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--conns")) conns = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--max-seconds")) max_seconds = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--label")) label = argv[i + 1];
        else {
            fprintf(stderr, "unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (port <= 0 || port > 65535 || conns < 1 || conns > PEER_MAX_CONNS || jobs < 1 ||
        max_seconds <= 0) {
        fprintf(stderr, "usage: %s --port P [--jobs N] [--conns 1..%d] [--max-seconds S] "
                        "[--label TEXT]\n", argv[0], PEER_MAX_CONNS);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    peer_result r;
    if (peer_run(p, port, conns, jobs, max_seconds, &r) != 0) {
        fprintf(stderr, "%s: the run failed\n", label);
        return 1;
    }
    /* Rates count what was completed, so a run cut by --max-seconds still reports honestly. */
    printf("peer=%s label=%s conns=%d jobs=%ld done=%ld put_s=%.3f e2e_s=%.3f put_rate=%.0f "
           "e2e_rate=%.0f p50_ms=%.3f p99_ms=%.3f p999_ms=%.3f timed_out=%d\n",
           p->name, label, conns, r.jobs, r.done, r.put_seconds, r.e2e_seconds,
           r.put_seconds > 0 ? (double)r.jobs / r.put_seconds : 0,
           r.e2e_seconds > 0 ? (double)r.done / r.e2e_seconds : 0, r.p50_ms, r.p99_ms,
           r.p999_ms, r.timed_out);
    return 0;
}

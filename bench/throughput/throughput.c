/* bench/throughput: noop jobs end to end through a real `econqd serve`, over N keep-alive HTTP
 * connections, in each durability mode. Prints Markdown tables: jobs/s from the first submit
 * until every job succeeded, submit latency percentiles (closed loop, then open loop at half the
 * measured rate), and memory (idle, and with many jobs queued).
 *
 *   bench_throughput --econqd build/release/econqd [--jobs 200000] [--conns 32]
 *                    [--modes nosync,sync] [--queued 1000000] */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tests/support/eqtest.h"

#define MAX_CONNS 1024

typedef struct conn {
    int fd;
    int busy;
    long long sent_us;   /* when the request was due (open loop) or sent (closed loop) */
    char in[8192];
    size_t got;
} conn;

static const char body[] = "{\"type\":\"noop\",\"params\":{}}";
static char request[512];
static size_t request_len;

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
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        perror("connect");
        exit(1);
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

/* Returns 1 when a whole response is in c->in (and consumes it), 0 when more is needed. */
static int response_done(conn *c) {
    char *sep = memmem(c->in, c->got, "\r\n\r\n", 4);
    if (!sep)
        return 0;
    char *cl = memmem(c->in, (size_t)(sep - c->in), "Content-Length: ", 16);
    size_t blen = cl ? strtoul(cl + 16, NULL, 10) : 0;
    size_t total = (size_t)(sep + 4 - c->in) + blen;
    if (c->got < total)
        return 0;
    if (strncmp(c->in, "HTTP/1.1 202", 12) != 0) {
        fprintf(stderr, "unexpected answer: %.80s\n", c->in);
        exit(1);
    }
    memmove(c->in, c->in + total, c->got - total);
    c->got -= total;
    return 1;
}

typedef struct run_result {
    double seconds, rate;
    long long p50, p99, p999; /* microseconds */
} run_result;

/* Submits `jobs` jobs over `nconns` connections. rate 0 = closed loop (as fast as answers come);
 * otherwise an open loop at `rate` jobs/s with latency measured from each job's due time. */
static void submit_all(int port, int nconns, long jobs, double rate, run_result *out) {
    static conn conns[MAX_CONNS];
    long long *lat = malloc(sizeof *lat * (size_t)jobs);
    long sent = 0, done = 0;
    int ep = epoll_create1(0);
    for (int i = 0; i < nconns; i++) {
        conns[i].fd = open_conn(port);
        conns[i].busy = 0;
        conns[i].got = 0;
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
    }
    long long t0 = now_us();
    while (done < jobs) {
        /* Start requests on idle connections. */
        for (int i = 0; i < nconns && sent < jobs; i++) {
            if (conns[i].busy)
                continue;
            long long due = rate > 0 ? t0 + (long long)((double)sent * 1e6 / rate) : now_us();
            if (due > now_us())
                break;
            if (send(conns[i].fd, request, request_len, MSG_NOSIGNAL) != (ssize_t)request_len) {
                perror("send");
                exit(1);
            }
            conns[i].busy = 1;
            conns[i].sent_us = due;
            sent++;
        }
        int timeout = 100;
        if (rate > 0 && sent < jobs) {
            long long next = t0 + (long long)((double)sent * 1e6 / rate) - now_us();
            timeout = next > 0 ? (int)(next / 1000) : 0;
        }
        struct epoll_event evs[256];
        int n = epoll_wait(ep, evs, 256, timeout);
        for (int k = 0; k < n; k++) {
            conn *c = &conns[evs[k].data.u32];
            ssize_t r = recv(c->fd, c->in + c->got, sizeof c->in - c->got, 0);
            if (r <= 0) {
                if (r < 0 && errno == EAGAIN)
                    continue;
                fprintf(stderr, "connection closed by econqd\n");
                exit(1);
            }
            c->got += (size_t)r;
            while (c->busy && response_done(c)) {
                lat[done++] = now_us() - c->sent_us;
                c->busy = 0;
            }
        }
    }
    long long t1 = now_us();
    for (int i = 0; i < nconns; i++)
        close(conns[i].fd);
    close(ep);
    qsort(lat, (size_t)jobs, sizeof *lat, cmp_ll);
    out->seconds = (double)(t1 - t0) / 1e6;
    out->rate = (double)jobs / out->seconds;
    out->p50 = lat[jobs / 2];
    out->p99 = lat[(long)((double)jobs * 0.99)];
    out->p999 = lat[(long)((double)jobs * 0.999)];
    free(lat);
}

/* Waits until the store has nothing queued or running; returns when that was seen. */
static long long wait_drained(int port) {
    for (;;) {
        http_resp r;
        if (http_do(port, "GET", "/health", NULL, NULL, 0, &r) == 0) {
            cJSON *j = http_json(&r);
            const cJSON *st = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "checks"), "store");
            int idle = eqt_num(st, "queued") == 0 && eqt_num(st, "running") == 0;
            cJSON_Delete(j);
            http_resp_free(&r);
            if (idle)
                return now_us();
        }
        eqt_sleep_ms(5);
    }
}

static long proc_kb(pid_t pid, const char *field) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long v = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, field, strlen(field)) == 0)
            v = strtol(line + strlen(field) + 1, NULL, 10);
    if (f)
        fclose(f);
    return v;
}

int main(int argc, char **argv) {
    const char *econqd = "build/release/econqd", *modes = "nosync,sync";
    long jobs = 200000, queued = 0;
    double fixed_rate = 0;
    int nconns = 32;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--econqd")) econqd = argv[i + 1];
        else if (!strcmp(argv[i], "--jobs")) jobs = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--conns")) nconns = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--modes")) modes = argv[i + 1];
        else if (!strcmp(argv[i], "--queued")) queued = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--rate")) fixed_rate = atof(argv[i + 1]);
        else { fprintf(stderr, "unknown option %s\n", argv[i]); return 2; }
    }
    if (nconns < 1 || nconns > MAX_CONNS || jobs < 100) {
        fprintf(stderr, "conns 1..%d, jobs >= 100\n", MAX_CONNS);
        return 2;
    }
    eqt_use_econqd(econqd); /* eqd_start runs it */
    request_len = (size_t)snprintf(request, sizeof request,
                                   "POST /v1/jobs HTTP/1.1\r\nHost: b\r\nContent-Type: "
                                   "application/json\r\nContent-Length: %zu\r\n\r\n%s",
                                   strlen(body), body);
    signal(SIGPIPE, SIG_IGN);
    printf("## Throughput: noop jobs end to end (%ld jobs, %d keep-alive connections)\n\n", jobs, nconns);
    printf("| mode | submit jobs/s | end-to-end jobs/s | submit p50 ms | submit p99 ms | "
           "open loop at half rate: p50 ms | p99 ms | p99.9 ms | peer |\n");
    printf("|---|---:|---:|---:|---:|---:|---:|---:|---|\n");
    char modes_copy[64];
    snprintf(modes_copy, sizeof modes_copy, "%s", modes);
    long idle_rss = -1, idle_anon = -1;
    for (char *m = strtok(modes_copy, ","); m; m = strtok(NULL, ",")) {
        char dir[256];
        eqd d;
        eqt_tmpdir(dir, sizeof dir);
        const char *args[] = {"--durability", m, "--log-level", "warn", NULL};
        if (eqd_start(&d, "serve", dir, args) != 0) {
            fprintf(stderr, "econqd did not start (%s)\n", econqd);
            return 1;
        }
        eqt_sleep_ms(300);
        if (idle_rss < 0) {
            idle_rss = proc_kb(d.pid, "VmRSS:");
            idle_anon = proc_kb(d.pid, "RssAnon:");
        }
        run_result closed, open;
        long long t0 = now_us();
        submit_all(d.port, nconns, jobs, 0, &closed);
        long long t1 = wait_drained(d.port);
        double e2e = (double)jobs / ((double)(t1 - t0) / 1e6);
        long open_jobs = jobs / 2;
        submit_all(d.port, nconns, open_jobs, fixed_rate > 0 ? fixed_rate : e2e / 2, &open);
        wait_drained(d.port);
        printf("| %s | %.0f | %.0f | %.2f | %.2f | %.2f | %.2f | %.2f | %s |\n", m, closed.rate,
               e2e, closed.p50 / 1000.0, closed.p99 / 1000.0, open.p50 / 1000.0,
               open.p99 / 1000.0, open.p999 / 1000.0,
               strcmp(m, "nosync") == 0 ? "Sidekiq: 23,500 jobs/s on 1 CPU, no durability"
                                        : "target 10,000 jobs/s");
        fflush(stdout);
        eqd_signal(&d, SIGTERM);
        eqd_wait(&d);
        eqt_rmdir(dir);
    }
    printf("\n## Memory\n\n| state | VmRSS MB | RssAnon MB | target |\n|---|---:|---:|---|\n");
    printf("| idle `econqd serve` | %.1f | %.1f | RSS under 20 MB |\n", idle_rss / 1024.0,
           idle_anon / 1024.0);
    if (queued > 0) {
        /* `server` has no workers: everything submitted stays queued. */
        char dir[256];
        eqd d;
        eqt_tmpdir(dir, sizeof dir);
        char broker[64];
        snprintf(broker, sizeof broker, "tcp://127.0.0.1:%d", eqt_free_port());
        const char *args[] = {"--durability", "nosync", "--log-level", "warn", "--broker-listen",
                              broker, NULL};
        if (eqd_start(&d, "server", dir, args) != 0)
            return 1;
        run_result r;
        submit_all(d.port, nconns, queued, 0, &r);
        eqt_sleep_ms(500);
        printf("| %ld jobs queued | %.1f | %.1f | RssAnon under 64 MB |\n", queued,
               proc_kb(d.pid, "VmRSS:") / 1024.0, proc_kb(d.pid, "RssAnon:") / 1024.0);
        eqd_signal(&d, SIGTERM);
        eqd_wait(&d);
        eqt_rmdir(dir);
    }
    return 0;
}

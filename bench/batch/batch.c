/* bench/batch: batches end to end through a real `econqd serve --durability nosync`.
 * 1. `--jobs` noop jobs submitted as POST /v1/batches of `--batch` jobs each over `--conns`
 *    keep-alive connections (one thread each, closed loop), then waited for until the store has
 *    nothing queued or running (GET /health: checks.store.queued and running); every batch is
 *    then read back to confirm that all its jobs succeeded.
 * 2. A forecast batch over every column of us_macro_quarterly.csv (template, horizon 8) for each
 *    method of `--methods`, timed from the submit until GET /v1/batches/{id} says done.
 * 3. A template over every column of a wide generated dataset (`--wide COLSxROWS`, default
 *    999x400): the submit time and the longest GET /health answer while it ran (the template
 *    is expanded on the loop thread), then the time to done.
 * Prints Markdown tables.
 *
 *   bench_batch --econqd build-rel/econqd [--jobs 100000] [--batch 1000] [--conns 4]
 *               [--data tests/fixtures/data/us_macro_quarterly.csv] [--methods auto,drift]
 *               [--set lease-batch=256 ...]   (econqd settings, each --set adds --NAME VALUE)
 *               [--wide 999x400]   (0x0 skips the wide template) */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tests/support/eqtest.h"

#define MAX_CONNS 64
#define MAX_BATCH 10000       /* the api's limit on jobs in one batch */
#define ANSWER_MAX (1u << 20) /* one 202 answer: ~30 bytes per job id */
#define MAX_SETS 8            /* --set options passed on to econqd */

typedef struct worker {
    pthread_t th;
    int port;
    const char *req; /* the whole request, head and body */
    size_t req_len;
    long batches;    /* how many this connection sends */
    long long *lat;  /* microseconds per batch */
    char (*ids)[32]; /* batch ids, one per batch */
    int failed;
} worker;

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
        perror("connect");
        exit(1);
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* Reads one whole answer (head + Content-Length body) into buf; returns its length or -1.
 * Bytes past the answer are not expected: one request is in flight per connection. */
static long read_answer(int fd, char *buf, size_t cap) {
    size_t got = 0;
    for (;;) {
        ssize_t r = recv(fd, buf + got, cap - 1 - got, 0);
        if (r <= 0) return -1;
        got += (size_t)r;
        buf[got] = '\0';
        char *sep = strstr(buf, "\r\n\r\n");
        if (!sep) continue;
        char *cl = strcasestr(buf, "Content-Length:");
        size_t blen = cl && cl < sep ? strtoul(cl + 15, NULL, 10) : 0;
        size_t total = (size_t)(sep + 4 - buf) + blen;
        if (total >= cap) return -1;
        if (got >= total) return (long)total;
    }
}

static void *worker_run(void *arg) {
    worker *w = arg;
    char *buf = malloc(ANSWER_MAX);
    int fd = open_conn(w->port);
    for (long i = 0; i < w->batches; i++) {
        long long t0 = now_us();
        size_t off = 0;
        while (off < w->req_len) {
            ssize_t s = send(fd, w->req + off, w->req_len - off, MSG_NOSIGNAL);
            if (s <= 0) {
                w->failed = 1;
                goto out;
            }
            off += (size_t)s;
        }
        long n = read_answer(fd, buf, ANSWER_MAX);
        if (n < 0 || strncmp(buf, "HTTP/1.1 202", 12) != 0) {
            fprintf(stderr, "unexpected answer: %.200s\n", n < 0 ? "(closed)" : buf);
            w->failed = 1;
            goto out;
        }
        w->lat[i] = now_us() - t0;
        char *id = strstr(buf, "{\"id\":\"");
        if (!id || sscanf(id + 7, "%26[0-9A-Z]", w->ids[i]) != 1) {
            w->failed = 1;
            goto out;
        }
    }
out:
    close(fd);
    free(buf);
    return NULL;
}

static cJSON *health_store(int port) {
    http_resp r;
    if (http_do(port, "GET", "/health", NULL, NULL, 0, &r) != 0) return NULL;
    cJSON *j = http_json(&r);
    http_resp_free(&r);
    return j;
}

/* Waits until the store has nothing queued or running; returns the time it was seen. */
static long long wait_drained(int port) {
    for (;;) {
        cJSON *j = health_store(port);
        const cJSON *st = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "checks"), "store");
        int idle = st && eqt_num(st, "queued") == 0 && eqt_num(st, "running") == 0;
        cJSON_Delete(j);
        if (idle) return now_us();
        eqt_sleep_ms(5);
    }
}

/* GET /v1/batches/{id}; returns succeeded count, or -1; *done set from the answer. */
static int batch_state(int port, const char *id, int *done, double *total) {
    char path[128];
    http_resp r;
    snprintf(path, sizeof path, "/v1/batches/%s", id);
    if (http_do(port, "GET", path, NULL, NULL, 0, &r) != 0) return -1;
    cJSON *j = r.status == 200 ? http_json(&r) : NULL;
    http_resp_free(&r);
    if (!j) return -1;
    *done = cJSON_IsTrue(cJSON_GetObjectItem(j, "done"));
    if (total) *total = eqt_num(j, "total");
    int ok = (int)eqt_num(cJSON_GetObjectItem(j, "counts"), "succeeded");
    cJSON_Delete(j);
    return ok;
}

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        fclose(f);
        return NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return b;
}

/* Uploads the CSV and forecasts every column with each method; prints one table row each. */
static int forecast_batches(int port, const char *csv_path, const char *methods) {
    size_t len;
    char *csv = read_file(csv_path, &len);
    if (!csv) {
        fprintf(stderr, "cannot read %s\n", csv_path);
        return 1;
    }
    http_resp r;
    if (http_do(port, "POST", "/v1/datasets?name=us_macro_quarterly.csv",
                "Content-Type: text/csv\r\n", csv, len, &r) != 0 ||
        r.status != 201) {
        fprintf(stderr, "upload failed: %d %s\n", r.status, r.body ? r.body : "");
        return 1;
    }
    cJSON *d = http_json(&r);
    char ds[32];
    snprintf(ds, sizeof ds, "%s", eqt_str(d, "id"));
    int rows = (int)eqt_num(d, "rows");
    cJSON_Delete(d);
    http_resp_free(&r);
    free(csv);
    printf("\n## Forecast batch: every column of us_macro_quarterly.csv (%d rows, horizon 8)\n\n",
           rows);
    printf("| method | series | succeeded | submit ms | time to done s | series/s |\n");
    printf("|---|---:|---:|---:|---:|---:|\n");
    char mcopy[128];
    snprintf(mcopy, sizeof mcopy, "%s", methods);
    for (char *m = strtok(mcopy, ","); m; m = strtok(NULL, ",")) {
        char body[512];
        snprintf(body, sizeof body,
                 "{\"type\":\"forecast\",\"dataset\":\"%s\",\"columns\":[\"*\"],"
                 "\"params\":{\"horizon\":8,\"method\":\"%s\"}}",
                 ds, m);
        long long t0 = now_us();
        if (http_do(port, "POST", "/v1/batches", "Content-Type: application/json\r\n", body,
                    strlen(body), &r) != 0 ||
            r.status != 202) {
            fprintf(stderr, "forecast batch refused: %d %s\n", r.status, r.body ? r.body : "");
            return 1;
        }
        long long t1 = now_us();
        cJSON *a = http_json(&r);
        char id[32];
        snprintf(id, sizeof id, "%s", eqt_str(a, "id"));
        cJSON_Delete(a);
        http_resp_free(&r);
        int done = 0, ok = 0;
        double total = 0;
        while (!done) {
            ok = batch_state(port, id, &done, &total);
            if (ok < 0) return 1;
            if (!done) eqt_sleep_ms(2);
        }
        double secs = (double)(now_us() - t0) / 1e6;
        printf("| %s | %.0f | %d | %.1f | %.3f | %.1f |\n", m, total, ok, (t1 - t0) / 1000.0, secs,
               total / secs);
        fflush(stdout);
    }
    return 0;
}

typedef struct pinger {
    pthread_t th;
    int port;
    volatile int stop;
    long long max_us;
    int n;
} pinger;

static void *pinger_run(void *arg) {
    pinger *p = arg;
    while (!p->stop) {
        long long t0 = now_us();
        http_resp r;
        if (http_do(p->port, "GET", "/health", NULL, NULL, 0, &r) == 0) http_resp_free(&r);
        long long dt = now_us() - t0;
        if (dt > p->max_us) p->max_us = dt;
        p->n++;
        eqt_sleep_ms(10);
    }
    return NULL;
}

/* A generated dataset of `cols` numeric columns and `rows` months, forecast column by column
 * with the naive method; prints one table. */
static int wide_template(int port, int cols, int rows) {
    size_t cap = (size_t)(cols + 1) * (size_t)(rows + 1) * 12 + 64, n = 0;
    char *csv = malloc(cap);
    n += (size_t)snprintf(csv + n, cap - n, "date");
    for (int c = 0; c < cols; c++)
        n += (size_t)snprintf(csv + n, cap - n, ",s%d", c);
    for (int r = 0; r < rows; r++) {
        n += (size_t)snprintf(csv + n, cap - n, "\n%04d-%02d-01", 1900 + r / 12, r % 12 + 1);
        for (int c = 0; c < cols; c++)
            n += (size_t)snprintf(csv + n, cap - n, ",%.3f", 100.0 + (r * 7 + c * 13) % 101 / 10.0);
    }
    n += (size_t)snprintf(csv + n, cap - n, "\n");
    http_resp r;
    if (http_do(port, "POST", "/v1/datasets?name=wide.csv", "Content-Type: text/csv\r\n", csv, n,
                &r) != 0 ||
        r.status != 201) {
        fprintf(stderr, "wide upload failed: %d %s\n", r.status, r.body ? r.body : "");
        free(csv);
        return 1;
    }
    free(csv);
    cJSON *d = http_json(&r);
    char ds[32], body[256], id[32];
    snprintf(ds, sizeof ds, "%s", eqt_str(d, "id"));
    cJSON_Delete(d);
    http_resp_free(&r);
    snprintf(body, sizeof body,
             "{\"type\":\"forecast\",\"dataset\":\"%s\",\"columns\":[\"*\"],"
             "\"params\":{\"horizon\":2,\"method\":\"naive\"}}",
             ds);
    pinger p = {.port = port};
    pthread_create(&p.th, NULL, pinger_run, &p);
    eqt_sleep_ms(50);
    long long t0 = now_us();
    int rc = http_do(port, "POST", "/v1/batches", "Content-Type: application/json\r\n", body,
                     strlen(body), &r);
    long long t1 = now_us();
    p.stop = 1;
    pthread_join(p.th, NULL);
    if (rc != 0 || r.status != 202) {
        fprintf(stderr, "wide template refused: %d %.300s\n", r.status, r.body ? r.body : "");
        return 1;
    }
    cJSON *a = http_json(&r);
    snprintf(id, sizeof id, "%s", eqt_str(a, "id"));
    cJSON_Delete(a);
    http_resp_free(&r);
    int done = 0, ok = 0;
    double total = 0;
    while (!done) {
        if ((ok = batch_state(port, id, &done, &total)) < 0) return 1;
        if (!done) eqt_sleep_ms(5);
    }
    double secs = (double)(now_us() - t0) / 1e6;
    printf("\n## Template over a wide dataset (%d columns x %d rows, %.1f MB CSV, naive)\n\n", cols,
           rows, (double)n / 1e6);
    printf("| series | succeeded | submit s | longest GET /health during the submit ms | "
           "time to done s |\n|---:|---:|---:|---:|---:|\n");
    printf("| %.0f | %d | %.3f | %.1f | %.3f |\n", total, ok, (t1 - t0) / 1e6, p.max_us / 1000.0,
           secs);
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv) {
    const char *econqd = "build-rel/econqd", *methods = "auto,drift";
    const char *data = "tests/fixtures/data/us_macro_quarterly.csv";
    long jobs = 100000;
    int per = 1000, nconns = 4, nsets = 0, wide_cols = 999, wide_rows = 400;
    char sets[MAX_SETS][2][128];
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--econqd"))
            econqd = argv[i + 1];
        else if (!strcmp(argv[i], "--jobs"))
            jobs = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--batch"))
            per = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--conns"))
            nconns = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--data"))
            data = argv[i + 1];
        else if (!strcmp(argv[i], "--methods"))
            methods = argv[i + 1];
        else if (!strcmp(argv[i], "--wide")) {
            if (sscanf(argv[i + 1], "%dx%d", &wide_cols, &wide_rows) != 2) {
                fprintf(stderr, "--wide COLSxROWS\n");
                return 2;
            }
        } else if (!strcmp(argv[i], "--set") && nsets < MAX_SETS && strchr(argv[i + 1], '=')) {
            const char *eq = strchr(argv[i + 1], '=');
            snprintf(sets[nsets][0], sizeof sets[nsets][0], "--%.*s", (int)(eq - argv[i + 1]),
                     argv[i + 1]);
            snprintf(sets[nsets][1], sizeof sets[nsets][1], "%s", eq + 1);
            nsets++;
        } else {
            fprintf(stderr, "unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (nconns < 1 || nconns > MAX_CONNS || per < 1 || per > MAX_BATCH || jobs < per ||
        jobs % per != 0) {
        fprintf(stderr, "conns 1..%d, batch 1..%d, jobs a multiple of batch\n", MAX_CONNS,
                MAX_BATCH);
        return 2;
    }
    eqt_use_econqd(econqd); /* eqd_start runs it */
    signal(SIGPIPE, SIG_IGN);

    /* One request, sent again and again: {"jobs":[{"type":"noop","params":{}}, ...]}. */
    static const char one[] = "{\"type\":\"noop\",\"params\":{}}";
    size_t blen = strlen("{\"jobs\":[]}") + (size_t)per * (sizeof one) + 1;
    char *body = malloc(blen), *req = malloc(blen + 256);
    size_t n = (size_t)snprintf(body, blen, "{\"jobs\":[");
    for (int i = 0; i < per; i++)
        n += (size_t)snprintf(body + n, blen - n, "%s%s", i ? "," : "", one);
    n += (size_t)snprintf(body + n, blen - n, "]}");
    size_t req_len = (size_t)snprintf(req, blen + 256,
                                      "POST /v1/batches HTTP/1.1\r\nHost: b\r\nContent-Type: "
                                      "application/json\r\nContent-Length: %zu\r\n\r\n%s",
                                      n, body);

    char dir[256];
    eqd d;
    eqt_tmpdir(dir, sizeof dir);
    const char *args[8 + 2 * MAX_SETS] = {"--durability", "nosync", "--log-level", "warn"};
    int na = 4;
    for (int i = 0; i < nsets; i++) {
        args[na++] = sets[i][0];
        args[na++] = sets[i][1];
    }
    args[na] = NULL;
    if (eqd_start(&d, "serve", dir, args) != 0) {
        fprintf(stderr, "econqd did not start (%s)\n", econqd);
        return 1;
    }
    eqt_sleep_ms(300);

    long nbatches = jobs / per;
    long long *lat = calloc((size_t)nbatches, sizeof *lat);
    char(*ids)[32] = calloc((size_t)nbatches, sizeof *ids);
    worker w[MAX_CONNS];
    long given = 0;
    long long t0 = now_us();
    for (int i = 0; i < nconns; i++) {
        long share = nbatches / nconns + (i < nbatches % nconns);
        w[i] = (worker){.port = d.port,
                        .req = req,
                        .req_len = req_len,
                        .batches = share,
                        .lat = lat + given,
                        .ids = ids + given};
        given += share;
        pthread_create(&w[i].th, NULL, worker_run, &w[i]);
    }
    int failed = 0;
    for (int i = 0; i < nconns; i++) {
        pthread_join(w[i].th, NULL);
        failed |= w[i].failed;
    }
    long long t1 = now_us();
    if (failed) {
        fprintf(stderr, "a submit failed\n");
        return 1;
    }
    long long t2 = wait_drained(d.port);

    /* Every batch done, every job succeeded. */
    long succeeded = 0, not_done = 0;
    for (long i = 0; i < nbatches; i++) {
        int done = 0, ok = batch_state(d.port, ids[i], &done, NULL);
        succeeded += ok > 0 ? ok : 0;
        not_done += !done;
    }
    qsort(lat, (size_t)nbatches, sizeof *lat, cmp_ll);
    double e2e = (double)jobs / ((double)(t2 - t0) / 1e6);
    printf("## Batches: %ld noop jobs in batches of %d over %d keep-alive connections "
           "(nosync",
           jobs, per, nconns);
    for (int i = 0; i < nsets; i++)
        printf(" %s %s", sets[i][0], sets[i][1]);
    printf(")\n\n");
    printf("| submit jobs/s | end-to-end jobs/s | submit s | drain after the last submit s | "
           "batch submit p50 ms | p99 ms | max ms | succeeded | batches not done | target |\n");
    printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
    printf("| %.0f | %.0f | %.3f | %.3f | %.1f | %.1f | %.1f | %ld | %ld | 50,000 jobs/s end to "
           "end |\n",
           (double)jobs / ((double)(t1 - t0) / 1e6), e2e, (t1 - t0) / 1e6, (t2 - t1) / 1e6,
           lat[nbatches / 2] / 1000.0, lat[(long)((double)nbatches * 0.99)] / 1000.0,
           lat[nbatches - 1] / 1000.0, succeeded, not_done);
    fflush(stdout);
    int rc = forecast_batches(d.port, data, methods);
    if (!rc && wide_cols > 0 && wide_rows > 0) rc = wide_template(d.port, wide_cols, wide_rows);
    eqd_signal(&d, SIGTERM);
    eqd_wait(&d);
    eqt_rmdir(dir);
    free(lat);
    free(ids);
    free(body);
    free(req);
    return rc || succeeded != jobs ? 1 : 0;
}

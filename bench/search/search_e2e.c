/* bench_search_e2e: search as users run it, over HTTP against `econqd serve` (nosync), and
 * with --modes remote against `econqd server` with a remote embed worker that has no store.
 *
 * For each collection size: embeds synthetic economic notes through `embed` jobs of 1,000
 * documents (the broker writes them to LMDB), then runs `--queries` distinct `search` jobs one
 * after another (submit, then GET ?wait until the result): the first query loads the worker's
 * in-memory index from the store, the rest measure steady-state latency from submit to result.
 * Prints a Markdown table with load throughput, first-query time, p50/p99/max and the server's
 * anonymous memory before and after the queries (it must not grow per query).
 *
 *   bench_search_e2e --econqd build/release/econqd [--sizes 10000,100000] [--queries 300]
 *                    [--modes serve,remote] */
#include <cjson/cJSON.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/support/eqtest.h"

#define DOCS_PER_JOB 1000  /* the embed schema's limit */
#define MAX_QUERIES 100000 /* --queries */
#define CHANGE_DOCS 100    /* documents added before the query after a change */

static const char *const words[] = {
    "inflation", "prices",   "consumer",   "index",    "rose",      "fell",     "percent",
    "year",      "month",    "quarter",    "imports",  "exports",   "trade",    "deficit",
    "surplus",   "gdp",      "growth",     "output",   "unemployment", "rate",  "jobs",
    "payrolls",  "wages",    "earnings",   "central",  "bank",      "interest", "rates",
    "policy",    "monetary", "fiscal",     "budget",   "debt",      "bond",     "yields",
    "housing",   "starts",   "mortgage",   "rents",    "energy",    "oil",      "gasoline",
    "food",      "retail",   "sales",      "spending", "household", "savings",  "credit",
    "loans",     "exchange", "dollar",     "euro",     "yen",       "currency", "tariffs",
    "manufacturing", "services", "pmi",    "industrial", "production", "capacity",
    "investment", "business", "confidence", "sentiment", "productivity", "labor", "market",
    "recession", "recovery", "stimulus",   "demand",   "supply",    "shortage", "inventory"};
#define NWORDS (sizeof words / sizeof words[0])

static unsigned long long rng = 88172645463325252ull;
static unsigned rnd(unsigned n) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (unsigned)(rng % n);
}

/* Zipf-ish: low indexes are much more frequent. */
static const char *word(void) {
    unsigned a = rnd(NWORDS), b = rnd(NWORDS);
    return words[a < b ? a : b];
}

static void note(char *out, size_t cap, unsigned nwords) {
    size_t len = 0;
    for (unsigned i = 0; i < nwords && len + 32 < cap; i++) {
        if (i % 9 == 8) /* a number now and then, as notes have */
            len += (size_t)snprintf(out + len, cap - len, "%u.%u%% ", rnd(20), rnd(10));
        else
            len += (size_t)snprintf(out + len, cap - len, "%s ", word());
    }
    out[len ? len - 1 : 0] = '\0';
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static long rss_anon_kib(pid_t pid) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long v = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "RssAnon:", 8) == 0)
            v = strtol(line + 8, NULL, 10);
    if (f)
        fclose(f);
    return v;
}

static char *submit(int port, const char *body) {
    http_resp r;
    if (http_do(port, "POST", "/v1/jobs", "Content-Type: application/json\r\n", body, strlen(body),
                &r) != 0 ||
        (r.status != 202 && r.status != 200)) {
        fprintf(stderr, "submit failed: %d %s\n", r.status, r.body ? r.body : "");
        exit(1);
    }
    cJSON *j = http_json(&r);
    char *id = strdup(eqt_str(j, "id"));
    cJSON_Delete(j);
    http_resp_free(&r);
    return id;
}

static void wait_ok(int port, const char *id, int timeout_s) {
    cJSON *j = eqt_wait_terminal(port, id, timeout_s);
    if (!j || strcmp(eqt_str(j, "state"), "succeeded") != 0) {
        char *t = j ? cJSON_PrintUnformatted(j) : NULL;
        fprintf(stderr, "job %s did not succeed: %.300s\n", id, t ? t : "(timeout)");
        exit(1);
    }
    cJSON_Delete(j);
}

/* One embed job of `n` notes with ids from `first`; returns its id (caller frees). */
static char *embed_job(int port, unsigned first, unsigned n) {
    char text[1024];
    cJSON *body = cJSON_CreateObject(), *params = cJSON_AddObjectToObject(body, "params");
    cJSON_AddStringToObject(body, "type", "embed");
    cJSON_AddStringToObject(params, "collection", "bench");
    cJSON *arr = cJSON_AddArrayToObject(params, "documents");
    for (unsigned k = 0; k < n; k++) {
        cJSON *doc = cJSON_CreateObject();
        char id[32];
        snprintf(id, sizeof id, "doc-%07u", first + k);
        note(text, sizeof text, 30 + rnd(90));
        cJSON_AddStringToObject(doc, "id", id);
        cJSON_AddStringToObject(doc, "text", text);
        cJSON_AddItemToArray(arr, doc);
    }
    char *b = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    char *id = submit(port, b);
    free(b);
    return id;
}

/* One search job, submit to result; returns the milliseconds. */
static double one_search(int port, unsigned q) {
    char qtext[256], body[512], path[128];
    note(qtext, sizeof qtext, 2 + rnd(5));
    snprintf(body, sizeof body,
             "{\"type\":\"search\",\"params\":{\"collection\":\"bench\",\"query\":\"%s q%u\","
             "\"k\":10}}",
             qtext, q);
    double s = now_ms();
    char *id = submit(port, body);
    snprintf(path, sizeof path, "/v1/jobs/%s?wait=30", id);
    http_resp r;
    if (http_do(port, "GET", path, NULL, NULL, 0, &r) != 0 || r.status != 200 ||
        !strstr(r.body, "\"succeeded\"")) {
        fprintf(stderr, "search failed: %.300s\n", r.body ? r.body : "");
        exit(1);
    }
    http_resp_free(&r);
    free(id);
    return now_ms() - s;
}

/* remote: `econqd server` and one `econqd worker --kind embed` without the store, which
 * reads collections from the broker over nng (memory is then the worker's). */
static void run_size(unsigned docs, unsigned queries, int remote) {
    char dir[256], broker[64];
    eqd d, w;
    eqt_tmpdir(dir, sizeof dir);
    snprintf(broker, sizeof broker, "tcp://127.0.0.1:%d", eqt_free_port());
    const char *args[] = {"--durability", "nosync", NULL};
    const char *sargs[] = {"--durability", "nosync", "--broker-listen", broker, NULL};
    const char *wargs[] = {"--connect", broker, "--kind", "embed", NULL};
    if (eqd_start(&d, remote ? "server" : "serve", dir, remote ? sargs : args) != 0 ||
        (remote && eqd_start(&w, "worker", dir, wargs) != 0)) {
        fprintf(stderr, "econqd did not start\n");
        exit(1);
    }
    pid_t mem_pid = remote ? w.pid : d.pid;
    /* Load: embed jobs of DOCS_PER_JOB notes, all submitted, then awaited. */
    double t0 = now_ms();
    unsigned njobs = (docs + DOCS_PER_JOB - 1) / DOCS_PER_JOB;
    char **ids = calloc(njobs, sizeof *ids);
    for (unsigned jn = 0; jn < njobs; jn++)
        ids[jn] = embed_job(d.port, jn * DOCS_PER_JOB,
                            docs - jn * DOCS_PER_JOB < DOCS_PER_JOB ? docs - jn * DOCS_PER_JOB
                                                                   : DOCS_PER_JOB);
    for (unsigned jn = 0; jn < njobs; jn++) {
        wait_ok(d.port, ids[jn], 600);
        free(ids[jn]);
    }
    free(ids);
    double load_s = (now_ms() - t0) / 1e3;
    long loaded = rss_anon_kib(mem_pid);
    /* Queries: distinct (no cache hits), one at a time. */
    double *lat = malloc(sizeof *lat * queries), first = 0;
    long before = 0;
    for (unsigned q = 0; q <= queries; q++) {
        double ms = one_search(d.port, q);
        if (q == 0) {
            first = ms;
            before = rss_anon_kib(mem_pid);
        } else {
            lat[q - 1] = ms;
        }
    }
    /* A change: 100 more documents; the next query catches the index up on them. */
    char *add = embed_job(d.port, docs, CHANGE_DOCS);
    wait_ok(d.port, add, 60);
    free(add);
    double changed = one_search(d.port, queries + 1);
    long after = rss_anon_kib(mem_pid);
    qsort(lat, queries, sizeof *lat, cmp_d);
    printf("| %s | %9u | %8.0f | %9.1f | %6.2f | %6.2f | %6.2f | %8.2f | %9ld | %9ld | %9ld |\n",
           remote ? "remote worker" : "serve", docs, docs / load_s, first, lat[queries / 2], lat[(size_t)(queries * 0.99)],
           lat[queries - 1], changed, loaded, before, after);
    fflush(stdout);
    free(lat);
    if (remote) {
        eqd_signal(&w, SIGTERM);
        eqd_wait(&w);
    }
    eqd_signal(&d, SIGTERM);
    eqd_wait(&d);
    eqt_rmdir(dir);
}

int main(int argc, char **argv) {
    const char *econqd = NULL, *sizes = "10000,100000", *modes = "serve";
    unsigned queries = 300;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--econqd") == 0)
            econqd = argv[i + 1];
        else if (strcmp(argv[i], "--sizes") == 0)
            sizes = argv[i + 1];
        else if (strcmp(argv[i], "--queries") == 0)
            queries = (unsigned)atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--modes") == 0)
            modes = argv[i + 1];
    }
    if (!econqd || queries < 2 || queries > MAX_QUERIES) {
        fprintf(stderr, "usage: bench_search_e2e --econqd PATH [--sizes 10000,100000] "
                        "[--queries 300] [--modes serve,remote]\n");
        return 2;
    }
    eqt_use_econqd(econqd); /* eqd_start runs it */
    signal(SIGPIPE, SIG_IGN);
    printf("search jobs end to end over HTTP (econqd serve, nosync, built-in embedder, k = 10, "
           "%u distinct queries one at a time; latency = submit to result)\n\n", queries);
    printf("| search worker | documents | load docs/s | first query ms (loads the index) | p50 ms | p99 ms | "
           "max ms | first query after adding 100 docs ms | RssAnon after load KiB | "
           "RssAnon with index KiB | RssAnon after queries KiB |\n");
    printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (int remote = 0; remote < 2; remote++) {
        if (!strstr(modes, remote ? "remote" : "serve"))
            continue;
        for (const char *p = sizes; *p;) {
            unsigned n = (unsigned)strtoul(p, (char **)&p, 10);
            if (n)
                run_size(n, queries, remote);
            if (*p == ',')
                p++;
            else if (*p)
                break;
        }
    }
    return 0;
}

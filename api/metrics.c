/* The request guard (keys, rate limits), the request log, HTTP metrics and GET /metrics.
 *
 * Every request the api is handed passes api_guard() first, which starts its clock; every answer
 * goes through api_respond*() (api_internal.h maps http_respond* to them), which logs the request
 * once and counts it. Job metrics come from the broker (common/metrics.c) and from the store at
 * scrape time. */
#include <dirent.h>
#include <http_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "api/api_internal.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"

/* This file calls the HTTP library itself. */
#undef http_respond
#undef http_respond_problem
#undef http_respond_problem_headers

#define API_METRICS_MAX_KINDS 32 /* worker kinds counted at one scrape */

typedef struct api_reqinfo {
    uint64_t start_ns;
    char client[RL_CLIENT_MAX]; /* "key:NAME" or "addr:ADDRESS"; never the key itself */
} api_reqinfo;

/* Seconds: from 100 µs to 60 s (long-polls). */
static const double http_bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                     0.05,   0.1,     0.25,   0.5,   1,      2.5,   10,   60};

static const char *const group_names[] = {"submit", "read", "upload"};

/* A small fixed set of route labels, so clients cannot grow the metrics with paths. */
static const char *route_label(const char *path) {
    static const struct { const char *prefix; int exact; const char *label; } routes[] = {
        {"/v1/jobs", 1, "jobs"},         {"/v1/jobs/", 0, "job"},
        {"/v1/datasets", 1, "datasets"}, {"/v1/datasets/", 0, "dataset"},
        {"/v1/batches", 1, "batches"},   {"/v1/batches/", 0, "batch"},
        {"/v1/schedules", 0, "schedules"}, {"/v1/charts/", 0, "chart"},
        {"/v1/deliveries/", 0, "delivery"},
        {"/health", 1, "health"},
        {"/metrics", 1, "metrics"},      {"/openapi.json", 1, "openapi"},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        size_t n = strlen(routes[i].prefix);
        if (routes[i].exact ? strcmp(path, routes[i].prefix) == 0
                            : strncmp(path, routes[i].prefix, n) == 0)
            return routes[i].label;
    }
    return "other";
}

/* Logs and counts the answer to r, and releases the request's bookkeeping. */
static void observe(http_request *r, int status) {
    static metric_family *requests, *latency;
    api_reqinfo *ri = http_request_userdata(r);
    double secs = ri ? (double)(uv_hrtime() - ri->start_ns) / 1e9 : 0.0;
    const char *path = http_request_path(r), *route = route_label(path);
    char st[16], ms[32];
    if (!requests) {
        requests = metrics_counter("econq_http_requests_total",
                                   "HTTP requests answered by the api, by route and status.",
                                   "route,status");
        latency = metrics_histogram("econq_http_request_duration_seconds",
                                    "Time from a request's arrival at the api to its answer.",
                                    "route", http_bounds, sizeof http_bounds / sizeof *http_bounds);
    }
    snprintf(st, sizeof st, "%d", status);
    snprintf(ms, sizeof ms, "%.3f", secs * 1000.0);
    metrics_counter_add(requests, (const char *const[]){route, st}, 1);
    metrics_histogram_observe(latency, (const char *const[]){route}, secs);
    /* Never the headers: the Authorization header must not reach the log. */
    eq_log(status >= 500 ? EQ_LOG_WARN : EQ_LOG_INFO, "request", "request_id", http_request_id(r),
           "method", http_request_method_name(r), "path", path, "route", route, "status", st,
           "duration_ms", ms, "client", ri ? ri->client : http_request_remote_addr(r), NULL);
    if (ri) {
        http_request_set_userdata(r, NULL);
        free(ri);
    }
}

void api_respond(http_request *r, int status, const char *content_type, const char *extra_headers,
                 const void *body, size_t len) {
    observe(r, status);
    http_respond(r, status, content_type, extra_headers, body, len);
}

void api_respond_problem(http_request *r, int status, const char *slug, const char *title,
                         const char *detail, cJSON *extra) {
    observe(r, status);
    http_respond_problem(r, status, slug, title, detail, extra);
}

void api_respond_problem_headers(http_request *r, int status, const char *slug, const char *title,
                                 const char *detail, cJSON *extra, const char *extra_headers) {
    observe(r, status);
    http_respond_problem_headers(r, status, slug, title, detail, extra, extra_headers);
}

int api_guard(api *a, http_request *r) {
    static metric_family *denied, *limited;
    const char *path = http_request_path(r);
    int method = http_request_method(r);
    api_reqinfo *ri = calloc(1, sizeof *ri);
    char client[RL_CLIENT_MAX];
    if (!denied) {
        denied = metrics_counter("econq_http_unauthorized_total",
                                 "Requests refused for a missing or unknown API key.", "reason");
        limited = metrics_counter("econq_http_rate_limited_total",
                                  "Requests refused by a rate limit, by route group.", "group");
    }
    if (ri) {
        ri->start_ns = uv_hrtime();
        http_request_set_userdata(r, ri);
    }
    /* /health is always open; /metrics unless --metrics-auth. Neither is rate limited, so
     * probes and scrapes never starve. */
    int health = strcmp(path, "/health") == 0, metrics = strcmp(path, "/metrics") == 0;
    int open = health || (metrics && !a->cfg.metrics_auth);
    snprintf(client, sizeof client, "addr:%s", http_request_remote_addr(r));
    if (ri)
        memcpy(ri->client, client, sizeof client);
    if (a->cfg.auth && !open) {
        const char *hdr = http_request_header(r, "Authorization");
        const char *name = api_auth_check(a->cfg.auth, hdr);
        if (!name) {
            metrics_counter_add(denied, (const char *const[]){hdr ? "invalid" : "missing"}, 1);
            api_respond_problem_headers(
                r, 401, "unauthorized", "Unauthorized",
                hdr ? "the API key is not valid" : "an API key is required: Authorization: Bearer KEY",
                NULL, "WWW-Authenticate: Bearer realm=\"econq\"\r\n");
            return 1;
        }
        snprintf(client, sizeof client, "key:%s", name);
        if (ri)
            memcpy(ri->client, client, sizeof client);
    }
    rl_group g = api_rl_group(method, path);
    unsigned retry = 0;
    if (!health && !metrics && g != RL_NONE &&
        !api_rl_take(a->cfg.rl, g, client, eq_mono_ms(), &retry)) {
        char hdr[64], detail[160];
        metrics_counter_add(limited, (const char *const[]){group_names[g]}, 1);
        snprintf(hdr, sizeof hdr, "Retry-After: %u\r\n", retry);
        snprintf(detail, sizeof detail, "too many %s requests; retry in %u s", group_names[g], retry);
        cJSON *extra = cJSON_CreateObject();
        if (extra) {
            cJSON_AddNumberToObject(extra, "retry_after", retry);
            cJSON_AddStringToObject(extra, "group", group_names[g]);
        }
        api_respond_problem_headers(r, 429, "rate-limited", "Too Many Requests", detail, extra, hdr);
        return 1;
    }
    return 0;
}

/* ---- GET /metrics: values read at scrape time. */

typedef struct kinds_count {
    int64_t since;
    size_t n;
    char names[API_METRICS_MAX_KINDS][48];
    double count[API_METRICS_MAX_KINDS];
    int llm_reported, llm_state; /* remote llm breakers: any reported, the worst state */
} kinds_count;

static void count_worker(void *arg, const char *name, const char *kinds, int64_t seen) {
    kinds_count *k = arg;
    (void)name;
    if (seen < k->since)
        return;
    /* kinds is "forecast,noop", or "llm,noop|llm_breaker=open" with the worker's status. */
    const char *bar = strchr(kinds, '|');
    const char *end = bar ? bar : kinds + strlen(kinds);
    if (bar && strncmp(bar + 1, "llm_breaker=", 12) == 0) {
        const char *s = bar + 13;
        int st = strncmp(s, "open", 4) == 0 ? 1 : strncmp(s, "half_open", 9) == 0 ? 2 : 0;
        k->llm_reported = 1;
        if (st == 1 || (st == 2 && k->llm_state != 1))
            k->llm_state = st;
    }
    for (const char *p = kinds; p && p < end;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        size_t len = comma ? (size_t)(comma - p) : (size_t)(end - p);
        size_t i = 0;
        if (len > 0 && len < sizeof k->names[0]) {
            while (i < k->n && (strlen(k->names[i]) != len || strncmp(k->names[i], p, len) != 0))
                i++;
            if (i == k->n && k->n < API_METRICS_MAX_KINDS) {
                memcpy(k->names[i], p, len);
                k->names[i][len] = '\0';
                k->count[k->n++] = 0;
            }
            if (i < k->n)
                k->count[i] += 1;
        }
        p = comma ? comma + 1 : NULL;
    }
}

static void scrape_store(api *a) {
    store_info info;
    store_txn *t = NULL;
    int64_t now = eq_now_ms();
    if (store_stat(a->cfg.st, &info) == EQ_OK) {
        metrics_gauge_set(metrics_gauge("econq_store_map_size_bytes",
                                        "The most the LMDB store may grow to.", NULL),
                          NULL, (double)info.map_size);
        metrics_gauge_set(metrics_gauge("econq_store_used_bytes",
                                        "Bytes of the LMDB map in use.", NULL),
                          NULL, (double)info.used_bytes);
        metrics_gauge_set(metrics_gauge("econq_store_readers", "LMDB reader slots in use.", NULL),
                          NULL, info.readers);
        metrics_gauge_set(metrics_gauge("econq_jobs_running", "Jobs leased to a worker.", NULL),
                          NULL, (double)info.running);
        metrics_gauge_set(metrics_gauge("econq_jobs_stored",
                                        "Jobs in the store, in any state.", NULL),
                          NULL, (double)info.jobs);
    }
    if (store_txn_begin(a->cfg.st, 0, &t) != EQ_OK)
        return;
    uint64_t v = 0;
    store_meta_get(t, "seq", &v); /* absent before the first submit: 0 */
    metrics_counter_set(metrics_counter("econq_jobs_submitted_total",
                                        "Jobs accepted since the store was created.", NULL),
                        NULL, v);
    metric_family *depth = metrics_gauge("econq_queue_depth",
                                         "Queued jobs (ready or delayed) by type.", "type");
    metric_family *age = metrics_gauge("econq_queue_oldest_age_seconds",
                                       "Age of the oldest ready job by type.", "type");
    metric_family *hits = metrics_counter("econq_cache_hits_total",
                                          "Submits answered from the result cache, by type.",
                                          "type");
    metric_family *misses = metrics_counter("econq_cache_misses_total",
                                            "Cacheable submits not in the result cache, by type.",
                                            "type");
    for (size_t i = 0; a->cfg.job_types && a->cfg.job_types[i]; i++) {
        const char *type = a->cfg.job_types[i], *lv[] = {type};
        char name[96];
        uint64_t n = 0;
        int64_t oldest = 0;
        if (store_queue_depth(t, type, &n, &oldest) == EQ_OK) {
            metrics_gauge_set(depth, lv, (double)n);
            metrics_gauge_set(age, lv, n && oldest < now ? (double)(now - oldest) / 1000.0 : 0.0);
        }
        v = 0;
        snprintf(name, sizeof name, "cache.hits.%s", type);
        store_meta_get(t, name, &v);
        metrics_counter_set(hits, lv, v);
        v = 0;
        snprintf(name, sizeof name, "cache.misses.%s", type);
        store_meta_get(t, name, &v);
        metrics_counter_set(misses, lv, v);
    }
    v = 0;
    if (store_delivery_backlog(t, &v) == EQ_OK)
        metrics_gauge_set(metrics_gauge("econq_webhook_backlog",
                                        "Webhook deliveries waiting to be made.", NULL),
                          NULL, (double)v);
    kinds_count k = {.since = now - a->cfg.health_worker_window_ms};
    metric_family *workers = metrics_gauge("econq_workers_connected",
                                           "Worker threads seen recently, by kind served.", "kind");
    store_workers_each(t, count_worker, &k);
    metrics_gauge_reset(workers);
    for (size_t i = 0; i < k.n; i++)
        metrics_gauge_set(workers, (const char *const[]){k.names[i]}, k.count[i]);
    /* Remote llm workers' breakers (an in-process one sets the gauge itself). */
    if (!a->cfg.llm_breaker && k.llm_reported)
        metrics_circuit_state("llm", k.llm_state);
    store_txn_abort(t);
}

static void scrape_http(api *a) {
    http_server_stats s;
    http_server_stats_get(a->http, &s);
    metrics_gauge_set(metrics_gauge("econq_http_connections_open", "Open HTTP connections.", NULL),
                      NULL, (double)http_server_connections(a->http));
    metrics_counter_set(metrics_counter("econq_http_connections_accepted_total",
                                        "HTTP connections accepted.", NULL),
                        NULL, s.connections_accepted);
    metrics_counter_set(metrics_counter("econq_http_connections_rejected_total",
                                        "HTTP connections refused over the connection limit.",
                                        NULL),
                        NULL, s.connections_rejected);
    metrics_counter_set(metrics_counter("econq_http_protocol_errors_total",
                                        "Requests the HTTP layer answered itself with 4xx/5xx "
                                        "(malformed, too large, ...), before the api saw them.",
                                        NULL),
                        NULL, s.client_errors);
    metrics_counter_set(metrics_counter("econq_http_timeouts_total",
                                        "Requests and connections ended for slowness or idleness.",
                                        NULL),
                        NULL, s.timeouts);
    metrics_counter_set(metrics_counter("econq_http_received_bytes_total",
                                        "Bytes read from HTTP clients.", NULL),
                        NULL, s.bytes_in);
    metrics_counter_set(metrics_counter("econq_http_sent_bytes_total",
                                        "Bytes written to HTTP clients.", NULL),
                        NULL, s.bytes_out);
    if (api_rl_enabled(a->cfg.rl))
        metrics_counter_set(metrics_counter("econq_rate_limit_evictions_total",
                                            "Rate-limit buckets evicted from the full table.",
                                            NULL),
                            NULL, api_rl_evictions(a->cfg.rl));
}

static void scrape_process(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long long size = 0, resident = 0;
    if (f) {
        if (fscanf(f, "%llu %llu", &size, &resident) == 2) {
            double page = (double)sysconf(_SC_PAGESIZE);
            metrics_gauge_set(metrics_gauge("process_resident_memory_bytes",
                                            "Resident memory size in bytes.", NULL),
                              NULL, (double)resident * page);
            metrics_gauge_set(metrics_gauge("process_virtual_memory_bytes",
                                            "Virtual memory size in bytes.", NULL),
                              NULL, (double)size * page);
        }
        fclose(f);
    }
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        double n = 0;
        struct dirent *e;
        while ((e = readdir(d)))
            if (e->d_name[0] != '.')
                n++;
        closedir(d);
        /* Less the descriptor of the directory being read. */
        metrics_gauge_set(metrics_gauge("process_open_fds", "Open file descriptors.", NULL), NULL,
                          n > 0 ? n - 1 : 0);
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        metrics_gauge_set(metrics_gauge("process_max_fds", "Limit of open file descriptors.", NULL),
                          NULL, (double)rl.rlim_cur);
}

void api_metrics(api *a, http_request *r) {
    eq_buf b;
    scrape_store(a);
    scrape_http(a);
    scrape_process();
    eq_buf_init(&b);
    metrics_render(&b);
    if (b.oom) {
        eq_buf_fini(&b);
        api_respond_problem(r, 500, "internal-error", "Internal Server Error",
                            "out of memory rendering the metrics", NULL);
        return;
    }
    api_respond(r, 200, "text/plain; version=0.0.4; charset=utf-8", "Cache-Control: no-store\r\n",
                b.data, b.len);
    eq_buf_fini(&b);
}

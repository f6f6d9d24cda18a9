/* GET /health: the store (readable, writable, map usage), queue depth per type and the workers
 * seen recently. 503 when the store cannot be used. */
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>

#include "api/api_internal.h"
#include "common/clock.h"

#define HEALTH_DISK_DEGRADED 0.05     /* free share of the data disk below which: degraded */
#define HEALTH_DISK_UNHEALTHY_BYTES (8ull << 20) /* free bytes below which: unhealthy */
#define HEALTH_BACKLOG_DEGRADED 10000 /* pending webhook deliveries beyond which: degraded */
#define HEALTH_MAX_TYPES 32           /* job types counted per worker */

static const char *const breaker_names[] = {"closed", "open", "half_open"};

typedef struct workers_ctx {
    eq_buf *b;
    int64_t since;
    size_t n;
    char types[HEALTH_MAX_TYPES][64]; /* job types served by connected workers, and how many */
    size_t ntypes, per_type[HEALTH_MAX_TYPES];
    int llm_workers, llm_state; /* workers reporting an llm breaker, and the worst state */
} workers_ctx;

static void count_types(workers_ctx *w, const char *kinds, size_t len) {
    for (const char *p = kinds; p < kinds + len;) {
        size_t l = strcspn(p, ",|");
        if (l > (size_t)(kinds + len - p))
            l = (size_t)(kinds + len - p);
        size_t i;
        for (i = 0; i < w->ntypes; i++)
            if (strlen(w->types[i]) == l && strncmp(w->types[i], p, l) == 0)
                break;
        if (i == w->ntypes && i < HEALTH_MAX_TYPES && l < sizeof w->types[0]) {
            memcpy(w->types[i], p, l);
            w->types[i][l] = '\0';
            w->ntypes++;
        }
        if (i < w->ntypes)
            w->per_type[i]++;
        p += l;
        if (*p == ',')
            p++;
    }
}

static void one_worker(void *arg, const char *name, const char *kinds, int64_t seen) {
    workers_ctx *w = arg;
    if (seen < w->since)
        return;
    /* "types" or "types|status" (the worker's own state, e.g. its llm breaker). */
    const char *bar = strchr(kinds, '|');
    size_t tl = bar ? (size_t)(bar - kinds) : strlen(kinds);
    count_types(w, kinds, tl);
    if (w->n++)
        eq_buf_u8(w->b, ',');
    eq_buf_puts(w->b, "{\"name\":");
    eq_buf_json_str(w->b, name);
    eq_buf_puts(w->b, ",\"types\":");
    eq_buf_json_strn(w->b, kinds, tl);
    if (bar) {
        eq_buf_puts(w->b, ",\"status\":");
        eq_buf_json_str(w->b, bar + 1);
        const char *s = strstr(bar + 1, "llm_breaker=");
        if (s) {
            s += 12;
            int st = strncmp(s, "open", 4) == 0 ? 1 : strncmp(s, "half_open", 9) == 0 ? 2 : 0;
            w->llm_workers++;
            /* open is worse than half-open, which is worse than closed */
            if (st == 1 || (st == 2 && w->llm_state != 1))
                w->llm_state = st;
        }
    }
    eq_buf_printf(w->b, ",\"seen_ms_ago\":%lld}", (long long)(eq_now_ms() - seen));
}

void api_health(api *a, http_request *r) {
    store_info info;
    store_txn *t = NULL;
    eq_buf b;
    int store_ok = store_stat(a->cfg.st, &info) == EQ_OK &&
                   store_txn_begin(a->cfg.st, 0, &t) == EQ_OK;
    int writable = store_ok && store_dir_writable(a->cfg.st);
    int64_t now = eq_now_ms();
    eq_buf_init(&b);
    eq_buf_puts(&b, "{\"store\":{");
    if (store_ok) {
        double usage = info.map_size ? (double)info.used_bytes / (double)info.map_size : 0;
        eq_buf_printf(&b,
                      "\"status\":\"%s\",\"writable\":%s,\"map_size\":%llu,\"used_bytes\":%llu,"
                      "\"map_usage\":%.4f,\"jobs\":%llu,\"queued\":%llu,\"running\":%llu,"
                      "\"readers\":%u}",
                      writable ? "healthy" : "unhealthy", writable ? "true" : "false",
                      (unsigned long long)info.map_size, (unsigned long long)info.used_bytes,
                      usage, (unsigned long long)info.jobs, (unsigned long long)info.queued,
                      (unsigned long long)info.running, info.readers);
    } else {
        eq_buf_puts(&b, "\"status\":\"unhealthy\",\"error\":\"the store cannot be read\"}");
    }
    size_t nworkers = 0;
    int backlog_high = 0, llm_workers = 0, llm_state = 0;
    if (t) {
        eq_buf_puts(&b, ",\"queues\":{");
        for (size_t i = 0; a->cfg.job_types && a->cfg.job_types[i]; i++) {
            uint64_t n = 0;
            int64_t oldest = 0;
            store_queue_depth(t, a->cfg.job_types[i], &n, &oldest);
            eq_buf_printf(&b, "%s", i ? "," : "");
            eq_buf_json_str(&b, a->cfg.job_types[i]);
            eq_buf_printf(&b, ":{\"depth\":%llu,\"oldest_age_ms\":%lld}", (unsigned long long)n,
                          (long long)(n && oldest < now ? now - oldest : 0));
        }
        eq_buf_puts(&b, "},\"workers\":{\"connected\":[");
        workers_ctx w = {.b = &b, .since = now - a->cfg.health_worker_window_ms};
        store_workers_each(t, one_worker, &w);
        nworkers = w.n;
        llm_workers = w.llm_workers;
        llm_state = w.llm_state;
        eq_buf_printf(&b, "],\"count\":%zu,\"per_type\":{", w.n);
        for (size_t i = 0; i < w.ntypes; i++) {
            eq_buf_printf(&b, "%s", i ? "," : "");
            eq_buf_json_str(&b, w.types[i]);
            eq_buf_printf(&b, ":%zu", w.per_type[i]);
        }
        eq_buf_printf(&b, "},\"status\":\"%s\"}", w.n ? "healthy" : "degraded");
        uint64_t backlog = 0;
        store_delivery_backlog(t, &backlog);
        backlog_high = backlog > HEALTH_BACKLOG_DEGRADED;
        eq_buf_printf(&b, ",\"webhooks\":{\"pending\":%llu,\"status\":\"%s\"}",
                      (unsigned long long)backlog, backlog_high ? "degraded" : "healthy");
        store_txn_abort(t);
    }
    /* The data disk: a full disk stops writes. */
    struct statvfs vfs;
    int disk_low = 0, disk_out = 0;
    if (statvfs(store_path(a->cfg.st), &vfs) == 0) {
        uint64_t total = (uint64_t)vfs.f_blocks * vfs.f_frsize;
        uint64_t avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
        double ratio = total ? (double)avail / (double)total : 0;
        disk_out = avail < HEALTH_DISK_UNHEALTHY_BYTES;
        disk_low = ratio < HEALTH_DISK_DEGRADED;
        eq_buf_printf(&b, ",\"disk\":{\"free_bytes\":%llu,\"total_bytes\":%llu,"
                          "\"free_ratio\":%.4f,\"status\":\"%s\"}",
                      (unsigned long long)avail, (unsigned long long)total, ratio,
                      disk_out ? "unhealthy" : disk_low ? "degraded" : "healthy");
    }
    /* The llm circuit breaker: open (or probing) means llm jobs wait: degraded. */
    int state = 0, llm_down = 0;
    unsigned failures = 0;
    uint64_t retry_s = 0, opened = 0;
    const char *url = NULL;
    if (a->cfg.llm_breaker && a->cfg.llm_breaker(&state, &failures, &retry_s, &opened, &url) == 0) {
        llm_down = state != 0;
        eq_buf_printf(&b, ",\"llm\":{\"circuit\":\"%s\",\"consecutive_failures\":%u,"
                          "\"retry_after_s\":%llu,\"opened_total\":%llu,\"url\":",
                      breaker_names[state >= 0 && state <= 2 ? state : 0], failures,
                      (unsigned long long)retry_s, (unsigned long long)opened);
        eq_buf_json_str(&b, url);
        eq_buf_printf(&b, ",\"status\":\"%s\"}", llm_down ? "degraded" : "healthy");
    } else if (llm_workers) {
        /* Remote llm workers report their breakers with their lease requests. */
        llm_down = llm_state != 0;
        eq_buf_printf(&b, ",\"llm\":{\"circuit\":\"%s\",\"workers\":%d,\"status\":\"%s\"}",
                      breaker_names[llm_state], llm_workers, llm_down ? "degraded" : "healthy");
    }
    eq_buf_puts(&b, "}");
    /* No worker seen recently, a low disk or a webhook backlog: degraded, still accepting. */
    /* A store within its reserve refuses new data: degraded (reads and deletes still work). */
    int store_full = store_ok && store_space_low(a->cfg.st);
    const char *status = !store_ok || !writable || disk_out ? "unhealthy"
                         : !nworkers || disk_low || backlog_high || store_full || llm_down
                             ? "degraded"
                                                                               : "healthy";
    eq_buf out;
    eq_buf_init(&out);
    eq_buf_printf(&out, "{\"status\":\"%s\",\"checks\":", status);
    eq_buf_put(&out, b.data, b.len);
    eq_buf_puts(&out, "}");
    eq_buf_fini(&b);
    b = out;
    api_json(r, strcmp(status, "unhealthy") == 0 ? 503 : 200, "Cache-Control: no-store\r\n",
             (const char *)b.data, b.len);
    eq_buf_fini(&b);
}

/* GET /health: the store (readable, writable, map usage), queue depth per type and the workers
 * seen recently. 503 when the store cannot be used. */
#include <stdio.h>
#include <string.h>

#include "api/api_internal.h"
#include "common/clock.h"

typedef struct workers_ctx {
    eq_buf *b;
    int64_t since;
    size_t n;
} workers_ctx;

static void one_worker(void *arg, const char *name, const char *kinds, int64_t seen) {
    workers_ctx *w = arg;
    if (seen < w->since)
        return;
    if (w->n++)
        eq_buf_u8(w->b, ',');
    eq_buf_puts(w->b, "{\"name\":");
    eq_buf_json_str(w->b, name);
    eq_buf_puts(w->b, ",\"types\":");
    eq_buf_json_str(w->b, kinds);
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
        eq_buf_printf(&b, "],\"count\":%zu,\"status\":\"%s\"}", w.n, w.n ? "healthy" : "degraded");
        store_txn_abort(t);
    }
    eq_buf_puts(&b, "}");
    /* No worker seen recently: jobs wait, but the service still accepts them. */
    const char *status = !store_ok || !writable ? "unhealthy" : nworkers ? "healthy" : "degraded";
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

/* The webhook dispatcher thread: reads due deliveries from the outbox (read transactions only),
 * hands them to the libcurl-multi dispatcher on its own libuv loop, and posts each attempt's
 * outcome to the broker's writer. A delivery stays "in flight" here from the moment it is read
 * until the writer has committed its outcome, so it is never sent twice at once; memory is
 * bounded by max_inflight whatever the backlog. */
#include "broker/outbox.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"

#define OUTBOX_POLL_MS 1000      /* look at the outbox at least this often */
#define OUTBOX_MAX_INFLIGHT 1024 /* ceiling of outbox_config.max_inflight */

typedef struct flight {
    char id[48];
    int used;
} flight;

struct outbox {
    outbox_config cfg;
    outbox_post_fn post;
    void *post_ctx;
    uv_loop_t loop;
    uv_async_t async;
    uv_timer_t timer;
    wh_dispatcher *wh;
    pthread_t tid;
    pthread_mutex_t mu;
    int wake, stopping;
    outbox_outcome *released;   /* guarded by mu: ids whose outcome is committed */
    flight *flights;            /* loop thread only */
    size_t nflight;
    wh_stats stats;             /* guarded by mu: a copy for metrics */
};

static flight *flight_find(outbox *o, const char *id) {
    for (size_t i = 0; i < o->cfg.max_inflight; i++)
        if (o->flights[i].used && strcmp(o->flights[i].id, id) == 0)
            return &o->flights[i];
    return NULL;
}

static flight *flight_add(outbox *o, const char *id) {
    for (size_t i = 0; i < o->cfg.max_inflight; i++) {
        if (!o->flights[i].used) {
            o->flights[i].used = 1;
            snprintf(o->flights[i].id, sizeof o->flights[i].id, "%s", id);
            o->nflight++;
            return &o->flights[i];
        }
    }
    return NULL;
}

static void on_done(void *ctx, const wh_delivery *d, const wh_result *res) {
    outbox *o = ctx;
    if (o->stopping)
        return; /* cut short by shutdown: not an attempt; it is sent again after a restart */
    outbox_outcome *oc = calloc(1, sizeof *oc);
    if (!oc)
        return; /* the delivery stays in flight until restart; rare and harmless */
    snprintf(oc->id, sizeof oc->id, "%s", d->msg_id);
    oc->at_ms = eq_now_ms();
    oc->http_status = res->http_status;
    oc->ok = res->err == EQ_OK;
    oc->gone = res->gone;
    oc->retryable = res->retryable;
    oc->latency_ms = res->latency_ms > 0 ? (uint32_t)res->latency_ms : 0;
    snprintf(oc->error, sizeof oc->error, "%s", res->err == EQ_OK ? "" : res->error);
    o->post(o->post_ctx, oc);
}

static void timer_cb(uv_timer_t *t);

/* Reads due deliveries and dispatches those not in flight. */
static void pump(outbox *o) {
    size_t room = o->cfg.max_inflight - o->nflight;
    if (room == 0 || o->stopping)
        return;
    store_delivery_id *ids = calloc(room + o->nflight, sizeof *ids);
    store_txn *t;
    size_t n = 0;
    int64_t next_due = 0;
    if (!ids || store_txn_begin(o->cfg.st, 0, &t) != EQ_OK) {
        free(ids);
        return;
    }
    /* In-flight ones are still due in the store: ask for enough to see past them. */
    store_delivery_due(t, eq_now_ms(), room + o->nflight, ids, &n, &next_due);
    for (size_t i = 0; i < n && o->nflight < o->cfg.max_inflight; i++) {
        store_delivery d;
        if (flight_find(o, ids[i].id) || store_delivery_get(t, ids[i].id, &d) != EQ_OK)
            continue;
        wh_delivery wd = {.msg_id = d.id, .url = d.url, .secret = d.secret, .body = d.body,
                          .body_len = strlen(d.body), .timestamp = eq_now_ms() / 1000};
        eq_err err = wh_dispatch(o->wh, &wd);
        if (err == EQ_OK) {
            flight_add(o, d.id);
        } else if (err != EQ_EBUSY) {
            /* A bad URL or secret: record the failure like any attempt. */
            wh_result res = {.err = err, .retryable = 0};
            snprintf(res.error, sizeof res.error, "not sent: %s", eq_strerror(err));
            res.response = "";
            flight_add(o, d.id);
            on_done(o, &wd, &res);
        }
        store_delivery_fini(&d);
    }
    store_txn_abort(t);
    free(ids);
    int64_t wait = OUTBOX_POLL_MS;
    if (next_due) {
        int64_t until = next_due - eq_now_ms();
        if (until < wait)
            wait = until > 1 ? until : 1;
    }
    uv_timer_start(&o->timer, timer_cb, (uint64_t)wait, 0);
}

static void timer_cb(uv_timer_t *t) {
    pump(t->data);
}

static void closed_cb(void *arg) {
    outbox *o = arg;
    uv_close((uv_handle_t *)&o->timer, NULL);
    uv_close((uv_handle_t *)&o->async, NULL);
}

static void async_cb(uv_async_t *h) {
    outbox *o = h->data;
    pthread_mutex_lock(&o->mu);
    outbox_outcome *rel = o->released;
    o->released = NULL;
    int stopping = o->stopping;
    o->wake = 0;
    wh_dispatcher_stats(o->wh, &o->stats);
    pthread_mutex_unlock(&o->mu);
    while (rel) {
        outbox_outcome *nx = rel->next;
        flight *f = flight_find(o, rel->id);
        if (f) {
            f->used = 0;
            o->nflight--;
        }
        free(rel);
        rel = nx;
    }
    if (stopping) {
        uv_timer_stop(&o->timer);
        if (o->wh) {
            wh_dispatcher *wh = o->wh;
            o->wh = NULL;
            wh_dispatcher_close(wh, closed_cb, o);
        }
        return;
    }
    pump(o);
}

static void *thread_main(void *arg) {
    outbox *o = arg;
    pump(o);
    uv_run(&o->loop, UV_RUN_DEFAULT);
    return NULL;
}

eq_err outbox_start(const outbox_config *cfg, outbox_post_fn post, void *ctx, outbox **out) {
    outbox *o = calloc(1, sizeof *o);
    if (!o)
        return EQ_ENOMEM;
    o->cfg = *cfg;
    if (o->cfg.max_inflight == 0 || o->cfg.max_inflight > OUTBOX_MAX_INFLIGHT)
        o->cfg.max_inflight = 256;
    o->post = post;
    o->post_ctx = ctx;
    o->flights = calloc(o->cfg.max_inflight, sizeof *o->flights);
    pthread_mutex_init(&o->mu, NULL);
    if (!o->flights || uv_loop_init(&o->loop) != 0) {
        free(o->flights);
        free(o);
        return EQ_ENOMEM;
    }
    uv_async_init(&o->loop, &o->async, async_cb);
    o->async.data = o;
    uv_timer_init(&o->loop, &o->timer);
    o->timer.data = o;
    wh_config hc = cfg->http;
    if (hc.max_inflight == 0 || hc.max_inflight > o->cfg.max_inflight)
        hc.max_inflight = o->cfg.max_inflight;
    eq_err err = wh_dispatcher_new(&o->loop, &hc, on_done, o, &o->wh);
    if (err || pthread_create(&o->tid, NULL, thread_main, o) != 0) {
        if (o->wh)
            wh_dispatcher_close(o->wh, NULL, NULL);
        uv_close((uv_handle_t *)&o->async, NULL);
        uv_close((uv_handle_t *)&o->timer, NULL);
        uv_run(&o->loop, UV_RUN_DEFAULT);
        uv_loop_close(&o->loop);
        free(o->flights);
        free(o);
        return err ? err : EQ_ENOMEM;
    }
    *out = o;
    return EQ_OK;
}

void outbox_wake(outbox *o) {
    if (o)
        uv_async_send(&o->async);
}

void outbox_release(outbox *o, const outbox_outcome *list) {
    if (!o)
        return;
    pthread_mutex_lock(&o->mu);
    for (const outbox_outcome *l = list; l; l = l->next) {
        outbox_outcome *c = malloc(sizeof *c);
        if (!c)
            break;
        memcpy(c->id, l->id, sizeof c->id);
        c->next = o->released;
        o->released = c;
    }
    pthread_mutex_unlock(&o->mu);
    uv_async_send(&o->async);
}

void outbox_stats(outbox *o, wh_stats *out) {
    memset(out, 0, sizeof *out);
    if (!o)
        return;
    pthread_mutex_lock(&o->mu);
    *out = o->stats;
    pthread_mutex_unlock(&o->mu);
}

void outbox_stop(outbox *o) {
    if (!o)
        return;
    pthread_mutex_lock(&o->mu);
    o->stopping = 1;
    pthread_mutex_unlock(&o->mu);
    uv_async_send(&o->async);
    pthread_join(o->tid, NULL);
    uv_loop_close(&o->loop);
    while (o->released) {
        outbox_outcome *nx = o->released->next;
        free(o->released);
        o->released = nx;
    }
    pthread_mutex_destroy(&o->mu);
    free(o->flights);
    free(o);
}

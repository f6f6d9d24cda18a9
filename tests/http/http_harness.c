/* The test server: routes that answer at once, echo, hold requests or answer them later in
 * reverse order. Everything but the command mailbox runs on the loop thread. */
#include "tests/http/http_harness.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void deadline_in(struct timespec *ts, int ms) {
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static void echo(http_request *r) {
    size_t blen;
    const char *body = http_request_body(r, &blen);
    char x[64];
    int xrc = http_request_query_param(r, "x", x, sizeof x);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "method", http_request_method_name(r));
    cJSON_AddStringToObject(o, "path", http_request_path(r));
    if (http_request_query(r)) cJSON_AddStringToObject(o, "query", http_request_query(r));
    cJSON_AddNumberToObject(o, "body_len", (double)blen);
    cJSON_AddStringToObject(o, "body", body);
    cJSON_AddNumberToObject(o, "x_rc", xrc);
    if (xrc == 1) cJSON_AddStringToObject(o, "x", x);
    const char *t = http_request_header(r, "x-test");
    if (t) cJSON_AddStringToObject(o, "x_test", t);
    cJSON_AddStringToObject(o, "id", http_request_id(r));
    cJSON_AddStringToObject(o, "remote", http_request_remote_addr(r));
    char *s = cJSON_PrintUnformatted(o);
    http_respond(r, 200, "application/json", "X-Echo: yes\r\n", s, strlen(s));
    cJSON_free(s);
    cJSON_Delete(o);
}

/* Answers every held request in reverse order; the body is the request's query. */
static void answer_held_reversed(harness *h) {
    /* Answering may parse and dispatch more requests, which the handler holds anew. */
    http_request *held[HARNESS_HELD_MAX];
    int n = h->nheld;
    memcpy(held, h->held, sizeof held);
    h->nheld = 0;
    for (int i = n - 1; i >= 0; i--) {
        const char *q = http_request_query(held[i]);
        q = q ? q : "";
        http_respond(held[i], 200, "text/plain", NULL, q, strlen(q));
    }
}

static void defer_timer_cb(uv_timer_t *t) {
    answer_held_reversed(t->data);
}

/* Polls the watched held request until its client is gone, then answers it. */
static void watch_timer_cb(uv_timer_t *t) {
    harness *h = t->data;
    if (h->nheld == 0 || !http_request_is_closed(h->held[0])) return;
    uv_timer_stop(t);
    http_respond(h->held[0], 200, "text/plain", NULL, "late", 4); /* must only free it */
    h->nheld = 0;
    pthread_mutex_lock(&h->mu);
    h->held_gone++;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

/* http_request_on_close(): the client of a held request went away. */
static void on_client_gone(void *arg, http_request *r) {
    harness *h = arg;
    ck_assert_int_eq(h->depth, 0);
    ck_assert(http_request_is_closed(r));
    for (int i = 0; i < h->nheld; i++) {
        if (h->held[i] == r) {
            h->held[i] = h->held[--h->nheld];
            break;
        }
    }
    http_respond(r, 200, "text/plain", NULL, "late", 4); /* must only free it */
    pthread_mutex_lock(&h->mu);
    h->held_gone++;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

static void hold(harness *h, http_request *r) {
    ck_assert_int_lt(h->nheld, HARNESS_HELD_MAX);
    h->held[h->nheld++] = r;
    pthread_mutex_lock(&h->mu);
    h->held_seen++;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

static void route(harness *h, http_request *r);

/* The server must never call the handler from inside http_respond(). */
static void handler(void *ctx, http_request *r) {
    harness *h = ctx;
    ck_assert_int_eq(h->depth, 0);
    h->depth++;
    route(h, r);
    h->depth--;
}

static void route(harness *h, http_request *r) {
    const char *path = http_request_path(r);
    if (strcmp(path, "/release") == 0) {
        /* answers every held request (of any connection) from inside a handler */
        char n[16];
        snprintf(n, sizeof n, "%d", h->nheld);
        answer_held_reversed(h);
        http_respond(r, 200, "text/plain", NULL, n, strlen(n));
    } else if (strcmp(path, "/badheader") == 0) {
        http_respond(r, 200, "text/plain", "X-A: 1\r\nX-B: 2\nInjected: yes\r\n", "x", 1);
    } else if (strcmp(path, "/badstatus") == 0) {
        http_respond(r, 99, "text/plain", NULL, "x", 1);
    } else if (strcmp(path, "/hello") == 0) {
        http_respond(r, 200, "text/plain", NULL, "hello", 5);
    } else if (strncmp(path, "/echo", 5) == 0 || strncmp(path, "/big", 4) == 0) {
        echo(r);
    } else if (strcmp(path, "/large") == 0) {
        char n[16];
        size_t len = http_request_query_param(r, "n", n, sizeof n) == 1 ? strtoul(n, NULL, 10) : 0;
        char *b = malloc(len ? len : 1);
        for (size_t i = 0; i < len; i++)
            b[i] = (char)('a' + i % 26);
        http_respond(r, 200, "application/octet-stream", NULL, b, len);
        free(b); /* http_respond copied what the socket did not take */
    } else if (strcmp(path, "/defer") == 0) {
        char n[8];
        int want = http_request_query_param(r, "n", n, sizeof n) == 1 ? atoi(n) : 1;
        hold(h, r);
        if (h->nheld >= want) uv_timer_start(&h->timer, defer_timer_cb, 20, 0);
    } else if (strcmp(path, "/hold") == 0) {
        char w[4];
        hold(h, r);
        if (http_request_query_param(r, "notify", w, sizeof w) == 1)
            http_request_on_close(r, on_client_gone, h);
        if (http_request_query_param(r, "watch", w, sizeof w) == 1)
            uv_timer_start(&h->timer, watch_timer_cb, 10, 10);
    } else {
        cJSON *extra = cJSON_CreateObject();
        cJSON_AddStringToObject(extra, "path", path);
        cJSON_AddStringToObject(extra, "type", "overridden?"); /* must not replace the slug */
        http_respond_problem_headers(r, 404, "not-found", "Not found", NULL, extra,
                                     "Cache-Control: no-store\r\n");
    }
}

static size_t body_limit(void *ctx, const http_request *head) {
    return strncmp(http_request_path(head), "/big", 4) == 0 ? 64 * 1024 : 0;
}

static void on_closed(uv_handle_t *hd) {
    (void)hd;
}

static void on_stopped(void *arg) {
    harness *h = arg;
    uv_close((uv_handle_t *)&h->async, on_closed);
    uv_close((uv_handle_t *)&h->timer, on_closed);
    pthread_mutex_lock(&h->mu);
    h->stopped = true;
    pthread_mutex_unlock(&h->mu);
}

static void async_cb(uv_async_t *a) {
    harness *h = a->data;
    pthread_mutex_lock(&h->mu);
    int cmd = h->cmd;
    h->cmd = CMD_NONE;
    pthread_mutex_unlock(&h->mu);
    if (cmd == CMD_STOP)
        http_server_stop(h->srv, on_stopped, h);
    else if (cmd == CMD_RESPOND_HELD)
        answer_held_reversed(h);
    pthread_mutex_lock(&h->mu);
    if (cmd == CMD_QUERY) {
        h->conns = http_server_connections(h->srv);
        http_server_stats_get(h->srv, &h->stats);
    }
    if (cmd != CMD_NONE) h->acks++;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

static void loop_thread(void *arg) {
    harness *h = arg;
    eq_err e = http_server_start(&h->loop, &h->cfg, handler, h, &h->srv);
    pthread_mutex_lock(&h->mu);
    h->start_err = e;
    h->port = e ? 0 : http_server_port(h->srv);
    h->started = true;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    if (e) on_stopped(h);
    uv_run(&h->loop, UV_RUN_DEFAULT);
}

void harness_config(http_server_config *cfg) {
    http_server_config_defaults(cfg);
    cfg->port = 0;
    cfg->max_body_bytes = 4096;
    cfg->max_request_line = 1024;
    cfg->max_header_bytes = 2048;
    cfg->max_headers = 20;
    cfg->header_timeout_ms = 10000;
    cfg->idle_timeout_ms = 10000;
    cfg->body_limit_fn = body_limit;
}

void harness_start(harness *h, const http_server_config *cfg) {
    memset(h, 0, sizeof *h);
    h->cfg = *cfg;
    h->cfg.port = 0;
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    ck_assert_int_eq(uv_loop_init(&h->loop), 0);
    uv_async_init(&h->loop, &h->async, async_cb);
    h->async.data = h;
    uv_timer_init(&h->loop, &h->timer);
    h->timer.data = h;
    ck_assert_int_eq(uv_thread_create(&h->thread, loop_thread, h), 0);
    pthread_mutex_lock(&h->mu);
    while (!h->started)
        pthread_cond_wait(&h->cv, &h->mu);
    pthread_mutex_unlock(&h->mu);
    ck_assert_int_eq(h->start_err, EQ_OK);
    ck_assert_int_gt(h->port, 0);
}

void harness_cmd(harness *h, int cmd) {
    pthread_mutex_lock(&h->mu);
    unsigned want = h->acks + 1;
    h->cmd = cmd;
    uv_async_send(&h->async);
    struct timespec ts;
    deadline_in(&ts, 5000);
    while (h->acks < want)
        ck_assert_int_eq(pthread_cond_timedwait(&h->cv, &h->mu, &ts), 0);
    pthread_mutex_unlock(&h->mu);
}

void harness_wait_held(harness *h, int n) {
    struct timespec ts;
    deadline_in(&ts, 5000);
    pthread_mutex_lock(&h->mu);
    while (h->held_seen < n)
        ck_assert_int_eq(pthread_cond_timedwait(&h->cv, &h->mu, &ts), 0);
    pthread_mutex_unlock(&h->mu);
}

void harness_wait_held_closed(harness *h, int n) {
    struct timespec ts;
    deadline_in(&ts, 5000);
    pthread_mutex_lock(&h->mu);
    while (h->held_gone < n)
        ck_assert_int_eq(pthread_cond_timedwait(&h->cv, &h->mu, &ts), 0);
    pthread_mutex_unlock(&h->mu);
}

void harness_stop(harness *h) {
    harness_cmd(h, CMD_STOP);
    uv_thread_join(&h->thread);
    ck_assert(h->stopped);
    ck_assert_int_eq(uv_loop_close(&h->loop), 0); /* every handle was closed */
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->cv);
}

/* Tests broker/webhook/wh_dispatch.c against tests/fakes/webhook_receiver.py: signed deliveries,
 * the outcomes a receiver can cause (500, 410, hang, abrupt close), the SSRF guard, many
 * deliveries at once, retries with the same id and closing with work in flight. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "broker/webhook/wh_dispatch.h"
#include "broker/webhook/wh_sign.h"
#include "tests/fakes/webhook_receiver_uv.h"
#include "tests/webhook/wh_receiver_proc.h"

#define SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define BODY "{\"type\":\"job.succeeded\",\"data\":{\"id\":\"j1\"}}"
/* Most results one test collects. */
#define MAX_RESULTS 512
/* A test that has not finished after this long has failed. */
#define GUARD_MS 15000

typedef struct result_copy {
    int http_status;
    eq_err err;
    int gone, retryable;
    char error[160];
    char addr[WH_ADDR_STR_SIZE];
    char msg_id[64];
    char response[128];
    size_t response_len;
    size_t inflight_at_done, queued_at_done;
} result_copy;

typedef struct harness {
    uv_loop_t loop;
    uv_timer_t guard;
    wh_dispatcher *d;
    size_t expected;
    size_t n;
    result_copy res[MAX_RESULTS];
    int closed;
    int retry_until_ok; /* re-dispatch a delivery from its callback until it succeeds */
    wh_delivery retry;
    char retry_url[128];
    wh_stats stats; /* as they were when the last delivery finished */
} harness;

static wh_rx g_rx;

static void rx_teardown(void) {
    wh_rx_stop(&g_rx);
}

static void guard_cb(uv_timer_t *t) {
    (void)t;
    ck_abort_msg("the dispatcher did not finish in time");
}

static void closed_cb(void *arg) {
    harness *h = arg;
    h->closed = 1;
    uv_close((uv_handle_t *)&h->guard, NULL);
}

static void done_cb(void *ctx, const wh_delivery *d, const wh_result *res) {
    harness *h = ctx;
    ck_assert_uint_lt(h->n, MAX_RESULTS);
    result_copy *c = &h->res[h->n++];
    c->http_status = res->http_status;
    c->err = res->err;
    c->gone = res->gone;
    c->retryable = res->retryable;
    snprintf(c->error, sizeof c->error, "%s", res->error);
    snprintf(c->addr, sizeof c->addr, "%s", res->addr);
    snprintf(c->msg_id, sizeof c->msg_id, "%s", d->msg_id);
    size_t rl =
        res->response_len < sizeof c->response - 1 ? res->response_len : sizeof c->response - 1;
    memcpy(c->response, res->response, rl);
    c->response_len = res->response_len;
    c->response[rl] = '\0';
    if (h->d != NULL) { /* NULL once the test closed the dispatcher */
        c->inflight_at_done = wh_dispatcher_inflight(h->d);
        c->queued_at_done = wh_dispatcher_queued(h->d);
    }
    ck_assert_ptr_eq(d->secret, NULL);
    ck_assert_uint_eq(d->body_len, strlen(BODY));
    ck_assert_mem_eq(d->body, BODY, d->body_len);
    if (h->retry_until_ok && res->err != EQ_OK && h->n < h->expected) {
        ck_assert_int_eq(wh_dispatch(h->d, &h->retry), EQ_OK);
        return;
    }
    if (h->n == h->expected && h->d != NULL) {
        wh_dispatcher_stats(h->d, &h->stats);
        wh_dispatcher_close(h->d, closed_cb, h);
        h->d = NULL;
    }
}

static void harness_init(harness *h, const wh_config *cfg, size_t expected) {
    memset(h, 0, sizeof *h);
    ck_assert_int_eq(uv_loop_init(&h->loop), 0);
    ck_assert_int_eq(uv_timer_init(&h->loop, &h->guard), 0);
    ck_assert_int_eq(uv_timer_start(&h->guard, guard_cb, GUARD_MS, 0), 0);
    ck_assert_int_eq(wh_dispatcher_new(&h->loop, cfg, done_cb, h, &h->d), EQ_OK);
    h->expected = expected;
}

/* Runs the loop until the dispatcher closed and checks that no handle was left behind. */
static void harness_run(harness *h) {
    uv_run(&h->loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(h->closed, 1);
    ck_assert_uint_eq(h->n, h->expected);
    ck_assert_int_eq(uv_loop_close(&h->loop), 0);
}

static wh_config local_config(void) {
    wh_config cfg;
    wh_config_default(&cfg);
    ck_assert_int_eq(wh_allowlist_parse("127.0.0.0/8", &cfg.allow), EQ_OK);
    return cfg;
}

static void make_url(char *buf, size_t size, const char *host, const char *path) {
    snprintf(buf, size, "http://%s:%d%s", host, g_rx.port, path);
}

static eq_err dispatch_one(harness *h, const char *url, const char *msg_id) {
    wh_delivery dl = {.msg_id = msg_id,
                      .url = url,
                      .secret = SECRET,
                      .body = BODY,
                      .body_len = strlen(BODY),
                      .timestamp = 0};
    return wh_dispatch(h->d, &dl);
}

static const cJSON *record_field(const cJSON *rec, const char *name) {
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(rec, name);
    ck_assert_msg(f != NULL, "record without %s", name);
    return f;
}

START_TEST(test_delivered_and_verified) {
    wh_rx_start(&g_rx, SECRET);
    wh_config cfg = local_config();
    harness h;
    harness_init(&h, &cfg, 2);
    char url[128], url_name[128];
    make_url(url, sizeof url, "127.0.0.1", "/hook");
    /* By name: "localhost" may resolve to ::1 first, which the allowlist does not open, so the
     * dispatcher must pin the permitted 127.0.0.1. */
    make_url(url_name, sizeof url_name, "localhost", "/hook");
    ck_assert_int_eq(dispatch_one(&h, url, "msg_literal"), EQ_OK);
    ck_assert_int_eq(dispatch_one(&h, url_name, "msg_named"), EQ_OK);
    harness_run(&h);
    for (size_t i = 0; i < 2; i++) {
        ck_assert_msg(h.res[i].err == EQ_OK, "%s: %s", h.res[i].msg_id, h.res[i].error);
        ck_assert_int_eq(h.res[i].http_status, 200);
        ck_assert_int_eq(h.res[i].retryable, 0);
        ck_assert_str_eq(h.res[i].addr, "127.0.0.1");
        ck_assert(strstr(h.res[i].response, "received") != NULL);
    }
    cJSON *recs = wh_rx_deliveries(&g_rx);
    ck_assert_int_eq(cJSON_GetArraySize(recs), 2);
    const cJSON *rec;
    cJSON_ArrayForEach(rec, recs) {
        ck_assert(cJSON_IsTrue(record_field(rec, "verified")));
        ck_assert_str_eq(record_field(rec, "body")->valuestring, BODY);
        ck_assert_str_eq(record_field(rec, "user_agent")->valuestring, WH_USER_AGENT);
        ck_assert_str_eq(record_field(rec, "content_type")->valuestring, "application/json");
        const char *id = record_field(rec, "id")->valuestring;
        ck_assert(strcmp(id, "msg_literal") == 0 || strcmp(id, "msg_named") == 0);
        /* Verify again here, from the raw headers, with the library a receiver would use. */
        wh_delivery_headers hd = {.id = id,
                                  .timestamp = record_field(rec, "timestamp")->valuestring,
                                  .signature = record_field(rec, "signature")->valuestring,
                                  .body = BODY,
                                  .body_len = strlen(BODY)};
        const char *secrets[] = {SECRET};
        ck_assert_int_eq(wh_verify(&hd, secrets, 1, (int64_t)time(NULL), 300, NULL), EQ_OK);
    }
    cJSON_Delete(recs);
}
END_TEST

START_TEST(test_status_500_is_retryable) {
    wh_rx_start(&g_rx, SECRET);
    wh_config cfg = local_config();
    harness h;
    harness_init(&h, &cfg, 1);
    char url[128];
    make_url(url, sizeof url, "127.0.0.1", "/status/500");
    ck_assert_int_eq(dispatch_one(&h, url, "msg_500"), EQ_OK);
    harness_run(&h);
    ck_assert_int_eq(h.res[0].http_status, 500);
    ck_assert_int_eq(h.res[0].err, EQ_EPROTO);
    ck_assert_int_eq(h.res[0].retryable, 1);
    ck_assert_int_eq(h.res[0].gone, 0);
    ck_assert_str_eq(h.res[0].error, "HTTP 500");
}
END_TEST

START_TEST(test_410_is_gone) {
    wh_rx_start(&g_rx, SECRET);
    wh_config cfg = local_config();
    harness h;
    harness_init(&h, &cfg, 1);
    char url[128];
    make_url(url, sizeof url, "127.0.0.1", "/status/410");
    ck_assert_int_eq(dispatch_one(&h, url, "msg_410"), EQ_OK);
    harness_run(&h);
    ck_assert_int_eq(h.res[0].http_status, 410);
    ck_assert_int_eq(h.res[0].gone, 1);
    ck_assert_int_eq(h.res[0].retryable, 0);
    ck_assert_int_ne(h.res[0].err, EQ_OK);
}
END_TEST

START_TEST(test_hang_times_out) {
    wh_rx_start(&g_rx, SECRET);
    wh_config cfg = local_config();
    cfg.connect_timeout_ms = 1000;
    cfg.total_timeout_ms = 1000;
    harness h;
    harness_init(&h, &cfg, 1);
    char url[128];
    make_url(url, sizeof url, "127.0.0.1", "/hang/30");
    ck_assert_int_eq(dispatch_one(&h, url, "msg_hang"), EQ_OK);
    harness_run(&h);
    ck_assert_int_eq(h.res[0].err, EQ_ETIMEDOUT);
    ck_assert_int_eq(h.res[0].http_status, 0);
    ck_assert_int_eq(h.res[0].retryable, 1);
}
END_TEST

START_TEST(test_closed_connection_is_network_error) {
    wh_rx_start(&g_rx, SECRET);
    wh_config cfg = local_config();
    harness h;
    harness_init(&h, &cfg, 1);
    char url[128];
    make_url(url, sizeof url, "127.0.0.1", "/close");
    ck_assert_int_eq(dispatch_one(&h, url, "msg_close"), EQ_OK);
    harness_run(&h);
    ck_assert_int_eq(h.res[0].err, EQ_ENET);
    ck_assert_int_eq(h.res[0].http_status, 0);
    ck_assert_int_eq(h.res[0].retryable, 1);
    ck_assert(h.res[0].error[0] != '\0');
}
END_TEST

START_TEST(test_ssrf_refused_without_allowlist) {
    wh_rx_start(&g_rx, SECRET);
    wh_config cfg;
    wh_config_default(&cfg); /* nothing opened */
    harness h;
    harness_init(&h, &cfg, 3);
    char url[128], mapped[128], named[128];
    make_url(url, sizeof url, "127.0.0.1", "/hook");
    make_url(mapped, sizeof mapped, "[::ffff:127.0.0.1]", "/hook");
    make_url(named, sizeof named, "localhost", "/hook");
    ck_assert_int_eq(dispatch_one(&h, url, "msg_a"), EQ_OK);
    ck_assert_int_eq(dispatch_one(&h, mapped, "msg_b"), EQ_OK);
    ck_assert_int_eq(dispatch_one(&h, named, "msg_c"), EQ_OK);
    /* Refused before anything is queued. */
    ck_assert_int_eq(dispatch_one(&h, "ftp://127.0.0.1/x", "msg_d"), EQ_EUNSUPPORTED);
    ck_assert_int_eq(dispatch_one(&h, "file:///etc/passwd", "msg_e"), EQ_EUNSUPPORTED);
    ck_assert_int_eq(dispatch_one(&h, "not a url", "msg_f"), EQ_EINVAL);
    ck_assert_int_eq(dispatch_one(&h, url, "bad id"), EQ_EINVAL);
    ck_assert_int_eq(dispatch_one(&h, url, "msg\r\nx-injected: 1"), EQ_EINVAL);
    ck_assert_int_eq(dispatch_one(&h, url, "msg_\xc3\xa9"), EQ_EINVAL);
    ck_assert_int_eq(dispatch_one(&h, url, ""), EQ_EINVAL);
    wh_delivery bad_secret = {.msg_id = "msg_g",
                              .url = url,
                              .secret = "whsec_!!",
                              .body = BODY,
                              .body_len = strlen(BODY)};
    ck_assert_int_eq(wh_dispatch(h.d, &bad_secret), EQ_EINVAL);
    harness_run(&h);
    for (size_t i = 0; i < 3; i++) {
        ck_assert_int_eq(h.res[i].err, EQ_EINVAL);
        ck_assert_int_eq(h.res[i].retryable, 0);
        ck_assert_int_eq(h.res[i].http_status, 0);
        ck_assert_msg(strstr(h.res[i].error, "SSRF") != NULL, "%s", h.res[i].error);
    }
    cJSON *recs = wh_rx_deliveries(&g_rx);
    ck_assert_int_eq(cJSON_GetArraySize(recs), 0);
    cJSON_Delete(recs);
}
END_TEST

START_TEST(test_many_in_flight) {
    enum { N = 200 };
    wh_rx_start(&g_rx, SECRET);
    wh_config cfg = local_config();
    cfg.max_inflight = N;
    harness h;
    harness_init(&h, &cfg, N);
    char url[128];
    /* Every answer waits a little, so all deliveries are open at the same time. */
    make_url(url, sizeof url, "127.0.0.1", "/hang/0.5");
    for (int i = 0; i < N; i++) {
        char id[32];
        snprintf(id, sizeof id, "msg_many_%03d", i);
        ck_assert_int_eq(dispatch_one(&h, url, id), EQ_OK);
    }
    ck_assert_uint_eq(wh_dispatcher_queued(h.d), N);
    harness_run(&h);
    /* All were started before the first one finished. */
    ck_assert_uint_eq(h.res[0].inflight_at_done, N - 1);
    ck_assert_uint_eq(h.res[0].queued_at_done, 0);
    for (int i = 0; i < N; i++)
        ck_assert_msg(h.res[i].err == EQ_OK, "%s: %s", h.res[i].msg_id, h.res[i].error);
    cJSON *recs = wh_rx_deliveries(&g_rx);
    ck_assert_int_eq(cJSON_GetArraySize(recs), N);
    int seen[N] = {0};
    const cJSON *rec;
    cJSON_ArrayForEach(rec, recs) {
        ck_assert(cJSON_IsTrue(record_field(rec, "verified")));
        int k = -1;
        ck_assert_int_eq(sscanf(record_field(rec, "id")->valuestring, "msg_many_%d", &k), 1);
        ck_assert(k >= 0 && k < N);
        seen[k]++;
    }
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(seen[i], 1);
    cJSON_Delete(recs);
}
END_TEST

START_TEST(test_queue_beyond_cap_and_retry_same_id) {
    wh_rx_start(&g_rx, SECRET);
    wh_config cfg = local_config();
    cfg.max_inflight = 1;
    cfg.max_queued = 2;
    harness h;
    harness_init(&h, &cfg, 4);
    h.retry_until_ok = 1;
    make_url(h.retry_url, sizeof h.retry_url, "127.0.0.1", "/flaky/2");
    h.retry = (wh_delivery){.msg_id = "msg_flaky",
                            .url = h.retry_url,
                            .secret = SECRET,
                            .body = BODY,
                            .body_len = strlen(BODY)};
    ck_assert_int_eq(wh_dispatch(h.d, &h.retry), EQ_OK);
    ck_assert_int_eq(wh_dispatch(h.d, &h.retry), EQ_OK);
    ck_assert_int_eq(wh_dispatch(h.d, &h.retry), EQ_EBUSY); /* the queue holds two */
    harness_run(&h);
    /* Two deliveries of one id, the receiver failing its first two attempts: 500, 500, then
     * 200 for each remaining try, always under the same webhook-id. */
    ck_assert_int_eq(h.res[0].http_status, 500);
    ck_assert_int_eq(h.res[1].http_status, 500);
    ck_assert_int_eq(h.res[2].http_status, 200);
    ck_assert_int_eq(h.res[3].http_status, 200);
    cJSON *recs = wh_rx_deliveries(&g_rx);
    ck_assert_int_eq(cJSON_GetArraySize(recs), 4);
    int attempt = 0;
    const cJSON *rec;
    cJSON_ArrayForEach(rec, recs) {
        ck_assert_str_eq(record_field(rec, "id")->valuestring, "msg_flaky");
        ck_assert_int_eq(record_field(rec, "attempt")->valueint, ++attempt);
        ck_assert(cJSON_IsTrue(record_field(rec, "verified")));
    }
    cJSON_Delete(recs);
}
END_TEST

START_TEST(test_no_redirect_no_proxy_control) {
    wh_rx_start(&g_rx, SECRET);
    /* A proxy from the environment must not be used: the pinned address is the destination. */
    setenv("http_proxy", "http://10.255.255.1:9", 1);
    setenv("HTTP_PROXY", "http://10.255.255.1:9", 1);
    setenv("ALL_PROXY", "http://10.255.255.1:9", 1);
    wh_config cfg = local_config();
    harness h;
    harness_init(&h, &cfg, 2);
    char url[128], hook[128];
    make_url(url, sizeof url, "127.0.0.1", "/redirect");
    make_url(hook, sizeof hook, "127.0.0.1", "/hook");
    wh_rx_control(&g_rx, "{\"mode\": \"status\", \"code\": 503}");
    ck_assert_int_eq(dispatch_one(&h, url, "msg_redirect"), EQ_OK);
    ck_assert_int_eq(dispatch_one(&h, hook, "msg_control"), EQ_OK);
    harness_run(&h);
    for (size_t i = 0; i < 2; i++) {
        result_copy *r = &h.res[i];
        if (strcmp(r->msg_id, "msg_redirect") == 0) {
            ck_assert_int_eq(r->http_status, 302);
            ck_assert_int_eq(r->err, EQ_EPROTO);
            ck_assert_int_eq(r->retryable, 1);
        } else {
            ck_assert_int_eq(r->http_status, 503); /* the mode set through /control */
            ck_assert_int_eq(r->retryable, 1);
        }
    }
    /* Two requests reached the receiver: the redirect was not followed. */
    cJSON *recs = wh_rx_deliveries(&g_rx);
    ck_assert_int_eq(cJSON_GetArraySize(recs), 2);
    cJSON_Delete(recs);
}
END_TEST

START_TEST(test_https_pinned_and_verified) {
    char dir[] = "/tmp/wh_tls_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char cert[64], key[64];
    snprintf(cert, sizeof cert, "%s/cert.pem", dir);
    snprintf(key, sizeof key, "%s/key.pem", dir);
    wh_tls_selfsigned(cert, key);
    wh_rx_start_tls(&g_rx, SECRET, cert, key);
    wh_config cfg = local_config();
    snprintf(cfg.ca_file, sizeof cfg.ca_file, "%s", cert);
    harness h;
    harness_init(&h, &cfg, 2);
    char named[128], literal[128];
    /* The connection is pinned to the checked address while TLS still verifies the name. */
    snprintf(named, sizeof named, "https://localhost:%d/hook", g_rx.port);
    snprintf(literal, sizeof literal, "https://127.0.0.1:%d/hook", g_rx.port);
    ck_assert_int_eq(dispatch_one(&h, named, "msg_tls_named"), EQ_OK);
    ck_assert_int_eq(dispatch_one(&h, literal, "msg_tls_literal"), EQ_OK);
    harness_run(&h);
    for (size_t i = 0; i < 2; i++) {
        ck_assert_msg(h.res[i].err == EQ_OK, "%s: %s", h.res[i].msg_id, h.res[i].error);
        ck_assert_int_eq(h.res[i].http_status, 200);
        ck_assert_str_eq(h.res[i].addr, "127.0.0.1");
    }
    cJSON *recs = wh_rx_deliveries(&g_rx);
    ck_assert_int_eq(cJSON_GetArraySize(recs), 2);
    const cJSON *rec;
    cJSON_ArrayForEach(rec, recs) ck_assert(cJSON_IsTrue(record_field(rec, "verified")));
    cJSON_Delete(recs);

    /* Without trusting the certificate, the delivery fails (and may be retried). */
    wh_config_default(&cfg);
    ck_assert_int_eq(wh_allowlist_parse("127.0.0.0/8", &cfg.allow), EQ_OK);
    harness_init(&h, &cfg, 1);
    ck_assert_int_eq(dispatch_one(&h, named, "msg_tls_untrusted"), EQ_OK);
    harness_run(&h);
    ck_assert_int_eq(h.res[0].err, EQ_ENET);
    ck_assert_msg(strstr(h.res[0].error, "certificate") != NULL, "%s", h.res[0].error);
    ck_assert_int_eq(h.res[0].http_status, 0);
    ck_assert_int_eq(h.res[0].retryable, 1);
    unlink(cert);
    unlink(key);
    rmdir(dir);
}
END_TEST

START_TEST(test_wrong_secret_rejected_by_receiver) {
    wh_rx_start(&g_rx, SECRET);
    wh_config cfg = local_config();
    harness h;
    harness_init(&h, &cfg, 1);
    char url[128];
    make_url(url, sizeof url, "127.0.0.1", "/hook");
    wh_delivery dl = {.msg_id = "msg_wrong_key",
                      .url = url,
                      .secret = "whsec_YWJjZGVmZ2hpamtsbW5vcA==",
                      .body = BODY,
                      .body_len = strlen(BODY)};
    ck_assert_int_eq(wh_dispatch(h.d, &dl), EQ_OK);
    harness_run(&h);
    ck_assert_int_eq(h.res[0].http_status, 401);
    ck_assert_int_eq(h.res[0].err, EQ_EPROTO);
    ck_assert_int_eq(h.res[0].retryable, 1);
    cJSON *recs = wh_rx_deliveries(&g_rx);
    ck_assert_int_eq(cJSON_GetArraySize(recs), 1);
    ck_assert(cJSON_IsFalse(record_field(cJSON_GetArrayItem(recs, 0), "verified")));
    cJSON_Delete(recs);
}
END_TEST

START_TEST(test_config_from_env) {
    wh_config cfg;
    wh_config_default(&cfg);
    ck_assert_uint_eq(cfg.max_inflight, 64);
    ck_assert_int_eq(cfg.connect_timeout_ms, 5000);
    ck_assert_int_eq(cfg.total_timeout_ms, 15000);
    unsetenv("ECONQ_WEBHOOK_ALLOW");
    ck_assert_int_eq(wh_config_from_env(&cfg), EQ_OK);
    ck_assert_uint_eq(cfg.allow.n, 0);
    setenv("ECONQ_WEBHOOK_ALLOW", "127.0.0.0/8,::1/128", 1);
    ck_assert_int_eq(wh_config_from_env(&cfg), EQ_OK);
    ck_assert_uint_eq(cfg.allow.n, 2);
    setenv("ECONQ_WEBHOOK_ALLOW", "127.0.0.0/99", 1);
    ck_assert_int_eq(wh_config_from_env(&cfg), EQ_EINVAL);
    ck_assert_uint_eq(cfg.allow.n, 2); /* unchanged */
    /* Out-of-range settings are refused. */
    uv_loop_t loop;
    uv_loop_init(&loop);
    wh_dispatcher *d = NULL;
    cfg.max_inflight = 0;
    ck_assert_int_eq(wh_dispatcher_new(&loop, &cfg, done_cb, NULL, &d), EQ_EINVAL);
    cfg.max_inflight = 1;
    cfg.total_timeout_ms = 0;
    ck_assert_int_eq(wh_dispatcher_new(&loop, &cfg, done_cb, NULL, &d), EQ_EINVAL);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

START_TEST(test_ipv6_literal_pinned) {
    wh_rx_start_on(&g_rx, "::1", SECRET);
    wh_config cfg;
    wh_config_default(&cfg);
    ck_assert_int_eq(wh_allowlist_parse("::1/128", &cfg.allow), EQ_OK);
    harness h;
    harness_init(&h, &cfg, 1);
    char url[128];
    make_url(url, sizeof url, "[::1]", "/hook");
    ck_assert_int_eq(dispatch_one(&h, url, "msg_v6"), EQ_OK);
    harness_run(&h);
    ck_assert_msg(h.res[0].err == EQ_OK, "%s", h.res[0].error);
    ck_assert_int_eq(h.res[0].http_status, 200);
    ck_assert_str_eq(h.res[0].addr, "::1");
    cJSON *recs = wh_rx_deliveries(&g_rx);
    ck_assert_int_eq(cJSON_GetArraySize(recs), 1);
    ck_assert(cJSON_IsTrue(record_field(cJSON_GetArrayItem(recs, 0), "verified")));
    cJSON_Delete(recs);
}
END_TEST

START_TEST(test_resolver_slots_and_stats) {
    enum { NAMED = 10 };
    wh_rx_start(&g_rx, SECRET);
    wh_config cfg = local_config();
    cfg.max_resolving = 1; /* nine of the ten names wait for the resolver */
    harness h;
    harness_init(&h, &cfg, NAMED + 2);
    char named[128], e500[128], gone[128];
    make_url(named, sizeof named, "localhost", "/hook");
    make_url(e500, sizeof e500, "127.0.0.1", "/status/500");
    make_url(gone, sizeof gone, "127.0.0.1", "/status/410");
    for (int i = 0; i < NAMED; i++)
        ck_assert_int_eq(dispatch_one(&h, named, "msg_named"), EQ_OK);
    ck_assert_int_eq(dispatch_one(&h, e500, "msg_500"), EQ_OK);
    ck_assert_int_eq(dispatch_one(&h, gone, "msg_410"), EQ_OK);
    harness_run(&h);
    ck_assert_uint_eq(h.stats.delivered, NAMED);
    ck_assert_uint_eq(h.stats.http_errors, 2);
    ck_assert_uint_eq(h.stats.gone, 1);
    ck_assert_uint_eq(h.stats.timeouts + h.stats.network_errors + h.stats.refused + h.stats.closed +
                          h.stats.other,
                      0);
    ck_assert(h.stats.latency_ms_sum > 0);
    ck_assert(h.stats.latency_ms_max * (NAMED + 2) >= h.stats.latency_ms_sum);
}
END_TEST

static void close_now_cb(uv_timer_t *t) {
    harness *h = t->data;
    wh_dispatcher_close(h->d, closed_cb, h);
    h->d = NULL;
    uv_close((uv_handle_t *)t, NULL);
}

START_TEST(test_close_while_resolving) {
    wh_config cfg = local_config();
    cfg.max_resolving = 1;
    harness h;
    harness_init(&h, &cfg, 3);
    /* Nothing listens there: the deliveries never get further than resolving. */
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(dispatch_one(&h, "http://localhost:9/hook", "msg_res"), EQ_OK);
    /* Started after the dispatcher's own zero timer, so it runs right after the deliveries
     * left the queue: one resolving, two waiting for the resolver. */
    uv_timer_t now;
    uv_timer_init(&h.loop, &now);
    now.data = &h;
    uv_timer_start(&now, close_now_cb, 0, 0);
    harness_run(&h);
    for (size_t i = 0; i < 3; i++)
        ck_assert_int_eq(h.res[i].err, EQ_ECLOSED);
}
END_TEST

START_TEST(test_large_answer_is_cut) {
    wh_rx_start(&g_rx, SECRET);
    wh_config cfg = local_config();
    harness h;
    harness_init(&h, &cfg, 2);
    char big[128], small[128];
    make_url(big, sizeof big, "127.0.0.1", "/big/1000000000000");
    make_url(small, sizeof small, "127.0.0.1", "/big/5000");
    ck_assert_int_eq(dispatch_one(&h, big, "msg_big"), EQ_OK);
    ck_assert_int_eq(dispatch_one(&h, small, "msg_small"), EQ_OK);
    harness_run(&h);
    for (size_t i = 0; i < 2; i++) {
        /* A terabyte cannot be read before the timeout: only the cut at WH_RESPONSE_MAX_BYTES ends
         * it with its 200. 5 KB are read whole. Both keep the first WH_RESPONSE_KEEP_BYTES. */
        ck_assert_msg(h.res[i].err == EQ_OK, "%s: %s", h.res[i].msg_id, h.res[i].error);
        ck_assert_int_eq(h.res[i].http_status, 200);
        ck_assert_uint_eq(h.res[i].response_len, WH_RESPONSE_KEEP_BYTES);
        ck_assert_uint_eq(strspn(h.res[i].response, "x"), sizeof h.res[i].response - 1);
    }
}
END_TEST

/* Many deliveries to the C receiver, which closes every connection after its answer: sockets
 * come and go (and file descriptors are reused) hundreds of times. */
START_TEST(test_socket_turnover) {
    enum { N = 500 };
    fake_whrx *rx = NULL;
    int port = 0;
    ck_assert_int_eq(fake_whrx_start(SECRET, 1, &rx, &port), EQ_OK);
    wh_config cfg = local_config();
    cfg.max_inflight = 16;
    cfg.max_queued = N;
    harness h;
    harness_init(&h, &cfg, N);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hook", port);
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(dispatch_one(&h, url, "msg_turnover"), EQ_OK);
    harness_run(&h);
    fake_whrx_counts counts = fake_whrx_counts_get(rx);
    fake_whrx_stop(rx);
    for (int i = 0; i < N; i++)
        ck_assert_msg(h.res[i].err == EQ_OK, "%d: %s", i, h.res[i].error);
    ck_assert_uint_eq(h.stats.delivered, N);
    ck_assert_uint_eq(counts.requests, N);
    ck_assert_uint_eq(counts.verified, N);
}
END_TEST

static void close_soon_cb(uv_timer_t *t) {
    harness *h = t->data;
    wh_dispatcher_close(h->d, closed_cb, h);
    h->d = NULL;
    uv_close((uv_handle_t *)t, NULL);
}

START_TEST(test_close_with_work_in_flight) {
    wh_rx_start(&g_rx, SECRET);
    wh_config cfg = local_config();
    cfg.max_inflight = 2;
    harness h;
    harness_init(&h, &cfg, 5);
    char url[128], named[128];
    make_url(url, sizeof url, "127.0.0.1", "/hang/30");
    make_url(named, sizeof named, "localhost", "/hang/30");
    ck_assert_int_eq(dispatch_one(&h, url, "msg_c1"), EQ_OK);
    ck_assert_int_eq(dispatch_one(&h, named, "msg_c2"), EQ_OK);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(dispatch_one(&h, url, "msg_cq"), EQ_OK);
    uv_timer_t soon;
    uv_timer_init(&h.loop, &soon);
    soon.data = &h;
    uv_timer_start(&soon, close_soon_cb, 300, 0);
    harness_run(&h);
    for (size_t i = 0; i < 5; i++) {
        ck_assert_int_eq(h.res[i].err, EQ_ECLOSED);
        ck_assert_int_eq(h.res[i].retryable, 1);
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("wh_dispatch");
    TCase *tc = tcase_create("receiver");
    tcase_add_checked_fixture(tc, NULL, rx_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_delivered_and_verified);
    tcase_add_test(tc, test_status_500_is_retryable);
    tcase_add_test(tc, test_410_is_gone);
    tcase_add_test(tc, test_hang_times_out);
    tcase_add_test(tc, test_closed_connection_is_network_error);
    tcase_add_test(tc, test_ssrf_refused_without_allowlist);
    tcase_add_test(tc, test_no_redirect_no_proxy_control);
    tcase_add_test(tc, test_https_pinned_and_verified);
    tcase_add_test(tc, test_wrong_secret_rejected_by_receiver);
    tcase_add_test(tc, test_config_from_env);
    tcase_add_test(tc, test_ipv6_literal_pinned);
    tcase_add_test(tc, test_resolver_slots_and_stats);
    tcase_add_test(tc, test_close_while_resolving);
    tcase_add_test(tc, test_large_answer_is_cut);
    tcase_add_test(tc, test_socket_turnover);
    tcase_add_test(tc, test_many_in_flight);
    tcase_add_test(tc, test_queue_beyond_cap_and_retry_same_id);
    tcase_add_test(tc, test_close_with_work_in_flight);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* bench/webhooks: deliveries per second from the webhook dispatcher to a local receiver.
 *
 * Keeps `--pending` deliveries waiting in the dispatcher (the backlog an outbox would feed),
 * refilling from each completion, until `--total` have been delivered; every delivery is signed
 * and, with --verify, the receiver (tests/fakes/webhook_receiver_uv.c, on its own thread)
 * checks every signature. Prints one table row: deliveries/s, latency, peak RSS.
 *
 *   build-x/broker/webhook/bench_webhooks [--total N] [--pending N] [--inflight N]
 *                                         [--host localhost] [--verify] [--close]
 * --host localhost makes every delivery resolve its host name (the receiver is on 127.0.0.1);
 * --close makes the receiver close every connection after its answer (no keep-alive). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <uv.h>

#include "broker/webhook/wh_dispatch.h"
#include "broker/webhook/wh_sign.h"
#include "tests/fakes/webhook_receiver_uv.h"

#define BENCH_SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

typedef struct bench {
    wh_dispatcher *d;
    wh_delivery dl;
    char url[64];
    char body[512];
    size_t total, sent, done, failed;
    double latency_sum, latency_max;
    uint64_t start_ns, end_ns;
} bench;

static void bench_send(bench *b) {
    char id[WH_MSG_ID_SIZE];
    if (wh_msg_id_new(id, sizeof id) != EQ_OK) {
        fprintf(stderr, "no random id\n");
        exit(1);
    }
    b->dl.msg_id = id;
    eq_err err = wh_dispatch(b->d, &b->dl);
    b->dl.msg_id = NULL; /* wh_dispatch copied it */
    if (err != EQ_OK) {
        fprintf(stderr, "wh_dispatch: %s\n", eq_strerror(err));
        exit(1);
    }
    b->sent++;
}

static void bench_done_cb(void *ctx, const wh_delivery *d, const wh_result *res) {
    (void)d;
    bench *b = ctx;
    b->done++;
    if (res->err != EQ_OK) {
        if (b->failed++ < 5) fprintf(stderr, "delivery failed: %s\n", res->error);
    }
    b->latency_sum += res->latency_ms;
    if (res->latency_ms > b->latency_max) b->latency_max = res->latency_ms;
    if (b->sent < b->total) bench_send(b);
    if (b->done == b->total) {
        b->end_ns = uv_hrtime();
        wh_dispatcher_close(b->d, NULL, NULL);
    }
}

int main(int argc, char **argv) {
    size_t total = 20000, pending = 1000, inflight = WH_INFLIGHT_DEFAULT;
    int verify = 0, close_each = 0;
    const char *host = "127.0.0.1";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--total") == 0 && i + 1 < argc)
            total = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--pending") == 0 && i + 1 < argc)
            pending = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--inflight") == 0 && i + 1 < argc)
            inflight = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--host") == 0 && i + 1 < argc)
            host = argv[++i];
        else if (strcmp(argv[i], "--close") == 0)
            close_each = 1;
        else if (strcmp(argv[i], "--verify") == 0)
            verify = 1;
        else {
            fprintf(stderr,
                    "usage: %s [--total N] [--pending N] [--inflight N] [--host H] [--verify] "
                    "[--close]\n",
                    argv[0]);
            return 2;
        }
    }
    if (total == 0 || pending == 0 || pending > WH_QUEUE_MAX) {
        fprintf(stderr, "bad sizes\n");
        return 2;
    }
    fake_whrx *rx;
    int port;
    if (fake_whrx_start(verify ? BENCH_SECRET : NULL, close_each, &rx, &port) != EQ_OK) {
        fprintf(stderr, "receiver did not start\n");
        return 1;
    }
    uv_loop_t loop;
    uv_loop_init(&loop);
    wh_config cfg;
    wh_config_default(&cfg);
    cfg.max_inflight = inflight;
    cfg.max_queued = pending + inflight;
    wh_allowlist_parse("127.0.0.0/8", &cfg.allow);
    bench b;
    memset(&b, 0, sizeof b);
    b.total = total;
    if (wh_dispatcher_new(&loop, &cfg, bench_done_cb, &b, &b.d) != EQ_OK) {
        fprintf(stderr, "dispatcher did not start\n");
        return 1;
    }
    snprintf(b.url, sizeof b.url, "http://%s:%d/hook", host, port);
    int blen = snprintf(b.body, sizeof b.body,
                        "{\"type\":\"job.succeeded\",\"timestamp\":\"2026-11-29T05:00:00Z\","
                        "\"data\":{\"id\":\"job_01JDX4M2V7K3\",\"type\":\"forecast\","
                        "\"state\":\"succeeded\",\"attempts\":1,\"result\":{\"model\":\"ets\","
                        "\"horizon\":12,\"mape\":0.0431}}}");
    b.dl = (wh_delivery){
        .url = b.url, .secret = BENCH_SECRET, .body = b.body, .body_len = (size_t)blen};
    b.start_ns = uv_hrtime();
    /* Timestamp 0: each delivery is stamped when dispatched. The backlog stays at `pending`. */
    for (size_t i = 0; i < pending + inflight && b.sent < total; i++)
        bench_send(&b);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    fake_whrx_counts counts = fake_whrx_counts_get(rx);
    fake_whrx_stop(rx);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double secs = (double)(b.end_ns - b.start_ns) / 1e9;
    printf("| host | keep-alive | deliveries | pending | in flight | verify | seconds | "
           "deliveries/s | mean "
           "latency ms "
           "| max latency ms | failed | receiver saw | verified | peak RSS KiB |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    printf("| %s | %s | %zu | %zu | %zu | %s | %.3f | %.0f | %.2f | %.2f | %zu | %llu | %llu | %ld "
           "|\n",
           host, close_each ? "no" : "yes", b.done, pending, inflight, verify ? "yes" : "no", secs,
           (double)b.done / secs, b.latency_sum / (double)b.done, b.latency_max, b.failed,
           (unsigned long long)counts.requests, (unsigned long long)counts.verified, ru.ru_maxrss);
    return b.failed == 0 && counts.requests == b.done ? 0 : 1;
}

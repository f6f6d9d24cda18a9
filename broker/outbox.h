/* Webhook deliveries: written to the outbox in the same transaction as the outcome they report
 * (outbox_lc.c, run by the broker's writer), and sent by a dispatcher thread (outbox.c) that
 * drives libcurl's multi interface on its own libuv loop. Outcomes of attempts go back to the
 * writer, which records them and schedules retries; the dispatcher only reads the store. */
#ifndef ECONQ_BROKER_OUTBOX_H
#define ECONQ_BROKER_OUTBOX_H
#include <stdint.h>
#include "broker/lifecycle.h"
#include "broker/webhook/wh_dispatch.h"
#include "broker/webhook/wh_schedule.h"
#include "store/store.h"

/* The result of one attempt, from the dispatcher to the writer. */
typedef struct outbox_outcome {
    char id[48];
    int64_t at_ms;
    int http_status;
    int ok, gone, retryable;
    uint32_t latency_ms;
    char error[160];
    struct outbox_outcome *next;
} outbox_outcome;

/* In the writer's transaction. */
eq_err lc_webhook_job(lc_ctx *c, const eq_job *j);
eq_err lc_webhook_batch(lc_ctx *c, const char *batch_id, const store_batch *b);
eq_err lc_delivery_outcome(lc_ctx *c, const outbox_outcome *o);
/* Starts a new round of attempts for a delivery (EQ_ENOTFOUND when unknown). */
eq_err lc_redeliver(lc_ctx *c, const char *id);

typedef struct outbox outbox;
typedef void (*outbox_post_fn)(void *ctx, outbox_outcome *o); /* takes ownership of o */

typedef struct outbox_config {
    store *st;
    wh_config http;          /* timeouts, in-flight cap, SSRF allowlist */
    size_t max_inflight;     /* deliveries read from the outbox and not yet recorded */
} outbox_config;

eq_err outbox_start(const outbox_config *cfg, outbox_post_fn post, void *ctx, outbox **out);
/* New deliveries may be due: look now. Thread-safe. */
void outbox_wake(outbox *o);
/* The writer committed the outcomes of these deliveries: they may be read again. Thread-safe. */
void outbox_release(outbox *o, const outbox_outcome *list);
void outbox_stop(outbox *o);
void outbox_stats(outbox *o, wh_stats *out);

#endif

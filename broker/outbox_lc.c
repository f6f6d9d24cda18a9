/* The outbox inside the writer's transaction: deliveries of job and batch events, and the
 * outcomes of their attempts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/outbox.h"
#include "broker/webhook/wh_event.h"
#include "broker/webhook/wh_sign.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"

static eq_err add_delivery(lc_ctx *c, wh_event_type type, const char *subject, const char *url,
                           const char *secret, const char *data, size_t data_len) {
    store_delivery d;
    char *body = NULL;
    size_t body_len;
    memset(&d, 0, sizeof d);
    if (!secret)
        secret = c->policy->webhook_secret;
    if (!secret || !secret[0]) {
        eq_log(EQ_LOG_WARN, "webhook without a secret skipped", "subject", subject, NULL);
        return EQ_OK;
    }
    eq_err err = wh_event_body(type, c->now, data, data_len, &body, &body_len);
    if (err) {
        eq_log(EQ_LOG_ERROR, "webhook body not built", "subject", subject, "error",
               eq_strerror(err), NULL);
        return err == EQ_ENOMEM ? err : EQ_OK;
    }
    if ((err = wh_msg_id_new(d.id, sizeof d.id))) {
        free(body);
        return err;
    }
    d.state = STORE_DELIVERY_PENDING;
    d.created_ms = d.next_ms = c->now;
    d.event = (char *)wh_event_type_name(type);
    d.subject = (char *)subject;
    d.url = (char *)url;
    d.secret = (char *)secret;
    d.body = body;
    err = store_delivery_put(c->txn, &d, -1);
    free(body);
    if (!err)
        c->fx->deliveries_added = 1;
    return err;
}

eq_err lc_webhook_job(lc_ctx *c, const eq_job *j) {
    if (!j->webhook_url || !job_state_terminal(j->state))
        return EQ_OK;
    wh_event_type type = j->state == JOB_SUCCEEDED ? WH_EVENT_JOB_SUCCEEDED
                         : j->state == JOB_FAILED  ? WH_EVENT_JOB_FAILED
                                                   : WH_EVENT_JOB_CANCELLED;
    char *result = NULL;
    if (j->state == JOB_SUCCEEDED) {
        eq_err err = store_result_get(c->txn, j->id, &result);
        if (err && err != EQ_ENOTFOUND)
            return err;
    }
    eq_buf b;
    eq_buf_init(&b);
    eq_job_to_json(j, result, &b);
    free(result);
    eq_err err = b.oom ? EQ_ENOMEM
                       : add_delivery(c, type, j->id, j->webhook_url, j->webhook_secret,
                                      (const char *)b.data, b.len);
    eq_buf_fini(&b);
    return err;
}

eq_err lc_webhook_batch(lc_ctx *c, const char *batch_id, const store_batch *b) {
    if (!b->webhook_url)
        return EQ_OK;
    char data[256], ts[32];
    eq_time_format(b->done_ms, ts, sizeof ts);
    int n = snprintf(data, sizeof data,
                     "{\"id\":\"%s\",\"total\":%u,\"finished\":%u,\"done_at\":\"%s\","
                     "\"results\":\"/v1/batches/%s/results\"}",
                     batch_id, b->total, b->finished, ts, batch_id);
    return add_delivery(c, WH_EVENT_BATCH_COMPLETED, batch_id, b->webhook_url, b->webhook_secret,
                        data, (size_t)n);
}

eq_err lc_delivery_outcome(lc_ctx *c, const outbox_outcome *o) {
    store_delivery d;
    eq_err err = store_delivery_get(c->txn, o->id, &d);
    if (err == EQ_ENOTFOUND)
        return EQ_OK;
    if (err)
        return err;
    if (d.state != STORE_DELIVERY_PENDING) {
        store_delivery_fini(&d);
        return EQ_OK;
    }
    int64_t old_next = d.next_ms;
    d.attempts++;
    d.tries++;
    d.last_ms = o->at_ms;
    d.last_status = o->http_status;
    free(d.last_error);
    d.last_error = o->ok ? NULL : strdup(o->error);
    err = store_delivery_log_add(c->txn, d.id, d.tries, o->at_ms, o->http_status, o->latency_ms,
                                 o->ok ? NULL : o->error);
    if (!err) {
        int64_t next;
        if (o->ok) {
            d.state = STORE_DELIVERY_DELIVERED;
        } else if (o->gone || !o->retryable ||
                   wh_schedule_next(c->policy->webhook_schedule, d.attempts, c->now, NULL, NULL,
                                    &next) != EQ_OK) {
            d.state = STORE_DELIVERY_FAILED; /* redeliverable by hand */
        } else {
            d.next_ms = next;
        }
        err = store_delivery_put(c->txn, &d, old_next);
        if (!err) {
            static const double bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15};
            metrics_histogram_observe(
                metrics_histogram("econq_webhook_delivery_seconds",
                                  "Duration of webhook delivery attempts.", "", bounds,
                                  sizeof bounds / sizeof bounds[0]),
                NULL, o->latency_ms / 1000.0);
        }
        if (!err)
            metrics_webhook_delivery(d.state == STORE_DELIVERY_DELIVERED ? "delivered"
                                     : d.state == STORE_DELIVERY_FAILED  ? "failed"
                                                                         : "retrying");
    }
    store_delivery_fini(&d);
    return err;
}

eq_err lc_redeliver(lc_ctx *c, const char *id) {
    store_delivery d;
    eq_err err = store_delivery_get(c->txn, id, &d);
    if (err)
        return err;
    int64_t old_next = d.state == STORE_DELIVERY_PENDING ? d.next_ms : -1;
    d.state = STORE_DELIVERY_PENDING;
    d.attempts = 0;
    d.next_ms = c->now;
    err = store_delivery_put(c->txn, &d, old_next);
    if (!err)
        c->fx->deliveries_added = 1;
    store_delivery_fini(&d);
    return err;
}

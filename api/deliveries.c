/* Webhook deliveries: GET /v1/jobs/{id}/deliveries (and /v1/batches/{id}/deliveries) with every
 * attempt, POST /v1/deliveries/{id}/redeliver. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "common/clock.h"

static const char *state_name(int s) {
    return s == STORE_DELIVERY_PENDING     ? "pending"
           : s == STORE_DELIVERY_DELIVERED ? "delivered"
                                           : "failed";
}

typedef struct list_ctx {
    store_txn *t;
    eq_buf *b;
    size_t n, na;
} list_ctx;

static void put_time(eq_buf *b, const char *key, int64_t ms) {
    char ts[32];
    eq_buf_printf(b, ",\"%s\":", key);
    if (ms <= 0) {
        eq_buf_puts(b, "null");
        return;
    }
    eq_time_format(ms, ts, sizeof ts);
    eq_buf_json_str(b, ts);
}

static void one_attempt(void *arg, uint32_t try_no, int64_t at, int status, uint32_t latency_ms,
                        const char *error) {
    list_ctx *c = arg;
    if (c->na++)
        eq_buf_u8(c->b, ',');
    eq_buf_printf(c->b, "{\"attempt\":%u", try_no);
    put_time(c->b, "at", at);
    eq_buf_printf(c->b, ",\"status_code\":%d,\"latency_ms\":%u,\"error\":", status, latency_ms);
    eq_buf_json_str(c->b, error && error[0] ? error : NULL);
    eq_buf_u8(c->b, '}');
}

static int one_delivery(void *arg, const store_delivery *d) {
    list_ctx *c = arg;
    if (c->n++)
        eq_buf_u8(c->b, ',');
    eq_buf_puts(c->b, "{\"id\":");
    eq_buf_json_str(c->b, d->id);
    eq_buf_puts(c->b, ",\"event\":");
    eq_buf_json_str(c->b, d->event);
    eq_buf_puts(c->b, ",\"url\":");
    eq_buf_json_str(c->b, d->url);
    eq_buf_printf(c->b, ",\"state\":\"%s\",\"attempts\":%u", state_name(d->state), d->tries);
    put_time(c->b, "created_at", d->created_ms);
    put_time(c->b, "next_attempt_at", d->state == STORE_DELIVERY_PENDING ? d->next_ms : 0);
    eq_buf_puts(c->b, ",\"log\":[");
    c->na = 0;
    store_delivery_log_each(c->t, d->id, one_attempt, c);
    eq_buf_puts(c->b, "]}");
    return 0;
}

void api_deliveries_list(api *a, http_request *r, const char *subject) {
    store_txn *t;
    if (store_txn_begin(a->cfg.st, 0, &t) != EQ_OK) {
        api_problem(r, 503, "store-unavailable", "the store cannot be read");
        return;
    }
    eq_buf b;
    eq_buf_init(&b);
    eq_buf_puts(&b, "{\"deliveries\":[");
    list_ctx c = {.t = t, .b = &b};
    eq_err err = store_deliveries_for(t, subject, one_delivery, &c);
    store_txn_abort(t);
    eq_buf_puts(&b, "]}");
    if (err)
        api_problem(r, 500, "internal-error", "the deliveries cannot be read");
    else
        api_json(r, 200, NULL, (const char *)b.data, b.len);
    eq_buf_fini(&b);
}

static void redeliver_done(api *a, http_request *r, eq_err status, const char *msg, eq_rd *body,
                           void *arg) {
    if (status == EQ_ENOTFOUND)
        api_problem(r, 404, "delivery-not-found", "no webhook delivery has this id");
    else if (status != EQ_OK)
        api_problem_from_err(r, status, msg);
    else
        api_json(r, 202, NULL, "{\"state\":\"pending\"}", 19);
}

void api_deliveries_redeliver(api *a, http_request *r, const char *id) {
    size_t n = strlen(id);
    int ok = n > 4 && n < 48 && strncmp(id, "msg_", 4) == 0;
    for (size_t i = 4; ok && i < n; i++)
        ok = (id[i] >= '0' && id[i] <= '9') || (id[i] >= 'A' && id[i] <= 'Z') ||
             (id[i] >= 'a' && id[i] <= 'z');
    if (!ok) {
        api_problem(r, 404, "delivery-not-found", "no webhook delivery has this id");
        return;
    }
    eq_buf msg;
    eq_buf_init(&msg);
    proto_enc_id(&msg, PROTO_REDELIVER, id);
    api_call_broker(a, r, &msg, redeliver_done, NULL);
    eq_buf_fini(&msg);
}

#include "broker/broker.h"

#include "broker/outbox.h"

#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/reqrep0/rep.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"

#define BROKER_MAX_GROUP 4096        /* requests handled in one write transaction */
#define BROKER_TICK_MS 250           /* reaper and housekeeping period */
#define BROKER_RETAIN_EVERY_MS 60000 /* retention and idempotency sweeps */
#define BROKER_WORKER_SEEN_MS 2000   /* how often a worker's last-seen time is written */

typedef enum { SLOT_RECV, SLOT_SEND } slot_state;

typedef struct slot {
    broker *b;
    nng_ctx ctx;
    nng_aio *aio;
    slot_state state;
    nng_msg *msg;         /* the request being handled */
    proto_req req;
    eq_buf reply;
    int parked;
    int64_t park_until;
    struct slot *next;    /* inbox or parked list */
} slot;

typedef struct seen_worker {
    char name[128];
    char kinds[384]; /* what was written: types, then "|status" */
    int64_t written_ms;
} seen_worker;

struct broker {
    broker_config cfg;
    nng_socket sock, pub;
    slot *slots;
    unsigned nslots;
    pthread_t writer;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    slot *inbox_head, *inbox_tail;
    int stopping;
    /* writer thread only */
    slot *parked_head;
    uint64_t seq;
    int64_t next_ready_ms;   /* earliest run_at of a delayed job seen by a lease scan */
    int64_t next_tick_ms, next_retain_ms;
    char idem_cursor[300];
    lc_effects fx;
    seen_worker seen[64];
    broker_sched *sched;
    outbox *ob;
    /* writer only: the store's space at the start of the group, and what the group may add */
    uint64_t space_used, space_map, space_reserve, space_added;
    outbox_outcome *outcomes, **outcomes_tail; /* guarded by mu: from the dispatcher */
};

void broker_config_defaults(broker_config *c) {
    memset(c, 0, sizeof *c);
    c->urls[0] = "inproc://econq-broker";
    c->events_url = "inproc://econq-events";
    c->policy.lease_ms = 30000;
    c->policy.backoff_base_ms = 1000;
    c->policy.backoff_max_ms = 3600000;
    c->policy.idem_ttl_ms = 24 * 3600 * 1000LL;
    c->retention_ms = 7 * 24 * 3600 * 1000LL;
    c->contexts = 256;
}

static void slot_cb(void *arg) {
    slot *s = arg;
    broker *b = s->b;
    int rv = nng_aio_result(s->aio);
    if (s->state == SLOT_SEND) {
        if (rv != 0)
            nng_msg_free(nng_aio_get_msg(s->aio));
        if (rv == NNG_ECLOSED)
            return;
        s->state = SLOT_RECV;
        nng_ctx_recv(s->ctx, s->aio);
        return;
    }
    if (rv != 0) {
        if (rv != NNG_ECLOSED && rv != NNG_ECANCELED)
            nng_ctx_recv(s->ctx, s->aio);
        return;
    }
    s->msg = nng_aio_get_msg(s->aio);
    s->next = NULL;
    pthread_mutex_lock(&b->mu);
    if (b->inbox_tail)
        b->inbox_tail->next = s;
    else
        b->inbox_head = s;
    b->inbox_tail = s;
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

/* Sends the slot's reply buffer and returns the slot to receiving. */
static void slot_send(slot *s) {
    nng_msg *m;
    if (s->reply.oom || nng_msg_alloc(&m, 0) != 0 || nng_msg_append(m, s->reply.data, s->reply.len) != 0) {
        eq_log(EQ_LOG_ERROR, "cannot build a reply; the requester will resend", NULL);
        s->state = SLOT_RECV;
        nng_ctx_recv(s->ctx, s->aio);
        return;
    }
    nng_aio_set_msg(s->aio, m);
    s->state = SLOT_SEND;
    nng_ctx_send(s->ctx, s->aio);
}

static void slot_finish(slot *s) {
    proto_req_fini(&s->req);
    if (s->msg) {
        nng_msg_free(s->msg);
        s->msg = NULL;
    }
    s->parked = 0;
    slot_send(s);
}

static eq_err note_worker(broker *b, store_txn *t, const char *name, const char *kinds,
                          int64_t now) {
    size_t n = sizeof b->seen / sizeof b->seen[0], free_i = n, oldest = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(b->seen[i].name, name) == 0) {
            /* Written again when its status changed (a breaker opened), else now and then. */
            if (now - b->seen[i].written_ms < BROKER_WORKER_SEEN_MS &&
                strcmp(b->seen[i].kinds, kinds) == 0)
                return EQ_OK;
            free_i = i;
            break;
        }
        if (!b->seen[i].name[0] && free_i == n)
            free_i = i;
        if (b->seen[i].written_ms < b->seen[oldest].written_ms)
            oldest = i;
    }
    if (free_i == n)
        free_i = oldest;
    snprintf(b->seen[free_i].name, sizeof b->seen[free_i].name, "%s", name);
    snprintf(b->seen[free_i].kinds, sizeof b->seen[free_i].kinds, "%s", kinds);
    b->seen[free_i].written_ms = now;
    /* A failed write poisons the transaction (a full map): say so, or the next write in the
     * group fails with a less helpful error. */
    return store_worker_seen(t, name, kinds, now);
}

/* Handles one request inside the group's transaction; the reply is left in s->reply.
 * Returns a store error that poisons the transaction (EQ_EFULL, EQ_ESTORE, ...), else EQ_OK. */
static eq_err handle(broker *b, lc_ctx *c, slot *s) {
    proto_req *r = &s->req;
    const char *why = NULL;
    eq_err err;
    eq_buf *out = &s->reply;
    eq_buf body;
    eq_buf_reset(out);
    /* Near a full map, what only adds data is refused, so that deletes and completions keep
     * the reserve they need (LMDB copies pages even to delete). */
    if (r->op == PROTO_SUBMIT || r->op == PROTO_BATCH || r->op == PROTO_DATASET_PUT ||
        r->op == PROTO_SCHEDULE_PUT) {
        /* What this request may add: its bytes, indexes and copied pages (a generous bound). */
        uint64_t need = (uint64_t)nng_msg_len(s->msg) * 3 + 64 * 1024;
        if (b->space_used + b->space_added + need + b->space_reserve > b->space_map) {

            proto_enc_reply(out, EQ_EFULL,
                            "the store is full: delete datasets or wait for retention");
            return EQ_OK;
        }
        b->space_added += need;
    }
    switch (r->op) {
    case PROTO_SUBMIT: {
        eq_buf_init(&body);
        eq_buf_u32(&body, r->njobs);
        for (uint32_t i = 0; i < r->njobs; i++) {
            size_t at = body.len;
            eq_buf_u32(&body, 0);
            eq_buf_str(&body, NULL);
            size_t json_at = body.len;
            eq_buf_u32(&body, 0);
            err = lc_submit(c, &r->jobs[i], &body, NULL, &why);
            if (err != EQ_OK && err != EQ_EEXIST && err != EQ_ECONFLICT) {
                eq_buf_fini(&body);
                return err;
            }
            /* Patch the per-job status and the JSON length in place. */
            uint32_t st = (uint32_t)err, jl = (uint32_t)(body.len - json_at - 4);
            for (int k = 0; k < 4; k++)
                body.data[at + k] = (unsigned char)(st >> (8 * k));
            if (why) {
                /* Rewrite this job's entry with the message. */
                body.len = at;
                eq_buf_u32(&body, st);
                eq_buf_str(&body, why);
                eq_buf_str(&body, NULL);
                continue;
            }
            for (int k = 0; k < 4; k++)
                body.data[json_at + k] = (unsigned char)(jl >> (8 * k));
        }
        proto_enc_reply(out, EQ_OK, NULL);
        eq_buf_put(out, body.data, body.len);
        eq_buf_fini(&body);
        return EQ_OK;
    }
    case PROTO_DATASET_PUT: {
        char id[EQ_ID_LEN + 1];
        int64_t created = 0;
        err = lc_dataset_put(c, r, id, &created);
        if (err != EQ_OK && err != EQ_EEXIST)
            return err;
        proto_enc_reply(out, err, NULL);
        eq_buf_str(out, id);
        eq_buf_i64(out, created);
        return EQ_OK;
    }
    case PROTO_REDELIVER:
        err = lc_redeliver(c, r->id);
        if (err != EQ_OK && err != EQ_ENOTFOUND)
            return err;
        proto_enc_reply(out, err, NULL);
        return EQ_OK;
    case PROTO_SCHEDULE_PUT:
    case PROTO_SCHEDULE_DEL:
        return sched_handle(b->sched, c, r, out);
    case PROTO_COLL_READ:
        return lc_coll_read(c, r, out);
    case PROTO_COLL_DEL:
        err = lc_coll_del(c, r->id, r->doc_id);
        if (err != EQ_OK && err != EQ_ENOTFOUND)
            return err;
        proto_enc_reply(out, err, NULL);
        return EQ_OK;
    case PROTO_DATASET_DEL:
        err = lc_dataset_del(c, r->id);
        if (err != EQ_OK && err != EQ_ENOTFOUND)
            return err;
        proto_enc_reply(out, err, NULL);
        return EQ_OK;
    case PROTO_BATCH:
        eq_buf_init(&body);
        err = lc_batch_create(c, r, &body);
        if (!err) {
            proto_enc_reply(out, EQ_OK, NULL);
            eq_buf_put(out, body.data, body.len);
        }
        eq_buf_fini(&body);
        return err;
    case PROTO_CANCEL:
    case PROTO_RETRY:
        eq_buf_init(&body);
        err = r->op == PROTO_CANCEL ? lc_cancel(c, r->id, &body, &why)
                                    : lc_retry(c, r->id, &body, &why);
        if (err == EQ_OK || err == EQ_ENOTFOUND || err == EQ_ECONFLICT) {
            proto_enc_reply(out, err, why);
            if (err == EQ_OK)
                eq_buf_bytes(out, body.data, body.len);
            else
                eq_buf_str(out, NULL);
            err = EQ_OK;
        }
        eq_buf_fini(&body);
        return err;
    case PROTO_LEASE: {
        uint32_t n = 0;
        char kinds[384] = "";
        for (uint16_t i = 0; i < r->lease.ntypes; i++) {
            size_t l = strlen(kinds);
            snprintf(kinds + l, sizeof kinds - l, "%s%s", i ? "," : "", r->lease.types[i]);
        }
        if (r->lease.status && r->lease.status[0]) {
            size_t l = strlen(kinds);
            snprintf(kinds + l, sizeof kinds - l, "|%s", r->lease.status);
        }
        if ((err = note_worker(b, c->txn, r->lease.worker, kinds, c->now)))
            return err;
        /* Outcomes first: the jobs they free may be leased again at once. A parked request
         * was handled before and carries its outcomes no more. */
        eq_buf_init(&body);
        eq_buf st;
        eq_buf_init(&st);
        eq_buf_u32(&st, s->parked ? 0 : r->lease.nouts);
        for (uint32_t i = 0; !s->parked && i < r->lease.nouts; i++) {
            proto_outcome *o = &r->lease.outs[i];
            /* A chart's bytes become a stored file first (it may turn into a failure). */
            if ((err = sched_chart_outcome(b->sched, c, o))) {
                eq_buf_fini(&st);
                eq_buf_fini(&body);
                return err;
            }
            err = o->failed ? lc_fail(c, o, &why) : lc_complete(c, o, &why);
            if (err != EQ_OK && err != EQ_ESTALE && err != EQ_ENOTFOUND) {
                eq_buf_fini(&st);
                eq_buf_fini(&body);
                return err;
            }
            eq_buf_u32(&st, (uint32_t)err);
        }
        err = EQ_OK;
        if (r->lease.max > 0) {
            /* 0 means "no delayed job seen": lc_lease only lowers the value it is given. */
            int64_t next = INT64_MAX;
            err = lc_lease(c, &r->lease, &body, &n, &next);
            if (next != INT64_MAX && (b->next_ready_ms == 0 || next < b->next_ready_ms))
                b->next_ready_ms = next;
        }
        if (!err) {
            if (n == 0 && r->lease.wait_ms > 0 && r->lease.max > 0 && r->lease.nouts == 0 &&
                !b->stopping && !s->parked) {
                s->parked = 1;
                s->park_until = c->now + r->lease.wait_ms;
            }
            proto_enc_reply(out, EQ_OK, NULL);
            eq_buf_u32(out, n);
            eq_buf_put(out, body.data, body.len);
            eq_buf_put(out, st.data, st.len);
        }
        eq_buf_fini(&st);
        eq_buf_fini(&body);
        return err;
    }
    case PROTO_HEARTBEAT:
        proto_enc_reply(out, EQ_OK, NULL);
        eq_buf_u32(out, r->nhb);
        for (uint32_t i = 0; i < r->nhb; i++) {
            proto_hb_verdict v;
            if ((err = lc_heartbeat(c, r->hb[i].id, r->hb[i].attempt, &v)))
                return err;
            eq_buf_u8(out, (uint8_t)v);
        }
        return EQ_OK;
    case PROTO_COMPLETE:
    case PROTO_FAIL:
        if ((err = sched_chart_outcome(b->sched, c, &r->out)))
            return err;
        err = !r->out.failed ? lc_complete(c, &r->out, &why) : lc_fail(c, &r->out, &why);
        if (err == EQ_OK || err == EQ_ESTALE || err == EQ_ENOTFOUND) {
            proto_enc_reply(out, err, why);
            err = EQ_OK;
        }
        return err;
    default:
        proto_enc_reply(out, EQ_EPROTO, "unknown operation");
        return EQ_OK;
    }
}

/* One message per group: the records of every job that finished in it. */
static void publish_events(broker *b) {
    size_t per = BROKER_EVENTS_PER_MSG;
    for (size_t i = 0; i < b->fx.ndone; i += per) {
        size_t n = b->fx.ndone - i < per ? b->fx.ndone - i : per;
        char buf[BROKER_EVENTS_PER_MSG * BROKER_EVENT_LEN];
        for (size_t k = 0; k < n; k++)
            memcpy(buf + k * BROKER_EVENT_LEN, b->fx.done_ids[i + k], BROKER_EVENT_LEN);
        nng_send(b->pub, buf, n * BROKER_EVENT_LEN, NNG_FLAG_NONBLOCK);
    }
}

/* Webhook attempts' outcomes, from the dispatcher thread. */
static void post_outcome(void *ctx, outbox_outcome *o) {
    broker *b = ctx;
    o->next = NULL;
    pthread_mutex_lock(&b->mu);
    *b->outcomes_tail = o;
    b->outcomes_tail = &o->next;
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

/* One group: every request in `group`, the webhook outcomes, and (when worthwhile) the parked
 * leases in one write transaction; replies after the commit. */
static void run_group(broker *b, slot *group, outbox_outcome *outs, int64_t now) {
    store_txn *t = NULL;
    lc_ctx c = {.now = now, .seq = &b->seq, .policy = &b->cfg.policy, .fx = &b->fx};
    uint64_t seq0 = b->seq;
    slot *s;
    store_space(b->cfg.st, &b->space_used, &b->space_map, &b->space_reserve);
    b->space_added = 0;
    eq_err err = store_txn_begin(b->cfg.st, 1, &t);
    lc_effects_reset(&b->fx);
    c.txn = t;
    for (s = group; s && !err; s = s->next)
        err = handle(b, &c, s);
    for (outbox_outcome *o = outs; o && !err; o = o->next)
        err = lc_delivery_outcome(&c, o);
    /* Housekeeping rides on the same transaction. */

    if (!err && now >= b->next_tick_ms) {
        size_t n;
        err = lc_reap(&c, 1024, &n);
        b->next_tick_ms = now + BROKER_TICK_MS;
    }
    if (!err && now >= b->next_retain_ms) {
        size_t n = 0, m;
        err = lc_retain(&c, now - b->cfg.retention_ms, 1024, &n);
        if (!err)
            err = lc_cache_sweep(&c, 4096, &m);
        if (!err)
            err = store_idem_sweep(t, now - b->cfg.policy.idem_ttl_ms, b->idem_cursor,
                                   sizeof b->idem_cursor, 4096, &m);
        b->next_retain_ms = now + (n == 1024 ? BROKER_TICK_MS : BROKER_RETAIN_EVERY_MS);
    }
    /* Due schedules submit their jobs; in-broker maintenance jobs run. */
    if (!err)
        err = sched_run(b->sched, &c);
    /* Parked leases get another look when jobs arrived or a delayed one became ready. */
    int retry_parked = b->fx.queue_changed || (b->next_ready_ms && now >= b->next_ready_ms);
    if (retry_parked) {
        b->next_ready_ms = 0;
        for (s = b->parked_head; s && !err; s = s->next)
            err = handle(b, &c, s);
    }
    if (!err && b->seq != seq0)
        err = store_meta_put(t, "seq", b->seq);
    if (t) {
        if (!err)
            err = store_txn_commit(t);
        else
            store_txn_abort(t);
    }
    if (err) {
        b->seq = seq0;
        eq_log(EQ_LOG_ERROR, "write transaction failed", "error", eq_strerror(err), NULL);
    } else {
        publish_events(b);
        if (b->fx.deliveries_added)
            outbox_wake(b->ob);
    }
    /* Committed or not, the dispatcher may look at these deliveries again. */
    if (outs) {
        outbox_release(b->ob, outs);
        while (outs) {
            outbox_outcome *nx = outs->next;
            free(outs);
            outs = nx;
        }
    }
    /* Parked leases: answered when they got jobs, when their wait ended, or at shutdown. */
    slot *keep = NULL, **ktail = &keep;
    for (s = b->parked_head; s;) {
        slot *nx = s->next;
        uint32_t n = 0;
        s->next = NULL;
        if (retry_parked && !err && s->reply.len) {
            eq_rd rd;
            eq_err st;
            char *msg = NULL;
            eq_rd_init(&rd, s->reply.data, s->reply.len);
            if (proto_dec_reply(&rd, &st, &msg) == EQ_OK)
                n = eq_rd_u32(&rd);
            free(msg);
        }
        if (n > 0 || now >= s->park_until || b->stopping) {
            if (n == 0) {
                eq_buf_reset(&s->reply);
                proto_enc_reply(&s->reply, EQ_OK, NULL);
                eq_buf_u32(&s->reply, 0);
            }
            slot_finish(s);
        } else {
            *ktail = s;
            ktail = &s->next;
        }
        s = nx;
    }
    /* The group: replies go out now, except leases that parked (they queue behind the others). */
    for (s = group; s;) {
        slot *nx = s->next;
        s->next = NULL;
        if (err) {
            eq_buf_reset(&s->reply);
            proto_enc_reply(&s->reply, err, "the store could not commit the request");
            s->parked = 0;
        }
        if (s->parked) {
            *ktail = s;
            ktail = &s->next;
        } else {
            slot_finish(s);
        }
        s = nx;
    }
    b->parked_head = keep;
    /* After the replies: the backup copy may take a while. */
    sched_after_commit(b->sched, b->cfg.st, !err);
}

static int64_t next_wake(broker *b, int64_t now) {
    int64_t w = b->next_tick_ms;
    if (b->next_ready_ms && b->next_ready_ms < w)
        w = b->next_ready_ms;
    for (slot *s = b->parked_head; s; s = s->next)
        if (s->park_until < w)
            w = s->park_until;
    int64_t sw = sched_wake_ms(b->sched);
    if (sw < w)
        w = sw;
    return w > now ? w : now;
}

static void *writer_main(void *arg) {
    broker *b = arg;
    for (;;) {
        pthread_mutex_lock(&b->mu);
        int64_t now = eq_now_ms();
        while (!b->inbox_head && !b->outcomes && !b->stopping && now < next_wake(b, now)) {
            int64_t wake = next_wake(b, now);
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            int64_t ns = (int64_t)ts.tv_nsec + (wake - now) * 1000000LL;
            ts.tv_sec += ns / 1000000000LL;
            ts.tv_nsec = ns % 1000000000LL;
            pthread_cond_timedwait(&b->cv, &b->mu, &ts);
            now = eq_now_ms();
        }
        /* Take up to BROKER_MAX_GROUP requests. */
        slot *group = b->inbox_head, *last = NULL;
        size_t n = 0;
        for (slot *s = group; s && n < BROKER_MAX_GROUP; s = s->next) {
            last = s;
            n++;
        }
        if (last) {
            b->inbox_head = last->next;
            if (!b->inbox_head)
                b->inbox_tail = NULL;
            last->next = NULL;
        }
        int stopping = b->stopping;
        outbox_outcome *outs = b->outcomes;
        b->outcomes = NULL;
        b->outcomes_tail = &b->outcomes;
        pthread_mutex_unlock(&b->mu);
        /* Decode outside the lock; malformed requests are answered at once. */
        slot *ok = NULL, **tail = &ok;
        for (slot *s = group; s;) {
            slot *nx = s->next;
            s->next = NULL;
            eq_err err = proto_decode_req(nng_msg_body(s->msg), nng_msg_len(s->msg), &s->req);
            if (err) {
                eq_buf_reset(&s->reply);
                proto_enc_reply(&s->reply, EQ_EPROTO, "malformed request");
                slot_finish(s);
            } else {
                *tail = s;
                tail = &s->next;
            }
            s = nx;
        }
        run_group(b, ok, outs, eq_now_ms());
        if (stopping && !group)
            break;
    }
    return NULL;
}

static void broker_free(broker *b) {
    for (unsigned i = 0; i < b->nslots; i++) {
        if (b->slots[i].aio)
            nng_aio_stop(b->slots[i].aio);
    }
    for (unsigned i = 0; i < b->nslots; i++) {
        slot *s = &b->slots[i];
        if (s->aio)
            nng_aio_free(s->aio);
        proto_req_fini(&s->req);
        if (s->msg)
            nng_msg_free(s->msg);
        eq_buf_fini(&s->reply);
    }
    free(b->slots);
    while (b->outcomes) {
        outbox_outcome *nx = b->outcomes->next;
        free(b->outcomes);
        b->outcomes = nx;
    }
    sched_free(b->sched);
    lc_effects_fini(&b->fx);
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->cv);
    free(b);
}

static eq_err startup_txn(broker *b) {
    store_txn *t;
    eq_err err = store_txn_begin(b->cfg.st, 1, &t);
    if (err)
        return err;
    err = store_meta_get(t, "seq", &b->seq);
    if (err == EQ_ENOTFOUND) {
        b->seq = 0;
        err = EQ_OK;
    }
    if (!err && b->cfg.local_worker_prefix) {
        lc_ctx c = {.txn = t, .now = eq_now_ms(), .seq = &b->seq, .policy = &b->cfg.policy,
                    .fx = &b->fx};
        size_t n = 0;
        err = lc_recover_local(&c, b->cfg.local_worker_prefix, &n);
        if (n) {
            char num[32];
            snprintf(num, sizeof num, "%zu", n);
            eq_log(EQ_LOG_WARN, "re-queued jobs interrupted by a restart", "count", num, NULL);
        }
    }
    if (!err) {
        lc_ctx c = {.txn = t, .now = eq_now_ms(), .seq = &b->seq, .policy = &b->cfg.policy,
                    .fx = &b->fx};
        err = sched_startup(b->sched, &c);
    }
    if (err) {
        store_txn_abort(t);
        return err;
    }
    return store_txn_commit(t);
}

eq_err broker_start(const broker_config *cfg, broker **out) {
    broker *b = calloc(1, sizeof *b);
    int rv;
    if (!b)
        return EQ_ENOMEM;
    b->cfg = *cfg;
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cv, NULL);
    b->outcomes_tail = &b->outcomes;
    eq_err err = sched_new(&cfg->sched, &b->sched);
    if (!err)
        err = startup_txn(b);
    if (err) {
        broker_free(b);
        return err;
    }
    if ((rv = nng_rep0_open(&b->sock)) != 0 || (rv = nng_pub0_open(&b->pub)) != 0)
        goto fail_nng;
    nng_socket_set_size(b->sock, NNG_OPT_RECVMAXSZ, PROTO_MAX_MSG_BYTES);
    if ((rv = nng_listen(b->pub, cfg->events_url, NULL, 0)) != 0)
        goto fail_nng;
    for (int i = 0; i < 4 && cfg->urls[i]; i++) {
        if ((rv = nng_listen(b->sock, cfg->urls[i], NULL, 0)) != 0) {
            eq_log(EQ_LOG_ERROR, "broker cannot listen", "url", cfg->urls[i], "error",
                   nng_strerror(rv), NULL);
            goto fail_nng;
        }
    }
    b->nslots = cfg->contexts ? cfg->contexts : 256;
    b->slots = calloc(b->nslots, sizeof *b->slots);
    if (!b->slots) {
        rv = NNG_ENOMEM;
        goto fail_nng;
    }
    for (unsigned i = 0; i < b->nslots; i++) {
        slot *s = &b->slots[i];
        s->b = b;
        eq_buf_init(&s->reply);
        if ((rv = nng_ctx_open(&s->ctx, b->sock)) != 0 || (rv = nng_aio_alloc(&s->aio, slot_cb, s)) != 0)
            goto fail_nng;
    }
    if (pthread_create(&b->writer, NULL, writer_main, b) != 0) {
        rv = NNG_ENOMEM;
        goto fail_nng;
    }
    for (unsigned i = 0; i < b->nslots; i++) {
        b->slots[i].state = SLOT_RECV;
        nng_ctx_recv(b->slots[i].ctx, b->slots[i].aio);
    }
    if (cfg->webhooks) {
        outbox_config oc = {.st = cfg->st, .http = cfg->webhook_http, .max_inflight = 256};
        eq_err oerr = outbox_start(&oc, post_outcome, b, &b->ob);
        if (oerr)
            eq_log(EQ_LOG_ERROR, "the webhook dispatcher did not start; deliveries wait in the outbox",
                   "error", eq_strerror(oerr), NULL);
    }
    *out = b;
    return EQ_OK;
fail_nng:
    eq_log(EQ_LOG_ERROR, "broker start failed", "error", nng_strerror(rv), NULL);
    nng_close(b->sock);
    nng_close(b->pub);
    broker_free(b);
    return rv == NNG_EADDRINUSE ? EQ_EEXIST : EQ_EIO;
}

void broker_stop(broker *b) {
    if (!b)
        return;
    outbox_stop(b->ob);
    b->ob = NULL;
    pthread_mutex_lock(&b->mu);
    b->stopping = 1;
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
    pthread_join(b->writer, NULL);
    nng_close(b->sock);
    nng_close(b->pub);
    broker_free(b);
}

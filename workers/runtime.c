#include "workers/runtime.h"
#include "workers/source.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/util/platform.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/id.h"
#include "common/log.h"
#include "common/proto.h"

#define WORKER_MAX_THREADS 256
#define WORKER_RPC_SLACK_MS 15000 /* a reply may take this long beyond the lease wait */
#define WORKER_QUICK_JOB_MS 2      /* jobs this quick grow the lease size */
#define WORKER_SLOW_JOB_MS 20      /* jobs this slow shrink it to one */
#define WORKER_PAUSE_STEP_MS 500   /* a paused thread looks again at least this often */
#define WORKER_PAUSE_PING_MS 10000 /* and tells the broker it is alive this often */

struct worker_ctx {
    char id[EQ_ID_LEN + 1];
    uint16_t attempt;
    atomic_int cancelled;  /* by a client, through a heartbeat reply */
    atomic_int lost;       /* the broker no longer knows this lease */
    worker_pool *pool;
    int active;
};

typedef struct worker_thread {
    worker_pool *pool;
    const worker_kind *kind;
    const char *types[PROTO_MAX_TYPES];
    uint16_t ntypes;
    char name[192];
    pthread_t tid;
    nng_ctx ctx;
    nng_aio *aio;
    worker_ctx *held;      /* the leased jobs (lease_batch); `active` guarded by pool->mu */
    proto_outcome *outs;   /* outcomes not yet reported */
    uint32_t nouts;
    int64_t oldest_out_ms;
} worker_thread;

struct worker_pool {
    worker_pool_config cfg;
    nng_socket sock;
    worker_thread *threads;
    unsigned nthreads;
    pthread_t hb_tid;
    nng_ctx hb_ctx;
    nng_aio *hb_aio;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_int stopping;
    atomic_uint running;
    atomic_uint exited;     /* threads that left their loop and handed in their outcomes */
};

void worker_pool_config_defaults(worker_pool_config *c) {
    memset(c, 0, sizeof *c);
    c->url = "inproc://econq-broker";
    c->lease_ms = 30000;
    c->lease_wait_ms = 10000;
    c->lease_batch = 8;
    c->report_delay_ms = 5;
    c->name_prefix = "";
}

int worker_ctx_cancelled(const worker_ctx *c) {
    return atomic_load(&c->cancelled) || atomic_load(&c->lost) ||
           atomic_load(&c->pool->stopping);
}

int worker_ctx_stopping(const worker_ctx *c) {
    return atomic_load(&c->pool->stopping) && !atomic_load(&c->cancelled);
}

const worker_kind *worker_kind_find(const char *name) {
    for (size_t i = 0; worker_kinds[i]; i++)
        if (strcmp(worker_kinds[i]->name, name) == 0)
            return worker_kinds[i];
    return NULL;
}

unsigned worker_pool_running(worker_pool *p) {
    return atomic_load(&p->running);
}

/* One request and its reply on a context, waiting at most timeout_ms. *reply is the message
 * (caller frees with nng_msg_free). */
static eq_err rpc(nng_ctx ctx, nng_aio *aio, const eq_buf *req, int64_t timeout_ms, nng_msg **reply) {
    nng_msg *m;
    if (req->oom || nng_msg_alloc(&m, 0) != 0)
        return EQ_ENOMEM;
    if (nng_msg_append(m, req->data, req->len) != 0) {
        nng_msg_free(m);
        return EQ_ENOMEM;
    }
    nng_aio_set_timeout(aio, (nng_duration)timeout_ms);
    nng_aio_set_msg(aio, m);
    nng_ctx_send(ctx, aio);
    nng_aio_wait(aio);
    int rv = nng_aio_result(aio);
    if (rv != 0) {
        nng_msg_free(m);
        return rv == NNG_ECLOSED || rv == NNG_ECANCELED ? EQ_ECLOSED : EQ_ETIMEDOUT;
    }
    nng_aio_set_timeout(aio, (nng_duration)timeout_ms);
    nng_ctx_recv(ctx, aio);
    nng_aio_wait(aio);
    rv = nng_aio_result(aio);
    if (rv != 0)
        return rv == NNG_ECLOSED || rv == NNG_ECANCELED ? EQ_ECLOSED : EQ_ETIMEDOUT;
    *reply = nng_aio_get_msg(aio);
    return EQ_OK;
}

static void outcome_free(proto_outcome *o) {
    free(o->id);
    free(o->result);
    free(o->code);
    free(o->message);
    memset(o, 0, sizeof *o);
}

/* Logs the statuses the broker gave the reported outcomes, then forgets them. */
static void outcomes_done(worker_thread *t, eq_rd *rd) {
    uint32_t m = eq_rd_u32(rd);
    for (uint32_t i = 0; i < m && i < t->nouts && !rd->bad; i++) {
        eq_err st = (eq_err)eq_rd_u32(rd);
        if (st != EQ_OK)
            eq_log(st == EQ_ESTALE ? EQ_LOG_WARN : EQ_LOG_ERROR, "outcome refused", "job_id",
                   t->outs[i].id, "worker", t->name, "error", eq_strerror(st), NULL);
    }
    for (uint32_t i = 0; i < t->nouts; i++)
        outcome_free(&t->outs[i]);
    t->nouts = 0;
}

/* One round trip: reports pending outcomes and asks for up to `max` jobs. On success the reply
 * is left in *reply with rd positioned at the leased jobs. Outcomes stay pending on failure
 * (reporting them again is harmless: the broker recognises a repeat). */
static eq_err lease_rpc(worker_thread *t, uint16_t max, uint32_t wait_ms, nng_msg **reply,
                        eq_rd *rd, uint32_t *n) {
    eq_buf req;
    eq_buf_init(&req);
    char status[PROTO_MAX_STATUS] = "";
    if (t->kind->status)
        t->kind->status(status, sizeof status);
    proto_enc_lease(&req, t->name, t->types, t->ntypes, max, wait_ms, status, t->outs, t->nouts);
    eq_err err = rpc(t->ctx, t->aio, &req, (int64_t)wait_ms + WORKER_RPC_SLACK_MS, reply);
    eq_buf_fini(&req);
    if (err)
        return err;
    eq_err st;
    char *msg = NULL;
    eq_rd_init(rd, nng_msg_body(*reply), nng_msg_len(*reply));
    err = proto_dec_reply(rd, &st, &msg);
    free(msg);
    if (err || st != EQ_OK) {
        nng_msg_free(*reply);
        return err ? err : st;
    }
    *n = eq_rd_u32(rd);
    return EQ_OK;
}

static void flush_outcomes(worker_thread *t) {
    for (int tries = 0; t->nouts && tries < 5 && !atomic_load(&t->pool->stopping); tries++) {
        nng_msg *reply;
        eq_rd rd;
        uint32_t n;
        eq_err err = lease_rpc(t, 0, 0, &reply, &rd, &n);
        if (err == EQ_ECLOSED)
            return;
        if (err)
            continue;
        outcomes_done(t, &rd);
        nng_msg_free(reply);
    }
}

static void run_one(worker_thread *t, worker_ctx *wc, proto_leased_job *lj) {
    worker_pool *p = t->pool;
    worker_job job = {.id = lj->id, .type = lj->type, .params = lj->params,
                      .attempt = lj->attempt, .lease_deadline_ms = lj->lease_deadline_ms};
    worker_error werr;
    char *result = NULL;
    eq_err err;
    memset(&werr, 0, sizeof werr);
    atomic_fetch_add(&p->running, 1);
    if (worker_ctx_cancelled(wc)) {
        /* Cancelled, lost or stopping before it started. */
        /* Stopping: handed back. Lost lease: the broker refuses this outcome anyway. */
        snprintf(werr.code, sizeof werr.code, "%s",
                 worker_ctx_stopping(wc)        ? "shutdown"
                 : atomic_load(&wc->cancelled) ? "cancelled"
                                                : "lease_lost");
        snprintf(werr.message, sizeof werr.message, "stopped before it started");
        werr.retryable = 1;
        err = EQ_ECLOSED;
    } else if (strcmp(lj->type, "noop") == 0) {
        err = worker_noop_run(&job, wc, &result, &werr);
    } else {
        err = t->kind->run(&job, wc, &result, &werr);
    }
    proto_outcome *o = &t->outs[t->nouts++];
    memset(o, 0, sizeof *o);
    o->id = lj->id;
    lj->id = NULL;
    o->attempt = lj->attempt;
    if (err == EQ_OK) {
        o->result = result;
    } else {
        free(result);
        o->failed = 1;
        if (!werr.code[0]) {
            snprintf(werr.code, sizeof werr.code, "internal");
            snprintf(werr.message, sizeof werr.message, "%s", eq_strerror(err));
            werr.retryable = 1;
        }
        o->code = strdup(werr.code);
        o->message = strdup(werr.message);
        o->retryable = (uint8_t)werr.retryable;
        o->retry_after_ms = werr.retry_after_ms;
    }
    if (t->nouts == 1)
        t->oldest_out_ms = eq_mono_ms();
    pthread_mutex_lock(&p->mu);
    wc->active = 0;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    atomic_fetch_sub(&p->running, 1);
}

/* Sleeps up to ms, waking early when the pool stops. */
static void pause_wait(worker_pool *p, uint32_t ms) {
    pthread_mutex_lock(&p->mu);
    if (!atomic_load(&p->stopping)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t ns = ts.tv_nsec + (int64_t)ms * 1000000LL;
        ts.tv_sec += ns / 1000000000LL;
        ts.tv_nsec = ns % 1000000000LL;
        pthread_cond_timedwait(&p->cv, &p->mu, &ts);
    }
    pthread_mutex_unlock(&p->mu);
}

static void *thread_main(void *arg) {
    worker_thread *t = arg;
    worker_pool *p = t->pool;
    unsigned batch = p->cfg.lease_batch;
    /* The lease size adapts: it doubles up to `batch` while jobs are quick (a deep queue of
     * short jobs costs one round trip per many), and drops to one for slow jobs, so that one
     * thread does not sit on work that idle threads could run. */
    unsigned want = 1;
    proto_leased_job *jobs = calloc(batch, sizeof *jobs);
    int64_t last_rpc = 0;
    while (jobs && !atomic_load(&p->stopping)) {
        nng_msg *reply;
        eq_rd rd;
        uint32_t n = 0;
        uint32_t pause = t->kind->pause_ms ? t->kind->pause_ms() : 0;
        if (pause) {
            /* Hand in outcomes (and the kind's status), now and then while paused, so the
             * broker still sees this worker; then wait without leasing. */
            if (t->nouts || eq_mono_ms() - last_rpc >= WORKER_PAUSE_PING_MS) {
                last_rpc = eq_mono_ms();
                if (lease_rpc(t, 0, 0, &reply, &rd, &n) == EQ_OK) {
                    outcomes_done(t, &rd);
                    nng_msg_free(reply);
                }
            }
            pause_wait(p, pause < WORKER_PAUSE_STEP_MS ? pause : WORKER_PAUSE_STEP_MS);
            continue;
        }
        last_rpc = eq_mono_ms();
        eq_err err = lease_rpc(t, (uint16_t)want, p->cfg.lease_wait_ms, &reply, &rd, &n);
        if (err == EQ_ECLOSED)
            break;
        if (err) {
            if (err != EQ_ETIMEDOUT)
                nng_msleep(200); /* the store failed; back off rather than spin */
            continue;
        }
        uint32_t got = 0;
        pthread_mutex_lock(&p->mu);
        for (; got < n && got < batch; got++) {
            if (proto_dec_leased(&rd, &jobs[got]) != EQ_OK)
                break;
            worker_ctx *wc = &t->held[got];
            snprintf(wc->id, sizeof wc->id, "%s", jobs[got].id);
            wc->attempt = jobs[got].attempt;
            atomic_store(&wc->cancelled, 0);
            atomic_store(&wc->lost, 0);
            wc->active = 1;
        }
        pthread_mutex_unlock(&p->mu);
        outcomes_done(t, &rd);
        nng_msg_free(reply);
        int64_t started = eq_mono_ms();
        for (uint32_t i = 0; i < got; i++) {
            run_one(t, &t->held[i], &jobs[i]);
            proto_leased_job_fini(&jobs[i]);
            /* Long jobs: report what is done rather than keep it waiting for the batch. */
            if (i + 1 < got && eq_mono_ms() - t->oldest_out_ms >= p->cfg.report_delay_ms)
                flush_outcomes(t);
        }
        if (got > 0) {
            int64_t per_job = (eq_mono_ms() - started) / got;
            if (per_job >= WORKER_SLOW_JOB_MS)
                want = 1;
            else if (got == want && per_job < WORKER_QUICK_JOB_MS && want < batch)
                want = want * 2 < batch ? want * 2 : batch;
        }
    }
    /* Hand in what is done before leaving. */
    if (t->nouts) {
        for (int tries = 0; t->nouts && tries < 3; tries++) {
            nng_msg *reply;
            eq_rd rd;
            uint32_t n;
            if (lease_rpc(t, 0, 0, &reply, &rd, &n) == EQ_OK) {
                outcomes_done(t, &rd);
                nng_msg_free(reply);
            }
        }
    }
    free(jobs);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add(&p->exited, 1);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Extends the leases of running jobs and carries cancellation back to them. */
static void *heartbeat_main(void *arg) {
    worker_pool *p = arg;
    int64_t period = p->cfg.lease_ms / 3 > 0 ? p->cfg.lease_ms / 3 : 1;
    size_t cap = (size_t)p->nthreads * p->cfg.lease_batch;
    proto_hb_item *items = calloc(cap, sizeof *items);
    worker_ctx **ctxs = calloc(cap, sizeof *ctxs);
    /* The ids are copied: a context may hold another job by the time the reply comes. */
    char (*ids)[EQ_ID_LEN + 1] = calloc(cap, sizeof *ids);
    eq_buf req;
    eq_buf_init(&req);
    while (items && ctxs && ids) {
        pthread_mutex_lock(&p->mu);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t ns = ts.tv_nsec + period * 1000000LL;
        ts.tv_sec += ns / 1000000000LL;
        ts.tv_nsec = ns % 1000000000LL;
        if (!atomic_load(&p->stopping))
            pthread_cond_timedwait(&p->cv, &p->mu, &ts);
        uint32_t n = 0;
        for (unsigned i = 0; i < p->nthreads; i++) {
            for (unsigned k = 0; k < p->cfg.lease_batch; k++) {
                worker_ctx *c = &p->threads[i].held[k];
                if (c->active) {
                    memcpy(ids[n], c->id, sizeof ids[n]);
                    items[n].id = ids[n];
                    items[n].attempt = c->attempt;
                    ctxs[n++] = c;
                }
            }
        }
        eq_buf_reset(&req);
        proto_enc_heartbeat(&req, "heartbeat", items, n);
        pthread_mutex_unlock(&p->mu);
        if (atomic_load(&p->stopping) && n == 0)
            break;
        if (n == 0)
            continue;
        nng_msg *reply;
        eq_err err = rpc(p->hb_ctx, p->hb_aio, &req, period + WORKER_RPC_SLACK_MS, &reply);
        if (err == EQ_ECLOSED)
            break;
        if (err)
            continue;
        eq_rd rd;
        eq_err st;
        char *msg = NULL;
        eq_rd_init(&rd, nng_msg_body(reply), nng_msg_len(reply));
        if (proto_dec_reply(&rd, &st, &msg) == EQ_OK && st == EQ_OK && eq_rd_u32(&rd) == n) {
            pthread_mutex_lock(&p->mu);
            for (uint32_t i = 0; i < n; i++) {
                uint8_t v = eq_rd_u8(&rd);
                /* The job may have ended meanwhile; only touch the same job. */
                if (!ctxs[i]->active || strcmp(ctxs[i]->id, items[i].id) != 0 ||
                    ctxs[i]->attempt != items[i].attempt)
                    continue;
                if (v == PROTO_HB_CANCEL)
                    atomic_store(&ctxs[i]->cancelled, 1);
                else if (v == PROTO_HB_LOST)
                    atomic_store(&ctxs[i]->lost, 1);
            }
            pthread_mutex_unlock(&p->mu);
        }
        free(msg);
        nng_msg_free(reply);
    }
    eq_buf_fini(&req);
    free(items);
    free(ids);
    free(ctxs);
    return NULL;
}

static void pool_free(worker_pool *p) {
    for (unsigned i = 0; p->threads && i < p->nthreads; i++) {
        worker_thread *t = &p->threads[i];
        if (t->aio)
            nng_aio_free(t->aio);
        for (uint32_t k = 0; k < t->nouts; k++)
            outcome_free(&t->outs[k]);
        free(t->outs);
        free(t->held);
    }
    if (p->hb_aio)
        nng_aio_free(p->hb_aio);
    free(p->threads);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
}

eq_err worker_pool_start(const worker_pool_config *cfg, worker_pool **out) {
    worker_pool *p = calloc(1, sizeof *p);
    const worker_kind *kinds[8];
    unsigned nkinds = 0, total = 0;
    int rv;
    if (!p)
        return EQ_ENOMEM;
    p->cfg = *cfg;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    for (; nkinds < 7 && cfg->kinds[nkinds]; nkinds++) {
        kinds[nkinds] = worker_kind_find(cfg->kinds[nkinds]);
        if (!kinds[nkinds]) {
            eq_log(EQ_LOG_ERROR, "unknown worker kind", "kind", cfg->kinds[nkinds], NULL);
            pool_free(p);
            return EQ_EINVAL;
        }
        total += cfg->threads ? cfg->threads : kinds[nkinds]->default_threads;
    }
    if (total == 0 || total > WORKER_MAX_THREADS || cfg->lease_batch == 0 ||
        cfg->lease_batch > 1024) {
        pool_free(p);
        return EQ_EINVAL;
    }
    p->threads = calloc(total, sizeof *p->threads);
    if (!p->threads) {
        pool_free(p);
        return EQ_ENOMEM;
    }
    if ((rv = nng_req0_open(&p->sock)) != 0)
        goto fail_nng;
    /* Requests are resent only when a connection drops, not on a timer: lease waits are long. */
    nng_socket_set_ms(p->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
    nng_socket_set_ms(p->sock, NNG_OPT_RECONNMINT, 50);
    nng_socket_set_ms(p->sock, NNG_OPT_RECONNMAXT, 2000);
    nng_socket_set_size(p->sock, NNG_OPT_RECVMAXSZ, PROTO_MAX_MSG_BYTES);
    if ((rv = nng_dial(p->sock, cfg->url, NULL, NNG_FLAG_NONBLOCK)) != 0)
        goto fail_nng;
    if ((rv = nng_ctx_open(&p->hb_ctx, p->sock)) != 0 || (rv = nng_aio_alloc(&p->hb_aio, NULL, NULL)) != 0)
        goto fail_nng;
    for (unsigned k = 0, idx = 0; k < nkinds; k++) {
        unsigned n = cfg->threads ? cfg->threads : kinds[k]->default_threads;
        for (unsigned i = 0; i < n; i++, idx++) {
            worker_thread *t = &p->threads[idx];
            t->pool = p;
            t->kind = kinds[k];
            t->held = calloc(cfg->lease_batch, sizeof *t->held);
            t->outs = calloc(cfg->lease_batch, sizeof *t->outs);
            if (!t->held || !t->outs) {
                free(t->held);
                free(t->outs);
                t->held = NULL;
                t->outs = NULL;
                rv = NNG_ENOMEM;
                goto fail_nng;
            }
            for (unsigned h = 0; h < cfg->lease_batch; h++)
                t->held[h].pool = p;
            for (size_t ti = 0; kinds[k]->types[ti] && t->ntypes < PROTO_MAX_TYPES - 1; ti++)
                t->types[t->ntypes++] = kinds[k]->types[ti];
            for (size_t ti = 0; worker_source_get() && kinds[k]->source_types &&
                                kinds[k]->source_types[ti] && t->ntypes < PROTO_MAX_TYPES - 1;
                 ti++)
                t->types[t->ntypes++] = kinds[k]->source_types[ti];
            t->types[t->ntypes++] = "noop";
            snprintf(t->name, sizeof t->name, "%s%s-%u", cfg->name_prefix, kinds[k]->name, i);
            if ((rv = nng_ctx_open(&t->ctx, p->sock)) != 0 || (rv = nng_aio_alloc(&t->aio, NULL, NULL)) != 0)
                goto fail_nng;
            p->nthreads = idx + 1;
        }
    }
    for (unsigned i = 0; i < p->nthreads; i++)
        pthread_create(&p->threads[i].tid, NULL, thread_main, &p->threads[i]);
    pthread_create(&p->hb_tid, NULL, heartbeat_main, p);
    *out = p;
    return EQ_OK;
fail_nng:
    eq_log(EQ_LOG_ERROR, "worker cannot connect", "url", cfg->url, "error", nng_strerror(rv), NULL);
    nng_close(p->sock);
    pool_free(p);
    return EQ_EIO;
}

void worker_pool_stop(worker_pool *p, int64_t grace_ms) {
    if (!p)
        return;
    atomic_store(&p->stopping, 1);
    /* Idle threads wait in a lease request: cancel those so they see the stop. */
    pthread_mutex_lock(&p->mu);
    for (unsigned i = 0; i < p->nthreads; i++)
        if (atomic_load(&p->running) == 0 || !p->threads[i].held[0].active)
            nng_aio_cancel(p->threads[i].aio);
    pthread_cond_broadcast(&p->cv);
    int64_t deadline = eq_mono_ms() + grace_ms;
    /* Running jobs get the grace period; then every thread a moment to hand in its outcomes
     * while the connection is still open. */
    while ((atomic_load(&p->running) > 0 && eq_mono_ms() < deadline) ||
           (atomic_load(&p->exited) < p->nthreads && eq_mono_ms() < deadline + 2000)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&p->cv, &p->mu, &ts);
    }
    pthread_mutex_unlock(&p->mu);
    /* Closing each context first aborts its pending request and frees the copy nng keeps for
     * resending; closing only the socket can leave that copy behind. */
    for (unsigned i = 0; i < p->nthreads; i++)
        nng_ctx_close(p->threads[i].ctx);
    nng_ctx_close(p->hb_ctx);
    nng_close(p->sock);
    for (unsigned i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i].tid, NULL);
    pthread_join(p->hb_tid, NULL);
    pool_free(p);
}

#include "broker/lifecycle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/metrics.h"
#include "broker/outbox.h"

#include <xxhash.h>

#define LC_SCAN_MAX 1024 /* ids handled by one reaper or retention pass */

void lc_effects_reset(lc_effects *fx) {
    fx->queue_changed = 0;
    fx->deliveries_added = 0;
    fx->ndone = 0;
}

void lc_effects_fini(lc_effects *fx) {
    free(fx->done_ids);
    memset(fx, 0, sizeof *fx);
}

static void note_done(lc_ctx *c, const eq_job *j) {
    lc_effects *fx = c->fx;
    if (fx->ndone == fx->cap_done) {
        size_t cap = fx->cap_done ? fx->cap_done * 2 : 64;
        void *p = realloc(fx->done_ids, cap * sizeof *fx->done_ids);
        if (!p)
            return; /* a missed event only delays a long-poll until its timeout */
        fx->done_ids = p;
        fx->cap_done = cap;
    }
    memcpy(fx->done_ids[fx->ndone], j->id, EQ_ID_LEN);
    fx->done_ids[fx->ndone][EQ_ID_LEN] = (char)j->state;
    fx->done_ids[fx->ndone][EQ_ID_LEN + 1] = '\0';
    fx->ndone++;
}

static void set_str(char **dst, const char *src) {
    free(*dst);
    *dst = src ? strdup(src) : NULL;
}

/* Counts a batch's job into (delta 1) or out of (-1) its finished jobs; the batch is done when
 * all are finished. */
static eq_err batch_note(lc_ctx *c, const char *batch_id, int delta) {
    store_batch b;
    eq_err err = store_batch_get(c->txn, batch_id, &b);
    if (err == EQ_ENOTFOUND)
        return EQ_OK; /* the batch is gone (retention) */
    if (err)
        return err;
    if (delta < 0 && b.finished > 0)
        b.finished--;
    else if (delta > 0 && b.finished < b.total)
        b.finished++;
    int was_done = b.done_ms != 0;
    b.done_ms = b.finished == b.total ? c->now : 0;
    err = store_batch_put(c->txn, batch_id, &b);
    if (!err && b.done_ms && !was_done)
        err = lc_webhook_batch(c, batch_id, &b);
    store_batch_fini(&b);
    return err;
}

/* Moves j from its current state to `to`, keeping the indexes in step, and writes it. */
static eq_err transition(lc_ctx *c, eq_job *j, int to) {
    eq_err err;
    int from = j->state;
    if (from == JOB_QUEUED && (err = store_queue_del(c->txn, j)))
        return err;
    if (from == JOB_RUNNING && (err = store_lease_del(c->txn, j->lease_deadline_ms, j->id)))
        return err;
    if (job_state_terminal(from) && (err = store_done_del(c->txn, j->finished_ms, j->id)))
        return err;
    if (from != to && (err = store_state_del(c->txn, from, j->id)))
        return err;
    j->state = (uint8_t)to;
    j->updated_ms = c->now;
    if (to == JOB_QUEUED) {
        if ((err = store_queue_put(c->txn, j)))
            return err;
        c->fx->queue_changed = 1;
    } else if (to == JOB_RUNNING) {
        if ((err = store_lease_put(c->txn, j->lease_deadline_ms, j->id)))
            return err;
    } else {
        j->finished_ms = c->now;
        j->cancel_requested = 0;
        if ((err = store_done_put(c->txn, j->finished_ms, j->id)))
            return err;
        note_done(c, j);
    }
    if (from != to && (err = store_state_put(c->txn, to, j->id)))
        return err;
    if ((err = store_job_put(c->txn, j)))
        return err;
    if (job_state_terminal(to) && !job_state_terminal(from) && (err = lc_webhook_job(c, j)))
        return err;
    if (j->batch_id && job_state_terminal(from) != job_state_terminal(to) &&
        (err = batch_note(c, j->batch_id, job_state_terminal(to) ? 1 : -1)))
        return err;
    metrics_job_transition(j->type, from, to, j->run_at_ms, j->started_ms, c->now);
    return EQ_OK;
}

static int attempts_left(const eq_job *j) {
    return j->attempt - j->attempt_base < j->max_attempts;
}

static int64_t backoff_ms(const lc_ctx *c, const eq_job *j) {
    int n = j->attempt - j->attempt_base;
    int64_t d = c->policy->backoff_base_ms;
    for (int i = 1; i < n && d < c->policy->backoff_max_ms; i++)
        d *= 2;
    if (d > c->policy->backoff_max_ms)
        d = c->policy->backoff_max_ms;
    /* Jitter: between 75% and 125% of the delay, so retries of many jobs spread out. */
    double f = 0.75 + (double)(eq_rand64() >> 11) / (double)(1ull << 53) * 0.5;
    return (int64_t)((double)d * f);
}

static const lc_cache_policy *cache_policy(const lc_ctx *c, const char *type) {
    for (size_t i = 0; i < c->policy->ncaches; i++)
        if (strcmp(c->policy->caches[i].type, type) == 0)
            return &c->policy->caches[i];
    return NULL;
}

void lc_cache_key(const char *type, const char *params, uint64_t generation, unsigned char *key) {
    /* The type and the generation seed the hash of the params. */
    uint64_t seed = XXH3_64bits_withSeed(type, strlen(type), generation);
    XXH128_hash_t h = XXH3_128bits_withSeed(params, strlen(params), seed);
    XXH128_canonical_t canon;
    XXH128_canonicalFromHash(&canon, h);
    memcpy(key, canon.digest, STORE_CACHE_KEY_LEN);
}

static eq_err count(lc_ctx *c, const char *what, const char *type) {
    char name[96];
    snprintf(name, sizeof name, "cache.%s.%s", what, type);
    return store_counter_add(c->txn, name, 1);
}

/* A cache hit: the job is recorded as succeeded at once, with the cached result. */
static eq_err submit_cached(lc_ctx *c, eq_job *j, const char *result, eq_buf *out) {
    eq_err err;
    j->state = JOB_SUCCEEDED;
    j->cached = 1;
    j->finished_ms = c->now;
    if ((err = store_job_put(c->txn, j)) || (err = store_state_put(c->txn, JOB_SUCCEEDED, j->id)) ||
        (err = store_done_put(c->txn, j->finished_ms, j->id)) ||
        (err = store_result_put(c->txn, j->id, result, strlen(result))))
        return err;
    note_done(c, j);
    if ((err = lc_webhook_job(c, j)))
        return err;
    if (j->batch_id && (err = batch_note(c, j->batch_id, 1)))
        return err;
    if (out)
        eq_job_to_json(j, result, out);
    return EQ_OK;
}

eq_err lc_submit(lc_ctx *c, const proto_submit_job *s, eq_buf *out, char *id_out,
                 const char **why) {
    eq_job j;
    eq_err err;
    *why = NULL;
    if (s->idem_key) {
        store_idem idem;
        err = store_idem_get(c->txn, s->idem_key, &idem);
        if (err == EQ_OK && idem.created_ms + c->policy->idem_ttl_ms > c->now) {
            if (idem.hash != s->idem_hash) {
                *why = "this Idempotency-Key was used with a different request body";
                return EQ_ECONFLICT;
            }
            err = store_job_get(c->txn, idem.job_id, &j);
            if (err == EQ_OK) {
                if (out)
                    eq_job_to_json(&j, NULL, out);
                if (id_out)
                    memcpy(id_out, j.id, EQ_ID_LEN + 1);
                eq_job_fini(&j);
                return EQ_EEXIST; /* the first job, returned again */
            }
            if (err != EQ_ENOTFOUND)
                return err;
            /* The job was removed by retention: the key starts afresh. */
        } else if (err != EQ_OK && err != EQ_ENOTFOUND) {
            return err;
        }
    }
    if (strlen(s->type) >= sizeof j.type)
        return EQ_EINVAL;
    eq_job_init(&j);
    eq_id_new(c->now, j.id);
    if (id_out)
        memcpy(id_out, j.id, EQ_ID_LEN + 1);
    snprintf(j.type, sizeof j.type, "%s", s->type);
    j.state = JOB_QUEUED;
    j.priority = s->priority;
    j.max_attempts = s->max_attempts;
    j.seq = ++*c->seq;
    j.created_ms = j.updated_ms = c->now;
    j.run_at_ms = s->run_at_ms > 0 ? s->run_at_ms : c->now;
    j.params = strdup(s->params);
    set_str(&j.idem_key, s->idem_key);
    set_str(&j.batch_id, s->batch_id);
    set_str(&j.schedule, s->schedule);
    set_str(&j.webhook_url, s->webhook_url);
    set_str(&j.webhook_secret, s->webhook_secret);
    if (!j.params) {
        eq_job_fini(&j);
        return EQ_ENOMEM;
    }
    const lc_cache_policy *cp = cache_policy(c, j.type);
    char *cached = NULL;
    if (cp) {
        unsigned char key[STORE_CACHE_KEY_LEN];
        lc_cache_key(j.type, j.params, lc_coll_generation(c, j.type, j.params, NULL), key);
        err = store_cache_get(c->txn, key, c->now, &cached);
        if (err && err != EQ_ENOTFOUND) {
            eq_job_fini(&j);
            return err;
        }
        if ((err = count(c, cached ? "hits" : "misses", j.type))) {
            free(cached);
            eq_job_fini(&j);
            return err;
        }
    }
    if (cached) {
        err = submit_cached(c, &j, cached, out);
        free(cached);
        if (!err && s->idem_key) {
            store_idem idem = {.hash = s->idem_hash, .created_ms = c->now};
            memcpy(idem.job_id, j.id, EQ_ID_LEN + 1);
            err = store_idem_put(c->txn, s->idem_key, &idem);
        }
        eq_job_fini(&j);
        return err;
    }
    err = store_job_put(c->txn, &j);
    if (!err)
        err = store_queue_put(c->txn, &j);
    if (!err)
        err = store_state_put(c->txn, JOB_QUEUED, j.id);
    if (!err && s->idem_key) {
        store_idem idem = {.hash = s->idem_hash, .created_ms = c->now};
        memcpy(idem.job_id, j.id, EQ_ID_LEN + 1);
        err = store_idem_put(c->txn, s->idem_key, &idem);
    }
    if (!err) {
        c->fx->queue_changed = 1;
        if (out)
            eq_job_to_json(&j, NULL, out);
    }
    eq_job_fini(&j);
    return err;
}

eq_err lc_cancel(lc_ctx *c, const char *id, eq_buf *out, const char **why) {
    eq_job j;
    eq_err err = store_job_get(c->txn, id, &j);
    *why = NULL;
    if (err)
        return err;
    if (j.state == JOB_QUEUED) {
        set_str(&j.error_code, "cancelled");
        set_str(&j.error_message, "cancelled by request");
        err = transition(c, &j, JOB_CANCELLED);
    } else if (j.state == JOB_RUNNING) {
        /* The worker learns it through its next heartbeat and stops. */
        j.cancel_requested = 1;
        j.updated_ms = c->now;
        err = store_job_put(c->txn, &j);
    } else {
        *why = "the job has already finished";
        err = EQ_ECONFLICT;
    }
    if (!err)
        eq_job_to_json(&j, NULL, out);
    eq_job_fini(&j);
    return err;
}

eq_err lc_retry(lc_ctx *c, const char *id, eq_buf *out, const char **why) {
    eq_job j;
    eq_err err = store_job_get(c->txn, id, &j);
    *why = NULL;
    if (err)
        return err;
    if (j.state != JOB_FAILED && j.state != JOB_CANCELLED) {
        *why = "only a failed or cancelled job can be retried";
        eq_job_fini(&j);
        return EQ_ECONFLICT;
    }
    /* A new round of attempts; `attempt` keeps counting so stale workers stay fenced out. */
    j.attempt_base = j.attempt;
    j.run_at_ms = c->now;
    set_str(&j.error_code, NULL);
    set_str(&j.error_message, NULL);
    if ((err = store_result_del(c->txn, j.id)) == EQ_OK &&
        (err = transition(c, &j, JOB_QUEUED)) == EQ_OK) {
        j.finished_ms = 0;
        err = store_job_put(c->txn, &j);
    }
    if (!err)
        eq_job_to_json(&j, NULL, out);
    eq_job_fini(&j);
    return err;
}

eq_err lc_lease(lc_ctx *c, const proto_lease_req *r, eq_buf *out, uint32_t *n, int64_t *next_ms) {
    *n = 0;
    while (*n < r->max) {
        char best_id[EQ_ID_LEN + 1] = "";
        int best_prio = JOB_PRIORITY_MAX + 1;
        int64_t best_run = 0;
        uint64_t best_seq = 0;
        for (uint16_t i = 0; i < r->ntypes; i++) {
            char id[EQ_ID_LEN + 1];
            int prio;
            int64_t run_at;
            uint64_t seq;
            eq_err err = store_queue_peek(c->txn, r->types[i], c->now, id, &prio, &run_at, &seq,
                                          next_ms);
            if (err == EQ_ENOTFOUND)
                continue;
            if (err)
                return err;
            if (prio < best_prio || (prio == best_prio && (run_at < best_run ||
                                                          (run_at == best_run && seq < best_seq)))) {
                memcpy(best_id, id, sizeof id);
                best_prio = prio;
                best_run = run_at;
                best_seq = seq;
            }
        }
        if (!best_id[0])
            break;
        eq_job j;
        eq_err err = store_job_get(c->txn, best_id, &j);
        if (err)
            return err;
        j.attempt++;
        j.started_ms = c->now;
        j.lease_deadline_ms = c->now + c->policy->lease_ms;
        set_str(&j.worker, r->worker);
        if ((err = transition(c, &j, JOB_RUNNING))) {
            eq_job_fini(&j);
            return err;
        }
        eq_buf_str(out, j.id);
        eq_buf_str(out, j.type);
        eq_buf_u16(out, j.attempt);
        eq_buf_i64(out, j.lease_deadline_ms);
        eq_buf_str(out, j.params);
        eq_job_fini(&j);
        (*n)++;
    }
    return EQ_OK;
}

eq_err lc_heartbeat(lc_ctx *c, const char *id, uint16_t attempt, proto_hb_verdict *v) {
    eq_job j;
    eq_err err = store_job_get(c->txn, id, &j);
    *v = PROTO_HB_LOST;
    if (err == EQ_ENOTFOUND)
        return EQ_OK;
    if (err)
        return err;
    if (j.state == JOB_RUNNING && j.attempt == attempt) {
        if ((err = store_lease_del(c->txn, j.lease_deadline_ms, j.id)) == EQ_OK) {
            j.lease_deadline_ms = c->now + c->policy->lease_ms;
            j.updated_ms = c->now;
            err = store_lease_put(c->txn, j.lease_deadline_ms, j.id);
        }
        if (!err)
            err = store_job_put(c->txn, &j);
        *v = j.cancel_requested ? PROTO_HB_CANCEL : PROTO_HB_OK;
    }
    eq_job_fini(&j);
    return err;
}

/* Loads the job an outcome names and checks its fencing token. EQ_EEXIST: the same outcome was
 * already recorded (a resent message); EQ_ESTALE: the lease is gone or belongs to a later attempt. */
static eq_err outcome_job(lc_ctx *c, const proto_outcome *o, int terminal_state, eq_job *j,
                          const char **why) {
    eq_err err = store_job_get(c->txn, o->id, j);
    if (err)
        return err;
    if (j->state == JOB_RUNNING && j->attempt == o->attempt)
        return EQ_OK;
    int repeat = j->attempt == o->attempt && j->state == terminal_state;
    eq_job_fini(j);
    *why = repeat ? NULL : "the lease for this attempt is no longer held";
    return repeat ? EQ_EEXIST : EQ_ESTALE;
}

eq_err lc_complete(lc_ctx *c, const proto_outcome *o, const char **why) {
    eq_job j;
    *why = NULL;
    eq_err err = outcome_job(c, o, JOB_SUCCEEDED, &j, why);
    if (err == EQ_EEXIST)
        return EQ_OK;
    if (err)
        return err;
    if (j.cancel_requested) {
        set_str(&j.error_code, "cancelled");
        set_str(&j.error_message, "cancelled by request while running; the result was discarded");
        err = transition(c, &j, JOB_CANCELLED);
    } else {
        const char *result = o->result;
        char *slim = NULL, code[64], msg[256];
        if (strcmp(j.type, "embed") == 0 && j.params) {
            /* The vectors become documents; the client gets a short result. */
            err = lc_embed_apply(c, &j, o->result, &slim, code, sizeof code, msg, sizeof msg);
            if (err == EQ_EINVAL) {
                set_str(&j.error_code, code);
                set_str(&j.error_message, msg);
                err = transition(c, &j, JOB_FAILED);
                eq_job_fini(&j);
                return err;
            }
            if (err) {
                eq_job_fini(&j);
                return err;
            }
            result = slim;
        }
        set_str(&j.error_code, NULL);
        set_str(&j.error_message, NULL);
        if (strcmp(j.type, "forecast") == 0 && j.params)
            err = lc_dataset_forecast(c, &j);
        if (!err)
            err = store_result_put(c->txn, j.id, result, strlen(result));
        if (!err)
            err = transition(c, &j, JOB_SUCCEEDED);
        const lc_cache_policy *cp = cache_policy(c, j.type);
        if (!err && cp && j.params) {
            unsigned char key[STORE_CACHE_KEY_LEN];
            size_t evicted;
            lc_cache_key(j.type, j.params, lc_coll_generation(c, j.type, j.params, result), key);
            err = store_cache_put(c->txn, key, j.type, result, c->now, cp->ttl_ms,
                                  cp->max_entries, &evicted);
        }
        free(slim);
    }
    eq_job_fini(&j);
    return err;
}

eq_err lc_fail(lc_ctx *c, const proto_outcome *o, const char **why) {
    eq_job j;
    *why = NULL;
    eq_err err = outcome_job(c, o, JOB_FAILED, &j, why);
    if (err == EQ_EEXIST)
        return EQ_OK;
    if (err)
        return err;
    set_str(&j.error_code, o->code);
    set_str(&j.error_message, o->message);
    if (j.cancel_requested) {
        set_str(&j.error_code, "cancelled");
        err = transition(c, &j, JOB_CANCELLED);
    } else if (strcmp(o->code, "shutdown") == 0) {
        /* The worker stopped before finishing: run again at once, without using up an attempt. */
        j.attempt_base++;
        j.run_at_ms = c->now;
        err = transition(c, &j, JOB_QUEUED);
    } else if (o->retry_after_ms > 0) {
        /* Not tried (an outside service is known to be down): after the wait, without using
         * up an attempt. The error stays on the queued job so that a reader sees why. */
        j.attempt_base++;
        j.run_at_ms = c->now + (int64_t)o->retry_after_ms;
        err = transition(c, &j, JOB_QUEUED);
    } else if (o->retryable && attempts_left(&j)) {
        j.run_at_ms = c->now + backoff_ms(c, &j);
        err = transition(c, &j, JOB_QUEUED);
    } else {
        err = transition(c, &j, JOB_FAILED);
    }
    eq_job_fini(&j);
    return err;
}

/* The end of a lease: the worker is presumed dead. */
static eq_err expire(lc_ctx *c, eq_job *j) {
    if (j->cancel_requested) {
        set_str(&j->error_code, "cancelled");
        set_str(&j->error_message, "cancelled; the worker's lease ended");
        return transition(c, j, JOB_CANCELLED);
    }
    set_str(&j->error_code, "lease_expired");
    set_str(&j->error_message, "the worker stopped sending heartbeats before its lease ended");
    if (attempts_left(j)) {
        j->run_at_ms = c->now;
        return transition(c, j, JOB_QUEUED);
    }
    return transition(c, j, JOB_FAILED);
}

eq_err lc_reap(lc_ctx *c, size_t max, size_t *n) {
    static _Thread_local char ids[LC_SCAN_MAX * (EQ_ID_LEN + 1)];
    size_t found;
    *n = 0;
    if (max > LC_SCAN_MAX)
        max = LC_SCAN_MAX;
    eq_err err = store_lease_expired(c->txn, c->now, ids, max, &found);
    for (size_t i = 0; !err && i < found; i++) {
        eq_job j;
        const char *id = ids + i * (EQ_ID_LEN + 1);
        err = store_job_get(c->txn, id, &j);
        if (err == EQ_ENOTFOUND) {
            err = EQ_OK;
            continue;
        }
        if (err)
            break;
        if (j.state == JOB_RUNNING && j.lease_deadline_ms < c->now) {
            eq_log(EQ_LOG_WARN, "lease expired", "job_id", j.id, "worker", j.worker, NULL);
            err = expire(c, &j);
            (*n)++;
        }
        eq_job_fini(&j);
    }
    return err;
}

eq_err lc_recover_local(lc_ctx *c, const char *prefix, size_t *n) {
    static _Thread_local char ids[LC_SCAN_MAX * (EQ_ID_LEN + 1)];
    size_t found;
    *n = 0;
    eq_err err = store_lease_expired(c->txn, INT64_MAX, ids, LC_SCAN_MAX, &found);
    for (size_t i = 0; !err && i < found; i++) {
        eq_job j;
        if ((err = store_job_get(c->txn, ids + i * (EQ_ID_LEN + 1), &j))) {
            err = err == EQ_ENOTFOUND ? EQ_OK : err;
            continue;
        }
        if (j.state == JOB_RUNNING && j.worker && strncmp(j.worker, prefix, strlen(prefix)) == 0) {
            set_str(&j.error_code, "restarted");
            set_str(&j.error_message, "econqd restarted while the job ran in-process");
            j.run_at_ms = c->now;
            err = attempts_left(&j) ? transition(c, &j, JOB_QUEUED) : transition(c, &j, JOB_FAILED);
            (*n)++;
        }
        eq_job_fini(&j);
    }
    return err;
}

eq_err lc_cache_sweep(lc_ctx *c, size_t max, size_t *n) {
    return store_cache_sweep(c->txn, c->now, max, n);
}

eq_err lc_retain(lc_ctx *c, int64_t before, size_t max, size_t *n) {
    static _Thread_local char ids[LC_SCAN_MAX * (EQ_ID_LEN + 1)];
    size_t found;
    *n = 0;
    if (max > LC_SCAN_MAX)
        max = LC_SCAN_MAX;
    eq_err err = store_done_older(c->txn, before, ids, max, &found);
    for (size_t i = 0; !err && i < found; i++) {
        eq_job j;
        const char *id = ids + i * (EQ_ID_LEN + 1);
        err = store_job_get(c->txn, id, &j);
        if (err == EQ_OK) {
            err = store_done_del(c->txn, j.finished_ms, id);
            if (!err)
                err = store_state_del(c->txn, j.state, id);
            eq_job_fini(&j);
        } else if (err == EQ_ENOTFOUND) {
            err = EQ_OK;
        }
        if (!err)
            err = store_result_del(c->txn, id);
        if (!err)
            err = store_job_del(c->txn, id);
        (*n)++;
    }
    /* Webhook deliveries and their logs go with the same retention. */
    size_t nd = 0;
    if (!err)
        err = store_delivery_retain(c->txn, before, max, &nd);
    return err;
}

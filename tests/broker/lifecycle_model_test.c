/* Tests for broker/lifecycle.c: random operations checked against a model of the state machine.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/broker/lifecycle_util.h"

/* A model of the state machine, driven with random operations; after each one the store must
 * agree with the model job by job, and the indexes with the jobs table. */
#define MODEL_MAX 160

typedef struct mjob {
    char id[EQ_ID_LEN + 1];
    const char *type;
    int state, prio, max_attempts, attempt, base, cancel_req, gone;
    int64_t run_at, deadline, finished;
    uint64_t seq;
} mjob;

static mjob model[MODEL_MAX];
static int nmodel;
static uint64_t rng;

static unsigned rnd(unsigned n) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

/* A random job of the model in `state` (0: any that still exists), or NULL. */
static mjob *pick(int state) {
    int idx[MODEL_MAX], n = 0;
    for (int i = 0; i < nmodel; i++)
        if (!model[i].gone && (!state || model[i].state == state)) idx[n++] = i;
    return n ? &model[idx[rnd((unsigned)n)]] : NULL;
}

static void model_finish(mjob *m, int state) {
    m->state = state;
    m->finished = now;
    m->cancel_req = 0;
}

static void model_check(void) {
    for (int i = 0; i < nmodel; i++) {
        mjob *m = &model[i];
        if (m->gone) {
            ck_assert_msg(!job_exists(m->id), "job %d should be deleted", i);
            continue;
        }
        eq_job j;
        get_job(m->id, &j);
        ck_assert_msg(j.state == m->state, "job %d: state %s, model %s", i, job_state_name(j.state),
                      job_state_name(m->state));
        ck_assert_uint_eq(j.attempt, (unsigned)m->attempt);
        ck_assert_uint_eq(j.cancel_requested, (unsigned)m->cancel_req);
        if (m->state == JOB_QUEUED) ck_assert(j.run_at_ms == m->run_at);
        if (m->state == JOB_RUNNING) ck_assert(j.lease_deadline_ms == m->deadline);
        if (job_state_terminal(m->state)) ck_assert(j.finished_ms == m->finished);
        eq_job_fini(&j);
    }
    check_indexes();
}

static int model_before(const mjob *a, const mjob *b) {
    if (a->prio != b->prio) return a->prio < b->prio;
    if (a->run_at != b->run_at) return a->run_at < b->run_at;
    return a->seq < b->seq;
}

static int model_ready(const mjob *m, const char **types, uint16_t ntypes) {
    int asked = 0;
    for (uint16_t t = 0; t < ntypes; t++)
        asked |= strcmp(m->type, types[t]) == 0;
    return !m->gone && asked && m->state == JOB_QUEUED && m->run_at <= now;
}

static void step_submit(void) {
    if (nmodel == MODEL_MAX) return;
    mjob *m = &model[nmodel];
    memset(m, 0, sizeof *m);
    m->type = rnd(2) ? "a" : "b";
    m->prio = (int)rnd(3) * 4; /* 0, 4, 8: frequent ties */
    m->max_attempts = 1 + (int)rnd(3);
    int64_t run_at = rnd(4) == 0 ? now + (int64_t)rnd(20000) : 0;
    ck_assert_int_eq(
        submit_ex(m->type,
                  (sub_opts){.prio = m->prio, .run_at = run_at, .max_attempts = m->max_attempts},
                  m->id),
        EQ_OK);
    m->state = JOB_QUEUED;
    m->run_at = run_at > 0 ? run_at : now;
    m->seq = seq;
    nmodel++;
}

static void step_lease(void) {
    const char *all[2] = {"a", "b"};
    const char *types[2];
    uint16_t ntypes = 0;
    unsigned which = 1 + rnd(3); /* a, b or both */
    for (int i = 0; i < 2; i++)
        if (which & (1u << i)) types[ntypes++] = all[i];
    uint16_t max = (uint16_t)(1 + rnd(3));
    leased got[3];
    uint32_t n = lease_types("mw", types, ntypes, max, got, NULL);
    for (uint32_t k = 0; k < n; k++) {
        /* The model's best ready job of the asked types. */
        mjob *best = NULL;
        for (int i = 0; i < nmodel; i++)
            if (model_ready(&model[i], types, ntypes) && (!best || model_before(&model[i], best)))
                best = &model[i];
        ck_assert_ptr_nonnull(best);
        ck_assert_str_eq(got[k].id, best->id);
        best->state = JOB_RUNNING;
        best->attempt++;
        ck_assert_uint_eq(got[k].attempt, (unsigned)best->attempt);
        best->deadline = now + LEASE_MS;
    }
    /* Fewer than max only when nothing else was ready. */
    if (n < max)
        for (int i = 0; i < nmodel; i++)
            ck_assert(!model_ready(&model[i], types, ntypes));
}

static void step_complete(void) {
    mjob *m = pick(JOB_RUNNING);
    if (!m) return;
    if (rnd(5) == 0 && m->attempt > 1) {
        ck_assert_int_eq(complete(m->id, (uint16_t)(m->attempt - 1), "{}"), EQ_ESTALE);
        return;
    }
    ck_assert_int_eq(complete(m->id, (uint16_t)m->attempt, "{\"ok\":1}"), EQ_OK);
    model_finish(m, m->cancel_req ? JOB_CANCELLED : JOB_SUCCEEDED);
}

static void step_fail(void) {
    mjob *m = pick(JOB_RUNNING);
    if (!m) return;
    int retryable = (int)rnd(2);
    ck_assert_int_eq(fail_job(m->id, (uint16_t)m->attempt, "e", retryable), EQ_OK);
    if (m->cancel_req) {
        model_finish(m, JOB_CANCELLED);
    } else if (retryable && m->attempt - m->base < m->max_attempts) {
        eq_job j;
        get_job(m->id, &j);
        int n = m->attempt - m->base;
        int64_t d = BASE_MS;
        for (int i = 1; i < n && d < MAX_MS; i++)
            d *= 2;
        if (d > MAX_MS) d = MAX_MS;
        ck_assert(j.run_at_ms - now >= d * 3 / 4 && j.run_at_ms - now <= d * 5 / 4);
        m->state = JOB_QUEUED;
        m->run_at = j.run_at_ms;
        eq_job_fini(&j);
    } else {
        model_finish(m, JOB_FAILED);
    }
}

static void step_cancel(void) {
    mjob *m = pick(0);
    if (!m) return;
    char state[32];
    eq_err err = cancel(m->id, state);
    if (m->state == JOB_QUEUED) {
        ck_assert_int_eq(err, EQ_OK);
        model_finish(m, JOB_CANCELLED);
    } else if (m->state == JOB_RUNNING) {
        ck_assert_int_eq(err, EQ_OK);
        m->cancel_req = 1;
    } else {
        ck_assert_int_eq(err, EQ_ECONFLICT);
    }
}

static void step_retry(void) {
    mjob *m = pick(0);
    if (!m) return;
    eq_err err = retry(m->id);
    if (m->state == JOB_FAILED || m->state == JOB_CANCELLED) {
        ck_assert_int_eq(err, EQ_OK);
        m->state = JOB_QUEUED;
        m->base = m->attempt;
        m->run_at = now;
        m->finished = 0;
    } else {
        ck_assert_int_eq(err, EQ_ECONFLICT);
    }
}

static void step_heartbeat(void) {
    mjob *m = pick(JOB_RUNNING);
    if (!m) return;
    proto_hb_verdict v = heartbeat(m->id, (uint16_t)m->attempt);
    ck_assert_int_eq(v, m->cancel_req ? PROTO_HB_CANCEL : PROTO_HB_OK);
    m->deadline = now + LEASE_MS;
}

static void step_time_and_reap(void) {
    now += (int64_t)rnd(LEASE_MS + 5000);
    size_t want = 0;
    for (int i = 0; i < nmodel; i++) {
        mjob *m = &model[i];
        if (m->gone || m->state != JOB_RUNNING || m->deadline >= now) continue;
        want++;
        if (m->cancel_req) {
            model_finish(m, JOB_CANCELLED);
        } else if (m->attempt - m->base < m->max_attempts) {
            m->state = JOB_QUEUED;
            m->run_at = now;
        } else {
            model_finish(m, JOB_FAILED);
        }
    }
    ck_assert_uint_eq(reap(), want);
}

static void step_retain(void) {
    int64_t cutoff = now - (int64_t)rnd(60000);
    size_t want = 0, n;
    for (int i = 0; i < nmodel; i++) {
        mjob *m = &model[i];
        if (!m->gone && job_state_terminal(m->state) && m->finished < cutoff) {
            m->gone = 1;
            want++;
        }
    }
    lc_ctx c = begin();
    ck_assert_int_eq(lc_retain(&c, cutoff, 1024, &n), EQ_OK);
    end(&c);
    ck_assert_uint_eq(n, want);
}

START_TEST(random_operations_agree_with_a_model) {
    nmodel = 0;
    rng = 0x2545f4914f6cdd1dull + (uint64_t)_i * 7919;
    void (*steps[])(void) = {step_submit,    step_submit,        step_lease,  step_lease,
                             step_complete,  step_fail,          step_cancel, step_retry,
                             step_heartbeat, step_time_and_reap, step_retain};
    size_t nsteps = sizeof steps / sizeof steps[0];
    for (int k = 0; k < 400; k++) {
        steps[rnd((unsigned)nsteps)]();
        now += (int64_t)rnd(50);
        model_check();
    }
    /* The walk went through every state, and retention deleted some jobs. */
    int seen[JOB_STATE_MAX] = {0}, gone = 0;
    for (int i = 0; i < nmodel; i++) {
        if (model[i].gone)
            gone++;
        else
            seen[model[i].state]++;
    }
    int finished = seen[JOB_SUCCEEDED] + seen[JOB_FAILED] + seen[JOB_CANCELLED] + gone;
    ck_assert_int_gt(nmodel, 40);
    ck_assert_int_gt(finished, 10);
    ck_assert_int_gt(gone, 0);
}
END_TEST

int main(void) {
    Suite *s = suite_create("lifecycle_model");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, random_operations_agree_with_a_model, 0, 3);
    suite_add_tcase(s, tc);
    return run_suite(s);
}

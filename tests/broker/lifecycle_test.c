/* Tests for broker/lifecycle.c: the job state machine on a real store in a temporary directory,
 * with the clock injected through lc_ctx.now. After every step the indexes are checked against
 * the jobs table (see check_indexes). */
#include <check.h>
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/lifecycle.h"
#include "common/id.h"
#include "common/proto.h"
#include "store/store.h"
#include "tests/store/store_test_util.h"

#define T0 INT64_C(1795926190000) /* 2026-11-29T04:23:10Z */
#define LEASE_MS 30000
#define BASE_MS 1000
#define MAX_MS 3000
#define IDEM_TTL_MS INT64_C(86400000)

static char dir[256];
static store *st;
static uint64_t seq;
static int64_t now;
static lc_effects fx;
static const lc_policy policy = {.lease_ms = LEASE_MS, .backoff_base_ms = BASE_MS,
                                 .backoff_max_ms = MAX_MS, .idem_ttl_ms = IDEM_TTL_MS};

static void setup(void) {
    tmpdir_make(dir, sizeof dir);
    store_opts o;
    store_opts_defaults(&o);
    o.map_size = 64u << 20;
    o.nosync = 1;
    ck_assert_int_eq(store_open(dir, &o, &st), EQ_OK);
    seq = 0;
    now = T0;
    memset(&fx, 0, sizeof fx);
}

static void teardown(void) {
    lc_effects_fini(&fx);
    store_close(st);
    tmpdir_remove(dir);
}

/* Opens a write transaction at the current `now`; end() commits it. */
static lc_ctx begin(void) {
    store_txn *t;
    ck_assert_int_eq(store_txn_begin(st, 1, &t), EQ_OK);
    return (lc_ctx){.txn = t, .now = now, .seq = &seq, .policy = &policy, .fx = &fx};
}

static void end(lc_ctx *c) {
    ck_assert_int_eq(store_txn_commit(c->txn), EQ_OK);
    c->txn = NULL;
}

static void get_job(const char *id, eq_job *j) {
    store_txn *t;
    ck_assert_int_eq(store_txn_begin(st, 0, &t), EQ_OK);
    ck_assert_int_eq(store_job_get(t, id, j), EQ_OK);
    store_txn_abort(t);
}

static int job_exists(const char *id) {
    store_txn *t;
    eq_job j;
    ck_assert_int_eq(store_txn_begin(st, 0, &t), EQ_OK);
    eq_err err = store_job_get(t, id, &j);
    store_txn_abort(t);
    if (err == EQ_OK)
        eq_job_fini(&j);
    else
        ck_assert_int_eq(err, EQ_ENOTFOUND);
    return err == EQ_OK;
}

static int state_of(const char *id) {
    eq_job j;
    get_job(id, &j);
    int s = j.state;
    eq_job_fini(&j);
    return s;
}

/* Reads "id" and "state" out of a job's JSON. */
static void json_id_state(const eq_buf *b, char *id, char *state, size_t statelen) {
    cJSON *o = cJSON_ParseWithLength((const char *)b->data, b->len);
    ck_assert_ptr_nonnull(o);
    const cJSON *i = cJSON_GetObjectItemCaseSensitive(o, "id");
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, "state");
    ck_assert(cJSON_IsString(i) && cJSON_IsString(s));
    ck_assert_uint_eq(strlen(i->valuestring), EQ_ID_LEN);
    memcpy(id, i->valuestring, EQ_ID_LEN + 1);
    snprintf(state, statelen, "%s", s->valuestring);
    /* Secrets never appear in the rendering. */
    ck_assert_ptr_null(memmem(b->data, b->len, "whsec", 5));
    cJSON_Delete(o);
}

typedef struct sub_opts {
    int prio;
    int64_t run_at;
    int max_attempts;
    const char *idem_key;
    uint64_t hash;
} sub_opts;

/* Submits one job in its own transaction; returns lc_submit's result, the id in id. */
static eq_err submit_ex(const char *type, sub_opts o, char *id) {
    proto_submit_job s = {.type = (char *)type,
                          .params = "{\"n\":1}",
                          .priority = (uint8_t)o.prio,
                          .max_attempts = (uint16_t)(o.max_attempts ? o.max_attempts : 3),
                          .run_at_ms = o.run_at,
                          .idem_key = (char *)o.idem_key,
                          .idem_hash = o.hash,
                          .webhook_url = "https://example.org/h",
                          .webhook_secret = "whsec_x"};
    eq_buf out;
    eq_buf_init(&out);
    const char *why = NULL;
    lc_ctx c = begin();
    eq_err err = lc_submit(&c, &s, &out, &why);
    end(&c);
    if (err == EQ_OK || err == EQ_EEXIST) {
        char state[32];
        json_id_state(&out, id, state, sizeof state);
        ck_assert_ptr_null(why);
    } else {
        ck_assert_uint_eq(out.len, 0);
        id[0] = '\0';
    }
    if (err == EQ_ECONFLICT)
        ck_assert_ptr_nonnull(why);
    eq_buf_fini(&out);
    return err;
}

static void submit(const char *type, int prio, char *id) {
    ck_assert_int_eq(submit_ex(type, (sub_opts){.prio = prio}, id), EQ_OK);
}

typedef struct leased {
    char id[EQ_ID_LEN + 1];
    char type[JOB_TYPE_MAX];
    uint16_t attempt;
    int64_t deadline;
} leased;

/* Leases up to max jobs of the types for worker; returns how many (written to out). */
static uint32_t lease_types(const char *worker, const char **types, uint16_t ntypes, uint16_t max,
                            leased *out, int64_t *next_ms) {
    proto_lease_req r = {.worker = (char *)worker, .ntypes = ntypes, .max = max};
    for (uint16_t i = 0; i < ntypes; i++)
        r.types[i] = (char *)types[i];
    eq_buf b;
    eq_buf_init(&b);
    uint32_t n = 0;
    int64_t next = INT64_MAX;
    lc_ctx c = begin();
    ck_assert_int_eq(lc_lease(&c, &r, &b, &n, &next), EQ_OK);
    end(&c);
    ck_assert_uint_le(n, max);
    eq_rd rd;
    eq_rd_init(&rd, b.data, b.len);
    for (uint32_t i = 0; i < n; i++) {
        proto_leased_job lj;
        ck_assert_int_eq(proto_dec_leased(&rd, &lj), EQ_OK);
        memcpy(out[i].id, lj.id, EQ_ID_LEN + 1);
        snprintf(out[i].type, sizeof out[i].type, "%s", lj.type);
        out[i].attempt = lj.attempt;
        out[i].deadline = lj.lease_deadline_ms;
        ck_assert_str_eq(lj.params, "{\"n\":1}");
        ck_assert(lj.lease_deadline_ms == now + LEASE_MS);
        proto_leased_job_fini(&lj);
    }
    ck_assert_ptr_eq(rd.p, rd.end);
    eq_buf_fini(&b);
    if (next_ms)
        *next_ms = next;
    return n;
}

/* Leases one job of type; returns 0 when none is ready. */
static int lease1(const char *type, const char *worker, leased *out) {
    const char *types[1] = {type};
    return (int)lease_types(worker, types, 1, 1, out, NULL);
}

static eq_err complete(const char *id, uint16_t attempt, const char *result) {
    proto_outcome o = {.id = (char *)id, .attempt = attempt, .result = (char *)result};
    const char *why = NULL;
    lc_ctx c = begin();
    eq_err err = lc_complete(&c, &o, &why);
    end(&c);
    if (err == EQ_ESTALE)
        ck_assert_ptr_nonnull(why);
    return err;
}

static eq_err fail_job(const char *id, uint16_t attempt, const char *code, int retryable) {
    proto_outcome o = {.id = (char *)id, .attempt = attempt, .failed = 1, .code = (char *)code,
                       .message = "it went wrong", .retryable = (uint8_t)retryable};
    const char *why = NULL;
    lc_ctx c = begin();
    eq_err err = lc_fail(&c, &o, &why);
    end(&c);
    return err;
}

static eq_err cancel(const char *id, char *state_out) {
    eq_buf b;
    eq_buf_init(&b);
    const char *why = NULL;
    lc_ctx c = begin();
    eq_err err = lc_cancel(&c, id, &b, &why);
    end(&c);
    if (err == EQ_OK) {
        char id2[EQ_ID_LEN + 1];
        json_id_state(&b, id2, state_out, 32);
        ck_assert_str_eq(id2, id);
    } else if (err == EQ_ECONFLICT) {
        ck_assert_ptr_nonnull(why);
    }
    eq_buf_fini(&b);
    return err;
}

static eq_err retry(const char *id) {
    eq_buf b;
    eq_buf_init(&b);
    const char *why = NULL;
    lc_ctx c = begin();
    eq_err err = lc_retry(&c, id, &b, &why);
    end(&c);
    if (err == EQ_OK) {
        char id2[EQ_ID_LEN + 1], state[32];
        json_id_state(&b, id2, state, sizeof state);
        ck_assert_str_eq(state, "queued");
    } else if (err == EQ_ECONFLICT) {
        ck_assert_ptr_nonnull(why);
    }
    eq_buf_fini(&b);
    return err;
}

static proto_hb_verdict heartbeat(const char *id, uint16_t attempt) {
    proto_hb_verdict v = (proto_hb_verdict)99;
    lc_ctx c = begin();
    ck_assert_int_eq(lc_heartbeat(&c, id, attempt, &v), EQ_OK);
    end(&c);
    return v;
}

static size_t reap(void) {
    size_t n = 99;
    lc_ctx c = begin();
    ck_assert_int_eq(lc_reap(&c, 1024, &n), EQ_OK);
    end(&c);
    return n;
}

/* The indexes agree with the jobs table: each job is in by_state under its own state only, in
 * the queue iff queued, in leases (at its deadline) iff running, in done iff finished. */
typedef struct tally {
    size_t jobs, by_state[JOB_STATE_MAX];
    char types[8][JOB_TYPE_MAX];
    uint64_t queued_of_type[8];
    size_t ntypes;
} tally;

static int tally_cb(void *arg, const eq_job *j) {
    tally *t = arg;
    t->jobs++;
    t->by_state[j->state]++;
    if (j->state == JOB_QUEUED) {
        size_t i;
        for (i = 0; i < t->ntypes && strcmp(t->types[i], j->type) != 0; i++)
            ;
        if (i == t->ntypes) {
            ck_assert_uint_lt(t->ntypes, 8);
            snprintf(t->types[t->ntypes++], JOB_TYPE_MAX, "%s", j->type);
        }
        t->queued_of_type[i]++;
    }
    return 0;
}

static int count_cb(void *arg, const eq_job *j) {
    (void)j;
    (*(size_t *)arg)++;
    return 0;
}

static void check_indexes(void) {
    store_txn *t;
    char next[EQ_ID_LEN + 1];
    ck_assert_int_eq(store_txn_begin(st, 0, &t), EQ_OK);
    tally ta;
    memset(&ta, 0, sizeof ta);
    ck_assert_int_eq(store_jobs_list(t, 0, NULL, NULL, 100000, 100000, tally_cb, &ta, next), EQ_OK);
    for (int s = JOB_QUEUED; s < JOB_STATE_MAX; s++) {
        size_t n = 0;
        ck_assert_int_eq(store_jobs_list(t, s, NULL, NULL, 100000, 100000, count_cb, &n, next),
                         EQ_OK);
        ck_assert_msg(n == ta.by_state[s], "by_state[%s] holds %zu, jobs table %zu",
                      job_state_name(s), n, ta.by_state[s]);
    }
    uint64_t total_queued = 0;
    for (size_t i = 0; i < ta.ntypes; i++) {
        uint64_t n;
        int64_t oldest;
        ck_assert_int_eq(store_queue_depth(t, ta.types[i], &n, &oldest), EQ_OK);
        ck_assert_msg(n == ta.queued_of_type[i], "queue of %s holds %llu, want %llu", ta.types[i],
                      (unsigned long long)n, (unsigned long long)ta.queued_of_type[i]);
        total_queued += n;
    }
    store_info info;
    ck_assert_int_eq(store_stat(st, &info), EQ_OK);
    ck_assert_uint_eq(info.queued, total_queued); /* no queue entries of other types linger */
    ck_assert_uint_eq(info.jobs, ta.jobs);
    static char ids[4096 * (EQ_ID_LEN + 1)];
    size_t n;
    ck_assert_int_eq(store_lease_expired(t, INT64_MAX, ids, 4096, &n), EQ_OK);
    ck_assert_uint_eq(n, ta.by_state[JOB_RUNNING]);
    for (size_t i = 0; i < n; i++) {
        eq_job j;
        ck_assert_int_eq(store_job_get(t, ids + i * (EQ_ID_LEN + 1), &j), EQ_OK);
        ck_assert_int_eq(j.state, JOB_RUNNING);
        eq_job_fini(&j);
    }
    ck_assert_int_eq(store_done_older(t, INT64_MAX, ids, 4096, &n), EQ_OK);
    ck_assert_uint_eq(n, ta.by_state[JOB_SUCCEEDED] + ta.by_state[JOB_FAILED] +
                             ta.by_state[JOB_CANCELLED]);
    for (size_t i = 0; i < n; i++) {
        eq_job j;
        ck_assert_int_eq(store_job_get(t, ids + i * (EQ_ID_LEN + 1), &j), EQ_OK);
        ck_assert(job_state_terminal(j.state));
        eq_job_fini(&j);
    }
    store_txn_abort(t);
}

static int fx_has(const char *id, int state) {
    for (size_t i = 0; i < fx.ndone; i++)
        if (memcmp(fx.done_ids[i], id, EQ_ID_LEN) == 0 && fx.done_ids[i][EQ_ID_LEN] == state)
            return 1;
    return 0;
}

START_TEST(submit_lease_complete) {
    char id[EQ_ID_LEN + 1];
    submit("forecast", 5, id);
    ck_assert(eq_id_valid(id));
    ck_assert_int_eq(fx.queue_changed, 1);
    ck_assert_uint_eq(seq, 1);
    eq_job j;
    get_job(id, &j);
    ck_assert_int_eq(j.state, JOB_QUEUED);
    ck_assert_str_eq(j.type, "forecast");
    ck_assert_uint_eq(j.attempt, 0);
    ck_assert(j.created_ms == T0 && j.run_at_ms == T0);
    ck_assert_str_eq(j.webhook_secret, "whsec_x"); /* stored, only never rendered */
    eq_job_fini(&j);
    check_indexes();

    now += 10;
    leased l;
    ck_assert_int_eq(lease1("forecast", "w-1", &l), 1);
    ck_assert_str_eq(l.id, id);
    ck_assert_str_eq(l.type, "forecast");
    ck_assert_uint_eq(l.attempt, 1);
    get_job(id, &j);
    ck_assert_int_eq(j.state, JOB_RUNNING);
    ck_assert_str_eq(j.worker, "w-1");
    ck_assert(j.started_ms == now && j.lease_deadline_ms == now + LEASE_MS);
    eq_job_fini(&j);
    check_indexes();
    /* Nothing else to lease. */
    ck_assert_int_eq(lease1("forecast", "w-2", &l), 0);

    now += 10;
    lc_effects_reset(&fx);
    ck_assert_int_eq(complete(id, 1, "{\"yhat\":[1,2]}"), EQ_OK);
    get_job(id, &j);
    ck_assert_int_eq(j.state, JOB_SUCCEEDED);
    ck_assert(j.finished_ms == now);
    ck_assert_ptr_null(j.error_code);
    eq_job_fini(&j);
    ck_assert_uint_eq(fx.ndone, 1);
    ck_assert(fx_has(id, JOB_SUCCEEDED));
    ck_assert_int_eq(fx.done_ids[0][EQ_ID_LEN + 1], '\0');
    store_txn *t;
    ck_assert_int_eq(store_txn_begin(st, 0, &t), EQ_OK);
    char *res = NULL;
    ck_assert_int_eq(store_result_get(t, id, &res), EQ_OK);
    ck_assert_str_eq(res, "{\"yhat\":[1,2]}");
    free(res);
    store_txn_abort(t);
    check_indexes();
}
END_TEST

START_TEST(priorities_then_fifo) {
    int prios[] = {5, 9, 0, 5, 0, 9, 5, 0};
    char ids[8][EQ_ID_LEN + 1];
    for (int i = 0; i < 8; i++) {
        submit("embed", prios[i], ids[i]);
        now += 1; /* distinct created times; run_at = submit time */
    }
    int want[] = {2, 4, 7, 0, 3, 6, 1, 5};
    for (int k = 0; k < 8; k++) {
        leased l;
        ck_assert_int_eq(lease1("embed", "w", &l), 1);
        ck_assert_msg(strcmp(l.id, ids[want[k]]) == 0, "lease %d got the wrong job", k);
    }
    check_indexes();
}
END_TEST

START_TEST(fifo_within_a_priority_at_the_same_instant) {
    /* Same run_at: the submit sequence decides. */
    char ids[5][EQ_ID_LEN + 1];
    for (int i = 0; i < 5; i++)
        submit("embed", 3, ids[i]);
    leased l[5];
    const char *types[1] = {"embed"};
    ck_assert_uint_eq(lease_types("w", types, 1, 5, l, NULL), 5);
    for (int i = 0; i < 5; i++)
        ck_assert_str_eq(l[i].id, ids[i]);
}
END_TEST

START_TEST(future_run_at_waits) {
    char later[EQ_ID_LEN + 1], ready[EQ_ID_LEN + 1];
    ck_assert_int_eq(submit_ex("chart", (sub_opts){.prio = 0, .run_at = T0 + 60000}, later), EQ_OK);
    leased l;
    int64_t next = 0;
    const char *types[1] = {"chart"};
    ck_assert_uint_eq(lease_types("w", types, 1, 1, &l, &next), 0);
    ck_assert(next == T0 + 60000);
    /* A job for now at a worse priority goes first. */
    submit("chart", 9, ready);
    ck_assert_uint_eq(lease_types("w", types, 1, 1, &l, &next), 1);
    ck_assert_str_eq(l.id, ready);
    now = T0 + 59999;
    ck_assert_uint_eq(lease_types("w", types, 1, 1, &l, &next), 0);
    now = T0 + 60000;
    ck_assert_uint_eq(lease_types("w", types, 1, 1, &l, &next), 1);
    ck_assert_str_eq(l.id, later);
    ck_assert(next == INT64_MAX);
    check_indexes();
}
END_TEST

START_TEST(lease_across_types_takes_the_best) {
    char a5[EQ_ID_LEN + 1], b2[EQ_ID_LEN + 1], a2[EQ_ID_LEN + 1], c0[EQ_ID_LEN + 1],
        b2late[EQ_ID_LEN + 1];
    submit("a", 5, a5);
    now += 5;
    submit("b", 2, b2);
    now += 5;
    submit("a", 2, a2);
    submit("c", 0, c0); /* a type not asked for */
    ck_assert_int_eq(submit_ex("b", (sub_opts){.prio = 2, .run_at = T0 - 5000}, b2late), EQ_OK);
    const char *types[2] = {"a", "b"};
    leased l[5];
    ck_assert_uint_eq(lease_types("w", types, 2, 5, l, NULL), 4);
    /* Priority 2 first: the one with the earliest run_at (b2late), then b2 (T0+5), then a2
     * (T0+10); then a5. */
    ck_assert_str_eq(l[0].id, b2late);
    ck_assert_str_eq(l[1].id, b2);
    ck_assert_str_eq(l[2].id, a2);
    ck_assert_str_eq(l[3].id, a5);
    ck_assert_str_eq(l[1].type, "b");
    ck_assert_str_eq(l[3].type, "a");
    ck_assert_int_eq(state_of(c0), JOB_QUEUED);
    check_indexes();
}
END_TEST

START_TEST(retryable_failures_back_off_then_fail) {
    /* Several jobs so that the jitter is exercised, each through all its attempts. */
    for (int round = 0; round < 12; round++) {
        char id[EQ_ID_LEN + 1];
        ck_assert_int_eq(submit_ex("llm", (sub_opts){.prio = 5, .max_attempts = 4}, id), EQ_OK);
        /* Expected delay bounds (ms) after attempts 1, 2, 3: base, 2×base, 4×base capped at max;
         * each with ±25 % jitter. */
        int64_t lo[3] = {BASE_MS * 3 / 4, BASE_MS * 3 / 2, MAX_MS * 3 / 4};
        int64_t hi[3] = {BASE_MS * 5 / 4, BASE_MS * 5 / 2, MAX_MS * 5 / 4};
        for (int a = 1; a <= 4; a++) {
            leased l;
            ck_assert_int_eq(lease1("llm", "w", &l), 1);
            ck_assert_str_eq(l.id, id);
            ck_assert_uint_eq(l.attempt, a);
            lc_effects_reset(&fx);
            ck_assert_int_eq(fail_job(id, (uint16_t)a, "upstream", 1), EQ_OK);
            eq_job j;
            get_job(id, &j);
            ck_assert_str_eq(j.error_code, "upstream");
            ck_assert_str_eq(j.error_message, "it went wrong");
            if (a < 4) {
                ck_assert_int_eq(j.state, JOB_QUEUED);
                int64_t d = j.run_at_ms - now;
                ck_assert_msg(d >= lo[a - 1] && d <= hi[a - 1],
                              "attempt %d: delay %lld outside [%lld, %lld]", a, (long long)d,
                              (long long)lo[a - 1], (long long)hi[a - 1]);
                ck_assert_uint_eq(fx.ndone, 0);
                /* Not ready before run_at. */
                now = j.run_at_ms - 1;
                ck_assert_int_eq(lease1("llm", "w", &l), 0);
                now = j.run_at_ms;
            } else {
                ck_assert_int_eq(j.state, JOB_FAILED);
                ck_assert(fx_has(id, JOB_FAILED));
            }
            eq_job_fini(&j);
            check_indexes();
        }
    }
}
END_TEST

START_TEST(backoff_is_capped_for_many_attempts) {
    char id[EQ_ID_LEN + 1];
    ck_assert_int_eq(submit_ex("llm", (sub_opts){.max_attempts = 40}, id), EQ_OK);
    for (int a = 1; a < 40; a++) {
        leased l;
        ck_assert_int_eq(lease1("llm", "w", &l), 1);
        ck_assert_int_eq(fail_job(id, (uint16_t)a, "upstream", 1), EQ_OK);
        eq_job j;
        get_job(id, &j);
        int64_t d = j.run_at_ms - now;
        /* The doubling must neither overflow nor pass the cap (with its jitter). */
        ck_assert_msg(d > 0 && d <= MAX_MS * 5 / 4, "attempt %d: delay %lld", a, (long long)d);
        now = j.run_at_ms;
        eq_job_fini(&j);
    }
}
END_TEST

START_TEST(permanent_failure_is_not_retried) {
    char id[EQ_ID_LEN + 1];
    submit("llm", 5, id);
    leased l;
    ck_assert_int_eq(lease1("llm", "w", &l), 1);
    ck_assert_int_eq(fail_job(id, 1, "bad_input", 0), EQ_OK);
    ck_assert_int_eq(state_of(id), JOB_FAILED);
    ck_assert(fx_has(id, JOB_FAILED));
    now += 1000000;
    ck_assert_int_eq(lease1("llm", "w", &l), 0);
    check_indexes();
}
END_TEST

START_TEST(shutdown_requeues_without_using_an_attempt) {
    char id[EQ_ID_LEN + 1];
    ck_assert_int_eq(submit_ex("llm", (sub_opts){.max_attempts = 1}, id), EQ_OK);
    leased l;
    for (int a = 1; a <= 3; a++) {
        ck_assert_int_eq(lease1("llm", "w", &l), 1);
        ck_assert_uint_eq(l.attempt, a);
        ck_assert_int_eq(fail_job(id, (uint16_t)a, "shutdown", 0), EQ_OK);
        ck_assert_int_eq(state_of(id), JOB_QUEUED); /* at once, with max_attempts 1 */
    }
    ck_assert_int_eq(lease1("llm", "w", &l), 1);
    ck_assert_int_eq(fail_job(id, 4, "boom", 1), EQ_OK);
    ck_assert_int_eq(state_of(id), JOB_FAILED); /* the one real attempt is used up */
    check_indexes();
}
END_TEST

START_TEST(fencing_stale_and_repeated_outcomes) {
    char id[EQ_ID_LEN + 1];
    submit("forecast", 5, id);
    leased first, second;
    ck_assert_int_eq(lease1("forecast", "w-old", &first), 1);
    /* The first worker goes silent; the reaper re-queues; another worker takes it. */
    now += LEASE_MS + 1;
    ck_assert_uint_eq(reap(), 1);
    ck_assert_int_eq(lease1("forecast", "w-new", &second), 1);
    ck_assert_str_eq(second.id, id);
    ck_assert_uint_eq(second.attempt, first.attempt + 1);
    /* The old worker's outcomes are refused. */
    ck_assert_int_eq(complete(id, first.attempt, "{\"old\":1}"), EQ_ESTALE);
    ck_assert_int_eq(fail_job(id, first.attempt, "x", 1), EQ_ESTALE);
    ck_assert_int_eq(heartbeat(id, first.attempt), PROTO_HB_LOST);
    ck_assert_int_eq(state_of(id), JOB_RUNNING);
    /* A future attempt number is refused too. */
    ck_assert_int_eq(complete(id, second.attempt + 1, "{}"), EQ_ESTALE);
    ck_assert_int_eq(complete(id, second.attempt, "{\"new\":1}"), EQ_OK);
    ck_assert_int_eq(state_of(id), JOB_SUCCEEDED);
    /* A resent identical complete is a no-op: accepted, nothing changes, no second event. */
    eq_job before, after;
    get_job(id, &before);
    lc_effects_reset(&fx);
    now += 5;
    ck_assert_int_eq(complete(id, second.attempt, "{\"new\":1}"), EQ_OK);
    get_job(id, &after);
    ck_assert_int_eq(after.state, JOB_SUCCEEDED);
    ck_assert(after.finished_ms == before.finished_ms && after.updated_ms == before.updated_ms);
    ck_assert_uint_eq(fx.ndone, 0);
    eq_job_fini(&before);
    eq_job_fini(&after);
    store_txn *t;
    ck_assert_int_eq(store_txn_begin(st, 0, &t), EQ_OK);
    char *res;
    ck_assert_int_eq(store_result_get(t, id, &res), EQ_OK);
    ck_assert_str_eq(res, "{\"new\":1}");
    free(res);
    store_txn_abort(t);
    /* The stale worker still cannot overwrite a finished job. */
    ck_assert_int_eq(complete(id, first.attempt, "{\"old\":1}"), EQ_ESTALE);
    /* Outcomes for unknown jobs. */
    char ghost[EQ_ID_LEN + 1];
    eq_id_new(now, ghost);
    ck_assert_int_eq(complete(ghost, 1, "{}"), EQ_ENOTFOUND);
    check_indexes();
}
END_TEST

START_TEST(heartbeat_extends_and_reports_cancel) {
    char id[EQ_ID_LEN + 1];
    submit("forecast", 5, id);
    leased l;
    ck_assert_int_eq(lease1("forecast", "w", &l), 1);
    now += LEASE_MS - 1000;
    ck_assert_int_eq(heartbeat(id, l.attempt), PROTO_HB_OK);
    eq_job j;
    get_job(id, &j);
    ck_assert(j.lease_deadline_ms == now + LEASE_MS);
    eq_job_fini(&j);
    check_indexes();
    /* Past the original deadline, the lease holds. */
    now = l.deadline + 1000;
    ck_assert_uint_eq(reap(), 0);
    ck_assert_int_eq(state_of(id), JOB_RUNNING);
    /* Cancel while running: the job keeps running until the worker hears of it. */
    char state[32];
    ck_assert_int_eq(cancel(id, state), EQ_OK);
    ck_assert_str_eq(state, "running");
    ck_assert_int_eq(state_of(id), JOB_RUNNING);
    ck_assert_int_eq(heartbeat(id, l.attempt), PROTO_HB_CANCEL);
    ck_assert_int_eq(heartbeat(id, (uint16_t)(l.attempt + 1)), PROTO_HB_LOST);
    /* The worker's result is discarded; the job ends cancelled. */
    lc_effects_reset(&fx);
    ck_assert_int_eq(complete(id, l.attempt, "{\"late\":1}"), EQ_OK);
    get_job(id, &j);
    ck_assert_int_eq(j.state, JOB_CANCELLED);
    ck_assert_str_eq(j.error_code, "cancelled");
    ck_assert_uint_eq(j.cancel_requested, 0);
    eq_job_fini(&j);
    ck_assert(fx_has(id, JOB_CANCELLED));
    store_txn *t;
    char *res;
    ck_assert_int_eq(store_txn_begin(st, 0, &t), EQ_OK);
    ck_assert_int_eq(store_result_get(t, id, &res), EQ_ENOTFOUND);
    store_txn_abort(t);
    ck_assert_int_eq(heartbeat(id, l.attempt), PROTO_HB_LOST);
    /* Unknown jobs are lost, not errors. */
    char ghost[EQ_ID_LEN + 1];
    eq_id_new(now, ghost);
    ck_assert_int_eq(heartbeat(ghost, 1), PROTO_HB_LOST);
    check_indexes();
}
END_TEST

START_TEST(cancel_queued_and_finished) {
    char id[EQ_ID_LEN + 1], state[32];
    submit("chart", 5, id);
    lc_effects_reset(&fx);
    ck_assert_int_eq(cancel(id, state), EQ_OK);
    ck_assert_str_eq(state, "cancelled");
    ck_assert(fx_has(id, JOB_CANCELLED));
    leased l;
    ck_assert_int_eq(lease1("chart", "w", &l), 0);
    check_indexes();
    /* Finished jobs cannot be cancelled. */
    ck_assert_int_eq(cancel(id, state), EQ_ECONFLICT);
    char done[EQ_ID_LEN + 1];
    submit("chart", 5, done);
    ck_assert_int_eq(lease1("chart", "w", &l), 1);
    ck_assert_int_eq(complete(done, l.attempt, "{}"), EQ_OK);
    ck_assert_int_eq(cancel(done, state), EQ_ECONFLICT);
    ck_assert_int_eq(state_of(done), JOB_SUCCEEDED);
    char ghost[EQ_ID_LEN + 1];
    eq_id_new(now, ghost);
    ck_assert_int_eq(cancel(ghost, state), EQ_ENOTFOUND);
    /* A delayed job can be cancelled too, and leaves the queue. */
    char delayed[EQ_ID_LEN + 1];
    ck_assert_int_eq(submit_ex("chart", (sub_opts){.run_at = now + 10000}, delayed), EQ_OK);
    ck_assert_int_eq(cancel(delayed, state), EQ_OK);
    ck_assert_str_eq(state, "cancelled");
    check_indexes();
}
END_TEST

START_TEST(retry_failed_starts_a_new_round) {
    char id[EQ_ID_LEN + 1];
    ck_assert_int_eq(submit_ex("llm", (sub_opts){.max_attempts = 2}, id), EQ_OK);
    leased l;
    ck_assert_int_eq(lease1("llm", "w", &l), 1);
    ck_assert_int_eq(fail_job(id, 1, "e", 1), EQ_OK);
    eq_job j;
    get_job(id, &j);
    now = j.run_at_ms;
    eq_job_fini(&j);
    ck_assert_int_eq(lease1("llm", "w-old", &l), 1);
    ck_assert_uint_eq(l.attempt, 2);
    ck_assert_int_eq(fail_job(id, 2, "e", 1), EQ_OK);
    ck_assert_int_eq(state_of(id), JOB_FAILED);
    /* Only failed or cancelled jobs can be retried. */
    char other[EQ_ID_LEN + 1];
    submit("other", 5, other);
    ck_assert_int_eq(retry(other), EQ_ECONFLICT);
    now += 100;
    ck_assert_int_eq(retry(id), EQ_OK);
    get_job(id, &j);
    ck_assert_int_eq(j.state, JOB_QUEUED);
    ck_assert_ptr_null(j.error_code);
    ck_assert(j.finished_ms == 0);
    ck_assert(j.run_at_ms == now);
    eq_job_fini(&j);
    check_indexes();
    /* The attempt number keeps counting, so the worker of attempt 2 stays fenced out. */
    leased again;
    ck_assert_int_eq(lease1("llm", "w-new", &again), 1);
    ck_assert_uint_eq(again.attempt, 3);
    ck_assert_int_eq(complete(id, 2, "{}"), EQ_ESTALE);
    /* A fresh round: two more attempts, the first delay is the base delay again. */
    ck_assert_int_eq(fail_job(id, 3, "e", 1), EQ_OK);
    get_job(id, &j);
    ck_assert_int_eq(j.state, JOB_QUEUED);
    ck_assert(j.run_at_ms - now >= BASE_MS * 3 / 4 && j.run_at_ms - now <= BASE_MS * 5 / 4);
    now = j.run_at_ms;
    eq_job_fini(&j);
    ck_assert_int_eq(lease1("llm", "w-new", &again), 1);
    ck_assert_uint_eq(again.attempt, 4);
    ck_assert_int_eq(fail_job(id, 4, "e", 1), EQ_OK);
    ck_assert_int_eq(state_of(id), JOB_FAILED);
    check_indexes();
}
END_TEST

START_TEST(retry_cancelled_and_succeeded) {
    char id[EQ_ID_LEN + 1], state[32];
    submit("chart", 5, id);
    ck_assert_int_eq(cancel(id, state), EQ_OK);
    ck_assert_int_eq(retry(id), EQ_OK);
    leased l;
    ck_assert_int_eq(lease1("chart", "w", &l), 1);
    ck_assert_str_eq(l.id, id);
    ck_assert_int_eq(retry(id), EQ_ECONFLICT); /* running */
    ck_assert_int_eq(complete(id, l.attempt, "{}"), EQ_OK);
    ck_assert_int_eq(retry(id), EQ_ECONFLICT); /* succeeded */
    char ghost[EQ_ID_LEN + 1];
    eq_id_new(now, ghost);
    ck_assert_int_eq(retry(ghost), EQ_ENOTFOUND);
    check_indexes();
}
END_TEST

START_TEST(reap_requeues_then_fails) {
    char id[EQ_ID_LEN + 1];
    ck_assert_int_eq(submit_ex("forecast", (sub_opts){.max_attempts = 2}, id), EQ_OK);
    leased l;
    ck_assert_int_eq(lease1("forecast", "w", &l), 1);
    /* At the deadline exactly the lease still holds. */
    now = l.deadline;
    ck_assert_uint_eq(reap(), 0);
    now = l.deadline + 1;
    ck_assert_uint_eq(reap(), 1);
    eq_job j;
    get_job(id, &j);
    ck_assert_int_eq(j.state, JOB_QUEUED);
    ck_assert_str_eq(j.error_code, "lease_expired");
    ck_assert(j.run_at_ms == now);
    eq_job_fini(&j);
    check_indexes();
    ck_assert_int_eq(lease1("forecast", "w", &l), 1);
    ck_assert_uint_eq(l.attempt, 2);
    now = l.deadline + 1;
    lc_effects_reset(&fx);
    ck_assert_uint_eq(reap(), 1);
    ck_assert_int_eq(state_of(id), JOB_FAILED);
    ck_assert(fx_has(id, JOB_FAILED));
    ck_assert_uint_eq(reap(), 0);
    check_indexes();
}
END_TEST

START_TEST(reap_of_a_cancel_requested_job_cancels_it) {
    char id[EQ_ID_LEN + 1], state[32];
    submit("forecast", 5, id);
    leased l;
    ck_assert_int_eq(lease1("forecast", "w", &l), 1);
    ck_assert_int_eq(cancel(id, state), EQ_OK);
    now = l.deadline + 1;
    ck_assert_uint_eq(reap(), 1);
    ck_assert_int_eq(state_of(id), JOB_CANCELLED);
    check_indexes();
}
END_TEST

START_TEST(reap_handles_many) {
    char ids[30][EQ_ID_LEN + 1];
    for (int i = 0; i < 30; i++)
        submit("embed", 5, ids[i]);
    leased l[30];
    const char *types[1] = {"embed"};
    ck_assert_uint_eq(lease_types("w", types, 1, 30, l, NULL), 30);
    now += LEASE_MS + 1;
    size_t n;
    lc_ctx c = begin();
    ck_assert_int_eq(lc_reap(&c, 10, &n), EQ_OK); /* bounded per call */
    end(&c);
    ck_assert_uint_eq(n, 10);
    ck_assert_uint_eq(reap(), 20);
    for (int i = 0; i < 30; i++)
        ck_assert_int_eq(state_of(ids[i]), JOB_QUEUED);
    check_indexes();
}
END_TEST

START_TEST(recover_local_only_matches_the_prefix) {
    char mine[EQ_ID_LEN + 1], theirs[EQ_ID_LEN + 1], queued[EQ_ID_LEN + 1];
    submit("embed", 5, mine);
    submit("embed", 5, theirs);
    leased l;
    ck_assert_int_eq(lease1("embed", "local-3", &l), 1);
    ck_assert_str_eq(l.id, mine);
    ck_assert_int_eq(lease1("embed", "remote-local-1", &l), 1);
    ck_assert_str_eq(l.id, theirs);
    submit("embed", 5, queued);
    now += 1000;
    size_t n = 99;
    lc_ctx c = begin();
    ck_assert_int_eq(lc_recover_local(&c, "local-", &n), EQ_OK);
    end(&c);
    ck_assert_uint_eq(n, 1);
    eq_job j;
    get_job(mine, &j);
    ck_assert_int_eq(j.state, JOB_QUEUED);
    ck_assert_str_eq(j.error_code, "restarted");
    ck_assert(j.run_at_ms == now);
    eq_job_fini(&j);
    ck_assert_int_eq(state_of(theirs), JOB_RUNNING);
    ck_assert_int_eq(state_of(queued), JOB_QUEUED);
    check_indexes();
}
END_TEST

START_TEST(recover_local_fails_a_job_out_of_attempts) {
    char id[EQ_ID_LEN + 1];
    ck_assert_int_eq(submit_ex("embed", (sub_opts){.max_attempts = 1}, id), EQ_OK);
    leased l;
    ck_assert_int_eq(lease1("embed", "local-0", &l), 1);
    size_t n;
    lc_ctx c = begin();
    ck_assert_int_eq(lc_recover_local(&c, "local-", &n), EQ_OK);
    end(&c);
    ck_assert_uint_eq(n, 1);
    eq_job j;
    get_job(id, &j);
    ck_assert_int_eq(j.state, JOB_FAILED);
    ck_assert_str_eq(j.error_code, "restarted");
    eq_job_fini(&j);
    ck_assert(fx_has(id, JOB_FAILED));
    check_indexes();
}
END_TEST

START_TEST(retry_of_a_job_cancelled_while_running) {
    char id[EQ_ID_LEN + 1], state[32];
    submit("chart", 5, id);
    leased l;
    ck_assert_int_eq(lease1("chart", "w-1", &l), 1);
    ck_assert_int_eq(cancel(id, state), EQ_OK);
    ck_assert_int_eq(fail_job(id, l.attempt, "interrupted", 1), EQ_OK);
    eq_job j;
    get_job(id, &j);
    ck_assert_int_eq(j.state, JOB_CANCELLED);
    ck_assert_str_eq(j.error_code, "cancelled");
    eq_job_fini(&j);
    ck_assert_int_eq(retry(id), EQ_OK);
    leased again;
    ck_assert_int_eq(lease1("chart", "w-2", &again), 1);
    ck_assert_uint_eq(again.attempt, l.attempt + 1);
    /* The new run is not cancelled. */
    ck_assert_int_eq(heartbeat(id, again.attempt), PROTO_HB_OK);
    ck_assert_int_eq(complete(id, again.attempt, "{}"), EQ_OK);
    ck_assert_int_eq(state_of(id), JOB_SUCCEEDED);
    check_indexes();
}
END_TEST

START_TEST(retain_deletes_old_finished_jobs) {
    char old_ok[EQ_ID_LEN + 1], old_fail[EQ_ID_LEN + 1], old_cancel[EQ_ID_LEN + 1],
        new_ok[EQ_ID_LEN + 1], running[EQ_ID_LEN + 1], queued[EQ_ID_LEN + 1], state[32];
    leased l;
    submit("t", 5, old_ok);
    ck_assert_int_eq(lease1("t", "w", &l), 1);
    ck_assert_int_eq(complete(old_ok, l.attempt, "{\"r\":1}"), EQ_OK);
    submit("t", 5, old_fail);
    ck_assert_int_eq(lease1("t", "w", &l), 1);
    ck_assert_int_eq(fail_job(old_fail, l.attempt, "bad", 0), EQ_OK);
    submit("t", 5, old_cancel);
    ck_assert_int_eq(cancel(old_cancel, state), EQ_OK);
    now += 10000;
    int64_t cutoff = now;
    submit("t", 5, new_ok);
    ck_assert_int_eq(lease1("t", "w", &l), 1);
    ck_assert_int_eq(complete(new_ok, l.attempt, "{\"r\":2}"), EQ_OK);
    submit("t", 5, running);
    ck_assert_int_eq(lease1("t", "w", &l), 1);
    submit("t", 5, queued);
    now += 10000;
    size_t n = 0;
    lc_ctx c = begin();
    ck_assert_int_eq(lc_retain(&c, cutoff, 100, &n), EQ_OK);
    end(&c);
    ck_assert_uint_eq(n, 3);
    ck_assert(!job_exists(old_ok));
    ck_assert(!job_exists(old_fail));
    ck_assert(!job_exists(old_cancel));
    ck_assert(job_exists(new_ok));
    ck_assert_int_eq(state_of(running), JOB_RUNNING);
    ck_assert_int_eq(state_of(queued), JOB_QUEUED);
    store_txn *t;
    char *res;
    ck_assert_int_eq(store_txn_begin(st, 0, &t), EQ_OK);
    ck_assert_int_eq(store_result_get(t, old_ok, &res), EQ_ENOTFOUND);
    ck_assert_int_eq(store_result_get(t, new_ok, &res), EQ_OK);
    ck_assert_str_eq(res, "{\"r\":2}");
    free(res);
    store_txn_abort(t);
    check_indexes();
    /* Nothing more to do at the same cutoff. */
    c = begin();
    ck_assert_int_eq(lc_retain(&c, cutoff, 100, &n), EQ_OK);
    end(&c);
    ck_assert_uint_eq(n, 0);
}
END_TEST

START_TEST(retain_is_bounded_per_call) {
    char id[EQ_ID_LEN + 1], state[32];
    for (int i = 0; i < 7; i++) {
        submit("t", 5, id);
        ck_assert_int_eq(cancel(id, state), EQ_OK);
    }
    now += 1;
    size_t n;
    lc_ctx c = begin();
    ck_assert_int_eq(lc_retain(&c, now, 3, &n), EQ_OK);
    end(&c);
    ck_assert_uint_eq(n, 3);
    c = begin();
    ck_assert_int_eq(lc_retain(&c, now, 100, &n), EQ_OK);
    end(&c);
    ck_assert_uint_eq(n, 4);
    check_indexes();
}
END_TEST

START_TEST(idempotency_keys) {
    char first[EQ_ID_LEN + 1], again[EQ_ID_LEN + 1], other[EQ_ID_LEN + 1];
    sub_opts o = {.prio = 5, .idem_key = "order-42", .hash = 0xabc};
    ck_assert_int_eq(submit_ex("forecast", o, first), EQ_OK);
    uint64_t seq_after_first = seq;
    now += 1000;
    /* Same key, same body: the first job again, nothing new created. */
    ck_assert_int_eq(submit_ex("forecast", o, again), EQ_EEXIST);
    ck_assert_str_eq(again, first);
    ck_assert_uint_eq(seq, seq_after_first);
    /* Same key, another body. */
    sub_opts diff = o;
    diff.hash = 0xabd;
    ck_assert_int_eq(submit_ex("forecast", diff, other), EQ_ECONFLICT);
    /* Another key is another job. */
    sub_opts k2 = o;
    k2.idem_key = "order-43";
    ck_assert_int_eq(submit_ex("forecast", k2, other), EQ_OK);
    ck_assert_str_ne(other, first);
    check_indexes();
    /* After the key's lifetime it starts afresh, and a different body is fine. */
    now = T0 + IDEM_TTL_MS;
    ck_assert_int_eq(submit_ex("forecast", diff, other), EQ_OK);
    ck_assert_str_ne(other, first);
    /* The replay now answers with the new job. */
    ck_assert_int_eq(submit_ex("forecast", diff, again), EQ_EEXIST);
    ck_assert_str_eq(again, other);
}
END_TEST

START_TEST(idempotency_key_of_a_retained_job_starts_afresh) {
    char first[EQ_ID_LEN + 1], state[32], second[EQ_ID_LEN + 1];
    sub_opts o = {.prio = 5, .idem_key = "k", .hash = 7};
    ck_assert_int_eq(submit_ex("t", o, first), EQ_OK);
    ck_assert_int_eq(cancel(first, state), EQ_OK);
    now += 10;
    size_t n;
    lc_ctx c = begin();
    ck_assert_int_eq(lc_retain(&c, now, 100, &n), EQ_OK);
    end(&c);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(submit_ex("t", o, second), EQ_OK);
    ck_assert_str_ne(second, first);
    ck_assert_int_eq(submit_ex("t", o, first), EQ_EEXIST);
    ck_assert_str_eq(first, second);
}
END_TEST

START_TEST(effects_record_terminal_jobs) {
    /* Many terminal events in one transaction (past the first allocation of 64). */
    char ids[100][EQ_ID_LEN + 1];
    for (int i = 0; i < 100; i++)
        submit("t", 5, ids[i]);
    lc_effects_reset(&fx);
    ck_assert_int_eq(fx.queue_changed, 0);
    lc_ctx c = begin();
    for (int i = 0; i < 100; i++) {
        eq_buf b;
        eq_buf_init(&b);
        const char *why;
        ck_assert_int_eq(lc_cancel(&c, ids[i], &b, &why), EQ_OK);
        eq_buf_fini(&b);
    }
    end(&c);
    ck_assert_uint_eq(fx.ndone, 100);
    for (int i = 0; i < 100; i++) {
        ck_assert(memcmp(fx.done_ids[i], ids[i], EQ_ID_LEN) == 0);
        ck_assert_int_eq(fx.done_ids[i][EQ_ID_LEN], JOB_CANCELLED);
    }
    /* Leasing and a re-queue are not terminal; a re-queue marks the queue changed. */
    char id[EQ_ID_LEN + 1];
    submit("t", 5, id);
    lc_effects_reset(&fx);
    leased l;
    ck_assert_int_eq(lease1("t", "w", &l), 1);
    ck_assert_uint_eq(fx.ndone, 0);
    ck_assert_int_eq(fx.queue_changed, 0);
    ck_assert_int_eq(fail_job(id, l.attempt, "e", 1), EQ_OK);
    ck_assert_uint_eq(fx.ndone, 0);
    ck_assert_int_eq(fx.queue_changed, 1);
    check_indexes();
}
END_TEST

START_TEST(an_aborted_transaction_changes_nothing) {
    char id[EQ_ID_LEN + 1];
    submit("t", 5, id);
    uint64_t seq0 = seq;
    lc_ctx c = begin();
    proto_lease_req r = {.worker = "w", .ntypes = 1, .max = 1};
    r.types[0] = "t";
    eq_buf b;
    eq_buf_init(&b);
    uint32_t n;
    int64_t next = INT64_MAX;
    ck_assert_int_eq(lc_lease(&c, &r, &b, &n, &next), EQ_OK);
    ck_assert_uint_eq(n, 1);
    store_txn_abort(c.txn);
    eq_buf_fini(&b);
    ck_assert_int_eq(state_of(id), JOB_QUEUED);
    ck_assert_uint_eq(seq, seq0);
    check_indexes();
}
END_TEST

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
        if (!model[i].gone && (!state || model[i].state == state))
            idx[n++] = i;
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
        ck_assert_msg(j.state == m->state, "job %d: state %s, model %s", i,
                      job_state_name(j.state), job_state_name(m->state));
        ck_assert_uint_eq(j.attempt, (unsigned)m->attempt);
        ck_assert_uint_eq(j.cancel_requested, (unsigned)m->cancel_req);
        if (m->state == JOB_QUEUED)
            ck_assert(j.run_at_ms == m->run_at);
        if (m->state == JOB_RUNNING)
            ck_assert(j.lease_deadline_ms == m->deadline);
        if (job_state_terminal(m->state))
            ck_assert(j.finished_ms == m->finished);
        eq_job_fini(&j);
    }
    check_indexes();
}

static int model_before(const mjob *a, const mjob *b) {
    if (a->prio != b->prio)
        return a->prio < b->prio;
    if (a->run_at != b->run_at)
        return a->run_at < b->run_at;
    return a->seq < b->seq;
}

static int model_ready(const mjob *m, const char **types, uint16_t ntypes) {
    int asked = 0;
    for (uint16_t t = 0; t < ntypes; t++)
        asked |= strcmp(m->type, types[t]) == 0;
    return !m->gone && asked && m->state == JOB_QUEUED && m->run_at <= now;
}

static void step_submit(void) {
    if (nmodel == MODEL_MAX)
        return;
    mjob *m = &model[nmodel];
    memset(m, 0, sizeof *m);
    m->type = rnd(2) ? "a" : "b";
    m->prio = (int)rnd(3) * 4; /* 0, 4, 8: frequent ties */
    m->max_attempts = 1 + (int)rnd(3);
    int64_t run_at = rnd(4) == 0 ? now + (int64_t)rnd(20000) : 0;
    ck_assert_int_eq(submit_ex(m->type,
                               (sub_opts){.prio = m->prio, .run_at = run_at,
                                          .max_attempts = m->max_attempts},
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
        if (which & (1u << i))
            types[ntypes++] = all[i];
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
    if (!m)
        return;
    if (rnd(5) == 0 && m->attempt > 1) {
        ck_assert_int_eq(complete(m->id, (uint16_t)(m->attempt - 1), "{}"), EQ_ESTALE);
        return;
    }
    ck_assert_int_eq(complete(m->id, (uint16_t)m->attempt, "{\"ok\":1}"), EQ_OK);
    model_finish(m, m->cancel_req ? JOB_CANCELLED : JOB_SUCCEEDED);
}

static void step_fail(void) {
    mjob *m = pick(JOB_RUNNING);
    if (!m)
        return;
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
        if (d > MAX_MS)
            d = MAX_MS;
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
    if (!m)
        return;
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
    if (!m)
        return;
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
    if (!m)
        return;
    proto_hb_verdict v = heartbeat(m->id, (uint16_t)m->attempt);
    ck_assert_int_eq(v, m->cancel_req ? PROTO_HB_CANCEL : PROTO_HB_OK);
    m->deadline = now + LEASE_MS;
}

static void step_time_and_reap(void) {
    now += (int64_t)rnd(LEASE_MS + 5000);
    size_t want = 0;
    for (int i = 0; i < nmodel; i++) {
        mjob *m = &model[i];
        if (m->gone || m->state != JOB_RUNNING || m->deadline >= now)
            continue;
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
    void (*steps[])(void) = {step_submit,   step_submit,    step_lease,
                             step_lease,    step_complete,  step_fail,
                             step_cancel,   step_retry,     step_heartbeat,
                             step_time_and_reap, step_retain};
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

/* BUG (pending fix): the protocol accepts a job type of up to 64 bytes (common/proto.c,
 * dec_submit: `req_str(rd, 64)`), but eq_job.type holds JOB_TYPE_MAX - 1 = 63; lc_submit copies it
 * with snprintf and silently truncates, so the job is queued under a type no worker asked for
 * and never runs. Fix: in common/proto.c use 63 (JOB_TYPE_MAX - 1; proto.h can name it
 * PROTO_MAX_TYPE_BYTES 63) for submit and lease types, and in broker/lifecycle.c lc_submit refuse
 * `strlen(s->type) >= sizeof j.type` with EQ_EINVAL before creating the job. This test accepts
 * either a refusal or an exact type. Runs only with ECONQ_PENDING_FIXES=1. */
START_TEST(submit_with_a_type_longer_than_the_job_holds) {
    char type[JOB_TYPE_MAX + 1];
    memset(type, 'k', JOB_TYPE_MAX);
    type[JOB_TYPE_MAX] = '\0';
    char id[EQ_ID_LEN + 1];
    eq_err err = submit_ex(type, (sub_opts){.prio = 5}, id);
    if (err == EQ_OK) {
        eq_job j;
        get_job(id, &j);
        ck_assert_msg(strcmp(j.type, type) == 0, "stored type has %zu bytes, asked for %zu",
                      strlen(j.type), strlen(type));
        eq_job_fini(&j);
    } else {
        ck_assert_int_eq(err, EQ_EINVAL);
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("lifecycle");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, submit_lease_complete);
    tcase_add_test(tc, priorities_then_fifo);
    tcase_add_test(tc, fifo_within_a_priority_at_the_same_instant);
    tcase_add_test(tc, future_run_at_waits);
    tcase_add_test(tc, lease_across_types_takes_the_best);
    tcase_add_test(tc, retryable_failures_back_off_then_fail);
    tcase_add_test(tc, backoff_is_capped_for_many_attempts);
    tcase_add_test(tc, permanent_failure_is_not_retried);
    tcase_add_test(tc, shutdown_requeues_without_using_an_attempt);
    tcase_add_test(tc, fencing_stale_and_repeated_outcomes);
    tcase_add_test(tc, heartbeat_extends_and_reports_cancel);
    tcase_add_test(tc, cancel_queued_and_finished);
    tcase_add_test(tc, retry_failed_starts_a_new_round);
    tcase_add_test(tc, retry_cancelled_and_succeeded);
    tcase_add_test(tc, reap_requeues_then_fails);
    tcase_add_test(tc, reap_of_a_cancel_requested_job_cancels_it);
    tcase_add_test(tc, reap_handles_many);
    tcase_add_test(tc, recover_local_only_matches_the_prefix);
    tcase_add_test(tc, recover_local_fails_a_job_out_of_attempts);
    tcase_add_test(tc, retry_of_a_job_cancelled_while_running);
    tcase_add_test(tc, retain_deletes_old_finished_jobs);
    tcase_add_test(tc, retain_is_bounded_per_call);
    tcase_add_test(tc, idempotency_keys);
    tcase_add_test(tc, idempotency_key_of_a_retained_job_starts_afresh);
    tcase_add_test(tc, effects_record_terminal_jobs);
    tcase_add_test(tc, an_aborted_transaction_changes_nothing);
    tcase_add_loop_test(tc, random_operations_agree_with_a_model, 0, 3);
    suite_add_tcase(s, tc);
    /* Tests that fail until a known bug is fixed (see each test's comment). */
    const char *pending = getenv("ECONQ_PENDING_FIXES");
    if (pending && strcmp(pending, "1") == 0) {
        TCase *tp = tcase_create("pending_fixes");
        tcase_add_checked_fixture(tp, setup, teardown);
        tcase_add_test(tp, submit_with_a_type_longer_than_the_job_holds);
        suite_add_tcase(s, tp);
    }
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

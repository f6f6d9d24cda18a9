/* Helpers for the lifecycle tests; see lifecycle_util.h. */
#include "tests/broker/lifecycle_util.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/store/store_test_util.h"

char dir[256];
store *st;
uint64_t seq;
int64_t now;
lc_effects fx;
const lc_policy policy = {.lease_ms = LEASE_MS,
                          .backoff_base_ms = BASE_MS,
                          .backoff_max_ms = MAX_MS,
                          .idem_ttl_ms = IDEM_TTL_MS};

void setup(void) {
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

void teardown(void) {
    lc_effects_fini(&fx);
    store_close(st);
    tmpdir_remove(dir);
}

/* Opens a write transaction at the current `now`; end() commits it. */
lc_ctx begin(void) {
    store_txn *t;
    ck_assert_int_eq(store_txn_begin(st, 1, &t), EQ_OK);
    return (lc_ctx){.txn = t, .now = now, .seq = &seq, .policy = &policy, .fx = &fx};
}

void end(lc_ctx *c) {
    ck_assert_int_eq(store_txn_commit(c->txn), EQ_OK);
    c->txn = NULL;
}

void get_job(const char *id, eq_job *j) {
    store_txn *t;
    ck_assert_int_eq(store_txn_begin(st, 0, &t), EQ_OK);
    ck_assert_int_eq(store_job_get(t, id, j), EQ_OK);
    store_txn_abort(t);
}

int job_exists(const char *id) {
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

int state_of(const char *id) {
    eq_job j;
    get_job(id, &j);
    int s = j.state;
    eq_job_fini(&j);
    return s;
}

/* Reads "id" and "state" out of a job's JSON. */
void json_id_state(const eq_buf *b, char *id, char *state, size_t statelen) {
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

/* Submits one job in its own transaction; returns lc_submit's result, the id in id. */
eq_err submit_ex(const char *type, sub_opts o, char *id) {
    proto_submit_job s = {.type = (char *)type,
                          .params = o.params ? (char *)o.params : "{\"n\":1}",
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
    eq_err err = lc_submit(&c, &s, &out, NULL, &why);
    end(&c);
    if (err == EQ_OK || err == EQ_EEXIST) {
        char state[32];
        json_id_state(&out, id, state, sizeof state);
        ck_assert_ptr_null(why);
    } else {
        ck_assert_uint_eq(out.len, 0);
        id[0] = '\0';
    }
    if (err == EQ_ECONFLICT) ck_assert_ptr_nonnull(why);
    eq_buf_fini(&out);
    return err;
}

void submit(const char *type, int prio, char *id) {
    ck_assert_int_eq(submit_ex(type, (sub_opts){.prio = prio}, id), EQ_OK);
}

/* Leases up to max jobs of the types for worker; returns how many (written to out). */
uint32_t lease_types(const char *worker, const char **types, uint16_t ntypes, uint16_t max,
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
        if (strcmp(lj.type, "embed") != 0) /* embed jobs carry their documents */
            ck_assert_str_eq(lj.params, "{\"n\":1}");
        ck_assert(lj.lease_deadline_ms == now + LEASE_MS);
        proto_leased_job_fini(&lj);
    }
    ck_assert_ptr_eq(rd.p, rd.end);
    eq_buf_fini(&b);
    if (next_ms) *next_ms = next;
    return n;
}

/* Leases one job of type; returns 0 when none is ready. */
int lease1(const char *type, const char *worker, leased *out) {
    const char *types[1] = {type};
    return (int)lease_types(worker, types, 1, 1, out, NULL);
}

eq_err complete(const char *id, uint16_t attempt, const char *result) {
    proto_outcome o = {.id = (char *)id, .attempt = attempt, .result = (char *)result};
    const char *why = NULL;
    lc_ctx c = begin();
    eq_err err = lc_complete(&c, &o, &why);
    end(&c);
    if (err == EQ_ESTALE) ck_assert_ptr_nonnull(why);
    return err;
}

eq_err fail_job(const char *id, uint16_t attempt, const char *code, int retryable) {
    proto_outcome o = {.id = (char *)id,
                       .attempt = attempt,
                       .failed = 1,
                       .code = (char *)code,
                       .message = "it went wrong",
                       .retryable = (uint8_t)retryable};
    const char *why = NULL;
    lc_ctx c = begin();
    eq_err err = lc_fail(&c, &o, &why);
    end(&c);
    return err;
}

eq_err cancel(const char *id, char *state_out) {
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

eq_err retry(const char *id) {
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

proto_hb_verdict heartbeat(const char *id, uint16_t attempt) {
    proto_hb_verdict v = (proto_hb_verdict)99;
    lc_ctx c = begin();
    ck_assert_int_eq(lc_heartbeat(&c, id, attempt, &v), EQ_OK);
    end(&c);
    return v;
}

size_t reap(void) {
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

void check_indexes(void) {
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

int fx_has(const char *id, int state) {
    for (size_t i = 0; i < fx.ndone; i++)
        if (memcmp(fx.done_ids[i], id, EQ_ID_LEN) == 0 && fx.done_ids[i][EQ_ID_LEN] == state)
            return 1;
    return 0;
}

int run_suite(Suite *s) {
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

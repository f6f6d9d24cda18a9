/* Tests for store/store_job.c: job records, the queue and time indexes and job listing, on a
 * real LMDB environment in a temporary directory. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/id.h"
#include "store/store.h"
#include "tests/store/store_fixture.h"

/* A job with every field set; strings are heap copies owned by j. */
static void full_job(eq_job *j, int64_t created) {
    eq_job_init(j);
    eq_id_new(created, j->id);
    snprintf(j->type, sizeof j->type, "forecast");
    j->state = JOB_RUNNING;
    j->priority = 3;
    j->cached = 1;
    j->cancel_requested = 1;
    j->attempt = 7;
    j->max_attempts = 9;
    j->attempt_base = 4;
    j->seq = UINT64_C(0x0123456789abcdef);
    j->created_ms = created;
    j->run_at_ms = created + 1;
    j->started_ms = created + 2;
    j->finished_ms = created + 3;
    j->updated_ms = created + 4;
    j->lease_deadline_ms = -5;
    j->params = strdup("{\"series\":[1,2,3]}");
    j->error_code = strdup("bad_input");
    j->error_message = strdup("a message with \"quotes\" and\nnewlines");
    j->worker = strdup("local-1");
    j->idem_key = strdup("idem-key");
    j->batch_id = strdup("01JDQ3ZQ7Y0000000000000001");
    j->schedule = strdup("nightly");
    j->webhook_url = strdup("https://example.org/hook");
    j->webhook_secret = strdup("whsec_secret");
}

static void assert_str_same(const char *a, const char *b) {
    if (!b)
        ck_assert_ptr_null(a);
    else
        ck_assert_str_eq(a, b);
}

static void assert_job_eq(const eq_job *a, const eq_job *b) {
    ck_assert_str_eq(a->id, b->id);
    ck_assert_str_eq(a->type, b->type);
    ck_assert_uint_eq(a->state, b->state);
    ck_assert_uint_eq(a->priority, b->priority);
    ck_assert_uint_eq(a->cached, b->cached);
    ck_assert_uint_eq(a->cancel_requested, b->cancel_requested);
    ck_assert_uint_eq(a->attempt, b->attempt);
    ck_assert_uint_eq(a->max_attempts, b->max_attempts);
    ck_assert_uint_eq(a->attempt_base, b->attempt_base);
    ck_assert_uint_eq(a->seq, b->seq);
    ck_assert(a->created_ms == b->created_ms);
    ck_assert(a->run_at_ms == b->run_at_ms);
    ck_assert(a->started_ms == b->started_ms);
    ck_assert(a->finished_ms == b->finished_ms);
    ck_assert(a->updated_ms == b->updated_ms);
    ck_assert(a->lease_deadline_ms == b->lease_deadline_ms);
    assert_str_same(a->params, b->params);
    assert_str_same(a->error_code, b->error_code);
    assert_str_same(a->error_message, b->error_message);
    assert_str_same(a->worker, b->worker);
    assert_str_same(a->idem_key, b->idem_key);
    assert_str_same(a->batch_id, b->batch_id);
    assert_str_same(a->schedule, b->schedule);
    assert_str_same(a->webhook_url, b->webhook_url);
    assert_str_same(a->webhook_secret, b->webhook_secret);
}

START_TEST(record_round_trip_all_fields) {
    eq_job j, back;
    full_job(&j, T0);
    eq_buf b;
    eq_buf_init(&b);
    store_job_encode(&j, &b);
    ck_assert_int_eq(store_job_decode(b.data, b.len, &back), EQ_OK);
    assert_job_eq(&back, &j);
    eq_job_fini(&back);
    /* Optional strings absent: they come back NULL, not "". */
    eq_job_fini(&j);
    eq_job_init(&j);
    eq_id_new(T0, j.id);
    snprintf(j.type, sizeof j.type, "e");
    j.state = JOB_QUEUED;
    eq_buf_reset(&b);
    store_job_encode(&j, &b);
    ck_assert_int_eq(store_job_decode(b.data, b.len, &back), EQ_OK);
    assert_job_eq(&back, &j);
    ck_assert_ptr_null(back.params);
    eq_job_fini(&back);
    /* The longest type that fits. */
    memset(j.type, 't', JOB_TYPE_MAX - 1);
    j.type[JOB_TYPE_MAX - 1] = '\0';
    eq_buf_reset(&b);
    store_job_encode(&j, &b);
    ck_assert_int_eq(store_job_decode(b.data, b.len, &back), EQ_OK);
    ck_assert_str_eq(back.type, j.type);
    eq_job_fini(&back);
    eq_job_fini(&j);
    eq_buf_fini(&b);
}
END_TEST

START_TEST(record_truncated_or_corrupt_fails_cleanly) {
    eq_job j, back;
    full_job(&j, T0);
    eq_buf b;
    eq_buf_init(&b);
    store_job_encode(&j, &b);
    /* Every strict prefix, copied to an exact-size heap block so ASan sees any overread. */
    for (size_t cut = 0; cut < b.len; cut++) {
        unsigned char *p = malloc(cut ? cut : 1);
        memcpy(p, b.data, cut);
        eq_err rc = store_job_decode(p, cut, &back);
        free(p);
        ck_assert_msg(rc == EQ_ESTORE, "prefix %zu/%zu decoded", cut, b.len);
        ck_assert_ptr_null(back.params); /* nothing left allocated */
    }
    /* A trailing byte. */
    unsigned char *longer = malloc(b.len + 1);
    memcpy(longer, b.data, b.len);
    longer[b.len] = 0;
    ck_assert_int_eq(store_job_decode(longer, b.len + 1, &back), EQ_ESTORE);
    free(longer);
    /* Wrong version byte. */
    unsigned char *copy = malloc(b.len);
    memcpy(copy, b.data, b.len);
    copy[0] = 2;
    ck_assert_int_eq(store_job_decode(copy, b.len, &back), EQ_ESTORE);
    copy[0] = b.data[0];
    /* State 0 and past the last state: the state byte follows version, id and type. */
    size_t state_at = 1 + EQ_ID_LEN + 4 + strlen(j.type);
    ck_assert_uint_eq(copy[state_at], JOB_RUNNING);
    copy[state_at] = 0;
    ck_assert_int_eq(store_job_decode(copy, b.len, &back), EQ_ESTORE);
    copy[state_at] = JOB_STATE_MAX;
    ck_assert_int_eq(store_job_decode(copy, b.len, &back), EQ_ESTORE);
    copy[state_at] = JOB_RUNNING;
    /* A type length past JOB_TYPE_MAX - 1 bytes, and one past the record's end. */
    copy[1 + EQ_ID_LEN] = JOB_TYPE_MAX;
    ck_assert_int_eq(store_job_decode(copy, b.len, &back), EQ_ESTORE);
    copy[1 + EQ_ID_LEN] = 0xff;
    copy[1 + EQ_ID_LEN + 3] = 0x7f;
    ck_assert_int_eq(store_job_decode(copy, b.len, &back), EQ_ESTORE);
    memcpy(copy, b.data, b.len);
    ck_assert_int_eq(store_job_decode(copy, b.len, &back), EQ_OK);
    eq_job_fini(&back);
    /* Single-byte corruption anywhere: either a clean error or a record that frees cleanly. */
    for (size_t i = 0; i < b.len; i++) {
        for (int bit = 0; bit < 8; bit += 3) {
            memcpy(copy, b.data, b.len);
            copy[i] ^= (unsigned char)(1u << bit);
            eq_err rc = store_job_decode(copy, b.len, &back);
            ck_assert(rc == EQ_OK || rc == EQ_ESTORE);
            if (rc == EQ_OK) {
                ck_assert(back.state >= JOB_QUEUED && back.state < JOB_STATE_MAX);
                ck_assert_uint_lt(strlen(back.type), JOB_TYPE_MAX);
                eq_job_fini(&back);
            }
        }
    }
    free(copy);
    eq_job_fini(&j);
    eq_buf_fini(&b);
}
END_TEST

START_TEST(open_close_reopen_keeps_jobs) {
    eq_job j, back;
    full_job(&j, T0);
    store_txn *t = wtxn();
    ck_assert_int_eq(store_job_put(t, &j), EQ_OK);
    ck_assert_int_eq(store_meta_put(t, "seq", 42), EQ_OK);
    ck_assert_int_eq(store_result_put(t, j.id, "{\"r\":1}", 7), EQ_OK);
    ck_assert_int_eq(store_txn_commit(t), EQ_OK);
    /* An aborted write leaves no trace. */
    eq_job other;
    full_job(&other, T0 + 1);
    t = wtxn();
    ck_assert_int_eq(store_job_put(t, &other), EQ_OK);
    store_txn_abort(t);

    store_close(st);
    open_store();
    t = rtxn();
    ck_assert_int_eq(store_job_get(t, j.id, &back), EQ_OK);
    assert_job_eq(&back, &j);
    eq_job_fini(&back);
    ck_assert_int_eq(store_job_get(t, other.id, &back), EQ_ENOTFOUND);
    uint64_t v = 0;
    ck_assert_int_eq(store_meta_get(t, "seq", &v), EQ_OK);
    ck_assert_uint_eq(v, 42);
    ck_assert_int_eq(store_meta_get(t, "nothing", &v), EQ_ENOTFOUND);
    char *res = NULL;
    ck_assert_int_eq(store_result_get(t, j.id, &res), EQ_OK);
    ck_assert_str_eq(res, "{\"r\":1}");
    free(res);
    store_txn_abort(t);
    ck_assert_str_eq(store_path(st), dir);
    ck_assert_int_eq(store_dir_writable(st), 1);
    store_info info;
    ck_assert_int_eq(store_stat(st, &info), EQ_OK);
    ck_assert_uint_eq(info.jobs, 1);
    ck_assert_uint_eq(info.map_size, 64u << 20);
    ck_assert_int_eq(store_sync(st), EQ_OK);
    /* Delete, then it is gone; deleting again is not an error. */
    t = wtxn();
    ck_assert_int_eq(store_job_del(t, j.id), EQ_OK);
    ck_assert_int_eq(store_job_del(t, j.id), EQ_OK);
    ck_assert_int_eq(store_job_get(t, j.id, &back), EQ_ENOTFOUND);
    ck_assert_int_eq(store_txn_commit(t), EQ_OK);
    eq_job_fini(&j);
    eq_job_fini(&other);
}
END_TEST

static void enqueue(store_txn *t, const char *type, int prio, int64_t run_at, uint64_t seq,
                    char *id) {
    eq_job j;
    eq_job_init(&j);
    eq_id_new(T0 + (int64_t)seq, j.id);
    snprintf(j.type, sizeof j.type, "%s", type);
    j.state = JOB_QUEUED;
    j.priority = (uint8_t)prio;
    j.run_at_ms = run_at;
    j.seq = seq;
    ck_assert_int_eq(store_queue_put(t, &j), EQ_OK);
    memcpy(id, j.id, EQ_ID_LEN + 1);
}

static void dequeue(store_txn *t, const char *type, int prio, int64_t run_at, uint64_t seq,
                    const char *id) {
    eq_job j;
    eq_job_init(&j);
    memcpy(j.id, id, EQ_ID_LEN + 1);
    snprintf(j.type, sizeof j.type, "%s", type);
    j.priority = (uint8_t)prio;
    j.run_at_ms = run_at;
    j.seq = seq;
    ck_assert_int_eq(store_queue_del(t, &j), EQ_OK);
}

START_TEST(queue_peek_order_priority_then_run_at_then_seq) {
    struct {
        int prio;
        int64_t run_at;
        uint64_t seq;
        char id[EQ_ID_LEN + 1];
    } q[] = {
        {5, T0 - 100, 1, ""}, {0, T0 - 10, 2, ""}, {5, T0 - 200, 3, ""}, {9, T0 - 900, 4, ""},
        {0, T0 - 10, 5, ""},  {0, T0 - 20, 6, ""}, {5, T0 - 200, 7, ""}, {3, T0, 8, ""},
    };
    /* Expected order: prio 0 (run_at -20 seq 6; -10 seq 2; -10 seq 5), prio 3, prio 5 (-200 seq 3,
     * -200 seq 7, -100 seq 1), prio 9. */
    int want[] = {5, 1, 4, 7, 2, 6, 0, 3};
    size_t n = sizeof q / sizeof q[0];
    store_txn *t = wtxn();
    for (size_t i = 0; i < n; i++)
        enqueue(t, "forecast", q[i].prio, q[i].run_at, q[i].seq, q[i].id);
    /* Noise in neighbouring types that sort just before and after "forecast". */
    char noise[EQ_ID_LEN + 1];
    enqueue(t, "forecas", 0, T0 - 1000, 100, noise);
    enqueue(t, "forecastx", 0, T0 - 1000, 101, noise);
    enqueue(t, "forecast2", 0, T0 - 1000, 102, noise);
    uint64_t depth;
    int64_t oldest;
    ck_assert_int_eq(store_queue_depth(t, "forecast", &depth, &oldest), EQ_OK);
    ck_assert_uint_eq(depth, n);
    ck_assert(oldest == T0 - 900);
    for (size_t k = 0; k < n; k++) {
        char id[EQ_ID_LEN + 1];
        int prio;
        int64_t run_at, next = INT64_MAX;
        uint64_t seq;
        ck_assert_int_eq(store_queue_peek(t, "forecast", T0, id, &prio, &run_at, &seq, &next),
                         EQ_OK);
        int w = want[k];
        ck_assert_msg(strcmp(id, q[w].id) == 0, "step %zu: got seq %llu, want %llu", k,
                      (unsigned long long)seq, (unsigned long long)q[w].seq);
        ck_assert_int_eq(prio, q[w].prio);
        ck_assert(run_at == q[w].run_at);
        ck_assert_uint_eq(seq, q[w].seq);
        ck_assert(next == INT64_MAX); /* everything is ready */
        dequeue(t, "forecast", prio, run_at, seq, id);
    }
    char id[EQ_ID_LEN + 1];
    int prio;
    int64_t run_at;
    uint64_t seq;
    ck_assert_int_eq(store_queue_peek(t, "forecast", T0, id, &prio, &run_at, &seq, NULL),
                     EQ_ENOTFOUND);
    ck_assert_int_eq(store_queue_depth(t, "forecast", &depth, &oldest), EQ_OK);
    ck_assert_uint_eq(depth, 0);
    ck_assert_int_eq(store_queue_peek(t, "nothing", T0, id, &prio, &run_at, &seq, NULL),
                     EQ_ENOTFOUND);
    ck_assert_int_eq(store_queue_peek(t, "forecas", T0, id, &prio, &run_at, &seq, NULL), EQ_OK);
    ck_assert_uint_eq(seq, 100);
    store_txn_abort(t);
}
END_TEST

START_TEST(delayed_jobs_wait_for_run_at) {
    char early[EQ_ID_LEN + 1], late[EQ_ID_LEN + 1], later_urgent[EQ_ID_LEN + 1];
    store_txn *t = wtxn();
    enqueue(t, "chart", 5, T0 + 5000, 1, early);
    enqueue(t, "chart", 5, T0 + 9000, 2, late);
    enqueue(t, "chart", 1, T0 + 7000, 3, later_urgent);
    ck_assert_int_eq(store_txn_commit(t), EQ_OK);

    t = rtxn();
    char id[EQ_ID_LEN + 1];
    int prio;
    int64_t run_at, next = INT64_MAX;
    uint64_t seq;
    ck_assert_int_eq(store_queue_peek(t, "chart", T0, id, &prio, &run_at, &seq, &next),
                     EQ_ENOTFOUND);
    ck_assert(next == T0 + 5000); /* the earliest not-ready job, across priorities */
    /* next_ms is only ever lowered. */
    next = T0 + 100;
    ck_assert_int_eq(store_queue_peek(t, "chart", T0, id, &prio, &run_at, &seq, &next),
                     EQ_ENOTFOUND);
    ck_assert(next == T0 + 100);
    /* At run_at exactly, the job is ready. */
    next = INT64_MAX;
    ck_assert_int_eq(store_queue_peek(t, "chart", T0 + 5000, id, &prio, &run_at, &seq, &next),
                     EQ_OK);
    ck_assert_str_eq(id, early);
    ck_assert(next == T0 + 7000); /* the urgent one was looked at first and is not ready */
    /* Once the urgent one is ready it wins despite its later run_at. */
    ck_assert_int_eq(store_queue_peek(t, "chart", T0 + 7000, id, &prio, &run_at, &seq, NULL),
                     EQ_OK);
    ck_assert_str_eq(id, later_urgent);
    ck_assert_int_eq(prio, 1);
    store_txn_abort(t);
}
END_TEST

START_TEST(times_before_1970_sort_first_in_queue) {
    char neg[EQ_ID_LEN + 1], pos[EQ_ID_LEN + 1];
    store_txn *t = wtxn();
    enqueue(t, "x", 5, 1000, 1, pos);
    enqueue(t, "x", 5, -1000, 2, neg);
    char id[EQ_ID_LEN + 1];
    int prio;
    int64_t run_at;
    uint64_t seq;
    ck_assert_int_eq(store_queue_peek(t, "x", T0, id, &prio, &run_at, &seq, NULL), EQ_OK);
    ck_assert_str_eq(id, neg);
    ck_assert(run_at == -1000);
    store_txn_abort(t);
}
END_TEST

START_TEST(leases_expired_listing) {
    char ids[5][EQ_ID_LEN + 1];
    int64_t deadlines[5] = {T0 + 300, T0 - 100, T0 + 100, T0, T0 - 200};
    store_txn *t = wtxn();
    for (int i = 0; i < 5; i++) {
        eq_id_new(T0 + i, ids[i]);
        ck_assert_int_eq(store_lease_put(t, deadlines[i], ids[i]), EQ_OK);
    }
    char out[5 * (EQ_ID_LEN + 1)];
    size_t n = 99;
    /* Strictly before now, oldest deadline first. */
    ck_assert_int_eq(store_lease_expired(t, T0, out, 5, &n), EQ_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(out, ids[4]);
    ck_assert_str_eq(out + (EQ_ID_LEN + 1), ids[1]);
    /* max bounds the answer. */
    ck_assert_int_eq(store_lease_expired(t, T0 + 1000, out, 3, &n), EQ_OK);
    ck_assert_uint_eq(n, 3);
    ck_assert_str_eq(out + 2 * (EQ_ID_LEN + 1), ids[3]);
    /* A deleted lease no longer shows; deleting an absent one is fine. */
    ck_assert_int_eq(store_lease_del(t, deadlines[4], ids[4]), EQ_OK);
    ck_assert_int_eq(store_lease_del(t, deadlines[4], ids[4]), EQ_OK);
    ck_assert_int_eq(store_lease_expired(t, T0, out, 5, &n), EQ_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(out, ids[1]);
    /* Deleting with the wrong deadline leaves the entry. */
    ck_assert_int_eq(store_lease_del(t, deadlines[1] + 1, ids[1]), EQ_OK);
    ck_assert_int_eq(store_lease_expired(t, T0, out, 5, &n), EQ_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(store_lease_expired(t, T0 - 1000, out, 5, &n), EQ_OK);
    ck_assert_uint_eq(n, 0);
    store_txn_abort(t);
}
END_TEST

START_TEST(done_older_listing) {
    char ids[4][EQ_ID_LEN + 1];
    int64_t fin[4] = {T0 - 86400000, T0 - 1, T0, T0 - 3600000};
    store_txn *t = wtxn();
    for (int i = 0; i < 4; i++) {
        eq_id_new(T0 + i, ids[i]);
        ck_assert_int_eq(store_done_put(t, fin[i], ids[i]), EQ_OK);
    }
    ck_assert_int_eq(store_txn_commit(t), EQ_OK);
    t = rtxn();
    char out[4 * (EQ_ID_LEN + 1)];
    size_t n;
    ck_assert_int_eq(store_done_older(t, T0, out, 4, &n), EQ_OK);
    ck_assert_uint_eq(n, 3);
    ck_assert_str_eq(out, ids[0]);
    ck_assert_str_eq(out + (EQ_ID_LEN + 1), ids[3]);
    ck_assert_str_eq(out + 2 * (EQ_ID_LEN + 1), ids[1]);
    ck_assert_int_eq(store_done_older(t, T0 - 86400000, out, 4, &n), EQ_OK);
    ck_assert_uint_eq(n, 0);
    store_txn_abort(t);
    t = wtxn();
    ck_assert_int_eq(store_done_del(t, fin[0], ids[0]), EQ_OK);
    ck_assert_int_eq(store_done_older(t, T0 + 1, out, 4, &n), EQ_OK);
    ck_assert_uint_eq(n, 3);
    ck_assert_str_eq(out, ids[3]);
    store_txn_abort(t);
}
END_TEST

/* BUG (pending fix in store/store_job.c, queue_key and its callers): store_queue_peek and
 * store_queue_depth build the key in a stack buffer of JOB_TYPE_MAX + 18 bytes without checking
 * the type's length, so a type of more than JOB_TYPE_MAX bytes overflows it (ASan:
 * stack-buffer-overflow). Today the protocol caps lease types at 64 bytes, which fits exactly,
 * and /health passes configured types; any other caller (an in-process worker, a longer protocol
 * limit) would write past the buffer. Fix: at the top of store_queue_peek and store_queue_depth,
 * `if (strlen(type) >= JOB_TYPE_MAX) return EQ_ENOTFOUND;` (no stored job can have such a type;
 * depth also sets *n = 0 first). Runs only with ECONQ_PENDING_FIXES=1. */
START_TEST(queue_peek_with_an_overlong_type) {
    char type[JOB_TYPE_MAX * 2];
    memset(type, 'q', sizeof type - 1);
    type[sizeof type - 1] = '\0';
    store_txn *t = rtxn();
    char id[EQ_ID_LEN + 1];
    int prio;
    int64_t run_at;
    uint64_t seq, n;
    ck_assert_int_eq(store_queue_peek(t, type, T0, id, &prio, &run_at, &seq, NULL), EQ_ENOTFOUND);
    ck_assert_int_eq(store_queue_depth(t, type, &n, &run_at), EQ_OK);
    ck_assert_uint_eq(n, 0);
    store_txn_abort(t);
}
END_TEST

#define NLIST 40
static char list_ids[NLIST][EQ_ID_LEN + 1];

static int list_state(int i) {
    return JOB_QUEUED + i % 3; /* queued, running, succeeded */
}

static const char *list_type(int i) {
    return i % 4 == 0 ? "chart" : "forecast";
}

static void put_listing_jobs(void) {
    store_txn *t = wtxn();
    for (int i = 0; i < NLIST; i++) {
        eq_job j;
        eq_job_init(&j);
        eq_id_new(T0 + i * 10, j.id);
        snprintf(j.type, sizeof j.type, "%s", list_type(i));
        j.state = (uint8_t)list_state(i);
        j.params = strdup("{}");
        ck_assert_int_eq(store_job_put(t, &j), EQ_OK);
        ck_assert_int_eq(store_state_put(t, j.state, j.id), EQ_OK);
        memcpy(list_ids[i], j.id, EQ_ID_LEN + 1);
        eq_job_fini(&j);
    }
    ck_assert_int_eq(store_txn_commit(t), EQ_OK);
}

typedef struct collect {
    int seen[NLIST];
    int order[NLIST * 2];
    int n;
    int stop_after; /* 0: never stop early */
} collect;

static int collect_cb(void *arg, const eq_job *j) {
    collect *c = arg;
    for (int i = 0; i < NLIST; i++) {
        if (strcmp(list_ids[i], j->id) == 0) {
            c->seen[i]++;
            c->order[c->n++] = i;
            break;
        }
    }
    return c->stop_after && c->n >= c->stop_after;
}

/* Pages through a listing and checks it returns exactly the matching jobs, once each, newest
 * first. */
static void page_all(int state, const char *type, size_t limit, size_t scan_max) {
    collect c;
    memset(&c, 0, sizeof c);
    char cursor[EQ_ID_LEN + 1] = "";
    int pages = 0;
    store_txn *t = rtxn();
    do {
        char next[EQ_ID_LEN + 1];
        int before = c.n;
        ck_assert_int_eq(store_jobs_list(t, state, type, cursor[0] ? cursor : NULL, limit, scan_max,
                                         collect_cb, &c, next),
                         EQ_OK);
        ck_assert_int_le(c.n - before, (int)limit);
        memcpy(cursor, next, sizeof next);
        ck_assert_int_lt(++pages, 200);
    } while (cursor[0]);
    store_txn_abort(t);
    int want = 0;
    for (int i = 0; i < NLIST; i++) {
        int match = (!state || list_state(i) == state) && (!type || !strcmp(list_type(i), type));
        ck_assert_msg(c.seen[i] == match, "state %d type %s limit %zu scan %zu: job %d seen %d",
                      state, type ? type : "-", limit, scan_max, i, c.seen[i]);
        want += match;
    }
    ck_assert_int_eq(c.n, want);
    for (int k = 1; k < c.n; k++)
        ck_assert_int_gt(c.order[k - 1], c.order[k]); /* newest first */
}

START_TEST(jobs_list_newest_first_with_pagination) {
    put_listing_jobs();
    /* One page holding everything: newest first, no cursor. */
    collect c;
    memset(&c, 0, sizeof c);
    char next[EQ_ID_LEN + 1] = "junk";
    store_txn *t = rtxn();
    ck_assert_int_eq(store_jobs_list(t, 0, NULL, NULL, 100, 1000, collect_cb, &c, next), EQ_OK);
    ck_assert_int_eq(c.n, NLIST);
    ck_assert_int_eq(c.order[0], NLIST - 1);
    ck_assert_str_eq(next, "");
    /* A page that stops at the limit gives the last id as the cursor. */
    memset(&c, 0, sizeof c);
    ck_assert_int_eq(store_jobs_list(t, 0, NULL, NULL, 5, 1000, collect_cb, &c, next), EQ_OK);
    ck_assert_int_eq(c.n, 5);
    ck_assert_str_eq(next, list_ids[NLIST - 5]);
    /* The callback can stop early. */
    memset(&c, 0, sizeof c);
    c.stop_after = 2;
    ck_assert_int_eq(store_jobs_list(t, 0, NULL, NULL, 100, 1000, collect_cb, &c, next), EQ_OK);
    ck_assert_int_eq(c.n, 2);
    store_txn_abort(t);

    size_t limits[] = {1, 3, 7, 40, 100};
    for (size_t li = 0; li < sizeof limits / sizeof limits[0]; li++) {
        page_all(0, NULL, limits[li], 1000);
        for (int s = JOB_QUEUED; s < JOB_STATE_MAX; s++)
            page_all(s, NULL, limits[li], 1000);
        page_all(0, "chart", limits[li], 1000);
        page_all(JOB_RUNNING, "chart", limits[li], 1000);
        page_all(JOB_SUCCEEDED, "forecast", limits[li], 1000);
    }
    /* A scan bound smaller than a page still covers everything, in short pages. */
    page_all(0, "chart", 10, 3);
    page_all(JOB_QUEUED, "chart", 10, 2);
    page_all(0, NULL, 10, 1);
}
END_TEST

START_TEST(jobs_list_state_bounds) {
    put_listing_jobs();
    /* The states around the listed one hold jobs too; none leak into its listing. */
    store_txn *t = rtxn();
    collect c;
    memset(&c, 0, sizeof c);
    char next[EQ_ID_LEN + 1];
    ck_assert_int_eq(store_jobs_list(t, JOB_RUNNING, NULL, NULL, 1000, 1000, collect_cb, &c, next),
                     EQ_OK);
    for (int k = 0; k < c.n; k++)
        ck_assert_int_eq(list_state(c.order[k]), JOB_RUNNING);
    ck_assert_str_eq(next, "");
    /* A cursor older than every job gives an empty page. */
    memset(&c, 0, sizeof c);
    ck_assert_int_eq(
        store_jobs_list(t, JOB_RUNNING, NULL, list_ids[0], 10, 1000, collect_cb, &c, next), EQ_OK);
    ck_assert_int_eq(c.n, 0);
    ck_assert_str_eq(next, "");
    /* A cursor newer than every job (an id not in the table) starts from the newest. */
    char newer[EQ_ID_LEN + 1];
    eq_id_new(T0 + 1000000, newer);
    memset(&c, 0, sizeof c);
    ck_assert_int_eq(store_jobs_list(t, 0, NULL, newer, 1000, 1000, collect_cb, &c, next), EQ_OK);
    ck_assert_int_eq(c.n, NLIST);
    memset(&c, 0, sizeof c);
    ck_assert_int_eq(store_jobs_list(t, JOB_QUEUED, NULL, newer, 1000, 1000, collect_cb, &c, next),
                     EQ_OK);
    ck_assert_int_eq(c.n, (NLIST + 2) / 3);
    store_txn_abort(t);
}
END_TEST

int main(void) {
    Suite *s = suite_create("store_job");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, record_round_trip_all_fields);
    tcase_add_test(tc, record_truncated_or_corrupt_fails_cleanly);
    tcase_add_test(tc, open_close_reopen_keeps_jobs);
    tcase_add_test(tc, queue_peek_order_priority_then_run_at_then_seq);
    tcase_add_test(tc, delayed_jobs_wait_for_run_at);
    tcase_add_test(tc, times_before_1970_sort_first_in_queue);
    tcase_add_test(tc, leases_expired_listing);
    tcase_add_test(tc, done_older_listing);
    tcase_add_test(tc, jobs_list_newest_first_with_pagination);
    tcase_add_test(tc, jobs_list_state_bounds);
    suite_add_tcase(s, tc);
    /* Tests that fail until a known bug is fixed (see each test's comment). */
    const char *pending = getenv("ECONQ_PENDING_FIXES");
    if (pending && strcmp(pending, "1") == 0) {
        TCase *tp = tcase_create("pending_fixes");
        tcase_add_checked_fixture(tp, setup, teardown);
        tcase_add_test(tp, queue_peek_with_an_overlong_type);
        suite_add_tcase(s, tp);
    }
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* The webhook outbox in LMDB: due order, attempt logs, deliveries per subject, retention. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "tests/support/eqtest.h"

static store *st;
static char dir[256];

static void setup(void) {
    store_opts o;
    store_opts_defaults(&o);
    o.map_size = 64 << 20;
    o.nosync = 1;
    eqt_tmpdir(dir, sizeof dir);
    ck_assert_int_eq(store_open(dir, &o, &st), EQ_OK);
}

static void teardown(void) {
    store_close(st);
    eqt_rmdir(dir);
}

static void put(store_txn *t, const char *id, const char *subject, int state, int64_t at, int tries) {
    store_delivery d;
    memset(&d, 0, sizeof d);
    snprintf(d.id, sizeof d.id, "%s", id);
    d.state = (uint8_t)state;
    d.created_ms = d.next_ms = d.last_ms = at;
    d.tries = (uint32_t)tries;
    d.event = "job.succeeded";
    d.subject = (char *)subject;
    d.url = "http://127.0.0.1:9/x";
    d.secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    d.body = "{}";
    ck_assert_int_eq(store_delivery_put(t, &d, -1), EQ_OK);
    for (int i = 1; i <= tries; i++)
        ck_assert_int_eq(store_delivery_log_add(t, id, (uint32_t)i, at, 500, 3, "HTTP 500"), EQ_OK);
}

static int count_cb(void *arg, const store_delivery *d) {
    (*(int *)arg)++;
    return 0;
}

static void log_cb(void *arg, uint32_t try_no, int64_t at, int status, uint32_t latency_ms,
                   const char *error) {
    (*(int *)arg)++;
}

START_TEST(due_order_and_retention) {
    store_txn *t;
    const char *job = "01ARZ3NDEKTSV4RRFFQ69G5FAV";
    ck_assert_int_eq(store_txn_begin(st, 1, &t), EQ_OK);
    put(t, "msg_old_done", job, STORE_DELIVERY_DELIVERED, 1000, 2);
    put(t, "msg_old_pending", job, STORE_DELIVERY_PENDING, 1500, 1);
    put(t, "msg_new_failed", job, STORE_DELIVERY_FAILED, 9000, 3);
    put(t, "msg_late_pending", job, STORE_DELIVERY_PENDING, 5000, 0);
    store_delivery_id ids[8];
    size_t n;
    int64_t next;
    ck_assert_int_eq(store_delivery_due(t, 2000, 8, ids, &n, &next), EQ_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(ids[0].id, "msg_old_pending");
    ck_assert_int_eq(next, 5000);
    int count = 0;
    ck_assert_int_eq(store_deliveries_for(t, job, count_cb, &count), EQ_OK);
    ck_assert_int_eq(count, 4);
    /* Retention keeps pending deliveries and recent ones. */
    size_t removed;
    ck_assert_int_eq(store_delivery_retain(t, 8000, 100, &removed), EQ_OK);
    ck_assert_uint_eq(removed, 1);
    store_delivery d;
    ck_assert_int_eq(store_delivery_get(t, "msg_old_done", &d), EQ_ENOTFOUND);
    int logs = 0;
    ck_assert_int_eq(store_delivery_log_each(t, "msg_old_done", log_cb, &logs), EQ_OK);
    ck_assert_int_eq(logs, 0);
    ck_assert_int_eq(store_delivery_log_each(t, "msg_new_failed", log_cb, &logs), EQ_OK);
    ck_assert_int_eq(logs, 3);
    count = 0;
    ck_assert_int_eq(store_deliveries_for(t, job, count_cb, &count), EQ_OK);
    ck_assert_int_eq(count, 3);
    uint64_t backlog;
    ck_assert_int_eq(store_delivery_backlog(t, &backlog), EQ_OK);
    ck_assert_uint_eq(backlog, 2);
    ck_assert_int_eq(store_txn_commit(t), EQ_OK);
}
END_TEST

int main(void) {
    Suite *s = suite_create("store_outbox");
    TCase *tc = tcase_create("outbox");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, due_order_and_retention);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

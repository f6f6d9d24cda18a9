/* broker/schedule.c without the broker: schedules put through sched_handle() and due ticks run
 * by sched_run() under the injected clock of tests/broker/lifecycle_util (`now`), one write
 * transaction per step. A "restart" is a new broker_sched over the same store. */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker/schedule.h"
#include "store/store_sched.h"
#include "tests/broker/lifecycle_util.h"

#define MIN_MS INT64_C(60000)
/* T0 is 04:23:10; the minute boundaries after it. */
#define M24 (T0 - 10000 + MIN_MS)

static broker_sched *new_sched(int builtins) {
    sched_config cfg = {
        .retention_ms = 1000, .data_dir = dir, .builtins = builtins, .backups_keep = 2};
    broker_sched *s;
    ck_assert_int_eq(sched_new(&cfg, &s), EQ_OK);
    lc_ctx c = begin();
    ck_assert_int_eq(sched_startup(s, &c), EQ_OK);
    end(&c);
    return s;
}

static eq_err put(broker_sched *s, const char *name, const char *cron, const char *type) {
    proto_submit_job j = {.type = (char *)type, .params = "{}", .priority = 5, .max_attempts = 1};
    eq_buf b, out;
    proto_req r;
    eq_buf_init(&b);
    eq_buf_init(&out);
    proto_enc_schedule_put(&b, name, cron, &j);
    ck_assert_int_eq(proto_decode_req(b.data, b.len, &r), EQ_OK);
    lc_ctx c = begin();
    ck_assert_int_eq(sched_handle(s, &c, &r, &out), EQ_OK);
    end(&c);
    eq_rd rd;
    eq_err status;
    char *msg = NULL;
    eq_rd_init(&rd, out.data, out.len);
    ck_assert_int_eq(proto_dec_reply(&rd, &status, &msg), EQ_OK);
    free(msg);
    proto_req_fini(&r);
    eq_buf_fini(&b);
    eq_buf_fini(&out);
    return status;
}

/* One group at `now`: committed, or aborted when abort is set. */
static void step(broker_sched *s, int abort) {
    lc_ctx c = begin();
    ck_assert_int_eq(sched_run(s, &c), EQ_OK);
    if (abort) {
        store_txn_abort(c.txn);
        sched_after_commit(s, st, 0);
    } else {
        end(&c);
        sched_after_commit(s, st, 1);
    }
}

typedef struct counter {
    const char *schedule;
    int n;
} counter;

static int count_one(void *arg, const eq_job *j) {
    counter *k = arg;
    if (j->schedule && strcmp(j->schedule, k->schedule) == 0) k->n++;
    return 0;
}

static int jobs_of(const char *schedule) {
    store_txn *t;
    counter k = {schedule, 0};
    char next[EQ_ID_LEN + 1];
    ck_assert_int_eq(store_txn_begin(st, 0, &t), EQ_OK);
    ck_assert_int_eq(store_jobs_list(t, 0, NULL, NULL, 1000, 100000, count_one, &k, next), EQ_OK);
    store_txn_abort(t);
    return k.n;
}

static void ticks_of(const char *name, int64_t *last, int64_t *next) {
    store_txn *t;
    store_schedule sc;
    ck_assert_int_eq(store_txn_begin(st, 0, &t), EQ_OK);
    ck_assert_int_eq(store_schedule_get(t, name, &sc), EQ_OK);
    *last = sc.last_tick_ms;
    *next = sc.next_tick_ms;
    store_schedule_fini(&sc);
    store_txn_abort(t);
}

START_TEST(one_job_per_tick_across_restarts) {
    broker_sched *s = new_sched(0);
    ck_assert_int_eq(put(s, "every", "* * * * *", "noop"), EQ_OK);
    int64_t last, next;
    ticks_of("every", &last, &next);
    ck_assert_int_eq(last, 0);
    ck_assert_int_eq(next, M24);
    step(s, 0);
    ck_assert_int_eq(jobs_of("every"), 0);
    now = M24;
    step(s, 0);
    ck_assert_int_eq(jobs_of("every"), 1);
    step(s, 0);
    now = M24 + 30000;
    step(s, 0);
    ck_assert_int_eq(jobs_of("every"), 1);
    sched_free(s);

    /* A restart within the minute: nothing more. */
    s = new_sched(0);
    now = M24 + 45000;
    step(s, 0);
    ck_assert_int_eq(jobs_of("every"), 1);
    /* A group that fails at the next tick leaves it due: the retry makes the job. */
    now = M24 + MIN_MS + 1000;
    step(s, 1);
    ck_assert_int_eq(jobs_of("every"), 1);
    sched_free(s);
    s = new_sched(0);
    step(s, 0);
    ck_assert_int_eq(jobs_of("every"), 2);
    sched_free(s);

    /* Down for four ticks: one job at start-up, the next tick from the present. */
    s = new_sched(0);
    now = M24 + 5 * MIN_MS + 5000;
    step(s, 0);
    step(s, 0);
    ck_assert_int_eq(jobs_of("every"), 3);
    ticks_of("every", &last, &next);
    ck_assert_int_eq(last, M24 + 5 * MIN_MS);
    ck_assert_int_eq(next, M24 + 6 * MIN_MS);
    sched_free(s);
}
END_TEST

START_TEST(refusals_and_replacement) {
    broker_sched *s = new_sched(0);
    ck_assert_int_eq(put(s, "bad", "61 * * * *", "noop"), EQ_EINVAL);
    ck_assert_int_eq(put(s, "never", "0 0 30 2 *", "noop"), EQ_EINVAL); /* no 30 February */
    ck_assert_int_eq(put(s, "daily", "0 3 * * *", "noop"), EQ_OK);
    ck_assert_int_eq(put(s, "daily", "0 4 * * *", "noop"), EQ_EEXIST); /* replaced */
    int64_t last, next;
    ticks_of("daily", &last, &next);
    ck_assert_int_eq(next % (24 * 3600000LL), 4 * 3600000LL);
    sched_free(s);
}
END_TEST

static int count_backups(void) {
    char path[400];
    snprintf(path, sizeof path, "%s/backups", dir);
    DIR *d = opendir(path);
    int n = 0;
    if (!d) return 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strncmp(e->d_name, "econq-", 6) == 0;
    closedir(d);
    return n;
}

/* The copy runs in a thread of its own: groups until the job is completed. */
static void backup_done(broker_sched *s, const char *id) {
    for (int i = 0; i < 500 && state_of(id) == JOB_RUNNING; i++) {
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
        step(s, 0);
    }
    ck_assert_int_eq(state_of(id), JOB_SUCCEEDED);
}

START_TEST(builtins_and_in_broker_jobs) {
    broker_sched *s = new_sched(1);
    store_txn *t;
    store_schedule sc;
    ck_assert_int_eq(store_txn_begin(st, 0, &t), EQ_OK);
    ck_assert_int_eq(store_schedule_get(t, "maintenance.cache", &sc), EQ_OK);
    ck_assert_str_eq(sc.cron, "*/5 * * * *");
    store_schedule_fini(&sc);
    ck_assert_int_eq(store_schedule_get(t, "maintenance.backup", &sc), EQ_OK);
    store_schedule_fini(&sc);
    store_txn_abort(t);
    char cache[EQ_ID_LEN + 1], backup[EQ_ID_LEN + 1];
    submit("maintenance.cache", 5, cache);
    submit("maintenance.backup", 5, backup);
    step(s, 0); /* the cache sweep completes; the backup is leased and copied after commit */
    ck_assert_int_eq(state_of(cache), JOB_SUCCEEDED);
    ck_assert_int_eq(state_of(backup), JOB_RUNNING);
    backup_done(s, backup);
    ck_assert_int_eq(count_backups(), 1);
    for (int i = 0; i < 2; i++) {
        submit("maintenance.backup", 5, backup);
        step(s, 0);
        backup_done(s, backup);
    }
    ck_assert_int_eq(count_backups(), 2); /* backups_keep */
    /* At 04:25 the cache schedule submits its job, which the same group runs. */
    now = T0 - 10000 + 2 * MIN_MS; /* 04:25:00 */
    step(s, 0);
    ck_assert_int_eq(jobs_of("maintenance.cache"), 1);
    sched_free(s);
}
END_TEST

int main(void) {
    Suite *su = suite_create("schedule");
    TCase *tc = tcase_create("schedule");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, one_job_per_tick_across_restarts);
    tcase_add_test(tc, refusals_and_replacement);
    tcase_add_test(tc, builtins_and_in_broker_jobs);
    suite_add_tcase(su, tc);
    SRunner *sr = srunner_create(su);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

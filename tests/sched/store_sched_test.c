/* Tests for store/store_sched.c and store/store_chart.c: schedule and chart index records,
 * listing, deletion, the compacting backup and the in-use check, on a real LMDB environment. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/id.h"
#include "store/store.h"
#include "store/store_sched.h"

static char dir[256];
static store *st;

static void rmtree(const char *d) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    ck_assert_int_eq(system(cmd), 0);
}

static void setup(void) {
    snprintf(dir, sizeof dir, "/tmp/econq-sched-store-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    store_opts o;
    store_opts_defaults(&o);
    o.map_size = 64u << 20;
    o.nosync = 1;
    ck_assert_int_eq(store_open(dir, &o, &st), EQ_OK);
}

static void teardown(void) {
    store_close(st);
    rmtree(dir);
}

static store_txn *begin(int write) {
    store_txn *t;
    ck_assert_int_eq(store_txn_begin(st, write, &t), EQ_OK);
    return t;
}

static int collect(void *arg, const char *name, const store_schedule *s) {
    char *out = arg;
    size_t l = strlen(out);
    snprintf(out + l, 256 - l, "%s%s=%s@%lld", l ? "," : "", name, s->cron,
             (long long)s->next_tick_ms);
    return 0;
}

START_TEST(schedule_round_trip) {
    unsigned char job[] = {1, 2, 0, 3, 255};
    store_schedule s = {.created_ms = 10,
                        .last_tick_ms = 0,
                        .next_tick_ms = 60000,
                        .cron = "* * * * *",
                        .job = job,
                        .job_len = sizeof job};
    store_txn *t = begin(1);
    ck_assert_int_eq(store_schedule_put(t, "b-every", &s), EQ_OK);
    s.cron = "0 3 * * *";
    s.next_tick_ms = 120000;
    ck_assert_int_eq(store_schedule_put(t, "a-nightly", &s), EQ_OK);
    ck_assert_int_eq(store_txn_commit(t), EQ_OK);

    store_schedule g;
    t = begin(0);
    ck_assert_int_eq(store_schedule_get(t, "b-every", &g), EQ_OK);
    ck_assert_str_eq(g.cron, "* * * * *");
    ck_assert_int_eq(g.created_ms, 10);
    ck_assert_int_eq(g.next_tick_ms, 60000);
    ck_assert_uint_eq(g.job_len, sizeof job);
    ck_assert_mem_eq(g.job, job, sizeof job);
    store_schedule_fini(&g);
    ck_assert_int_eq(store_schedule_get(t, "missing", &g), EQ_ENOTFOUND);
    char list[256] = "";
    ck_assert_int_eq(store_schedules_each(t, collect, list), EQ_OK);
    ck_assert_str_eq(list, "a-nightly=0 3 * * *@120000,b-every=* * * * *@60000");
    store_txn_abort(t);

    t = begin(1);
    ck_assert_int_eq(store_schedule_del(t, "a-nightly"), EQ_OK);
    ck_assert_int_eq(store_schedule_del(t, "a-nightly"), EQ_ENOTFOUND);
    char long_name[80];
    memset(long_name, 'x', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    ck_assert_int_eq(store_schedule_put(t, long_name, &s), EQ_EINVAL);
    ck_assert_int_eq(store_txn_commit(t), EQ_OK);
    t = begin(0);
    list[0] = '\0';
    ck_assert_int_eq(store_schedules_each(t, collect, list), EQ_OK);
    ck_assert_str_eq(list, "b-every=* * * * *@60000");
    store_txn_abort(t);
}
END_TEST

static int count_charts(void *arg, const char *id, const store_chart *c) {
    (void)id;
    (void)c;
    (*(int *)arg)++;
    return 0;
}

START_TEST(chart_index) {
    char id1[EQ_ID_LEN + 1], id2[EQ_ID_LEN + 1];
    eq_id_new(1000, id1);
    eq_id_new(2000, id2);
    store_chart c = {.created_ms = 1000, .accessed_ms = 0, .size = 1234};
    snprintf(c.content_type, sizeof c.content_type, "image/png");
    snprintf(c.ext, sizeof c.ext, "png");
    eq_id_new(500, c.job_id);
    store_txn *t = begin(1);
    ck_assert_int_eq(store_chart_put(t, id1, &c), EQ_OK);
    c.created_ms = 2000;
    snprintf(c.ext, sizeof c.ext, "svg");
    snprintf(c.content_type, sizeof c.content_type, "image/svg+xml");
    ck_assert_int_eq(store_chart_put(t, id2, &c), EQ_OK);
    ck_assert_int_eq(store_txn_commit(t), EQ_OK);
    store_chart g;
    t = begin(0);
    ck_assert_int_eq(store_chart_get(t, id1, &g), EQ_OK);
    ck_assert_str_eq(g.content_type, "image/png");
    ck_assert_str_eq(g.ext, "png");
    ck_assert_int_eq(g.size, 1234);
    ck_assert_str_eq(g.job_id, c.job_id);
    int n = 0;
    ck_assert_int_eq(store_charts_each(t, count_charts, &n), EQ_OK);
    ck_assert_int_eq(n, 2);
    store_txn_abort(t);
    t = begin(1);
    ck_assert_int_eq(store_chart_del(t, id1), EQ_OK);
    ck_assert_int_eq(store_chart_get(t, id1, &g), EQ_ENOTFOUND);
    ck_assert_int_eq(store_txn_commit(t), EQ_OK);
}
END_TEST

START_TEST(backup_copy_opens_with_the_same_records) {
    store_schedule s = {.created_ms = 1,
                        .next_tick_ms = 2,
                        .cron = "@daily",
                        .job = (unsigned char *)"j",
                        .job_len = 1};
    store_txn *t = begin(1);
    ck_assert_int_eq(store_schedule_put(t, "kept", &s), EQ_OK);
    ck_assert_int_eq(store_txn_commit(t), EQ_OK);
    char copy_dir[300], file[400];
    snprintf(copy_dir, sizeof copy_dir, "%s/copy", dir);
    ck_assert_int_eq(mkdir(copy_dir, 0700), 0);
    snprintf(file, sizeof file, "%s/data.mdb", copy_dir);
    ck_assert_int_eq(store_backup(st, file), EQ_OK);
    ck_assert_int_eq(store_backup(st, file), EQ_EEXIST);
    ck_assert_int_eq(access(file, R_OK), 0);
    /* This process has the store open; the check looks at other processes' locks only, so a
     * directory without a lock file is what it can tell here. */
    ck_assert_int_eq(store_in_use(copy_dir), 0);
    store *c;
    store_opts o;
    store_opts_defaults(&o);
    o.map_size = 64u << 20;
    ck_assert_int_eq(store_open(copy_dir, &o, &c), EQ_OK);
    store_schedule g;
    ck_assert_int_eq(store_txn_begin(c, 0, &t), EQ_OK);
    ck_assert_int_eq(store_schedule_get(t, "kept", &g), EQ_OK);
    ck_assert_str_eq(g.cron, "@daily");
    store_schedule_fini(&g);
    store_txn_abort(t);
    store_close(c);
}
END_TEST

int main(void) {
    Suite *s = suite_create("store_sched");
    TCase *tc = tcase_create("store_sched");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, schedule_round_trip);
    tcase_add_test(tc, chart_index);
    tcase_add_test(tc, backup_copy_opens_with_the_same_records);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

/* The metrics registry (common/metrics.c), the rate limiter (api/ratelimit.c) and API keys
 * (api/auth.c), without a server. */
#include <check.h>
#include <http_parser.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/prod.h"
#include "common/job.h"
#include "common/metrics.h"

static char *render(void) {
    eq_buf b;
    eq_buf_init(&b);
    metrics_render(&b);
    ck_assert(!b.oom);
    return eq_buf_take(&b, NULL);
}

START_TEST(counter_labels_and_exposition) {
    metric_family *f = metrics_counter("t_requests_total", "Help with \\ and\nnewline.", "route,code");
    ck_assert_ptr_nonnull(f);
    /* The same name and shape returns the same family; another shape is refused. */
    ck_assert_ptr_eq(metrics_counter("t_requests_total", "x", "route,code"), f);
    ck_assert_ptr_null(metrics_counter("t_requests_total", "x", "route"));
    ck_assert_ptr_null(metrics_gauge("t_requests_total", "x", "route,code"));
    ck_assert_ptr_null(metrics_counter("bad name", "x", NULL));
    ck_assert_ptr_null(metrics_counter("t_le", "x", "le"));
    metrics_counter_add(f, (const char *const[]){"jobs", "202"}, 2);
    metrics_counter_add(f, (const char *const[]){"jobs", "202"}, 3);
    metrics_counter_add(f, (const char *const[]){"a\"b\\c\nd", "500"}, 1);
    ck_assert_double_eq(metrics_value(f, (const char *const[]){"jobs", "202"}), 5);
    ck_assert_double_eq(metrics_value(f, (const char *const[]){"jobs", "404"}), 0);
    metrics_counter_add(f, NULL, 1); /* no label values: ignored, not a crash */
    metrics_counter_add(NULL, NULL, 1);
    char *text = render();
    ck_assert_ptr_nonnull(strstr(text, "# HELP t_requests_total Help with \\\\ and\\nnewline.\n"));
    ck_assert_ptr_nonnull(strstr(text, "# TYPE t_requests_total counter\n"));
    ck_assert_ptr_nonnull(strstr(text, "t_requests_total{route=\"jobs\",code=\"202\"} 5\n"));
    ck_assert_ptr_nonnull(strstr(text, "t_requests_total{route=\"a\\\"b\\\\c\\nd\",code=\"500\"} 1\n"));
    free(text);
}
END_TEST

START_TEST(gauge_and_histogram) {
    static const double bounds[] = {0.25, 1, 10};
    metric_family *g = metrics_gauge("t_depth", "Depth.", "type");
    metric_family *h = metrics_histogram("t_seconds", "Seconds.", NULL, bounds, 3);
    ck_assert_ptr_null(metrics_histogram("t_bad_bounds", "x", NULL, (const double[]){2, 1}, 2));
    metrics_gauge_set(g, (const char *const[]){"noop"}, 7);
    metrics_gauge_add(g, (const char *const[]){"noop"}, -2.5);
    ck_assert_double_eq(metrics_value(g, (const char *const[]){"noop"}), 4.5);
    double obs[] = {0.125, 0.25, 0.5, 5, 50, 50};
    for (size_t i = 0; i < sizeof obs / sizeof obs[0]; i++)
        metrics_histogram_observe(h, NULL, obs[i]);
    ck_assert_uint_eq(metrics_histogram_count(h, NULL), 6);
    char *text = render();
    ck_assert_ptr_nonnull(strstr(text, "t_depth{type=\"noop\"} 4.5\n"));
    /* Buckets are cumulative; 0.25 falls in le="0.25" (upper bounds are inclusive). */
    ck_assert_ptr_nonnull(strstr(text, "t_seconds_bucket{le=\"0.25\"} 2\n"));
    ck_assert_ptr_nonnull(strstr(text, "t_seconds_bucket{le=\"1\"} 3\n"));
    ck_assert_ptr_nonnull(strstr(text, "t_seconds_bucket{le=\"10\"} 4\n"));
    ck_assert_ptr_nonnull(strstr(text, "t_seconds_bucket{le=\"+Inf\"} 6\n"));
    ck_assert_ptr_nonnull(strstr(text, "t_seconds_sum 105.875\n"));
    ck_assert_ptr_nonnull(strstr(text, "t_seconds_count 6\n"));
    free(text);
    metrics_gauge_reset(g);
    ck_assert_double_eq(metrics_value(g, (const char *const[]){"noop"}), 0);
}
END_TEST

START_TEST(series_limit_is_bounded) {
    metric_family *f = metrics_counter("t_many_total", "Many.", "id");
    char id[32];
    for (int i = 0; i < METRICS_MAX_SERIES + 10; i++) {
        snprintf(id, sizeof id, "s%d", i);
        metrics_counter_add(f, (const char *const[]){id}, 1);
    }
    ck_assert_double_eq(metrics_value(f, (const char *const[]){"s0"}), 1);
    snprintf(id, sizeof id, "s%d", METRICS_MAX_SERIES + 5);
    ck_assert_double_eq(metrics_value(f, (const char *const[]){id}), 0);
    char *text = render();
    ck_assert_ptr_nonnull(strstr(text, "econq_metrics_series_dropped_total 10\n"));
    free(text);
}
END_TEST

#define THREADS 4
#define PER_THREAD 20000

static void *hammer(void *arg) {
    metric_family *c = metrics_counter("t_race_total", "Race.", "k");
    static const double bounds[] = {1, 2};
    metric_family *h = metrics_histogram("t_race_seconds", "Race.", "k", bounds, 2);
    const char *k = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        /* Half the updates share a series, half create the thread's own. */
        metrics_counter_add(c, (const char *const[]){i % 2 ? "shared" : k}, 1);
        metrics_histogram_observe(h, (const char *const[]){"shared"}, 1.5);
    }
    return NULL;
}

START_TEST(concurrent_updates_are_not_lost) {
    pthread_t t[THREADS];
    static const char *const names[THREADS] = {"t0", "t1", "t2", "t3"};
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, hammer, (void *)names[i]);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    metric_family *c = metrics_counter("t_race_total", "Race.", "k");
    metric_family *h = metrics_histogram("t_race_seconds", "Race.", "k", (const double[]){1, 2}, 2);
    ck_assert_double_eq(metrics_value(c, (const char *const[]){"shared"}), THREADS * PER_THREAD / 2);
    for (int i = 0; i < THREADS; i++)
        ck_assert_double_eq(metrics_value(c, (const char *const[]){names[i]}), PER_THREAD / 2);
    ck_assert_uint_eq(metrics_histogram_count(h, (const char *const[]){"shared"}),
                      THREADS * PER_THREAD);
    char *text = render();
    char want[128];
    snprintf(want, sizeof want, "t_race_seconds_sum{k=\"shared\"} %d\n", THREADS * PER_THREAD * 3 / 2);
    ck_assert_ptr_nonnull(strstr(text, want));
    free(text);
}
END_TEST

START_TEST(job_transitions) {
    metrics_job_transition("noop", JOB_QUEUED, JOB_RUNNING, 1000, 3000, 3000);
    metrics_job_transition("noop", JOB_RUNNING, JOB_SUCCEEDED, 1000, 3000, 3500);
    metrics_job_transition("noop", JOB_RUNNING, JOB_QUEUED, 1000, 3000, 3500);
    metrics_job_transition("noop", JOB_QUEUED, JOB_CANCELLED, 1000, 0, 3600);
    char *text = render();
    ck_assert_ptr_nonnull(strstr(text, "econq_jobs_completed_total{type=\"noop\",outcome=\"succeeded\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(text, "econq_jobs_completed_total{type=\"noop\",outcome=\"cancelled\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(text, "econq_job_queue_wait_seconds_sum{type=\"noop\"} 2\n"));
    ck_assert_ptr_nonnull(strstr(text, "econq_job_duration_seconds_sum{type=\"noop\"} 0.5\n"));
    ck_assert_ptr_nonnull(strstr(text, "econq_job_duration_seconds_count{type=\"noop\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(text, "econq_job_attempts_requeued_total{type=\"noop\"} 1\n"));
    free(text);
}
END_TEST

START_TEST(rate_parse) {
    rl_limit l;
    ck_assert_int_eq(api_rate_parse("200/400", &l), EQ_OK);
    ck_assert_double_eq(l.rate, 200);
    ck_assert_double_eq(l.burst, 400);
    ck_assert_int_eq(api_rate_parse("5", &l), EQ_OK);
    ck_assert_double_eq(l.burst, 5);
    ck_assert_int_eq(api_rate_parse("0.5", &l), EQ_OK);
    ck_assert_double_eq(l.burst, 1);
    ck_assert_int_eq(api_rate_parse("0", &l), EQ_OK);
    ck_assert_double_eq(l.rate, 0);
    const char *bad[] = {"", "x", "-1", "5/", "5/0", "5/x", "1/2/3", "nan", "inf", "1e9"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(api_rate_parse(bad[i], &l) == EQ_EINVAL, "accepted \"%s\"", bad[i]);
}
END_TEST

START_TEST(token_bucket) {
    rl_limit lim[RL_NGROUPS] = {{2, 3}, {0, 0}, {1, 1}};
    api_ratelimit *rl;
    unsigned ra;
    ck_assert_int_eq(api_rl_new(lim, 0, &rl), EQ_OK);
    /* The burst, then refusals until time refills a token at 2 per second. */
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(api_rl_take(rl, RL_SUBMIT, "key:a", 1000, &ra), 1);
    ck_assert_int_eq(api_rl_take(rl, RL_SUBMIT, "key:a", 1000, &ra), 0);
    ck_assert_uint_eq(ra, 1);
    ck_assert_int_eq(api_rl_take(rl, RL_SUBMIT, "key:a", 1400, &ra), 0);
    ck_assert_int_eq(api_rl_take(rl, RL_SUBMIT, "key:a", 1600, &ra), 1);
    /* Another client and another group have their own buckets; reads are unlimited. */
    ck_assert_int_eq(api_rl_take(rl, RL_SUBMIT, "key:b", 1600, &ra), 1);
    ck_assert_int_eq(api_rl_take(rl, RL_UPLOAD, "key:a", 1600, &ra), 1);
    ck_assert_int_eq(api_rl_take(rl, RL_UPLOAD, "key:a", 1600, &ra), 0);
    for (int i = 0; i < 1000; i++)
        ck_assert_int_eq(api_rl_take(rl, RL_READ, "key:a", 1600, &ra), 1);
    /* A slow rate gives a Retry-After of several seconds. */
    api_rl_free(rl);
    rl_limit slow[RL_NGROUPS] = {{0.2, 1}, {0, 0}, {0, 0}};
    ck_assert_int_eq(api_rl_new(slow, 0, &rl), EQ_OK);
    ck_assert_int_eq(api_rl_take(rl, RL_SUBMIT, "addr:x", 0, &ra), 1);
    ck_assert_int_eq(api_rl_take(rl, RL_SUBMIT, "addr:x", 0, &ra), 0);
    ck_assert_uint_eq(ra, 5);
    api_rl_free(rl);
}
END_TEST

START_TEST(bucket_table_evicts_least_recent) {
    rl_limit lim[RL_NGROUPS] = {{1, 1}, {0, 0}, {0, 0}};
    api_ratelimit *rl;
    unsigned ra;
    char c[32];
    ck_assert_int_eq(api_rl_new(lim, 4, &rl), EQ_OK);
    for (int i = 0; i < 4; i++) {
        snprintf(c, sizeof c, "c%d", i);
        ck_assert_int_eq(api_rl_take(rl, RL_SUBMIT, c, 0, &ra), 1);
    }
    /* c0 used again: c1 is now the least recent and goes first. */
    ck_assert_int_eq(api_rl_take(rl, RL_SUBMIT, "c0", 0, &ra), 0);
    ck_assert_int_eq(api_rl_take(rl, RL_SUBMIT, "c4", 0, &ra), 1);
    ck_assert_uint_eq(api_rl_evictions(rl), 1);
    ck_assert_int_eq(api_rl_take(rl, RL_SUBMIT, "c0", 0, &ra), 0); /* still remembered */
    ck_assert_int_eq(api_rl_take(rl, RL_SUBMIT, "c1", 0, &ra), 1); /* forgotten: a new bucket */
    ck_assert_uint_eq(api_rl_evictions(rl), 2);
    for (int i = 0; i < 10000; i++) {
        snprintf(c, sizeof c, "many%d", i);
        api_rl_take(rl, RL_SUBMIT, c, 0, &ra);
    }
    ck_assert_uint_eq(api_rl_evictions(rl), 10002);
    api_rl_free(rl);
}
END_TEST

START_TEST(route_groups) {
    ck_assert_int_eq(api_rl_group(HTTP_POST, "/v1/jobs"), RL_SUBMIT);
    ck_assert_int_eq(api_rl_group(HTTP_POST, "/v1/batches"), RL_SUBMIT);
    ck_assert_int_eq(api_rl_group(HTTP_DELETE, "/v1/jobs/x"), RL_SUBMIT);
    ck_assert_int_eq(api_rl_group(HTTP_POST, "/v1/datasets"), RL_UPLOAD);
    ck_assert_int_eq(api_rl_group(HTTP_GET, "/v1/datasets"), RL_READ);
    ck_assert_int_eq(api_rl_group(HTTP_HEAD, "/v1/jobs"), RL_READ);
    ck_assert_int_eq(api_rl_group(HTTP_OPTIONS, "/v1/jobs"), RL_NONE);
}
END_TEST

START_TEST(keys_file_and_check) {
    char dir[] = "/tmp/eqprodXXXXXX", path[64], key[128], line[160], key2[128], line2[160], err[256];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/keys", dir);
    ck_assert_int_eq(api_auth_keygen("alice", key, sizeof key, line, sizeof line), EQ_OK);
    ck_assert_int_eq(api_auth_keygen("bob.ci-1", key2, sizeof key2, line2, sizeof line2), EQ_OK);
    ck_assert_int_eq(api_auth_keygen("bad name", key2, sizeof key2, line2, sizeof line2), EQ_EINVAL);
    ck_assert_int_eq(api_auth_keygen("bob.ci-1", key2, sizeof key2, line2, sizeof line2), EQ_OK);
    ck_assert_str_ne(key, key2);
    ck_assert_int_eq((int)strlen(key), 68);
    ck_assert_int_eq(strncmp(key, AUTH_KEY_PREFIX, 4), 0);
    ck_assert_ptr_null(strstr(line, key + 4)); /* the file line holds the hash, not the key */
    FILE *f = fopen(path, "w");
    fprintf(f, "# econq keys\n\n  %s  \n%s\n", line, line2);
    fclose(f);
    api_auth *a = NULL;
    ck_assert_int_eq(api_auth_load(path, &a, err, sizeof err), EQ_OK);
    ck_assert_uint_eq(api_auth_count(a), 2);
    char hdr[200];
    snprintf(hdr, sizeof hdr, "Bearer %s", key);
    ck_assert_str_eq(api_auth_check(a, hdr), "alice");
    snprintf(hdr, sizeof hdr, "bearer %s", key2);
    ck_assert_str_eq(api_auth_check(a, hdr), "bob.ci-1");
    ck_assert_ptr_null(api_auth_check(a, NULL));
    ck_assert_ptr_null(api_auth_check(a, "Bearer "));
    ck_assert_ptr_null(api_auth_check(a, key));  /* no scheme */
    snprintf(hdr, sizeof hdr, "Basic %s", key);
    ck_assert_ptr_null(api_auth_check(a, hdr));
    snprintf(hdr, sizeof hdr, "Bearer %sx", key);
    ck_assert_ptr_null(api_auth_check(a, hdr));
    api_auth_free(a);
    /* Malformed files name the line and never echo it. */
    const char *bad[] = {"alice\n", "alice:abcd\n", "# only a comment\n", "bad name:" "00000000000000000000000000000000" "00000000000000000000000000000000\n",
                         "x:zz00000000000000000000000000000000000000000000000000000000000000\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        f = fopen(path, "w");
        fputs(bad[i], f);
        fclose(f);
        ck_assert_int_eq(api_auth_load(path, &a, err, sizeof err), EQ_EINVAL);
        ck_assert_ptr_null(a);
    }
    unlink(path);
    ck_assert_int_eq(api_auth_load(path, &a, err, sizeof err), EQ_EIO);
    rmdir(dir);
}
END_TEST

int main(void) {
    Suite *s = suite_create("prod_units");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, counter_labels_and_exposition);
    tcase_add_test(tc, gauge_and_histogram);
    tcase_add_test(tc, series_limit_is_bounded);
    tcase_add_test(tc, concurrent_updates_are_not_lost);
    tcase_add_test(tc, job_transitions);
    tcase_add_test(tc, rate_parse);
    tcase_add_test(tc, token_bucket);
    tcase_add_test(tc, bucket_table_evicts_least_recent);
    tcase_add_test(tc, route_groups);
    tcase_add_test(tc, keys_file_and_check);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

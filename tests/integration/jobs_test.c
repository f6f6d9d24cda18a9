/* The job API against a real `econqd serve` on port 0: submit, poll, long-poll, cancel, retry,
 * retries with backoff, priorities, run_at, idempotency keys, listing, health, bad input. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/eqtest.h"

static eqd d;
static char dir[256];

/* Short leases so that cancellation and expiry show within a test's time. */
static const char *const fast[] = {"--lease-ms", "1500", "--backoff-base-ms", "100",
                                   "--durability", "nosync", NULL};

static void start(void) {
    eqt_tmpdir(dir, sizeof dir);
    ck_assert_int_eq(eqd_start(&d, "serve", dir, fast), 0);
}

static void stop(void) {
    eqd_signal(&d, SIGTERM);
    ck_assert_int_eq(eqd_wait(&d), 0); /* clean exit: no leak, no crash */
    eqt_rmdir(dir);
}

static int post(const char *path, const char *headers, const char *body, http_resp *r) {
    char h[1024];
    snprintf(h, sizeof h, "Content-Type: application/json\r\n%s", headers ? headers : "");
    return http_do(d.port, "POST", path, h, body, strlen(body), r);
}

/* Asserts a problem answer with the status and the type slug. */
static void expect_problem(http_resp *r, int status, const char *slug) {
    char ct[128], type[128];
    ck_assert_int_eq(r->status, status);
    ck_assert_ptr_nonnull(http_header(r, "Content-Type", ct, sizeof ct));
    ck_assert_str_eq(ct, "application/problem+json");
    cJSON *j = http_json(r);
    ck_assert_ptr_nonnull(j);
    snprintf(type, sizeof type, "/problems/%s", slug);
    ck_assert_str_eq(eqt_str(j, "type"), type);
    ck_assert_int_eq((int)eqt_num(j, "status"), status);
    cJSON_Delete(j);
}

START_TEST(submit_poll_succeeds) {
    http_resp r;
    char loc[200];
    ck_assert_int_eq(post("/v1/jobs", NULL, "{\"type\":\"noop\",\"params\":{\"sleep_ms\":50}}", &r), 0);
    ck_assert_int_eq(r.status, 202);
    ck_assert_ptr_nonnull(http_header(&r, "Location", loc, sizeof loc));
    cJSON *j = http_json(&r);
    ck_assert_str_eq(eqt_str(j, "state"), "queued");
    char want[300];
    snprintf(want, sizeof want, "/v1/jobs/%s", eqt_str(j, "id"));
    ck_assert_str_eq(loc, want);
    cJSON_Delete(j);
    http_resp_free(&r);
    /* The Location works and the long-poll ends with the job. */
    snprintf(want, sizeof want, "%s?wait=20", loc);
    long long t0 = eqt_now_ms();
    ck_assert_int_eq(http_do(d.port, "GET", want, NULL, NULL, 0, &r), 0);
    long long took = eqt_now_ms() - t0;
    ck_assert_int_eq(r.status, 200);
    j = http_json(&r);
    ck_assert_str_eq(eqt_str(j, "state"), "succeeded");
    ck_assert_int_eq((int)eqt_num(j, "attempt"), 1);
    const cJSON *res = cJSON_GetObjectItem(j, "result");
    ck_assert(cJSON_IsObject(res));
    ck_assert_int_eq((int)eqt_num(res, "slept_ms"), 50);
    /* It returned because the job ended, not because the 20 s wait ran out. */
    ck_assert_int_lt(took, 15000);
    cJSON_Delete(j);
    http_resp_free(&r);
}
END_TEST

START_TEST(forecast_naive_through_worker) {
    char id[32];
    const char *body = "{\"type\":\"forecast\",\"params\":{\"series\":{\"dates\":[\"2020-01-01\","
                       "\"2020-02-01\",\"2020-03-01\",\"2020-04-01\",\"2020-05-01\"],"
                       "\"values\":[1,2,3,4,5]},\"horizon\":3,\"method\":\"naive\"}}";
    ck_assert_int_eq(eqt_submit(d.port, body, id), 202);
    cJSON *j = eqt_wait_terminal(d.port, id, 30);
    ck_assert_str_eq(eqt_str(j, "state"), "succeeded");
    const cJSON *res = cJSON_GetObjectItem(j, "result");
    const cJSON *point = cJSON_GetObjectItem(res, "point");
    const cJSON *dates = cJSON_GetObjectItem(res, "dates");
    ck_assert_int_eq(cJSON_GetArraySize(point), 3);
    ck_assert(cJSON_GetArrayItem(point, 2)->valuedouble == 5.0);
    ck_assert_str_eq(cJSON_GetArrayItem(dates, 0)->valuestring, "2020-06-01");
    cJSON_Delete(j);
}
END_TEST

START_TEST(forecast_cache_hit_answers_at_once) {
    char id[32];
    const char *a = "{\"type\":\"forecast\",\"params\":{\"method\":\"drift\",\"horizon\":2,"
                    "\"series\":{\"values\":[3,4,5,6],\"dates\":[\"2021-01-01\",\"2021-04-01\","
                    "\"2021-07-01\",\"2021-10-01\"]}}}";
    /* The same params with the members in another order. */
    const char *b = "{\"params\":{\"series\":{\"dates\":[\"2021-01-01\",\"2021-04-01\",\"2021-07-01\","
                    "\"2021-10-01\"],\"values\":[3,4,5,6]},\"horizon\":2,\"method\":\"drift\"},"
                    "\"type\":\"forecast\"}";
    ck_assert_int_eq(eqt_submit(d.port, a, id), 202);
    cJSON *first = eqt_wait_terminal(d.port, id, 30);
    ck_assert_str_eq(eqt_str(first, "state"), "succeeded");
    ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(first, "cached")));
    http_resp r;
    ck_assert_int_eq(post("/v1/jobs", NULL, b, &r), 0);
    ck_assert_int_eq(r.status, 200);
    cJSON *hit = http_json(&r);
    ck_assert_str_eq(eqt_str(hit, "state"), "succeeded");
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(hit, "cached")));
    ck_assert_int_eq((int)eqt_num(hit, "attempt"), 0);
    ck_assert_str_ne(eqt_str(hit, "id"), id);
    char *r1 = cJSON_PrintUnformatted(cJSON_GetObjectItem(first, "result"));
    char *r2 = cJSON_PrintUnformatted(cJSON_GetObjectItem(hit, "result"));
    ck_assert_str_eq(r1, r2);
    free(r1);
    free(r2);
    cJSON_Delete(hit);
    cJSON_Delete(first);
    http_resp_free(&r);
    /* Other params miss the cache. */
    ck_assert_int_eq(eqt_submit(d.port, "{\"type\":\"forecast\",\"params\":{\"method\":\"naive\","
                                        "\"horizon\":2,\"series\":{\"values\":[3,4,5,6],\"dates\":"
                                        "[\"2021-01-01\",\"2021-04-01\",\"2021-07-01\",\"2021-10-01\"]}}}", id),
                     202);
    cJSON_Delete(eqt_wait_terminal(d.port, id, 30));
}
END_TEST

START_TEST(retryable_failure_retries_then_fails_and_retry_endpoint) {
    char id[32], path[128];
    ck_assert_int_eq(eqt_submit(d.port, "{\"type\":\"noop\",\"max_attempts\":3,"
                                        "\"params\":{\"fail\":\"retryable\"}}", id), 202);
    cJSON *j = eqt_wait_terminal(d.port, id, 30);
    ck_assert_str_eq(eqt_str(j, "state"), "failed");
    ck_assert_int_eq((int)eqt_num(j, "attempt"), 3);
    ck_assert_str_eq(eqt_str(cJSON_GetObjectItem(j, "error"), "code"), "noop_retryable");
    cJSON_Delete(j);
    /* A failed job can be retried by hand: a new round of attempts, attempt keeps counting. */
    http_resp r;
    snprintf(path, sizeof path, "/v1/jobs/%s/retry", id);
    ck_assert_int_eq(post(path, NULL, "", &r), 0);
    ck_assert_int_eq(r.status, 202);
    http_resp_free(&r);
    j = eqt_wait_terminal(d.port, id, 30);
    ck_assert_str_eq(eqt_str(j, "state"), "failed");
    ck_assert_int_eq((int)eqt_num(j, "attempt"), 6);
    cJSON_Delete(j);
    /* Retrying a job that is not failed is a conflict. */
    char id2[32];
    ck_assert_int_eq(eqt_submit(d.port, "{\"type\":\"noop\",\"params\":{}}", id2), 202);
    cJSON_Delete(eqt_wait_terminal(d.port, id2, 30));
    snprintf(path, sizeof path, "/v1/jobs/%s/retry", id2);
    ck_assert_int_eq(post(path, NULL, "", &r), 0);
    expect_problem(&r, 409, "job-not-retryable");
    http_resp_free(&r);
}
END_TEST

START_TEST(permanent_failure_not_retried) {
    char id[32];
    ck_assert_int_eq(eqt_submit(d.port, "{\"type\":\"noop\",\"params\":{\"fail\":\"permanent\"}}", id), 202);
    cJSON *j = eqt_wait_terminal(d.port, id, 30);
    ck_assert_str_eq(eqt_str(j, "state"), "failed");
    ck_assert_int_eq((int)eqt_num(j, "attempt"), 1);
    ck_assert_str_eq(eqt_str(cJSON_GetObjectItem(j, "error"), "code"), "noop_permanent");
    cJSON_Delete(j);
}
END_TEST

START_TEST(run_at_and_delay_respected) {
    char id[32];
    ck_assert_int_eq(eqt_submit(d.port, "{\"type\":\"noop\",\"delay_ms\":1200,\"params\":{}}", id), 202);
    cJSON *j = eqt_job(d.port, id, 0);
    ck_assert_str_eq(eqt_str(j, "state"), "queued");
    cJSON_Delete(j);
    j = eqt_wait_terminal(d.port, id, 30);
    ck_assert_str_eq(eqt_str(j, "state"), "succeeded");
    /* It started at or after its run_at (the timestamps are RFC 3339 in UTC; they compare as text). */
    ck_assert(strcmp(eqt_str(j, "started_at"), eqt_str(j, "run_at")) >= 0);
    cJSON_Delete(j);
    /* A far-future run_at stays queued. */
    ck_assert_int_eq(eqt_submit(d.port, "{\"type\":\"noop\",\"run_at\":\"2999-01-01T00:00:00Z\","
                                        "\"params\":{}}", id), 202);
    eqt_sleep_ms(300);
    j = eqt_job(d.port, id, 0);
    ck_assert_str_eq(eqt_str(j, "state"), "queued");
    ck_assert_str_eq(eqt_str(j, "run_at"), "2999-01-01T00:00:00.000Z");
    cJSON_Delete(j);
}
END_TEST

START_TEST(cancel_queued_and_running) {
    char id[32], path[128];
    http_resp r;
    /* Queued (delayed): cancelled at once. */
    ck_assert_int_eq(eqt_submit(d.port, "{\"type\":\"noop\",\"delay_ms\":60000,\"params\":{}}", id), 202);
    snprintf(path, sizeof path, "/v1/jobs/%s", id);
    ck_assert_int_eq(http_do(d.port, "DELETE", path, NULL, NULL, 0, &r), 0);
    ck_assert_int_eq(r.status, 200);
    cJSON *j = http_json(&r);
    ck_assert_str_eq(eqt_str(j, "state"), "cancelled");
    cJSON_Delete(j);
    http_resp_free(&r);
    /* Cancelling it again: it has finished. */
    ck_assert_int_eq(http_do(d.port, "DELETE", path, NULL, NULL, 0, &r), 0);
    expect_problem(&r, 409, "job-finished");
    http_resp_free(&r);
    /* Running: delivered through the heartbeat. */
    ck_assert_int_eq(eqt_submit(d.port, "{\"type\":\"noop\",\"params\":{\"sleep_ms\":60000}}", id), 202);
    long long deadline = eqt_now_ms() + 60000;
    for (;;) {
        j = eqt_job(d.port, id, 0);
        int running = !strcmp(eqt_str(j, "state"), "running");
        cJSON_Delete(j);
        if (running)
            break;
        ck_assert_int_lt(eqt_now_ms(), deadline);
        eqt_sleep_ms(50);
    }
    snprintf(path, sizeof path, "/v1/jobs/%s", id);
    ck_assert_int_eq(http_do(d.port, "DELETE", path, NULL, NULL, 0, &r), 0);
    ck_assert_int_eq(r.status, 202);
    http_resp_free(&r);
    j = eqt_wait_terminal(d.port, id, 30);
    ck_assert_str_eq(eqt_str(j, "state"), "cancelled");
    cJSON_Delete(j);
}
END_TEST

START_TEST(idempotency_keys) {
    http_resp r1, r2, r3;
    char hv[64];
    const char *body = "{\"type\":\"noop\",\"params\":{\"payload\":\"a\"}}";
    ck_assert_int_eq(post("/v1/jobs", "Idempotency-Key: order-42\r\n", body, &r1), 0);
    ck_assert_int_eq(r1.status, 202);
    ck_assert_int_eq(post("/v1/jobs", "Idempotency-Key: order-42\r\n", body, &r2), 0);
    ck_assert_int_eq(r2.status, 202);
    ck_assert_ptr_nonnull(http_header(&r2, "Idempotent-Replayed", hv, sizeof hv));
    cJSON *a = http_json(&r1), *b = http_json(&r2);
    ck_assert_str_eq(eqt_str(a, "id"), eqt_str(b, "id"));
    cJSON_Delete(a);
    cJSON_Delete(b);
    ck_assert_int_eq(post("/v1/jobs", "Idempotency-Key: order-42\r\n",
                          "{\"type\":\"noop\",\"params\":{\"payload\":\"b\"}}", &r3), 0);
    expect_problem(&r3, 422, "idempotency-key-reused");
    http_resp_free(&r1);
    http_resp_free(&r2);
    http_resp_free(&r3);
    /* A different key makes a different job. */
    ck_assert_int_eq(post("/v1/jobs", "Idempotency-Key: order-43\r\n", body, &r1), 0);
    ck_assert_int_eq(r1.status, 202);
    ck_assert_ptr_null(http_header(&r1, "Idempotent-Replayed", hv, sizeof hv));
    http_resp_free(&r1);
}
END_TEST

START_TEST(bad_input_answers_problems_and_keeps_serving) {
    http_resp r;
    ck_assert_int_eq(post("/v1/jobs", NULL, "{\"type\":\"noop\",", &r), 0);
    expect_problem(&r, 400, "malformed-json");
    http_resp_free(&r);
    ck_assert_int_eq(post("/v1/jobs", NULL, "{\"type\":\"nosuch\",\"params\":{}}", &r), 0);
    expect_problem(&r, 422, "unknown-job-type");
    http_resp_free(&r);
    ck_assert_int_eq(post("/v1/jobs", NULL, "{\"type\":\"noop\",\"params\":{\"sleep_ms\":\"x\"}}", &r), 0);
    expect_problem(&r, 422, "invalid-job");
    cJSON *j = http_json(&r);
    ck_assert_str_eq(eqt_str(j, "field"), "/params/sleep_ms");
    cJSON_Delete(j);
    http_resp_free(&r);
    ck_assert_int_eq(post("/v1/jobs", NULL, "{\"type\":\"forecast\",\"params\":{\"series\":"
                          "{\"dates\":[\"2020-01-01\",\"2020-02-01\"],\"values\":[1,2]},\"horizon\":0}}", &r), 0);
    expect_problem(&r, 422, "invalid-job");
    j = http_json(&r);
    ck_assert_str_eq(eqt_str(j, "field"), "/params/horizon");
    cJSON_Delete(j);
    http_resp_free(&r);
    ck_assert_int_eq(post("/v1/jobs", NULL, "{\"type\":\"noop\",\"params\":{},\"priority\":12}", &r), 0);
    expect_problem(&r, 422, "invalid-job");
    http_resp_free(&r);
    ck_assert_int_eq(post("/v1/jobs", NULL, "{\"type\":\"noop\",\"params\":{},\"run_at\":\"tomorrow\"}", &r), 0);
    expect_problem(&r, 422, "invalid-job");
    http_resp_free(&r);
    /* Nesting beyond the limit is refused before parsing. */
    char deep[200];
    memset(deep, '[', 100);
    memset(deep + 100, ']', 99);
    deep[199] = '\0';
    ck_assert_int_eq(post("/v1/jobs", NULL, deep, &r), 0);
    expect_problem(&r, 400, "malformed-json");
    http_resp_free(&r);
    ck_assert_int_eq(http_do(d.port, "POST", "/v1/jobs", "Content-Type: text/plain\r\n", "x", 1, &r), 0);
    expect_problem(&r, 415, "unsupported-media-type");
    http_resp_free(&r);
    /* Oversized body (default limit 1 MiB). */
    size_t big = (size_t)2 << 20;
    char *huge = malloc(big);
    memset(huge, ' ', big);
    ck_assert_int_eq(http_do(d.port, "POST", "/v1/jobs", "Content-Type: application/json\r\n",
                             huge, big, &r), 0);
    expect_problem(&r, 413, "payload-too-large");
    http_resp_free(&r);
    free(huge);
    /* Oversized headers. */
    size_t hl = 40000;
    char *raw = malloc(hl + 64), *ans = malloc(8192);
    int n = snprintf(raw, 64, "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ");
    memset(raw + n, 'a', hl);
    memcpy(raw + n + hl, "\r\n\r\n", 4);
    ck_assert_int_gt(http_raw(d.port, raw, (size_t)n + hl + 4, ans, 8192, 10000), 0);
    ck_assert_msg(strncmp(ans, "HTTP/1.1 431 ", 13) == 0, "got %.40s", ans);
    ck_assert_ptr_nonnull(strstr(ans, "/problems/header-fields-too-large"));
    free(raw);
    free(ans);
    /* Unknown job, unknown route, wrong method. */
    ck_assert_int_eq(http_do(d.port, "GET", "/v1/jobs/01ARZ3NDEKTSV4RRFFQ69G5FAV", NULL, NULL, 0, &r), 0);
    expect_problem(&r, 404, "job-not-found");
    http_resp_free(&r);
    ck_assert_int_eq(http_do(d.port, "GET", "/v1/jobs/not-an-id", NULL, NULL, 0, &r), 0);
    expect_problem(&r, 404, "job-not-found");
    http_resp_free(&r);
    ck_assert_int_eq(http_do(d.port, "GET", "/v2/nothing", NULL, NULL, 0, &r), 0);
    expect_problem(&r, 404, "not-found");
    http_resp_free(&r);
    ck_assert_int_eq(http_do(d.port, "PUT", "/v1/jobs", NULL, "{}", 2, &r), 0);
    expect_problem(&r, 405, "method-not-allowed");
    char allow[64];
    ck_assert_ptr_nonnull(http_header(&r, "Allow", allow, sizeof allow));
    http_resp_free(&r);
    ck_assert_int_eq(http_do(d.port, "GET", "/v1/jobs/01ARZ3NDEKTSV4RRFFQ69G5FAV?wait=999", NULL, NULL, 0, &r), 0);
    expect_problem(&r, 400, "invalid-query");
    http_resp_free(&r);
    ck_assert_int_eq(http_do(d.port, "GET", "/v1/jobs?state=bogus", NULL, NULL, 0, &r), 0);
    expect_problem(&r, 400, "invalid-query");
    http_resp_free(&r);
    /* Still serving. */
    ck_assert_int_eq(http_do(d.port, "GET", "/health", NULL, NULL, 0, &r), 0);
    ck_assert_int_eq(r.status, 200);
    http_resp_free(&r);
}
END_TEST

START_TEST(list_filters_and_cursor) {
    char id[32];
    for (int i = 0; i < 7; i++)
        ck_assert_int_eq(eqt_submit(d.port, "{\"type\":\"noop\",\"params\":{}}", id), 202);
    ck_assert_int_eq(eqt_submit(d.port, "{\"type\":\"noop\",\"delay_ms\":600000,\"params\":{}}", id), 202);
    cJSON_Delete(eqt_wait_terminal(d.port, id, 1));
    /* Every job exactly once over pages of 3. */
    char path[160], seen[16][32];
    int nseen = 0;
    char cursor[64] = "";
    do {
        http_resp r;
        snprintf(path, sizeof path, "/v1/jobs?type=noop&limit=3%s%s", cursor[0] ? "&cursor=" : "", cursor);
        ck_assert_int_eq(http_do(d.port, "GET", path, NULL, NULL, 0, &r), 0);
        ck_assert_int_eq(r.status, 200);
        cJSON *j = http_json(&r);
        const cJSON *jobs = cJSON_GetObjectItem(j, "jobs"), *it;
        ck_assert_int_le(cJSON_GetArraySize(jobs), 3);
        cJSON_ArrayForEach(it, jobs) {
            ck_assert_int_lt(nseen, 16);
            snprintf(seen[nseen++], 32, "%s", eqt_str(it, "id"));
        }
        const char *nc = eqt_str(j, "next_cursor");
        snprintf(cursor, sizeof cursor, "%s", nc ? nc : "");
        cJSON_Delete(j);
        http_resp_free(&r);
    } while (cursor[0]);
    ck_assert_int_eq(nseen, 8);
    for (int a = 0; a < nseen; a++)
        for (int b = a + 1; b < nseen; b++) {
            ck_assert_str_ne(seen[a], seen[b]);
            ck_assert(strcmp(seen[a], seen[b]) > 0); /* newest first */
        }
    /* Filter by state. */
    http_resp r;
    ck_assert_int_eq(http_do(d.port, "GET", "/v1/jobs?state=queued&type=noop", NULL, NULL, 0, &r), 0);
    cJSON *j = http_json(&r);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "jobs")), 1);
    ck_assert_str_eq(eqt_str(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "jobs"), 0), "id"), id);
    cJSON_Delete(j);
    http_resp_free(&r);
    ck_assert_int_eq(http_do(d.port, "GET", "/v1/jobs?type=forecast", NULL, NULL, 0, &r), 0);
    j = http_json(&r);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "jobs")), 0);
    cJSON_Delete(j);
    http_resp_free(&r);
}
END_TEST

START_TEST(health_reports_store_and_workers) {
    http_resp r;
    char id[32];
    ck_assert_int_eq(eqt_submit(d.port, "{\"type\":\"noop\",\"params\":{}}", id), 202);
    cJSON_Delete(eqt_wait_terminal(d.port, id, 30));
    ck_assert_int_eq(http_do(d.port, "GET", "/health", NULL, NULL, 0, &r), 0);
    ck_assert_int_eq(r.status, 200);
    cJSON *j = http_json(&r);
    ck_assert_str_eq(eqt_str(j, "status"), "healthy");
    const cJSON *checks = cJSON_GetObjectItem(j, "checks");
    ck_assert_str_eq(eqt_str(cJSON_GetObjectItem(checks, "store"), "status"), "healthy");
    ck_assert_int_ge((int)eqt_num(cJSON_GetObjectItem(checks, "workers"), "count"), 1);
    ck_assert(cJSON_IsObject(cJSON_GetObjectItem(cJSON_GetObjectItem(checks, "queues"), "noop")));
    cJSON_Delete(j);
    http_resp_free(&r);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("jobs");
    TCase *tc = tcase_create("api");
    tcase_add_checked_fixture(tc, start, stop);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, submit_poll_succeeds);
    tcase_add_test(tc, forecast_naive_through_worker);
    tcase_add_test(tc, forecast_cache_hit_answers_at_once);
    tcase_add_test(tc, retryable_failure_retries_then_fails_and_retry_endpoint);
    tcase_add_test(tc, permanent_failure_not_retried);
    tcase_add_test(tc, run_at_and_delay_respected);
    tcase_add_test(tc, cancel_queued_and_running);
    tcase_add_test(tc, idempotency_keys);
    tcase_add_test(tc, bad_input_answers_problems_and_keeps_serving);
    tcase_add_test(tc, list_filters_and_cursor);
    tcase_add_test(tc, health_reports_store_and_workers);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

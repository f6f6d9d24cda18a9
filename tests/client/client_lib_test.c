/* libeconq against a real `econqd serve` on port 0: submit, get, wait, cancel, retry, list,
 * health, idempotency keys, problem details, routes the server does not serve yet, an
 * unreachable server; and webhook verification against the Standard Webhooks reference vector. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/econq.h"
#include "tests/support/eqtest.h"

static eqd d;
static char dir[256];
static char url[64];

static const char *const fast[] = {"--backoff-base-ms", "100", "--durability", "nosync", NULL};

static void start(void) {
    eqt_tmpdir(dir, sizeof dir);
    ck_assert_int_eq(eqd_start(&d, "serve", dir, fast), 0);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", d.port);
}

static void stop(void) {
    eqd_signal(&d, SIGTERM);
    /* econqd's own clean exit is asserted by tests/integration; here a failing exit is only
     * reported, so that these client tests judge the client. */
    int st = eqd_wait(&d);
    if (st != 0) fprintf(stderr, "note: econqd exited with status %d\n", st);
    eqt_rmdir(dir);
}

static eq_client *client(void) {
    eq_client *c = econq_new(url, NULL);
    ck_assert_ptr_nonnull(c);
    return c;
}

/* Asserts the last call failed with an answer of `status` and type "/problems/<slug>". */
static void expect_problem(eq_client *c, int status, const char *slug) {
    char type[160];
    const eq_problem *p = econq_problem(c);
    snprintf(type, sizeof type, "/problems/%s", slug);
    ck_assert_int_eq(p->status, status);
    ck_assert_str_eq(p->type, type);
    ck_assert_str_ne(p->title, "");
}

START_TEST(new_refuses_bad_urls) {
    ck_assert_ptr_null(econq_new(NULL, NULL));
    ck_assert_ptr_null(econq_new("", NULL));
    ck_assert_ptr_null(econq_new("ftp://127.0.0.1/", NULL));
    eq_client *c = econq_new("http://127.0.0.1:1", "key");
    ck_assert_ptr_nonnull(c);
    econq_free(c);
    econq_free(NULL);
}
END_TEST

START_TEST(health_answers_a_report) {
    eq_client *c = client();
    char *json = NULL;
    ck_assert_int_eq(econq_health(c, &json), EQ_OK);
    cJSON *o = cJSON_Parse(json);
    const char *st = eqt_str(o, "status");
    ck_assert_ptr_nonnull(st);
    ck_assert(strcmp(st, "healthy") == 0 || strcmp(st, "degraded") == 0);
    ck_assert(cJSON_IsObject(cJSON_GetObjectItem(o, "checks")));
    cJSON_Delete(o);
    free(json);
    econq_free(c);
}
END_TEST

static void count_cb(const eq_job *j, void *ctx) {
    ck_assert_str_ne(j->id, "");
    (*(int *)ctx)++;
}

START_TEST(submit_get_wait_succeeds) {
    eq_client *c = client();
    eq_job j, g, w;
    ck_assert_int_eq(econq_submit(c, "noop", "{\"sleep_ms\":50,\"payload\":{\"x\":7}}", NULL, &j),
                     EQ_OK);
    ck_assert_int_eq(strlen(j.id), 26);
    ck_assert_str_eq(j.type, "noop");
    ck_assert(j.state == EQ_JOB_QUEUED || j.state == EQ_JOB_RUNNING || j.state == EQ_JOB_SUCCEEDED);
    ck_assert_int_eq(j.replayed, 0);
    ck_assert_int_eq(econq_get(c, j.id, &g), EQ_OK);
    ck_assert_str_eq(g.id, j.id);
    int calls = 0;
    ck_assert_int_eq(econq_wait(c, j.id, 20000, count_cb, &calls, &w), EQ_OK);
    ck_assert_int_ge(calls, 1);
    ck_assert_int_eq(w.state, EQ_JOB_SUCCEEDED);
    ck_assert_str_eq(econq_job_state_name(w.state), "succeeded");
    cJSON *o = cJSON_Parse(w.json);
    const cJSON *res = cJSON_GetObjectItem(o, "result");
    ck_assert(cJSON_IsObject(res));
    /* noop echoes its params back */
    const cJSON *echo = cJSON_GetObjectItem(res, "echo");
    const cJSON *payload = cJSON_GetObjectItem(echo, "payload");
    ck_assert_int_eq((int)eqt_num(payload, "x"), 7);
    cJSON_Delete(o);
    econq_job_fini(&j);
    econq_job_fini(&g);
    econq_job_fini(&w);
    econq_free(c);
}
END_TEST

START_TEST(forecast_inline_series_succeeds) {
    eq_client *c = client();
    eq_job j, w;
    const char *params = "{\"series\":{\"dates\":[\"2024-01-01\",\"2024-02-01\",\"2024-03-01\","
                         "\"2024-04-01\"],\"values\":[101.2,102.0,103.1,104.3]},"
                         "\"horizon\":3,\"method\":\"drift\"}";
    eq_submit_opts o = ECONQ_SUBMIT_OPTS_INIT;
    o.priority = 0;
    ck_assert_int_eq(econq_submit(c, "forecast", params, &o, &j), EQ_OK);
    ck_assert_int_eq(j.priority, 0);
    ck_assert_int_eq(econq_wait(c, j.id, 30000, NULL, NULL, &w), EQ_OK);
    ck_assert_int_eq(w.state, EQ_JOB_SUCCEEDED);
    ck_assert_ptr_nonnull(strstr(w.json, "\"result\""));
    econq_job_fini(&j);
    econq_job_fini(&w);
    econq_free(c);
}
END_TEST

START_TEST(failed_job_then_retry) {
    eq_client *c = client();
    eq_job j, w, r, w2;
    eq_submit_opts o = ECONQ_SUBMIT_OPTS_INIT;
    o.max_attempts = 1;
    ck_assert_int_eq(econq_submit(c, "noop", "{\"fail\":\"permanent\"}", &o, &j), EQ_OK);
    ck_assert_int_eq(econq_wait(c, j.id, 20000, NULL, NULL, &w), EQ_OK);
    ck_assert_int_eq(w.state, EQ_JOB_FAILED);
    ck_assert_str_ne(w.error_code, "");
    ck_assert_int_eq(econq_retry(c, j.id, &r), EQ_OK);
    ck_assert_str_eq(r.id, j.id);
    ck_assert_int_eq(econq_wait(c, j.id, 20000, NULL, NULL, &w2), EQ_OK);
    ck_assert_int_eq(w2.state, EQ_JOB_FAILED);
    ck_assert_int_gt(w2.attempt, w.attempt);
    /* A job that is not failed or cancelled cannot be retried. */
    eq_job ok, okw;
    ck_assert_int_eq(econq_submit(c, "noop", NULL, NULL, &ok), EQ_OK);
    ck_assert_int_eq(econq_wait(c, ok.id, 20000, NULL, NULL, &okw), EQ_OK);
    ck_assert_int_eq(econq_retry(c, ok.id, NULL), EQ_ECONFLICT);
    expect_problem(c, 409, "job-not-retryable");
    econq_job_fini(&ok);
    econq_job_fini(&okw);
    econq_job_fini(&j);
    econq_job_fini(&w);
    econq_job_fini(&r);
    econq_job_fini(&w2);
    econq_free(c);
}
END_TEST

START_TEST(cancel_queued_then_finished_conflicts) {
    eq_client *c = client();
    eq_job j, x, w;
    eq_submit_opts o = ECONQ_SUBMIT_OPTS_INIT;
    o.delay_ms = 600000; /* held in the queue: cancelled at once */
    ck_assert_int_eq(econq_submit(c, "noop", NULL, &o, &j), EQ_OK);
    ck_assert_int_eq(econq_cancel(c, j.id, &x), EQ_OK);
    ck_assert_int_eq(x.state, EQ_JOB_CANCELLED);
    ck_assert_int_eq(econq_wait(c, j.id, 5000, NULL, NULL, &w), EQ_OK);
    ck_assert_int_eq(w.state, EQ_JOB_CANCELLED);
    ck_assert_int_eq(econq_cancel(c, j.id, NULL), EQ_ECONFLICT);
    expect_problem(c, 409, "job-finished");
    econq_job_fini(&j);
    econq_job_fini(&x);
    econq_job_fini(&w);
    econq_free(c);
}
END_TEST

START_TEST(idempotency_key_replays_and_refuses_reuse) {
    eq_client *c = client();
    char key[64];
    snprintf(key, sizeof key, "client-test-%d", (int)getpid());
    eq_submit_opts o = ECONQ_SUBMIT_OPTS_INIT;
    o.idempotency_key = key;
    eq_job a, b, e;
    ck_assert_int_eq(econq_submit(c, "noop", "{\"sleep_ms\":1}", &o, &a), EQ_OK);
    ck_assert_int_eq(a.replayed, 0);
    ck_assert_int_eq(econq_submit(c, "noop", "{\"sleep_ms\":1}", &o, &b), EQ_OK);
    ck_assert_int_eq(b.replayed, 1);
    ck_assert_str_eq(a.id, b.id);
    ck_assert_int_eq(econq_submit(c, "noop", "{\"sleep_ms\":2}", &o, &e), EQ_EINVAL);
    expect_problem(c, 422, "idempotency-key-reused");
    ck_assert_ptr_null(e.json);
    econq_job_fini(&a);
    econq_job_fini(&b);
    econq_free(c);
}
END_TEST

START_TEST(bad_submits_carry_problem_details) {
    eq_client *c = client();
    eq_job j;
    ck_assert_int_eq(econq_submit(c, "forecast", "{\"horizon\":0}", NULL, &j), EQ_EINVAL);
    ck_assert_int_eq(econq_problem(c)->status, 422);
    ck_assert_str_eq(econq_problem(c)->type, "/problems/invalid-job");
    ck_assert_str_ne(econq_problem(c)->detail, "");
    ck_assert_int_eq(econq_problem(c)->field[0], '/');
    ck_assert_int_eq(econq_submit(c, "no-such-type", NULL, NULL, &j), EQ_EINVAL);
    ck_assert_int_ge(econq_problem(c)->status, 400);
    ck_assert_str_ne(econq_problem(c)->type, "");
    /* Refused before sending: status 0 and a client-side type. */
    ck_assert_int_eq(econq_submit(c, "noop", "[1,2", NULL, &j), EQ_EINVAL);
    ck_assert_int_eq(econq_problem(c)->status, 0);
    ck_assert_str_eq(econq_problem(c)->type, "/problems/client-invalid-json");
    ck_assert_int_eq(econq_get(c, "01ARZ3NDEKTSV4RRFFQ69G5FAV", &j), EQ_ENOTFOUND);
    expect_problem(c, 404, "job-not-found");
    /* The problem is reset by the next successful call. */
    char *h = NULL;
    ck_assert_int_eq(econq_health(c, &h), EQ_OK);
    ck_assert_int_eq(econq_problem(c)->status, 0);
    ck_assert_str_eq(econq_problem(c)->type, "");
    free(h);
    econq_free(c);
}
END_TEST

START_TEST(list_pages_and_filters) {
    eq_client *c = client();
    char type_ids[3][ECONQ_ID_SIZE];
    for (int i = 0; i < 3; i++) {
        eq_job j;
        ck_assert_int_eq(econq_submit(c, "noop", NULL, NULL, &j), EQ_OK);
        snprintf(type_ids[i], sizeof type_ids[i], "%s", j.id);
        econq_job_fini(&j);
    }
    eq_list_opts o = {.type = "noop", .limit = 2};
    eq_job_list p1, p2;
    ck_assert_int_eq(econq_list(c, &o, &p1), EQ_OK);
    ck_assert_int_eq(p1.n, 2);
    ck_assert_str_ne(p1.next_cursor, "");
    /* Newest first: the first page holds two of the three just submitted (ids made in the
     * same millisecond need not sort in submission order). */
    for (size_t k = 0; k < p1.n; k++) {
        int mine = 0;
        for (int i = 0; i < 3; i++)
            mine |= strcmp(p1.jobs[k].id, type_ids[i]) == 0;
        ck_assert_msg(mine, "%s is not one of the newest jobs", p1.jobs[k].id);
    }
    o.cursor = p1.next_cursor;
    ck_assert_int_eq(econq_list(c, &o, &p2), EQ_OK);
    ck_assert_int_ge(p2.n, 1);
    ck_assert_str_ne(p2.jobs[0].id, p1.jobs[0].id);
    ck_assert_str_ne(p2.jobs[0].id, p1.jobs[1].id);
    econq_job_list_fini(&p1);
    econq_job_list_fini(&p2);
    eq_list_opts bad = {.state = "sleeping"};
    ck_assert_int_eq(econq_list(c, &bad, &p1), EQ_EINVAL);
    expect_problem(c, 400, "invalid-query");
    econq_free(c);
}
END_TEST

/* Datasets, batches, schedules and collections: until their routes land the server answers
 * 404; the client reports it as EQ_ENOTFOUND with the problem. Once served, they succeed. */
static void served_or_404(eq_client *c, eq_err err) {
    if (err == EQ_OK) return;
    ck_assert_int_eq(err, EQ_ENOTFOUND);
    ck_assert_int_eq(econq_problem(c)->status, 404);
    ck_assert_str_ne(econq_problem(c)->type, "");
}

START_TEST(unserved_routes_report_404) {
    eq_client *c = client();
    char *json = NULL;
    char path[512], id[ECONQ_ID_SIZE];
    served_or_404(c, econq_datasets(c, &json));
    free(json), json = NULL;
    snprintf(path, sizeof path, "%s/tests/fixtures/data/lynx_annual.csv",
             getenv("ECONQ_SOURCE_DIR"));
    served_or_404(c, econq_dataset_upload_file(c, path, "lynx", NULL, &json, id));
    free(json), json = NULL;
    served_or_404(c, econq_schedules(c, &json));
    free(json), json = NULL;
    served_or_404(c, econq_collections(c, &json));
    free(json), json = NULL;
    eq_batch_status st;
    eq_err err = econq_batch_get(c, "01ARZ3NDEKTSV4RRFFQ69G5FAV", &st);
    ck_assert_int_eq(err, EQ_ENOTFOUND);
    ck_assert_int_eq(econq_problem(c)->status, 404);
    econq_batch_status_fini(&st);
    /* A missing file is a client-side error. */
    ck_assert_int_eq(econq_dataset_upload_file(c, "/nonexistent/x.csv", NULL, NULL, NULL, NULL),
                     EQ_EIO);
    ck_assert_int_eq(econq_problem(c)->status, 0);
    econq_free(c);
}
END_TEST

START_TEST(keep_alive_connection_is_reused) {
    eq_client *c = client();
    eq_job j;
    ck_assert_int_eq(econq_submit(c, "noop", NULL, NULL, &j), EQ_OK);
    for (int i = 0; i < 20; i++) {
        eq_job g;
        ck_assert_int_eq(econq_get(c, j.id, &g), EQ_OK);
        econq_job_fini(&g);
    }
    ck_assert_int_eq(econq_get(c, "01ARZ3NDEKTSV4RRFFQ69G5FAV", NULL), EQ_ENOTFOUND);
    ck_assert_int_eq(econq_connections_opened(c), 1); /* 22 requests, one connection */
    econq_job_fini(&j);
    econq_free(c);
}
END_TEST

START_TEST(raw_request_returns_body_and_status) {
    eq_client *c = client();
    int status = 0;
    char *body = NULL;
    ck_assert_int_eq(econq_request(c, "GET", "/openapi.json", NULL, NULL, 0, &status, &body),
                     EQ_OK);
    ck_assert_int_eq(status, 200);
    cJSON *o = cJSON_Parse(body);
    ck_assert_ptr_nonnull(cJSON_GetObjectItem(o, "paths"));
    cJSON_Delete(o);
    free(body);
    econq_free(c);
}
END_TEST

START_TEST(unreachable_server_is_a_network_error) {
    char dead[64];
    snprintf(dead, sizeof dead, "http://127.0.0.1:%d", eqt_free_port());
    eq_client *c = econq_new(dead, NULL);
    char *json = NULL;
    ck_assert_int_eq(econq_health(c, &json), EQ_ENET);
    ck_assert_ptr_null(json);
    ck_assert_int_eq(econq_problem(c)->status, 0);
    ck_assert_str_eq(econq_problem(c)->type, "/problems/client-unreachable");
    /* wait retries with backoff until its deadline, then says why it gave up */
    eq_job w;
    ck_assert_int_eq(econq_wait(c, "01ARZ3NDEKTSV4RRFFQ69G5FAV", 1200, NULL, NULL, &w), EQ_ENET);
    econq_job_fini(&w);
    econq_free(c);
}
END_TEST

/* The Standard Webhooks specification's reference vector. */
#define WH_SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define WH_ID "msg_p5jXN8AQM9LWM0D4loKWxJek"
#define WH_TS "1614265330"
#define WH_BODY "{\"test\": 2432232314}"
#define WH_SIG "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

START_TEST(webhook_reference_vector_verifies) {
    const char *secrets[] = {WH_SECRET};
    const char *why = NULL;
    ck_assert_int_eq(econq_webhook_verify(secrets, 1, WH_ID, WH_TS, WH_SIG, WH_BODY,
                                          strlen(WH_BODY), 1614265330, 0, &why),
                     EQ_OK);
    ck_assert_str_eq(why, "verified");
    /* One of several signatures (a rotation) matching is enough. */
    ck_assert_int_eq(econq_webhook_verify(secrets, 1, WH_ID, WH_TS,
                                          "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= " WH_SIG,
                                          WH_BODY, strlen(WH_BODY), 1614265330, 0, NULL),
                     EQ_OK);
    /* ... and so is one of several secrets. */
    const char *two[] = {"whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAA", WH_SECRET};
    ck_assert_int_eq(econq_webhook_verify(two, 2, WH_ID, WH_TS, WH_SIG, WH_BODY, strlen(WH_BODY),
                                          1614265330 + 60, 0, NULL),
                     EQ_OK);
}
END_TEST

START_TEST(webhook_tampering_and_stale_timestamps_fail) {
    const char *secrets[] = {WH_SECRET};
    const char *tampered = "{\"test\": 2432232315}";
    const char *why = NULL;
    ck_assert_int_eq(econq_webhook_verify(secrets, 1, WH_ID, WH_TS, WH_SIG, tampered,
                                          strlen(tampered), 1614265330, 0, &why),
                     EQ_EPROTO);
    ck_assert_str_ne(why, "verified");
    ck_assert_int_eq(econq_webhook_verify(secrets, 1, "msg_other", WH_TS, WH_SIG, WH_BODY,
                                          strlen(WH_BODY), 1614265330, 0, NULL),
                     EQ_EPROTO);
    /* Outside the default tolerance (300 s) either way. */
    ck_assert_int_eq(econq_webhook_verify(secrets, 1, WH_ID, WH_TS, WH_SIG, WH_BODY,
                                          strlen(WH_BODY), 1614265330 + 301, 0, NULL),
                     EQ_ESTALE);
    ck_assert_int_eq(econq_webhook_verify(secrets, 1, WH_ID, WH_TS, WH_SIG, WH_BODY,
                                          strlen(WH_BODY), 1614265330 - 301, 0, NULL),
                     EQ_ESTALE);
    /* A wider tolerance accepts the same delivery. */
    ck_assert_int_eq(econq_webhook_verify(secrets, 1, WH_ID, WH_TS, WH_SIG, WH_BODY,
                                          strlen(WH_BODY), 1614265330 + 301, 600, NULL),
                     EQ_OK);
    const char *bad[] = {"whsec_!!!"};
    ck_assert_int_eq(econq_webhook_verify(bad, 1, WH_ID, WH_TS, WH_SIG, WH_BODY, strlen(WH_BODY),
                                          1614265330, 0, NULL),
                     EQ_EINVAL);
    ck_assert_int_eq(econq_webhook_verify(secrets, 1, WH_ID, NULL, WH_SIG, WH_BODY, strlen(WH_BODY),
                                          1614265330, 0, NULL),
                     EQ_EPROTO);
}
END_TEST

int main(void) {
    Suite *s = suite_create("client_lib");
    TCase *tc = tcase_create("against_econqd");
    tcase_set_timeout(tc, 60);
    tcase_add_unchecked_fixture(tc, start, stop);
    tcase_add_test(tc, health_answers_a_report);
    tcase_add_test(tc, submit_get_wait_succeeds);
    tcase_add_test(tc, forecast_inline_series_succeeds);
    tcase_add_test(tc, failed_job_then_retry);
    tcase_add_test(tc, cancel_queued_then_finished_conflicts);
    tcase_add_test(tc, idempotency_key_replays_and_refuses_reuse);
    tcase_add_test(tc, bad_submits_carry_problem_details);
    tcase_add_test(tc, list_pages_and_filters);
    tcase_add_test(tc, unserved_routes_report_404);
    tcase_add_test(tc, raw_request_returns_body_and_status);
    tcase_add_test(tc, keep_alive_connection_is_reused);
    suite_add_tcase(s, tc);
    TCase *tl = tcase_create("local");
    tcase_set_timeout(tl, 30);
    tcase_add_test(tl, new_refuses_bad_urls);
    tcase_add_test(tl, unreachable_server_is_a_network_error);
    tcase_add_test(tl, webhook_reference_vector_verifies);
    tcase_add_test(tl, webhook_tampering_and_stale_timestamps_fail);
    suite_add_tcase(s, tl);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* A batch's webhook end to end: econqd delivers batch.completed, signed, to
 * tests/fakes/webhook_receiver.py once every job of the batch has finished, and again after a
 * retried job finishes a second time (the retry reopens the batch). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/datasets/ds_util.h"
#include "tests/webhook/wh_receiver_proc.h"

#define SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

static wh_rx rx;

static void start(void) {
    static const char *const args[] = {
        "--webhook-schedule", "0,1,1,1", "--webhook-secret", SECRET, "--webhook-allow",
        "127.0.0.0/8",        NULL};
    wh_rx_start(&rx, SECRET);
    ds_start_with(args);
}

static void stop(void) {
    ds_stop();
    wh_rx_stop(&rx);
}

/* The batch.completed events the receiver got for batch `id`, verified and answered 200;
 * copies the data of the last one into *last (caller deletes) when not NULL. */
static int completed_events(const char *id, cJSON **last) {
    cJSON *all = wh_rx_deliveries(&rx), *it;
    int n = 0;
    if (last) *last = NULL;
    cJSON_ArrayForEach(it, all) {
        cJSON *body = cJSON_Parse(eqt_str(it, "body") ? eqt_str(it, "body") : "");
        const cJSON *data = cJSON_GetObjectItem(body, "data");
        if (body && eqt_str(body, "type") &&
            strcmp(eqt_str(body, "type"), "batch.completed") == 0 && eqt_str(data, "id") &&
            strcmp(eqt_str(data, "id"), id) == 0) {
            ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(it, "verified")));
            n++;
            if (last) {
                cJSON_Delete(*last);
                *last = cJSON_Duplicate(data, 1);
            }
        }
        cJSON_Delete(body);
    }
    cJSON_Delete(all);
    return n;
}

/* Waits until the receiver has `want` batch.completed events for the batch. */
static cJSON *wait_events(const char *id, int want) {
    long long deadline = eqt_now_ms() + 30000;
    cJSON *last = NULL;
    int n;
    while ((n = completed_events(id, &last)) < want && eqt_now_ms() < deadline) {
        cJSON_Delete(last);
        eqt_sleep_ms(100);
    }
    ck_assert_int_eq(n, want);
    return last;
}

static cJSON *batch(const char *id) {
    char path[128];
    snprintf(path, sizeof path, "/v1/batches/%s", id);
    return ds_get_json(path, 200);
}

static void submit(const char *jobs, char *id, cJSON **ans) {
    char body[2048];
    snprintf(body, sizeof body,
             "{\"jobs\":[%s],\"webhook\":{\"url\":\"http://127.0.0.1:%d/hook\"}}", jobs, rx.port);
    http_resp r;
    ck_assert_int_eq(ds_post_json("/v1/batches", body, &r), 0);
    ck_assert_msg(r.status == 202, "%d %s", r.status, r.body);
    *ans = http_json(&r);
    snprintf(id, 27, "%s", eqt_str(*ans, "id"));
    http_resp_free(&r);
}

START_TEST(batch_completed_delivered) {
    char id[32];
    cJSON *ans;
    submit(
        "{\"type\":\"noop\",\"params\":{}},{\"type\":\"noop\",\"params\":{\"fail\":\"permanent\"}},"
        "{\"type\":\"noop\",\"params\":{}}",
        id, &ans);
    cJSON *data = wait_events(id, 1);
    ck_assert_int_eq((int)eqt_num(data, "total"), 3);
    ck_assert_int_eq((int)eqt_num(data, "finished"), 3);
    char want[128];
    snprintf(want, sizeof want, "/v1/batches/%s/results", id);
    ck_assert_str_eq(eqt_str(data, "results"), want);
    cJSON *st = batch(id);
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(st, "done")));
    ck_assert_str_eq(eqt_str(data, "done_at"), eqt_str(st, "done_at"));
    cJSON_Delete(st);
    /* Exactly once: nothing more arrives for it. */
    eqt_sleep_ms(1500);
    ck_assert_int_eq(completed_events(id, NULL), 1);
    cJSON_Delete(data);
    cJSON_Delete(ans);
}
END_TEST

START_TEST(retry_reopens_the_batch) {
    char id[32], path[128];
    cJSON *ans;
    submit("{\"type\":\"noop\",\"params\":{}},"
           "{\"type\":\"noop\",\"params\":{\"fail\":\"permanent\",\"sleep_ms\":1500}}",
           id, &ans);
    cJSON *data = wait_events(id, 1);
    cJSON_Delete(data);
    const char *failed = cJSON_GetArrayItem(cJSON_GetObjectItem(ans, "jobs"), 1)->valuestring;
    snprintf(path, sizeof path, "/v1/jobs/%s/retry", failed);
    http_resp r;
    ck_assert_int_eq(http_do(ds_d.port, "POST", path, NULL, NULL, 0, &r), 0);
    ck_assert_msg(r.status == 200 || r.status == 202, "%d %s", r.status, r.body);
    http_resp_free(&r);
    /* Reopened while the retried job sleeps. */
    cJSON *st = batch(id);
    ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(st, "done")));
    ck_assert_int_eq((int)eqt_num(st, "finished"), 1);
    ck_assert(cJSON_IsNull(cJSON_GetObjectItem(st, "done_at")));
    cJSON_Delete(st);
    /* It fails again: done again, and a second batch.completed. */
    data = wait_events(id, 2);
    ck_assert_int_eq((int)eqt_num(data, "finished"), 2);
    st = batch(id);
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(st, "done")));
    ck_assert_int_eq((int)eqt_num(cJSON_GetObjectItem(st, "counts"), "failed"), 1);
    cJSON_Delete(st);
    cJSON_Delete(data);
    cJSON_Delete(ans);
}
END_TEST

/* A webhook the schema refuses: 422 naming it, and no job. (Where a URL may point is checked at
 * delivery, as for a job's webhook, not at submit.) */
START_TEST(webhook_refused_at_submit) {
    http_resp r;
    ck_assert_int_eq(ds_post_json("/v1/batches",
                                  "{\"jobs\":[{\"type\":\"noop\",\"params\":{}}],"
                                  "\"webhook\":{\"url\":\"ftp://127.0.0.1/hook\"}}",
                                  &r),
                     0);
    ds_expect_problem(&r, 422, "invalid-batch");
    cJSON *p = http_json(&r);
    ck_assert_str_eq(eqt_str(p, "field"), "/webhook/url");
    cJSON_Delete(p);
    http_resp_free(&r);
    ck_assert_int_eq(ds_post_json("/v1/batches",
                                  "{\"jobs\":[{\"type\":\"noop\",\"params\":{}}],"
                                  "\"webhook\":{\"url\":\"http://127.0.0.1/h\",\"secret\":\"x\"}}",
                                  &r),
                     0);
    ds_expect_problem(&r, 422, "invalid-batch");
    http_resp_free(&r);
    cJSON *j = ds_get_json("/v1/jobs?limit=10", 200);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "jobs")), 0);
    cJSON_Delete(j);
}
END_TEST

int main(void) {
    Suite *s = suite_create("batch_webhook");
    TCase *tc = tcase_create("webhook");
    tcase_set_timeout(tc, 90);
    tcase_add_checked_fixture(tc, start, stop);
    tcase_add_test(tc, batch_completed_delivered);
    tcase_add_test(tc, retry_reopens_the_batch);
    tcase_add_test(tc, webhook_refused_at_submit);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* Tests for common/job.c: state names and the JSON rendering of a job. */
#include <check.h>
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "common/job.h"

START_TEST(state_names_round_trip) {
    for (int s = JOB_QUEUED; s < JOB_STATE_MAX; s++) {
        const char *name = job_state_name(s);
        ck_assert_str_ne(name, "unknown");
        ck_assert_int_eq(job_state_parse(name), s);
    }
    ck_assert_str_eq(job_state_name(0), "unknown");
    ck_assert_str_eq(job_state_name(JOB_STATE_MAX), "unknown");
    ck_assert_str_eq(job_state_name(-1), "unknown");
    ck_assert_int_eq(job_state_parse("Queued"), 0);
    ck_assert_int_eq(job_state_parse(""), 0);
    ck_assert_int_eq(job_state_parse("unknown"), 0);
    ck_assert(!job_state_terminal(JOB_QUEUED));
    ck_assert(!job_state_terminal(JOB_RUNNING));
    ck_assert(job_state_terminal(JOB_SUCCEEDED));
    ck_assert(job_state_terminal(JOB_FAILED));
    ck_assert(job_state_terminal(JOB_CANCELLED));
    ck_assert(!job_state_terminal(0));
}
END_TEST

static cJSON *render(const eq_job *j, const char *result, eq_buf *b) {
    eq_buf_init(b);
    eq_job_to_json(j, result, b);
    ck_assert(!b->oom);
    cJSON *o = cJSON_ParseWithLength((const char *)b->data, b->len);
    ck_assert_msg(o != NULL, "not JSON: %.*s", (int)b->len, (const char *)b->data);
    return o;
}

static const char *str_of(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    ck_assert_msg(cJSON_IsString(v), "%s is not a string", key);
    return v->valuestring;
}

START_TEST(full_job_json) {
    eq_job j;
    eq_job_init(&j);
    eq_id_new(INT64_C(1767323045123), j.id);
    strcpy(j.type, "forecast");
    j.state = JOB_FAILED;
    j.priority = 2;
    j.attempt = 3;
    j.max_attempts = 5;
    j.cached = 1;
    j.created_ms = INT64_C(1767323045123);
    j.run_at_ms = INT64_C(1767323046000);
    j.started_ms = 0; /* never started: null */
    j.finished_ms = INT64_C(1767323047000);
    j.params = strdup("{\"series\":[1,2],\"h\":3}");
    j.error_code = strdup("bad_input");
    j.error_message = strdup("series \"x\" is empty\n");
    j.batch_id = strdup("B1");
    j.schedule = strdup("nightly");
    j.webhook_url = strdup("https://example.org/h?a=1&b=\"2\"");
    j.webhook_secret = strdup("whsec_topsecret");
    eq_buf b;
    cJSON *o = render(&j, "{\"yhat\":[1.5]}", &b);
    ck_assert_str_eq(str_of(o, "id"), j.id);
    ck_assert_str_eq(str_of(o, "type"), "forecast");
    ck_assert_str_eq(str_of(o, "state"), "failed");
    ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(o, "priority")->valueint, 2);
    ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(o, "attempt")->valueint, 3);
    ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(o, "max_attempts")->valueint, 5);
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "cached")));
    ck_assert_str_eq(str_of(o, "created_at"), "2026-01-02T03:04:05.123Z");
    ck_assert_str_eq(str_of(o, "run_at"), "2026-01-02T03:04:06.000Z");
    ck_assert(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(o, "started_at")));
    ck_assert_str_eq(str_of(o, "finished_at"), "2026-01-02T03:04:07.000Z");
    ck_assert_str_eq(str_of(o, "batch"), "B1");
    ck_assert_str_eq(str_of(o, "schedule"), "nightly");
    const cJSON *wh = cJSON_GetObjectItemCaseSensitive(o, "webhook");
    ck_assert_str_eq(str_of(wh, "url"), "https://example.org/h?a=1&b=\"2\"");
    ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(wh, "secret"));
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(o, "params");
    ck_assert(cJSON_IsObject(params));
    ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(params, "h")->valueint, 3);
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(o, "error");
    ck_assert_str_eq(str_of(err, "code"), "bad_input");
    ck_assert_str_eq(str_of(err, "message"), "series \"x\" is empty\n");
    const cJSON *res = cJSON_GetObjectItemCaseSensitive(o, "result");
    ck_assert(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(res, "yhat")));
    /* The secret never appears anywhere in the text. */
    ck_assert_ptr_null(memmem(b.data, b.len, "topsecret", 9));
    cJSON_Delete(o);
    eq_buf_fini(&b);
    eq_job_fini(&j);
    ck_assert_ptr_null(j.params);
}
END_TEST

START_TEST(minimal_job_json) {
    eq_job j;
    eq_job_init(&j);
    eq_id_new(1, j.id);
    strcpy(j.type, "chart");
    j.state = JOB_QUEUED;
    eq_buf b;
    cJSON *o = render(&j, NULL, &b);
    ck_assert_str_eq(str_of(o, "state"), "queued");
    ck_assert(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(o, "cached")));
    ck_assert(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(o, "params"))); /* {} when none */
    ck_assert(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(o, "created_at")));
    const char *absent[] = {"error", "result", "batch", "schedule", "webhook", "cancel_requested"};
    for (size_t i = 0; i < sizeof absent / sizeof absent[0]; i++)
        ck_assert_msg(cJSON_GetObjectItemCaseSensitive(o, absent[i]) == NULL, "%s present",
                      absent[i]);
    cJSON_Delete(o);
    eq_buf_fini(&b);
    /* cancel_requested shows only while running. */
    j.cancel_requested = 1;
    o = render(&j, NULL, &b);
    ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(o, "cancel_requested"));
    cJSON_Delete(o);
    eq_buf_fini(&b);
    j.state = JOB_RUNNING;
    o = render(&j, NULL, &b);
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "cancel_requested")));
    cJSON_Delete(o);
    eq_buf_fini(&b);
    /* An error code without a message renders an empty message. */
    j.error_code = strdup("x");
    o = render(&j, NULL, &b);
    ck_assert_str_eq(str_of(cJSON_GetObjectItemCaseSensitive(o, "error"), "message"), "");
    cJSON_Delete(o);
    eq_buf_fini(&b);
    eq_job_fini(&j);
}
END_TEST

int main(void) {
    Suite *s = suite_create("job");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, state_names_round_trip);
    tcase_add_test(tc, full_job_json);
    tcase_add_test(tc, minimal_job_json);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

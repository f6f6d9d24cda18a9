/* Tests broker/webhook/wh_event.c: event names and bodies. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "broker/webhook/wh_dispatch.h"
#include "broker/webhook/wh_event.h"

START_TEST(test_names) {
    static const char *names[] = {"job.succeeded", "job.failed", "job.cancelled",
                                  "batch.completed"};
    for (int i = 0; i < WH_EVENT_MAX; i++) {
        wh_event_type t;
        ck_assert_str_eq(wh_event_type_name((wh_event_type)i), names[i]);
        ck_assert_int_eq(wh_event_type_parse(names[i], &t), EQ_OK);
        ck_assert_int_eq(t, i);
    }
    wh_event_type t;
    ck_assert_int_eq(wh_event_type_parse("job.started", &t), EQ_EINVAL);
    ck_assert_int_eq(wh_event_type_parse(NULL, &t), EQ_EINVAL);
    ck_assert_ptr_null(wh_event_type_name(WH_EVENT_MAX));
}
END_TEST

START_TEST(test_body) {
    const char *data = "{\"id\":\"j1\",\"state\":\"succeeded\",\"result\":{\"mape\":0.04}}";
    char *body = NULL;
    size_t len = 0;
    /* 2021-02-25T15:02:10.123Z */
    ck_assert_int_eq(wh_event_body(WH_EVENT_JOB_SUCCEEDED, INT64_C(1614265330123), data,
                                   strlen(data), &body, &len),
                     EQ_OK);
    ck_assert_uint_eq(len, strlen(body));
    cJSON *root = cJSON_Parse(body);
    ck_assert_ptr_nonnull(root);
    ck_assert_str_eq(cJSON_GetObjectItem(root, "type")->valuestring, "job.succeeded");
    ck_assert_str_eq(cJSON_GetObjectItem(root, "timestamp")->valuestring,
                     "2021-02-25T15:02:10.123Z");
    cJSON *d = cJSON_GetObjectItem(root, "data");
    ck_assert_str_eq(cJSON_GetObjectItem(d, "id")->valuestring, "j1");
    /* The data is embedded byte for byte. */
    ck_assert_ptr_nonnull(strstr(body, data));
    cJSON_Delete(root);
    free(body);
}
END_TEST

START_TEST(test_body_rejects) {
    char *body = NULL;
    size_t len = 0;
    static const char *bad[] = {"",           "[1,2]", "\"s\"", "{\"a\":1", "{\"a\":1} {\"b\":2}",
                                "{\"a\":1}}", "null"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(wh_event_body(WH_EVENT_JOB_FAILED, 0, bad[i], strlen(bad[i]), &body, &len) ==
                          EQ_EINVAL,
                      "accepted %s", bad[i]);
    ck_assert_int_eq(wh_event_body(WH_EVENT_MAX, 0, "{}", 2, &body, &len), EQ_EINVAL);
    ck_assert_int_eq(wh_event_body(WH_EVENT_JOB_FAILED, 0, "{\"a\":\"\0\"}", 8, &body, &len),
                     EQ_EINVAL);
    ck_assert_int_eq(wh_event_body(WH_EVENT_JOB_FAILED, -1, "{}", 2, &body, &len), EQ_EINVAL);
    /* Data just under the body limit still does not fit with the envelope. */
    size_t n = WH_BODY_MAX_BYTES - 8;
    char *big = malloc(n);
    ck_assert_ptr_nonnull(big);
    memset(big, ' ', n);
    big[0] = '{';
    big[n - 1] = '}';
    ck_assert_int_eq(wh_event_body(WH_EVENT_JOB_FAILED, 0, big, n, &body, &len), EQ_ETOOBIG);
    ck_assert_int_eq(wh_event_body(WH_EVENT_JOB_FAILED, 0, big, WH_BODY_MAX_BYTES + 1, &body, &len),
                     EQ_ETOOBIG);
    free(big);
    ck_assert_int_eq(wh_event_body(WH_EVENT_JOB_CANCELLED, 0, "{ }\n", 4, &body, &len), EQ_OK);
    ck_assert_str_eq(body, "{\"type\":\"job.cancelled\",\"timestamp\":\"1970-01-01T00:00:00.000Z\","
                           "\"data\":{ }\n}");
    free(body);
}
END_TEST

int main(void) {
    Suite *s = suite_create("wh_event");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_names);
    tcase_add_test(tc, test_body);
    tcase_add_test(tc, test_body_rejects);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

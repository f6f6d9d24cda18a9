/* Webhooks end to end: a real econqd delivering to tests/fakes/webhook_receiver.py, which
 * verifies every signature. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/eqtest.h"
#include "tests/webhook/wh_receiver_proc.h"

#define SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

static eqd d;
static wh_rx rx;
static char dir[256];

static void start_econqd(const char *allow) {
    const char *args[] = {"--webhook-schedule", "0,1,1,1", "--webhook-secret", SECRET,
                          allow ? "--webhook-allow" : NULL, allow, NULL};
    ck_assert_int_eq(eqd_start(&d, "serve", dir, args), 0);
}

static void setup(void) {
    eqt_tmpdir(dir, sizeof dir);
    wh_rx_start(&rx, SECRET);
}

static void teardown(void) {
    if (d.pid) {
        eqd_signal(&d, SIGTERM);
        ck_assert_int_eq(eqd_wait(&d), 0);
    }
    wh_rx_stop(&rx);
    eqt_rmdir(dir);
}

static int submit_with_hook(const char *path, const char *secret_json, char *id) {
    char body[512];
    snprintf(body, sizeof body,
             "{\"type\":\"noop\",\"params\":{},\"webhook\":{\"url\":\"http://127.0.0.1:%d%s\"%s}}",
             rx.port, path, secret_json ? secret_json : "");
    return eqt_submit(d.port, body, id);
}

/* The job's deliveries once the first one is no longer pending (or after timeout_s). */
static cJSON *settled_delivery(const char *id, int timeout_s) {
    char path[128];
    long long deadline = eqt_now_ms() + timeout_s * 1000LL;
    snprintf(path, sizeof path, "/v1/jobs/%s/deliveries", id);
    for (;;) {
        http_resp r;
        ck_assert_int_eq(http_do(d.port, "GET", path, NULL, NULL, 0, &r), 0);
        cJSON *j = http_json(&r);
        http_resp_free(&r);
        cJSON *first = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "deliveries"), 0);
        const char *st = eqt_str(first, "state");
        if ((st && strcmp(st, "pending") != 0) || eqt_now_ms() > deadline)
            return j;
        cJSON_Delete(j);
        eqt_sleep_ms(100);
    }
}

/* Deliveries the receiver recorded for webhook-id msg. */
static int received(const char *msg, int *verified, int *ok_answers) {
    cJSON *all = wh_rx_deliveries(&rx), *it;
    int n = 0;
    *verified = *ok_answers = 0;
    cJSON_ArrayForEach(it, all) {
        if (strcmp(eqt_str(it, "id"), msg) != 0)
            continue;
        n++;
        *verified += cJSON_IsTrue(cJSON_GetObjectItem(it, "verified"));
        *ok_answers += (int)eqt_num(it, "status") == 200;
    }
    cJSON_Delete(all);
    return n;
}

START_TEST(delivered_once_and_signed) {
    char id[32];
    start_econqd("127.0.0.0/8");
    ck_assert_int_eq(submit_with_hook("/hook", ",\"secret\":\"" SECRET "\"", id), 202);
    cJSON_Delete(eqt_wait_terminal(d.port, id, 30));
    cJSON *j = settled_delivery(id, 30);
    cJSON *del = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "deliveries"), 0);
    ck_assert_str_eq(eqt_str(del, "state"), "delivered");
    ck_assert_str_eq(eqt_str(del, "event"), "job.succeeded");
    ck_assert_int_eq((int)eqt_num(del, "attempts"), 1);
    int verified, ok;
    ck_assert_int_eq(received(eqt_str(del, "id"), &verified, &ok), 1);
    ck_assert_int_eq(verified, 1);
    cJSON_Delete(j);
}
END_TEST

START_TEST(retried_with_the_same_id_until_delivered) {
    char id[32];
    start_econqd("127.0.0.0/8");
    /* No secret in the job: the server's signs. The receiver fails the first two attempts. */
    ck_assert_int_eq(submit_with_hook("/flaky/2", NULL, id), 202);
    cJSON *j = settled_delivery(id, 30);
    cJSON *del = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "deliveries"), 0);
    ck_assert_str_eq(eqt_str(del, "state"), "delivered");
    ck_assert_int_eq((int)eqt_num(del, "attempts"), 3);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(del, "log")), 3);
    int verified, ok;
    ck_assert_int_eq(received(eqt_str(del, "id"), &verified, &ok), 3);
    ck_assert_int_eq(verified, 3);
    ck_assert_int_eq(ok, 1);
    cJSON_Delete(j);
}
END_TEST

START_TEST(rotated_server_secrets_sign_twice) {
    char id[32];
    /* The new secret first, the old one the receiver still knows second. */
    const char *args[] = {"--webhook-schedule", "0,1,1,1", "--webhook-secret",
                          "whsec_QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB " SECRET, "--webhook-allow",
                          "127.0.0.0/8", NULL};
    ck_assert_int_eq(eqd_start(&d, "serve", dir, args), 0);
    ck_assert_int_eq(submit_with_hook("/hook", NULL, id), 202);
    cJSON *j = settled_delivery(id, 30);
    cJSON *del = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "deliveries"), 0);
    ck_assert_str_eq(eqt_str(del, "state"), "delivered");
    int verified, ok;
    ck_assert_int_eq(received(eqt_str(del, "id"), &verified, &ok), 1);
    ck_assert_int_eq(verified, 1);
    cJSON *all = wh_rx_deliveries(&rx), *it;
    cJSON_ArrayForEach(it, all) {
        if (!strcmp(eqt_str(it, "id"), eqt_str(del, "id")))
            ck_assert_ptr_nonnull(strchr(eqt_str(it, "signature"), ' ')); /* two signatures */
    }
    cJSON_Delete(all);
    cJSON_Delete(j);
}
END_TEST

START_TEST(gone_stops_retries) {
    char id[32];
    start_econqd("127.0.0.0/8");
    ck_assert_int_eq(submit_with_hook("/status/410", NULL, id), 202);
    cJSON *j = settled_delivery(id, 30);
    cJSON *del = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "deliveries"), 0);
    ck_assert_str_eq(eqt_str(del, "state"), "failed");
    ck_assert_int_eq((int)eqt_num(del, "attempts"), 1);
    /* Redelivered by hand: a new round (the receiver still says 410). */
    char path[128];
    http_resp r;
    snprintf(path, sizeof path, "/v1/deliveries/%s/redeliver", eqt_str(del, "id"));
    ck_assert_int_eq(http_do(d.port, "POST", path, NULL, "", 0, &r), 0);
    ck_assert_int_eq(r.status, 202);
    http_resp_free(&r);
    cJSON_Delete(j);
    eqt_sleep_ms(300);
    j = settled_delivery(id, 30);
    del = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "deliveries"), 0);
    ck_assert_int_eq((int)eqt_num(del, "attempts"), 2);
    cJSON_Delete(j);
}
END_TEST

START_TEST(private_address_refused_without_allowlist) {
    char id[32];
    start_econqd(NULL);
    ck_assert_int_eq(submit_with_hook("/hook", NULL, id), 202);
    cJSON *j = settled_delivery(id, 30);
    cJSON *del = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "deliveries"), 0);
    ck_assert_str_eq(eqt_str(del, "state"), "failed");
    const cJSON *log0 = cJSON_GetArrayItem(cJSON_GetObjectItem(del, "log"), 0);
    ck_assert_ptr_nonnull(eqt_str(log0, "error"));
    int verified, ok;
    ck_assert_int_eq(received(eqt_str(del, "id"), &verified, &ok), 0);
    cJSON_Delete(j);
}
END_TEST

START_TEST(bad_webhook_refused_at_submit) {
    char id[32];
    start_econqd("127.0.0.0/8");
    ck_assert_int_eq(eqt_submit(d.port, "{\"type\":\"noop\",\"params\":{},\"webhook\":"
                                        "{\"url\":\"ftp://example.com/x\"}}", id), 422);
    ck_assert_int_eq(eqt_submit(d.port, "{\"type\":\"noop\",\"params\":{},\"webhook\":"
                                        "{\"url\":\"http://127.0.0.1:9/x\",\"secret\":\"whsec_!!\"}}", id),
                     422);
}
END_TEST

START_TEST(pending_deliveries_survive_kill9) {
    char ids[20][32];
    start_econqd("127.0.0.0/8");
    wh_rx_control(&rx, "{\"mode\":\"status\",\"code\":503}");
    for (int i = 0; i < 20; i++)
        ck_assert_int_eq(submit_with_hook("/hook", NULL, ids[i]), 202);
    for (int i = 0; i < 20; i++)
        cJSON_Delete(eqt_wait_terminal(d.port, ids[i], 30));
    eqd_signal(&d, SIGKILL);
    eqd_wait(&d);
    /* The receiver recovers while econqd is down; after the restart everything arrives. */
    wh_rx_control(&rx, "{\"mode\":\"ok\"}");
    start_econqd("127.0.0.0/8");
    for (int i = 0; i < 20; i++) {
        cJSON *j = settled_delivery(ids[i], 60);
        cJSON *del = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "deliveries"), 0);
        ck_assert_str_eq(eqt_str(del, "state"), "delivered");
        int verified, ok;
        ck_assert_int_ge(received(eqt_str(del, "id"), &verified, &ok), 1);
        ck_assert_int_eq(ok, 1);
        cJSON_Delete(j);
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("webhooks");
    TCase *tc = tcase_create("deliveries");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, delivered_once_and_signed);
    tcase_add_test(tc, retried_with_the_same_id_until_delivered);
    tcase_add_test(tc, gone_stops_retries);
    tcase_add_test(tc, rotated_server_secrets_sign_twice);
    tcase_add_test(tc, private_address_refused_without_allowlist);
    tcase_add_test(tc, bad_webhook_refused_at_submit);
    tcase_add_test(tc, pending_deliveries_survive_kill9);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

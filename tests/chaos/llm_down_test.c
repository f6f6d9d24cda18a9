/* The LLM server down and back (issue 10): while llm questions stream in, the fake server is
 * killed outright (connections refused) for a while, then started again on the same port.
 * Every accepted question must end `succeeded` once it is back: none lost, none dead-lettered
 * (questions wait while the breaker is open without using attempts; only the failures that
 * opened it and failed probes count), and the breaker must have opened and closed again.
 * Rounds: ECONQ_CHAOS_ROUNDS (default 1). */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/chaos/chaos_util.h"
#include "tests/fakes/fake_llm_spawn.h"
#include "tests/support/eqtest.h"

#define QUESTIONS_PER_ROUND 24 /* submitted before, during and after the outage */
#define DONE_TIMEOUT_S 60      /* the breaker cools down in 1.5 s; retries back off from 100 ms */

static const char *breaker_state(int port, char *status, size_t len) {
    static char circuit[32];
    http_resp r;
    circuit[0] = '\0';
    if (http_do(port, "GET", "/health", NULL, NULL, 0, &r) != 0)
        return circuit;
    cJSON *h = http_json(&r);
    http_resp_free(&r);
    const cJSON *llm = cJSON_GetObjectItem(cJSON_GetObjectItem(h, "checks"), "llm");
    snprintf(circuit, sizeof circuit, "%s", llm ? eqt_str(llm, "circuit") : "");
    snprintf(status, len, "%s", eqt_str(h, "status") ? eqt_str(h, "status") : "");
    cJSON_Delete(h);
    return circuit;
}

START_TEST(llm_server_down_and_back_loses_no_question) {
    uint64_t rng = chaos_seed("llm_down");
    int rounds = chaos_rounds(1);
    fake_llm f;
    ck_assert_int_eq(fake_llm_start(&f, NULL), 0);
    char port_arg[16], dir[256], url[64];
    snprintf(port_arg, sizeof port_arg, "%d", f.port);
    snprintf(url, sizeof url, "%s", f.base_url);
    eqt_tmpdir(dir, sizeof dir);
    eqd d;
    const char *args[] = {"--durability", "sync", "--backoff-base-ms", "100",
                          "--llm-url", url, "--llm-breaker-cooldown-ms", "1500",
                          "--llm-connect-timeout-ms", "500", "--lease-wait-ms", "1000", NULL};
    ck_assert_int_eq(eqd_start(&d, "serve", dir, args), 0);
    for (int round = 0; round < rounds; round++) {
        char ids[QUESTIONS_PER_ROUND][32];
        int down_at = chaos_between(&rng, 2, 8), up_at = down_at + chaos_between(&rng, 6, 12);
        int saw_open = 0;
        for (int q = 0; q < QUESTIONS_PER_ROUND; q++) {
            if (q == down_at)
                fake_llm_stop(&f); /* gone: connections refused */
            if (q == up_at) {
                /* The failures so far must have opened the breaker before the server returns. */
                char st[32];
                for (int t = 0; t < 100 && !saw_open; t++) {
                    saw_open = strcmp(breaker_state(d.port, st, sizeof st), "open") == 0;
                    if (!saw_open)
                        eqt_sleep_ms(50);
                }
                const char *again[] = {"--port", port_arg, NULL};
                ck_assert_int_eq(fake_llm_start(&f, again), 0);
                ck_assert_int_eq(f.port, atoi(port_arg));
            }
            char body[200];
            snprintf(body, sizeof body,
                     "{\"type\":\"llm\",\"max_attempts\":10,\"params\":{\"question\":\"round %d "
                     "question %d\"}}",
                     round, q);
            ck_assert_int_eq(eqt_submit(d.port, body, ids[q]), 202);
            char st[32];
            if (strcmp(breaker_state(d.port, st, sizeof st), "open") == 0) {
                saw_open = 1;
                ck_assert_str_eq(st, "degraded");
            }
            eqt_sleep_ms(chaos_between(&rng, 50, 250));
        }
        for (int q = 0; q < QUESTIONS_PER_ROUND; q++) {
            cJSON *j = eqt_wait_terminal(d.port, ids[q], DONE_TIMEOUT_S);
            ck_assert_ptr_nonnull(j);
            if (strcmp(eqt_str(j, "state"), "succeeded") != 0) {
                char *t = cJSON_PrintUnformatted(j);
                ck_abort_msg("round %d question %d: %s", round, q, t);
            }
            cJSON_Delete(j);
        }
        ck_assert_msg(saw_open, "round %d: the breaker never opened while the server was down",
                      round);
        char st[32];
        ck_assert_str_eq(breaker_state(d.port, st, sizeof st), "closed");
    }
    eqd_signal(&d, SIGTERM);
    ck_assert_int_eq(eqd_wait(&d), 0);
    eqt_rmdir(dir);
    fake_llm_stop(&f);
}
END_TEST

int main(void) {
    Suite *s = suite_create("chaos_llm_down");
    TCase *tc = tcase_create("llm_down");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, llm_server_down_and_back_loses_no_question);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

/* A second econqd started on a data directory that a running econqd already uses (a restart
 * while the old process still shuts down, two units pointing at one directory): it must refuse
 * to start, or two brokers lease the same jobs (the second re-queues the first's running jobs as
 * "interrupted by a restart") and send the same webhooks. Found by this test; econqd now takes a
 * lock on the directory. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "tests/chaos/chaos_util.h"
#include "tests/support/eqtest.h"

START_TEST(second_econqd_on_the_same_data_dir_is_refused) {
    int rounds = chaos_rounds(1);
    char dir[256];
    eqt_tmpdir(dir, sizeof dir);
    const char *args[] = {"--log-level", "warn", "--lease-ms", "2000", NULL};
    eqd a, b;
    ck_assert_int_eq(eqd_start(&a, "serve", dir, args), 0);
    int started = 0;
    for (int r = 0; r < rounds; r++) {
        char id[32];
        ck_assert_int_eq(
            eqt_submit(a.port, "{\"type\":\"noop\",\"params\":{\"sleep_ms\":1500}}", id), 202);
        long long deadline = eqt_now_ms() + 20000;
        for (;;) {
            cJSON *j = eqt_job(a.port, id, 0);
            int running = j != NULL && !strcmp(eqt_str(j, "state"), "running");
            cJSON_Delete(j);
            if (running) break;
            ck_assert_int_lt(eqt_now_ms(), deadline);
            eqt_sleep_ms(10);
        }
        int rc = eqd_start(&b, "serve", dir, args);
        if (rc == 0) {
            started++;
            eqd_signal(&b, SIGKILL); /* what it leased returns to the queue after --lease-ms */
            eqd_wait(&b);
        } else {
            ck_assert_int_gt(b.pid, 0);
            ck_assert_int_ne(eqd_wait(&b), 0); /* refused: it exits on its own, with a failure */
        }
        ck_assert_msg(rc != 0, "a second econqd started on a data directory in use (%s)", dir);
        /* The first keeps serving, and the job ends succeeded. */
        cJSON *j = eqt_wait_terminal(a.port, id, 60);
        ck_assert_ptr_nonnull(j);
        ck_assert_str_eq(eqt_str(j, "state"), "succeeded");
        ck_assert_int_eq((int)eqt_num(j, "attempt"), 1); /* run once */
        cJSON_Delete(j);
    }
    printf("chaos_datadir_lock: rounds %d, second starts refused %d\n", rounds, rounds - started);
    eqd_signal(&a, SIGTERM);
    ck_assert_int_eq(eqd_wait(&a), 0);
    eqt_rmdir(dir);
}
END_TEST

int main(void) {
    Suite *s = suite_create("chaos_datadir_lock");
    TCase *tc = tcase_create("datadir_lock");
    tcase_set_timeout(tc, 3600);
    tcase_add_test(tc, second_econqd_on_the_same_data_dir_is_refused);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

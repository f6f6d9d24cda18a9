/* Crash safety against real processes: econqd killed with -9 in the middle of a stream of
 * submits, a remote worker killed in the middle of a job, priorities with a remote worker, and
 * SIGTERM under load. */
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/eqtest.h"

#define MAX_IDS 4000

typedef struct submitter {
    int port;
    char (*ids)[32];
    int n;
    volatile int stop;
} submitter;

static void *submit_loop(void *arg) {
    submitter *s = arg;
    while (!s->stop && s->n < MAX_IDS) {
        char id[32];
        int st = eqt_submit(s->port, "{\"type\":\"noop\",\"params\":{\"sleep_ms\":1}}", id);
        if (st == 202)
            memcpy(s->ids[s->n++], id, 32);
        else if (st < 0)
            break; /* the server is gone */
    }
    return NULL;
}

START_TEST(kill9_during_submits_loses_no_acknowledged_job) {
    char dir[256];
    eqd d;
    static char ids[2][MAX_IDS][32];
    eqt_tmpdir(dir, sizeof dir);
    const char *args[] = {"--durability", "sync", NULL};
    ck_assert_int_eq(eqd_start(&d, "serve", dir, args), 0);
    submitter s[2] = {{.port = d.port, .ids = ids[0]}, {.port = d.port, .ids = ids[1]}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, submit_loop, &s[i]);
    /* Let a few hundred submits through, then kill without warning. */
    while (s[0].n + s[1].n < 300)
        eqt_sleep_ms(5);
    eqd_signal(&d, SIGKILL);
    ck_assert_int_eq(eqd_wait(&d), 128 + SIGKILL);
    for (int i = 0; i < 2; i++) {
        s[i].stop = 1;
        pthread_join(t[i], NULL);
    }
    int total = s[0].n + s[1].n;
    ck_assert_int_ge(total, 300);
    /* Restart on the same data: every acknowledged job is there and ends succeeded. */
    ck_assert_int_eq(eqd_start(&d, "serve", dir, args), 0);
    for (int i = 0; i < 2; i++) {
        for (int k = 0; k < s[i].n; k++) {
            cJSON *j = eqt_wait_terminal(d.port, s[i].ids[k], 60);
            ck_assert_msg(j != NULL, "job %s lost", s[i].ids[k]);
            ck_assert_str_eq(eqt_str(j, "state"), "succeeded");
            cJSON_Delete(j);
        }
    }
    eqd_signal(&d, SIGTERM);
    ck_assert_int_eq(eqd_wait(&d), 0);
    eqt_rmdir(dir);
}
END_TEST

START_TEST(remote_worker_killed_mid_job_is_leased_again) {
    char dir[256], broker[64], id[32];
    eqd srv, w1, w2;
    eqt_tmpdir(dir, sizeof dir);
    snprintf(broker, sizeof broker, "tcp://127.0.0.1:%d", eqt_free_port());
    const char *sargs[] = {"--broker-listen", broker, "--lease-ms", "1500", NULL};
    const char *wargs[] = {"--connect", broker, "--kind", "forecast", "--lease-ms", "1500",
                           "--worker-threads", "1", "--lease-batch", "1", NULL};
    ck_assert_int_eq(eqd_start(&srv, "server", dir, sargs), 0);
    ck_assert_int_eq(eqd_start(&w1, "worker", dir, wargs), 0);
    ck_assert_int_eq(eqt_submit(srv.port, "{\"type\":\"noop\",\"params\":{\"sleep_ms\":2500}}", id), 202);
    /* Wait until the first worker runs it, then kill that worker. */
    long long deadline = eqt_now_ms() + 20000;
    for (;;) {
        cJSON *j = eqt_job(srv.port, id, 0);
        int running = !strcmp(eqt_str(j, "state"), "running");
        cJSON_Delete(j);
        if (running)
            break;
        ck_assert_int_lt(eqt_now_ms(), deadline);
        eqt_sleep_ms(20);
    }
    eqd_signal(&w1, SIGKILL);
    eqd_wait(&w1);
    ck_assert_int_eq(eqd_start(&w2, "worker", dir, wargs), 0);
    cJSON *j = eqt_wait_terminal(srv.port, id, 60);
    ck_assert_str_eq(eqt_str(j, "state"), "succeeded");
    ck_assert_int_eq((int)eqt_num(j, "attempt"), 2);
    cJSON_Delete(j);
    eqd_signal(&w2, SIGTERM);
    ck_assert_int_eq(eqd_wait(&w2), 0);
    eqd_signal(&srv, SIGTERM);
    ck_assert_int_eq(eqd_wait(&srv), 0);
    eqt_rmdir(dir);
}
END_TEST

START_TEST(priorities_order_the_queue) {
    char dir[256], broker[64], ids[3][32];
    eqd srv, w;
    eqt_tmpdir(dir, sizeof dir);
    snprintf(broker, sizeof broker, "tcp://127.0.0.1:%d", eqt_free_port());
    const char *sargs[] = {"--broker-listen", broker, NULL};
    const char *wargs[] = {"--connect", broker, "--worker-threads", "1", "--lease-batch", "1", NULL};
    ck_assert_int_eq(eqd_start(&srv, "server", dir, sargs), 0);
    /* No worker yet: the jobs wait in the queue. */
    ck_assert_int_eq(eqt_submit(srv.port, "{\"type\":\"noop\",\"priority\":9,\"params\":{\"sleep_ms\":30}}", ids[0]), 202);
    ck_assert_int_eq(eqt_submit(srv.port, "{\"type\":\"noop\",\"priority\":5,\"params\":{\"sleep_ms\":30}}", ids[1]), 202);
    ck_assert_int_eq(eqt_submit(srv.port, "{\"type\":\"noop\",\"priority\":0,\"params\":{\"sleep_ms\":30}}", ids[2]), 202);
    http_resp r;
    ck_assert_int_eq(http_do(srv.port, "GET", "/health", NULL, NULL, 0, &r), 0);
    cJSON *h = http_json(&r);
    ck_assert_str_eq(eqt_str(h, "status"), "degraded"); /* no worker connected */
    cJSON_Delete(h);
    http_resp_free(&r);
    ck_assert_int_eq(eqd_start(&w, "worker", dir, wargs), 0);
    char started[3][40];
    for (int i = 0; i < 3; i++) {
        cJSON *j = eqt_wait_terminal(srv.port, ids[i], 60);
        ck_assert_str_eq(eqt_str(j, "state"), "succeeded");
        snprintf(started[i], sizeof started[i], "%s", eqt_str(j, "started_at"));
        cJSON_Delete(j);
    }
    /* One thread, one job at a time: priority 0 ran first, then 5, then 9. */
    ck_assert(strcmp(started[2], started[1]) < 0);
    ck_assert(strcmp(started[1], started[0]) < 0);
    eqd_signal(&w, SIGTERM);
    ck_assert_int_eq(eqd_wait(&w), 0);
    eqd_signal(&srv, SIGTERM);
    ck_assert_int_eq(eqd_wait(&srv), 0);
    eqt_rmdir(dir);
}
END_TEST

START_TEST(sigterm_under_load_loses_nothing) {
    char dir[256];
    eqd d;
    static char ids[MAX_IDS][32];
    eqt_tmpdir(dir, sizeof dir);
    const char *args[] = {"--durability", "nosync", NULL};
    ck_assert_int_eq(eqd_start(&d, "serve", dir, args), 0);
    submitter s = {.port = d.port, .ids = ids};
    pthread_t t;
    pthread_create(&t, NULL, submit_loop, &s);
    while (s.n < 200)
        eqt_sleep_ms(5);
    eqd_signal(&d, SIGTERM);
    ck_assert_int_eq(eqd_wait(&d), 0);
    s.stop = 1;
    pthread_join(t, NULL);
    ck_assert_int_eq(eqd_start(&d, "serve", dir, args), 0);
    for (int k = 0; k < s.n; k++) {
        cJSON *j = eqt_wait_terminal(d.port, ids[k], 60);
        ck_assert_msg(j != NULL, "job %s lost", ids[k]);
        ck_assert_str_eq(eqt_str(j, "state"), "succeeded");
        cJSON_Delete(j);
    }
    eqd_signal(&d, SIGTERM);
    ck_assert_int_eq(eqd_wait(&d), 0);
    eqt_rmdir(dir);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("crash");
    TCase *tc = tcase_create("processes");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, kill9_during_submits_loses_no_acknowledged_job);
    tcase_add_test(tc, remote_worker_killed_mid_job_is_leased_again);
    tcase_add_test(tc, priorities_order_the_queue);
    tcase_add_test(tc, sigterm_under_load_loses_nothing);
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

/* A remote worker (`econqd server --broker-listen` + `econqd worker --connect`) killed with -9
 * in the middle of jobs, again and again, while jobs keep flowing: every job ends succeeded, and
 * the jobs that were running at a kill show it by attempt > 1. */
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/chaos/chaos_util.h"
#include "tests/support/eqtest.h"

#define MAX_JOBS 4000 /* acknowledged jobs kept over all rounds */
#define PER_ROUND 25  /* jobs submitted per round */
#define MAX_HIT 4000  /* jobs seen running at a kill */

static char ids[MAX_JOBS][32];
static char hit[MAX_HIT][32];
static int nids, nhit;

/* Ids of the jobs running now (at most `max`), from GET /v1/jobs?state=running. */
static int running_jobs(int port, char (*out)[32], int max) {
    http_resp r;
    if (http_do(port, "GET", "/v1/jobs?state=running&limit=100", NULL, NULL, 0, &r) != 0) return 0;
    cJSON *j = http_json(&r);
    http_resp_free(&r);
    int n = 0;
    cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItem(j, "jobs")) {
        const char *id = eqt_str(it, "id");
        if (id != NULL && n < max) snprintf(out[n++], 32, "%s", id);
    }
    cJSON_Delete(j);
    return n;
}

START_TEST(worker_killed_mid_job_repeatedly_all_jobs_succeed) {
    int rounds = chaos_rounds(4);
    uint64_t rng = chaos_seed("chaos_worker_kill");
    char dir[256], broker[64];
    eqd srv, w;
    eqt_tmpdir(dir, sizeof dir);
    snprintf(broker, sizeof broker, "tcp://127.0.0.1:%d", eqt_free_port());
    const char *sargs[] = {"--broker-listen", broker, "--lease-ms", "1000",
                           "--log-level",     "warn", NULL};
    const char *wargs[] = {
        "--connect", broker,        "--lease-ms", "1000", "--worker-threads", "2", "--lease-batch",
        "1",         "--log-level", "warn",       NULL};
    ck_assert_int_eq(eqd_start(&srv, "server", dir, sargs), 0);
    ck_assert_int_eq(eqd_start(&w, "worker", dir, wargs), 0);
    int kills = 0, kills_mid_job = 0;
    for (int r = 0; r < rounds; r++) {
        for (int k = 0; k < PER_ROUND && nids < MAX_JOBS; k++) {
            char body[160];
            snprintf(body, sizeof body,
                     "{\"type\":\"noop\",\"max_attempts\":100,\"params\":{\"sleep_ms\":%d}}",
                     chaos_between(&rng, 50, 400));
            ck_assert_int_eq(eqt_submit(srv.port, body, ids[nids]), 202);
            nids++;
        }
        /* Kill at a random moment once a job runs (a short wait: the worker may be idle). */
        eqt_sleep_ms(chaos_between(&rng, 0, 600));
        char now[8][32];
        int running = 0;
        long long deadline = eqt_now_ms() + 5000;
        while ((running = running_jobs(srv.port, now, 8)) == 0 && eqt_now_ms() < deadline)
            eqt_sleep_ms(10);
        eqd_signal(&w, SIGKILL);
        ck_assert_int_eq(eqd_wait(&w), 128 + SIGKILL);
        kills++;
        kills_mid_job += running > 0;
        for (int i = 0; i < running && nhit < MAX_HIT; i++)
            memcpy(hit[nhit++], now[i], 32);
        ck_assert_int_eq(eqd_start(&w, "worker", dir, wargs), 0);
    }
    ck_assert_int_gt(kills_mid_job, 0);
    int reran = 0;
    for (int i = 0; i < nids; i++) {
        cJSON *j = eqt_wait_terminal(srv.port, ids[i], 120);
        ck_assert_msg(j != NULL, "job %s lost", ids[i]);
        ck_assert_msg(!strcmp(eqt_str(j, "state"), "succeeded"), "job %s ended %s", ids[i],
                      eqt_str(j, "state"));
        reran += eqt_num(j, "attempt") > 1;
        cJSON_Delete(j);
    }
    /* A job seen running just before a kill was leased again (unless it finished in between). */
    int hit_again = 0;
    for (int i = 0; i < nhit; i++) {
        cJSON *j = eqt_job(srv.port, hit[i], 0);
        ck_assert_ptr_nonnull(j);
        ck_assert_str_eq(eqt_str(j, "state"), "succeeded");
        hit_again += eqt_num(j, "attempt") > 1;
        cJSON_Delete(j);
    }
    ck_assert_int_gt(hit_again, 0);
    printf("chaos_worker_kill: rounds %d, worker kills %d (%d mid-job), jobs %d, succeeded %d, "
           "run again %d (of %d seen running at a kill: %d)\n",
           rounds, kills, kills_mid_job, nids, nids, reran, nhit, hit_again);
    eqd_signal(&w, SIGTERM);
    ck_assert_int_eq(eqd_wait(&w), 0);
    eqd_signal(&srv, SIGTERM);
    ck_assert_int_eq(eqd_wait(&srv), 0);
    eqt_rmdir(dir);
}
END_TEST

int main(void) {
    Suite *s = suite_create("chaos_worker_kill");
    TCase *tc = tcase_create("worker_kill");
    tcase_set_timeout(tc, 3600);
    tcase_add_test(tc, worker_killed_mid_job_repeatedly_all_jobs_succeed);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

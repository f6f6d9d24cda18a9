/* The webhook receiver down for a while (its process gone: connection refused; or up but
 * answering 503), then back: deliveries pile up as pending with failed attempts, then every one
 * arrives, signed, under the same webhook-id as its failed attempts. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/chaos/chaos_util.h"
#include "tests/support/eqtest.h"
#include "tests/webhook/wh_receiver_proc.h"

#define PER_ROUND 8   /* jobs with a webhook submitted while the receiver is down */
#define MAX_JOBS 2000 /* jobs kept over all rounds */

typedef struct hooked {
    char id[32];
    char msg[64];
    int refused; /* submitted while the receiver process was gone */
} hooked;

static hooked jobs[MAX_JOBS];
static int njobs;

/* The job's delivery once it has at least one failed attempt and is still pending. */
static void wait_failed_pending(int port, const char *id) {
    long long deadline = eqt_now_ms() + 30000;
    for (;;) {
        cJSON *del = chaos_delivery(port, id);
        const char *st = eqt_str(del, "state");
        int ok = st != NULL && !strcmp(st, "pending") && eqt_num(del, "attempts") >= 1;
        ck_assert_msg(st == NULL || strcmp(st, "delivered") != 0,
                      "job %s delivered while the receiver was down", id);
        cJSON_Delete(del);
        if (ok) return;
        ck_assert_msg(eqt_now_ms() < deadline, "job %s: no failed attempt recorded", id);
        eqt_sleep_ms(50);
    }
}

START_TEST(receiver_down_then_back_gets_every_delivery_with_its_id) {
    int rounds = chaos_rounds(2);
    uint64_t rng = chaos_seed("chaos_receiver_down");
    char dir[256], rxlog[300];
    eqt_tmpdir(dir, sizeof dir);
    snprintf(rxlog, sizeof rxlog, "%s/receiver.jsonl", dir);
    chaos_rx rx;
    ck_assert_int_eq(chaos_rx_start(&rx, 0, rxlog), 0);
    int port = rx.port;
    wh_rx ctl = {.pid = rx.pid, .port = port, .host = "127.0.0.1"};
    eqd d;
    /* Enough attempts (about 1 s apart) to outlast the outage. */
    const char *args[] = {"--webhook-allow",
                          "127.0.0.0/8",
                          "--webhook-secret",
                          CHAOS_SECRET,
                          "--webhook-schedule",
                          "0,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1",
                          "--log-level",
                          "warn",
                          NULL};
    ck_assert_int_eq(eqd_start(&d, "serve", dir, args), 0);
    int failed_attempts = 0;
    for (int r = 0; r < rounds; r++) {
        int refused = r % 2 == 0;
        if (refused)
            chaos_rx_stop(&rx);
        else
            wh_rx_control(&ctl, "{\"mode\":\"status\",\"code\":503}");
        int first = njobs;
        for (int k = 0; k < PER_ROUND && njobs < MAX_JOBS; k++, njobs++) {
            char body[256];
            snprintf(body, sizeof body,
                     "{\"type\":\"noop\",\"params\":{\"payload\":%d},"
                     "\"webhook\":{\"url\":\"http://127.0.0.1:%d/hook\"}}",
                     chaos_between(&rng, 0, 1000000), port);
            ck_assert_int_eq(eqt_submit(d.port, body, jobs[njobs].id), 202);
            jobs[njobs].refused = refused;
        }
        for (int i = first; i < njobs; i++) {
            cJSON_Delete(eqt_wait_terminal(d.port, jobs[i].id, 60));
            wait_failed_pending(d.port, jobs[i].id);
        }
        eqt_sleep_ms(chaos_between(&rng, 500, 2500)); /* stays down: retries keep failing */
        if (refused) {
            ck_assert_int_eq(chaos_rx_start(&rx, port, rxlog), 0);
            ctl.pid = rx.pid;
        } else {
            wh_rx_control(&ctl, "{\"mode\":\"ok\"}");
        }
        for (int i = first; i < njobs; i++) {
            cJSON *del = chaos_settled_delivery(d.port, jobs[i].id, 60);
            ck_assert_msg(!strcmp(eqt_str(del, "state"), "delivered"), "job %s delivery %s",
                          jobs[i].id, eqt_str(del, "state"));
            int attempts = (int)eqt_num(del, "attempts");
            cJSON *log = cJSON_GetObjectItem(del, "log");
            ck_assert_int_ge(attempts, 2);
            ck_assert_int_eq(cJSON_GetArraySize(log), attempts);
            for (int a = 0; a < attempts - 1; a++) {
                cJSON *e = cJSON_GetArrayItem(log, a);
                int code = (int)eqt_num(e, "status_code");
                ck_assert_msg(code != 200, "job %s: attempt %d succeeded while down", jobs[i].id,
                              a + 1);
                if (!refused) ck_assert_int_eq(code, 503);
            }
            ck_assert_int_eq((int)eqt_num(cJSON_GetArrayItem(log, attempts - 1), "status_code"),
                             200);
            failed_attempts += attempts - 1;
            snprintf(jobs[i].msg, sizeof jobs[i].msg, "%s", eqt_str(del, "id"));
            cJSON_Delete(del);
        }
    }
    /* The receiver's view: each job's 503 answers and its one 200 carry the same webhook-id. */
    cJSON *recs = chaos_rx_records(&rx), *it;
    int received = 0, refused_seen = 0;
    for (int i = 0; i < njobs; i++) {
        int ok = 0, rejected = 0;
        cJSON_ArrayForEach(it, recs) {
            char job[32];
            chaos_record_job_id(it, job, sizeof job);
            if (strcmp(job, jobs[i].id) != 0) continue;
            ck_assert_msg(!strcmp(eqt_str(it, "id"), jobs[i].msg),
                          "job %s: webhook-id %s differs from its delivery %s", jobs[i].id,
                          eqt_str(it, "id"), jobs[i].msg);
            ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(it, "verified")));
            int st = (int)eqt_num(it, "status");
            ok += st == 200;
            rejected += st == 503;
        }
        ck_assert_msg(ok == 1, "job %s delivered %d times", jobs[i].id, ok);
        if (!jobs[i].refused) ck_assert_int_ge(rejected, 1);
        refused_seen += rejected;
        received += ok;
    }
    cJSON_Delete(recs);
    printf("chaos_receiver_down: rounds %d, jobs %d, failed attempts while down %d (503s seen by "
           "the receiver %d), delivered after recovery %d\n",
           rounds, njobs, failed_attempts, refused_seen, received);
    eqd_signal(&d, SIGTERM);
    ck_assert_int_eq(eqd_wait(&d), 0);
    chaos_rx_stop(&rx);
    eqt_rmdir(dir);
}
END_TEST

int main(void) {
    Suite *s = suite_create("chaos_receiver_down");
    TCase *tc = tcase_create("receiver_down");
    tcase_set_timeout(tc, 3600);
    tcase_add_test(tc, receiver_down_then_back_gets_every_delivery_with_its_id);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

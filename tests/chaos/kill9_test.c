/* kill -9 of `econqd serve` at random moments during a load of submits (several client threads),
 * completions (noop jobs with small sleeps) and webhook deliveries, round after round on the same
 * data directory. Afterwards: every acknowledged job is terminal and succeeded with its result,
 * every job's webhook arrived signed, a job never produced two events, and a webhook-id was
 * received more than once only across a kill (the delivery was in flight when econqd died). */
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/chaos/chaos_util.h"
#include "tests/support/eqtest.h"

#define THREADS 3
#define MAX_JOBS 6000     /* acknowledged jobs kept over all rounds */
#define MAX_PER_ROUND 400 /* acknowledged jobs per round at most */
#define MAX_KILLS 10001   /* restarts recorded (rounds + 1) */

typedef struct job_rec {
    char id[32];
    char msg[64]; /* its delivery's webhook-id */
    int receipts;
} job_rec;

static job_rec jobs[MAX_JOBS];
static int njobs, round_cap;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static double starts[MAX_KILLS]; /* wall time just before each econqd start */
static int nstarts;

typedef struct loader {
    int port, rx_port;
    uint64_t rng;
    volatile int stop;
} loader;

static void *load(void *arg) {
    loader *l = arg;
    while (!l->stop) {
        char body[256], id[32];
        snprintf(body, sizeof body,
                 "{\"type\":\"noop\",\"params\":{\"sleep_ms\":%d,\"payload\":%d},"
                 "\"webhook\":{\"url\":\"http://127.0.0.1:%d/hook\"}}",
                 chaos_between(&l->rng, 0, 20), chaos_between(&l->rng, 0, 1000000), l->rx_port);
        int st = eqt_submit(l->port, body, id);
        if (st < 0) break; /* killed */
        if (st != 202) continue;
        pthread_mutex_lock(&mu);
        int full = njobs >= round_cap;
        if (!full) snprintf(jobs[njobs++].id, sizeof jobs[0].id, "%s", id);
        pthread_mutex_unlock(&mu);
        if (full) break;
    }
    return NULL;
}

static int start(eqd *d, const char *dir) {
    static const char *const args[] = {"--durability",
                                       "sync",
                                       "--lease-ms",
                                       "2000",
                                       "--worker-threads",
                                       "2",
                                       "--webhook-allow",
                                       "127.0.0.0/8",
                                       "--webhook-secret",
                                       CHAOS_SECRET,
                                       "--webhook-schedule",
                                       "0,1,1,1",
                                       "--log-level",
                                       "warn",
                                       NULL};
    if (nstarts < MAX_KILLS) starts[nstarts++] = chaos_wall();
    return eqd_start(d, "serve", dir, args);
}

static int by_id(const void *a, const void *b) {
    return strcmp(((const job_rec *)a)->id, ((const job_rec *)b)->id);
}

typedef struct receipt {
    char msg[64];
    double at;
} receipt;

static int by_msg_time(const void *a, const void *b) {
    const receipt *x = a, *y = b;
    int c = strcmp(x->msg, y->msg);
    return c ? c : (x->at < y->at ? -1 : x->at > y->at);
}

/* The receiver stamps a request when it handles it, which may be a little after the killed
 * econqd sent it (and so after the next start began): the slack allowed for that. */
#define RX_LAG_S 2.0

/* A restart happened between two receipts of the same webhook-id. */
static int restart_between(double t0, double t1) {
    for (int i = 1; i < nstarts; i++)
        if (starts[i] > t0 - RX_LAG_S && starts[i] <= t1) return 1;
    return 0;
}

START_TEST(kill9_rounds_lose_no_job_result_or_webhook) {
    int rounds = chaos_rounds(5);
    uint64_t rng = chaos_seed("chaos_kill9");
    char dir[256], rxlog[300];
    eqt_tmpdir(dir, sizeof dir);
    snprintf(rxlog, sizeof rxlog, "%s/receiver.jsonl", dir);
    chaos_rx rx;
    ck_assert_int_eq(chaos_rx_start(&rx, 0, rxlog), 0);
    int per_round = MAX_JOBS / rounds;
    if (per_round > MAX_PER_ROUND) per_round = MAX_PER_ROUND;
    eqd d;
    int kills = 0;
    for (int r = 0; r < rounds; r++) {
        ck_assert_int_eq(start(&d, dir), 0);
        pthread_mutex_lock(&mu);
        round_cap = njobs + per_round;
        pthread_mutex_unlock(&mu);
        loader l[THREADS];
        pthread_t t[THREADS];
        for (int i = 0; i < THREADS; i++) {
            l[i] = (loader){.port = d.port, .rx_port = rx.port, .rng = chaos_rand(&rng) | 1};
            pthread_create(&t[i], NULL, load, &l[i]);
        }
        eqt_sleep_ms(chaos_between(&rng, 50, 1500));
        eqd_signal(&d, SIGKILL);
        ck_assert_int_eq(eqd_wait(&d), 128 + SIGKILL);
        kills++;
        for (int i = 0; i < THREADS; i++) {
            l[i].stop = 1;
            pthread_join(t[i], NULL);
        }
    }
    ck_assert_int_gt(njobs, 0);

    /* The last start: everything acknowledged finishes and is delivered. */
    ck_assert_int_eq(start(&d, dir), 0);
    int reran = 0, multi_attempt_deliveries = 0;
    for (int i = 0; i < njobs; i++) {
        cJSON *j = eqt_wait_terminal(d.port, jobs[i].id, 120);
        ck_assert_msg(j != NULL, "acknowledged job %s lost", jobs[i].id);
        ck_assert_msg(!strcmp(eqt_str(j, "state"), "succeeded"), "job %s ended %s", jobs[i].id,
                      eqt_str(j, "state"));
        const cJSON *res = cJSON_GetObjectItem(j, "result");
        ck_assert_msg(res != NULL && !cJSON_IsNull(res), "job %s succeeded without its result",
                      jobs[i].id);
        reran += eqt_num(j, "attempt") > 1;
        cJSON_Delete(j);
    }
    for (int i = 0; i < njobs; i++) {
        cJSON *del = chaos_settled_delivery(d.port, jobs[i].id, 120);
        ck_assert_msg(del != NULL, "job %s has no delivery", jobs[i].id);
        ck_assert_msg(!strcmp(eqt_str(del, "state"), "delivered"), "job %s delivery %s", jobs[i].id,
                      eqt_str(del, "state"));
        ck_assert_str_eq(eqt_str(del, "event"), "job.succeeded");
        multi_attempt_deliveries += eqt_num(del, "attempts") > 1;
        snprintf(jobs[i].msg, sizeof jobs[i].msg, "%s", eqt_str(del, "id"));
        cJSON_Delete(del);
    }

    /* What the receiver saw. */
    qsort(jobs, (size_t)njobs, sizeof jobs[0], by_id);
    cJSON *recs = chaos_rx_records(&rx), *it;
    int nrec = cJSON_GetArraySize(recs), nr = 0;
    receipt *rs = calloc((size_t)nrec + 1, sizeof *rs);
    cJSON_ArrayForEach(it, recs) {
        job_rec key;
        chaos_record_job_id(it, key.id, sizeof key.id);
        job_rec *jr = bsearch(&key, jobs, (size_t)njobs, sizeof jobs[0], by_id);
        if (jr == NULL) continue; /* a job submitted but never acknowledged */
        ck_assert_msg(cJSON_IsTrue(cJSON_GetObjectItem(it, "verified")),
                      "delivery for %s not verified: %s", key.id, eqt_str(it, "reason"));
        ck_assert_int_eq((int)eqt_num(it, "status"), 200);
        ck_assert_msg(!strcmp(eqt_str(it, "id"), jr->msg),
                      "job %s produced a second event (webhook-id %s, delivery %s)", key.id,
                      eqt_str(it, "id"), jr->msg);
        jr->receipts++;
        snprintf(rs[nr].msg, sizeof rs[nr].msg, "%s", jr->msg);
        rs[nr++].at = eqt_num(it, "received_at");
    }
    cJSON_Delete(recs);
    for (int i = 0; i < njobs; i++)
        ck_assert_msg(jobs[i].receipts >= 1, "job %s: webhook never received", jobs[i].id);
    qsort(rs, (size_t)nr, sizeof rs[0], by_msg_time);
    int dups = 0;
    for (int i = 1; i < nr; i++) {
        if (strcmp(rs[i].msg, rs[i - 1].msg) != 0) continue;
        dups++;
        if (!restart_between(rs[i - 1].at, rs[i].at)) {
            double last = 0;
            for (int k = 0; k < nstarts; k++)
                if (starts[k] <= rs[i].at) last = starts[k];
            for (int k = 0; k < njobs; k++) {
                if (strcmp(jobs[k].msg, rs[i].msg) != 0) continue;
                cJSON *del = chaos_delivery(d.port, jobs[k].id);
                char *txt = cJSON_PrintUnformatted(del);
                printf("chaos_kill9: job %s delivery %s\n", jobs[k].id, txt ? txt : "?");
                fflush(stdout);
                free(txt);
                cJSON_Delete(del);
            }
            ck_abort_msg("webhook %s received at %.3f and again at %.3f without a kill in "
                         "between (last start %.3f, %d starts)",
                         rs[i].msg, rs[i - 1].at, rs[i].at, last, nstarts);
        }
    }
    free(rs);
    printf("chaos_kill9: rounds %d, kills %d, jobs acknowledged %d, jobs run again after a kill "
           "%d, webhooks received %d (duplicates across a kill %d, deliveries with >1 attempt "
           "%d)\n",
           rounds, kills, njobs, reran, nr, dups, multi_attempt_deliveries);
    eqd_signal(&d, SIGTERM);
    ck_assert_int_eq(eqd_wait(&d), 0);
    chaos_rx_stop(&rx);
    eqt_rmdir(dir);
}
END_TEST

int main(void) {
    Suite *s = suite_create("chaos_kill9");
    TCase *tc = tcase_create("kill9");
    tcase_set_timeout(tc, 3600);
    tcase_add_test(tc, kill9_rounds_lose_no_job_result_or_webhook);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

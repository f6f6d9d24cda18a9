/* Tests for broker/lifecycle.c, the job's way through the queue: submit, lease order, retries
 * with backoff, fencing by attempt, heartbeats, cancel and retry. After most steps the indexes
 * are checked against the jobs table. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/broker/lifecycle_util.h"

START_TEST(submit_lease_complete) {
    char id[EQ_ID_LEN + 1];
    submit("forecast", 5, id);
    ck_assert(eq_id_valid(id));
    ck_assert_int_eq(fx.queue_changed, 1);
    ck_assert_uint_eq(seq, 1);
    eq_job j;
    get_job(id, &j);
    ck_assert_int_eq(j.state, JOB_QUEUED);
    ck_assert_str_eq(j.type, "forecast");
    ck_assert_uint_eq(j.attempt, 0);
    ck_assert(j.created_ms == T0 && j.run_at_ms == T0);
    ck_assert_str_eq(j.webhook_secret, "whsec_x"); /* stored, only never rendered */
    eq_job_fini(&j);
    check_indexes();

    now += 10;
    leased l;
    ck_assert_int_eq(lease1("forecast", "w-1", &l), 1);
    ck_assert_str_eq(l.id, id);
    ck_assert_str_eq(l.type, "forecast");
    ck_assert_uint_eq(l.attempt, 1);
    get_job(id, &j);
    ck_assert_int_eq(j.state, JOB_RUNNING);
    ck_assert_str_eq(j.worker, "w-1");
    ck_assert(j.started_ms == now && j.lease_deadline_ms == now + LEASE_MS);
    eq_job_fini(&j);
    check_indexes();
    /* Nothing else to lease. */
    ck_assert_int_eq(lease1("forecast", "w-2", &l), 0);

    now += 10;
    lc_effects_reset(&fx);
    ck_assert_int_eq(complete(id, 1, "{\"yhat\":[1,2]}"), EQ_OK);
    get_job(id, &j);
    ck_assert_int_eq(j.state, JOB_SUCCEEDED);
    ck_assert(j.finished_ms == now);
    ck_assert_ptr_null(j.error_code);
    eq_job_fini(&j);
    ck_assert_uint_eq(fx.ndone, 1);
    ck_assert(fx_has(id, JOB_SUCCEEDED));
    ck_assert_int_eq(fx.done_ids[0][EQ_ID_LEN + 1], '\0');
    store_txn *t;
    ck_assert_int_eq(store_txn_begin(st, 0, &t), EQ_OK);
    char *res = NULL;
    ck_assert_int_eq(store_result_get(t, id, &res), EQ_OK);
    ck_assert_str_eq(res, "{\"yhat\":[1,2]}");
    free(res);
    store_txn_abort(t);
    check_indexes();
}
END_TEST

START_TEST(priorities_then_fifo) {
    int prios[] = {5, 9, 0, 5, 0, 9, 5, 0};
    char ids[8][EQ_ID_LEN + 1];
    for (int i = 0; i < 8; i++) {
        submit("embed", prios[i], ids[i]);
        now += 1; /* distinct created times; run_at = submit time */
    }
    int want[] = {2, 4, 7, 0, 3, 6, 1, 5};
    for (int k = 0; k < 8; k++) {
        leased l;
        ck_assert_int_eq(lease1("embed", "w", &l), 1);
        ck_assert_msg(strcmp(l.id, ids[want[k]]) == 0, "lease %d got the wrong job", k);
    }
    check_indexes();
}
END_TEST

START_TEST(fifo_within_a_priority_at_the_same_instant) {
    /* Same run_at: the submit sequence decides. */
    char ids[5][EQ_ID_LEN + 1];
    for (int i = 0; i < 5; i++)
        submit("embed", 3, ids[i]);
    leased l[5];
    const char *types[1] = {"embed"};
    ck_assert_uint_eq(lease_types("w", types, 1, 5, l, NULL), 5);
    for (int i = 0; i < 5; i++)
        ck_assert_str_eq(l[i].id, ids[i]);
}
END_TEST

START_TEST(future_run_at_waits) {
    char later[EQ_ID_LEN + 1], ready[EQ_ID_LEN + 1];
    ck_assert_int_eq(submit_ex("chart", (sub_opts){.prio = 0, .run_at = T0 + 60000}, later), EQ_OK);
    leased l;
    int64_t next = 0;
    const char *types[1] = {"chart"};
    ck_assert_uint_eq(lease_types("w", types, 1, 1, &l, &next), 0);
    ck_assert(next == T0 + 60000);
    /* A job for now at a worse priority goes first. */
    submit("chart", 9, ready);
    ck_assert_uint_eq(lease_types("w", types, 1, 1, &l, &next), 1);
    ck_assert_str_eq(l.id, ready);
    now = T0 + 59999;
    ck_assert_uint_eq(lease_types("w", types, 1, 1, &l, &next), 0);
    now = T0 + 60000;
    ck_assert_uint_eq(lease_types("w", types, 1, 1, &l, &next), 1);
    ck_assert_str_eq(l.id, later);
    ck_assert(next == INT64_MAX);
    check_indexes();
}
END_TEST

START_TEST(lease_across_types_takes_the_best) {
    char a5[EQ_ID_LEN + 1], b2[EQ_ID_LEN + 1], a2[EQ_ID_LEN + 1], c0[EQ_ID_LEN + 1],
        b2late[EQ_ID_LEN + 1];
    submit("a", 5, a5);
    now += 5;
    submit("b", 2, b2);
    now += 5;
    submit("a", 2, a2);
    submit("c", 0, c0); /* a type not asked for */
    ck_assert_int_eq(submit_ex("b", (sub_opts){.prio = 2, .run_at = T0 - 5000}, b2late), EQ_OK);
    const char *types[2] = {"a", "b"};
    leased l[5];
    ck_assert_uint_eq(lease_types("w", types, 2, 5, l, NULL), 4);
    /* Priority 2 first: the one with the earliest run_at (b2late), then b2 (T0+5), then a2
     * (T0+10); then a5. */
    ck_assert_str_eq(l[0].id, b2late);
    ck_assert_str_eq(l[1].id, b2);
    ck_assert_str_eq(l[2].id, a2);
    ck_assert_str_eq(l[3].id, a5);
    ck_assert_str_eq(l[1].type, "b");
    ck_assert_str_eq(l[3].type, "a");
    ck_assert_int_eq(state_of(c0), JOB_QUEUED);
    check_indexes();
}
END_TEST

START_TEST(retryable_failures_back_off_then_fail) {
    /* Several jobs so that the jitter is exercised, each through all its attempts. */
    for (int round = 0; round < 12; round++) {
        char id[EQ_ID_LEN + 1];
        ck_assert_int_eq(submit_ex("llm", (sub_opts){.prio = 5, .max_attempts = 4}, id), EQ_OK);
        /* Expected delay bounds (ms) after attempts 1, 2, 3: base, 2×base, 4×base capped at max;
         * each with ±25 % jitter. */
        int64_t lo[3] = {BASE_MS * 3 / 4, BASE_MS * 3 / 2, MAX_MS * 3 / 4};
        int64_t hi[3] = {BASE_MS * 5 / 4, BASE_MS * 5 / 2, MAX_MS * 5 / 4};
        for (int a = 1; a <= 4; a++) {
            leased l;
            ck_assert_int_eq(lease1("llm", "w", &l), 1);
            ck_assert_str_eq(l.id, id);
            ck_assert_uint_eq(l.attempt, a);
            lc_effects_reset(&fx);
            ck_assert_int_eq(fail_job(id, (uint16_t)a, "upstream", 1), EQ_OK);
            eq_job j;
            get_job(id, &j);
            ck_assert_str_eq(j.error_code, "upstream");
            ck_assert_str_eq(j.error_message, "it went wrong");
            if (a < 4) {
                ck_assert_int_eq(j.state, JOB_QUEUED);
                int64_t d = j.run_at_ms - now;
                ck_assert_msg(d >= lo[a - 1] && d <= hi[a - 1],
                              "attempt %d: delay %lld outside [%lld, %lld]", a, (long long)d,
                              (long long)lo[a - 1], (long long)hi[a - 1]);
                ck_assert_uint_eq(fx.ndone, 0);
                /* Not ready before run_at. */
                now = j.run_at_ms - 1;
                ck_assert_int_eq(lease1("llm", "w", &l), 0);
                now = j.run_at_ms;
            } else {
                ck_assert_int_eq(j.state, JOB_FAILED);
                ck_assert(fx_has(id, JOB_FAILED));
            }
            eq_job_fini(&j);
            check_indexes();
        }
    }
}
END_TEST

START_TEST(backoff_is_capped_for_many_attempts) {
    char id[EQ_ID_LEN + 1];
    ck_assert_int_eq(submit_ex("llm", (sub_opts){.max_attempts = 40}, id), EQ_OK);
    for (int a = 1; a < 40; a++) {
        leased l;
        ck_assert_int_eq(lease1("llm", "w", &l), 1);
        ck_assert_int_eq(fail_job(id, (uint16_t)a, "upstream", 1), EQ_OK);
        eq_job j;
        get_job(id, &j);
        int64_t d = j.run_at_ms - now;
        /* The doubling must neither overflow nor pass the cap (with its jitter). */
        ck_assert_msg(d > 0 && d <= MAX_MS * 5 / 4, "attempt %d: delay %lld", a, (long long)d);
        now = j.run_at_ms;
        eq_job_fini(&j);
    }
}
END_TEST

START_TEST(permanent_failure_is_not_retried) {
    char id[EQ_ID_LEN + 1];
    submit("llm", 5, id);
    leased l;
    ck_assert_int_eq(lease1("llm", "w", &l), 1);
    ck_assert_int_eq(fail_job(id, 1, "bad_input", 0), EQ_OK);
    ck_assert_int_eq(state_of(id), JOB_FAILED);
    ck_assert(fx_has(id, JOB_FAILED));
    now += 1000000;
    ck_assert_int_eq(lease1("llm", "w", &l), 0);
    check_indexes();
}
END_TEST

START_TEST(shutdown_requeues_without_using_an_attempt) {
    char id[EQ_ID_LEN + 1];
    ck_assert_int_eq(submit_ex("llm", (sub_opts){.max_attempts = 1}, id), EQ_OK);
    leased l;
    for (int a = 1; a <= 3; a++) {
        ck_assert_int_eq(lease1("llm", "w", &l), 1);
        ck_assert_uint_eq(l.attempt, a);
        ck_assert_int_eq(fail_job(id, (uint16_t)a, "shutdown", 0), EQ_OK);
        ck_assert_int_eq(state_of(id), JOB_QUEUED); /* at once, with max_attempts 1 */
    }
    ck_assert_int_eq(lease1("llm", "w", &l), 1);
    ck_assert_int_eq(fail_job(id, 4, "boom", 1), EQ_OK);
    ck_assert_int_eq(state_of(id), JOB_FAILED); /* the one real attempt is used up */
    check_indexes();
}
END_TEST

START_TEST(fencing_stale_and_repeated_outcomes) {
    char id[EQ_ID_LEN + 1];
    submit("forecast", 5, id);
    leased first, second;
    ck_assert_int_eq(lease1("forecast", "w-old", &first), 1);
    /* The first worker goes silent; the reaper re-queues; another worker takes it. */
    now += LEASE_MS + 1;
    ck_assert_uint_eq(reap(), 1);
    ck_assert_int_eq(lease1("forecast", "w-new", &second), 1);
    ck_assert_str_eq(second.id, id);
    ck_assert_uint_eq(second.attempt, first.attempt + 1);
    /* The old worker's outcomes are refused. */
    ck_assert_int_eq(complete(id, first.attempt, "{\"old\":1}"), EQ_ESTALE);
    ck_assert_int_eq(fail_job(id, first.attempt, "x", 1), EQ_ESTALE);
    ck_assert_int_eq(heartbeat(id, first.attempt), PROTO_HB_LOST);
    ck_assert_int_eq(state_of(id), JOB_RUNNING);
    /* A future attempt number is refused too. */
    ck_assert_int_eq(complete(id, second.attempt + 1, "{}"), EQ_ESTALE);
    ck_assert_int_eq(complete(id, second.attempt, "{\"new\":1}"), EQ_OK);
    ck_assert_int_eq(state_of(id), JOB_SUCCEEDED);
    /* A resent identical complete is a no-op: accepted, nothing changes, no second event. */
    eq_job before, after;
    get_job(id, &before);
    lc_effects_reset(&fx);
    now += 5;
    ck_assert_int_eq(complete(id, second.attempt, "{\"new\":1}"), EQ_OK);
    get_job(id, &after);
    ck_assert_int_eq(after.state, JOB_SUCCEEDED);
    ck_assert(after.finished_ms == before.finished_ms && after.updated_ms == before.updated_ms);
    ck_assert_uint_eq(fx.ndone, 0);
    eq_job_fini(&before);
    eq_job_fini(&after);
    store_txn *t;
    ck_assert_int_eq(store_txn_begin(st, 0, &t), EQ_OK);
    char *res;
    ck_assert_int_eq(store_result_get(t, id, &res), EQ_OK);
    ck_assert_str_eq(res, "{\"new\":1}");
    free(res);
    store_txn_abort(t);
    /* The stale worker still cannot overwrite a finished job. */
    ck_assert_int_eq(complete(id, first.attempt, "{\"old\":1}"), EQ_ESTALE);
    /* Outcomes for unknown jobs. */
    char ghost[EQ_ID_LEN + 1];
    eq_id_new(now, ghost);
    ck_assert_int_eq(complete(ghost, 1, "{}"), EQ_ENOTFOUND);
    check_indexes();
}
END_TEST

START_TEST(heartbeat_extends_and_reports_cancel) {
    char id[EQ_ID_LEN + 1];
    submit("forecast", 5, id);
    leased l;
    ck_assert_int_eq(lease1("forecast", "w", &l), 1);
    now += LEASE_MS - 1000;
    ck_assert_int_eq(heartbeat(id, l.attempt), PROTO_HB_OK);
    eq_job j;
    get_job(id, &j);
    ck_assert(j.lease_deadline_ms == now + LEASE_MS);
    eq_job_fini(&j);
    check_indexes();
    /* Past the original deadline, the lease holds. */
    now = l.deadline + 1000;
    ck_assert_uint_eq(reap(), 0);
    ck_assert_int_eq(state_of(id), JOB_RUNNING);
    /* Cancel while running: the job keeps running until the worker hears of it. */
    char state[32];
    ck_assert_int_eq(cancel(id, state), EQ_OK);
    ck_assert_str_eq(state, "running");
    ck_assert_int_eq(state_of(id), JOB_RUNNING);
    ck_assert_int_eq(heartbeat(id, l.attempt), PROTO_HB_CANCEL);
    ck_assert_int_eq(heartbeat(id, (uint16_t)(l.attempt + 1)), PROTO_HB_LOST);
    /* The worker's result is discarded; the job ends cancelled. */
    lc_effects_reset(&fx);
    ck_assert_int_eq(complete(id, l.attempt, "{\"late\":1}"), EQ_OK);
    get_job(id, &j);
    ck_assert_int_eq(j.state, JOB_CANCELLED);
    ck_assert_str_eq(j.error_code, "cancelled");
    ck_assert_uint_eq(j.cancel_requested, 0);
    eq_job_fini(&j);
    ck_assert(fx_has(id, JOB_CANCELLED));
    store_txn *t;
    char *res;
    ck_assert_int_eq(store_txn_begin(st, 0, &t), EQ_OK);
    ck_assert_int_eq(store_result_get(t, id, &res), EQ_ENOTFOUND);
    store_txn_abort(t);
    ck_assert_int_eq(heartbeat(id, l.attempt), PROTO_HB_LOST);
    /* Unknown jobs are lost, not errors. */
    char ghost[EQ_ID_LEN + 1];
    eq_id_new(now, ghost);
    ck_assert_int_eq(heartbeat(ghost, 1), PROTO_HB_LOST);
    check_indexes();
}
END_TEST

START_TEST(cancel_queued_and_finished) {
    char id[EQ_ID_LEN + 1], state[32];
    submit("chart", 5, id);
    lc_effects_reset(&fx);
    ck_assert_int_eq(cancel(id, state), EQ_OK);
    ck_assert_str_eq(state, "cancelled");
    ck_assert(fx_has(id, JOB_CANCELLED));
    leased l;
    ck_assert_int_eq(lease1("chart", "w", &l), 0);
    check_indexes();
    /* Finished jobs cannot be cancelled. */
    ck_assert_int_eq(cancel(id, state), EQ_ECONFLICT);
    char done[EQ_ID_LEN + 1];
    submit("chart", 5, done);
    ck_assert_int_eq(lease1("chart", "w", &l), 1);
    ck_assert_int_eq(complete(done, l.attempt, "{}"), EQ_OK);
    ck_assert_int_eq(cancel(done, state), EQ_ECONFLICT);
    ck_assert_int_eq(state_of(done), JOB_SUCCEEDED);
    char ghost[EQ_ID_LEN + 1];
    eq_id_new(now, ghost);
    ck_assert_int_eq(cancel(ghost, state), EQ_ENOTFOUND);
    /* A delayed job can be cancelled too, and leaves the queue. */
    char delayed[EQ_ID_LEN + 1];
    ck_assert_int_eq(submit_ex("chart", (sub_opts){.run_at = now + 10000}, delayed), EQ_OK);
    ck_assert_int_eq(cancel(delayed, state), EQ_OK);
    ck_assert_str_eq(state, "cancelled");
    check_indexes();
}
END_TEST

START_TEST(retry_failed_starts_a_new_round) {
    char id[EQ_ID_LEN + 1];
    ck_assert_int_eq(submit_ex("llm", (sub_opts){.max_attempts = 2}, id), EQ_OK);
    leased l;
    ck_assert_int_eq(lease1("llm", "w", &l), 1);
    ck_assert_int_eq(fail_job(id, 1, "e", 1), EQ_OK);
    eq_job j;
    get_job(id, &j);
    now = j.run_at_ms;
    eq_job_fini(&j);
    ck_assert_int_eq(lease1("llm", "w-old", &l), 1);
    ck_assert_uint_eq(l.attempt, 2);
    ck_assert_int_eq(fail_job(id, 2, "e", 1), EQ_OK);
    ck_assert_int_eq(state_of(id), JOB_FAILED);
    /* Only failed or cancelled jobs can be retried. */
    char other[EQ_ID_LEN + 1];
    submit("other", 5, other);
    ck_assert_int_eq(retry(other), EQ_ECONFLICT);
    now += 100;
    ck_assert_int_eq(retry(id), EQ_OK);
    get_job(id, &j);
    ck_assert_int_eq(j.state, JOB_QUEUED);
    ck_assert_ptr_null(j.error_code);
    ck_assert(j.finished_ms == 0);
    ck_assert(j.run_at_ms == now);
    eq_job_fini(&j);
    check_indexes();
    /* The attempt number keeps counting, so the worker of attempt 2 stays fenced out. */
    leased again;
    ck_assert_int_eq(lease1("llm", "w-new", &again), 1);
    ck_assert_uint_eq(again.attempt, 3);
    ck_assert_int_eq(complete(id, 2, "{}"), EQ_ESTALE);
    /* A fresh round: two more attempts, the first delay is the base delay again. */
    ck_assert_int_eq(fail_job(id, 3, "e", 1), EQ_OK);
    get_job(id, &j);
    ck_assert_int_eq(j.state, JOB_QUEUED);
    ck_assert(j.run_at_ms - now >= BASE_MS * 3 / 4 && j.run_at_ms - now <= BASE_MS * 5 / 4);
    now = j.run_at_ms;
    eq_job_fini(&j);
    ck_assert_int_eq(lease1("llm", "w-new", &again), 1);
    ck_assert_uint_eq(again.attempt, 4);
    ck_assert_int_eq(fail_job(id, 4, "e", 1), EQ_OK);
    ck_assert_int_eq(state_of(id), JOB_FAILED);
    check_indexes();
}
END_TEST

START_TEST(retry_cancelled_and_succeeded) {
    char id[EQ_ID_LEN + 1], state[32];
    submit("chart", 5, id);
    ck_assert_int_eq(cancel(id, state), EQ_OK);
    ck_assert_int_eq(retry(id), EQ_OK);
    leased l;
    ck_assert_int_eq(lease1("chart", "w", &l), 1);
    ck_assert_str_eq(l.id, id);
    ck_assert_int_eq(retry(id), EQ_ECONFLICT); /* running */
    ck_assert_int_eq(complete(id, l.attempt, "{}"), EQ_OK);
    ck_assert_int_eq(retry(id), EQ_ECONFLICT); /* succeeded */
    char ghost[EQ_ID_LEN + 1];
    eq_id_new(now, ghost);
    ck_assert_int_eq(retry(ghost), EQ_ENOTFOUND);
    check_indexes();
}
END_TEST

int main(void) {
    Suite *s = suite_create("lifecycle");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, submit_lease_complete);
    tcase_add_test(tc, priorities_then_fifo);
    tcase_add_test(tc, fifo_within_a_priority_at_the_same_instant);
    tcase_add_test(tc, future_run_at_waits);
    tcase_add_test(tc, lease_across_types_takes_the_best);
    tcase_add_test(tc, retryable_failures_back_off_then_fail);
    tcase_add_test(tc, backoff_is_capped_for_many_attempts);
    tcase_add_test(tc, permanent_failure_is_not_retried);
    tcase_add_test(tc, shutdown_requeues_without_using_an_attempt);
    tcase_add_test(tc, fencing_stale_and_repeated_outcomes);
    tcase_add_test(tc, heartbeat_extends_and_reports_cancel);
    tcase_add_test(tc, cancel_queued_and_finished);
    tcase_add_test(tc, retry_failed_starts_a_new_round);
    tcase_add_test(tc, retry_cancelled_and_succeeded);
    suite_add_tcase(s, tc);
    return run_suite(s);
}

/* Tests for broker/lifecycle.c housekeeping: the reaper, recovery after a restart, retention,
 * idempotency keys and the effects a transaction reports. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/broker/lifecycle_util.h"

START_TEST(reap_requeues_then_fails) {
    char id[EQ_ID_LEN + 1];
    ck_assert_int_eq(submit_ex("forecast", (sub_opts){.max_attempts = 2}, id), EQ_OK);
    leased l;
    ck_assert_int_eq(lease1("forecast", "w", &l), 1);
    /* At the deadline exactly the lease still holds. */
    now = l.deadline;
    ck_assert_uint_eq(reap(), 0);
    now = l.deadline + 1;
    ck_assert_uint_eq(reap(), 1);
    eq_job j;
    get_job(id, &j);
    ck_assert_int_eq(j.state, JOB_QUEUED);
    ck_assert_str_eq(j.error_code, "lease_expired");
    ck_assert(j.run_at_ms == now);
    eq_job_fini(&j);
    check_indexes();
    ck_assert_int_eq(lease1("forecast", "w", &l), 1);
    ck_assert_uint_eq(l.attempt, 2);
    now = l.deadline + 1;
    lc_effects_reset(&fx);
    ck_assert_uint_eq(reap(), 1);
    ck_assert_int_eq(state_of(id), JOB_FAILED);
    ck_assert(fx_has(id, JOB_FAILED));
    ck_assert_uint_eq(reap(), 0);
    check_indexes();
}
END_TEST

START_TEST(reap_of_a_cancel_requested_job_cancels_it) {
    char id[EQ_ID_LEN + 1], state[32];
    submit("forecast", 5, id);
    leased l;
    ck_assert_int_eq(lease1("forecast", "w", &l), 1);
    ck_assert_int_eq(cancel(id, state), EQ_OK);
    now = l.deadline + 1;
    ck_assert_uint_eq(reap(), 1);
    ck_assert_int_eq(state_of(id), JOB_CANCELLED);
    check_indexes();
}
END_TEST

START_TEST(reap_handles_many) {
    char ids[30][EQ_ID_LEN + 1];
    for (int i = 0; i < 30; i++)
        submit("embed", 5, ids[i]);
    leased l[30];
    const char *types[1] = {"embed"};
    ck_assert_uint_eq(lease_types("w", types, 1, 30, l, NULL), 30);
    now += LEASE_MS + 1;
    size_t n;
    lc_ctx c = begin();
    ck_assert_int_eq(lc_reap(&c, 10, &n), EQ_OK); /* bounded per call */
    end(&c);
    ck_assert_uint_eq(n, 10);
    ck_assert_uint_eq(reap(), 20);
    for (int i = 0; i < 30; i++)
        ck_assert_int_eq(state_of(ids[i]), JOB_QUEUED);
    check_indexes();
}
END_TEST

START_TEST(recover_local_only_matches_the_prefix) {
    char mine[EQ_ID_LEN + 1], theirs[EQ_ID_LEN + 1], queued[EQ_ID_LEN + 1];
    submit("embed", 5, mine);
    submit("embed", 5, theirs);
    leased l;
    ck_assert_int_eq(lease1("embed", "local-3", &l), 1);
    ck_assert_str_eq(l.id, mine);
    ck_assert_int_eq(lease1("embed", "remote-local-1", &l), 1);
    ck_assert_str_eq(l.id, theirs);
    submit("embed", 5, queued);
    now += 1000;
    size_t n = 99;
    lc_ctx c = begin();
    ck_assert_int_eq(lc_recover_local(&c, "local-", &n), EQ_OK);
    end(&c);
    ck_assert_uint_eq(n, 1);
    eq_job j;
    get_job(mine, &j);
    ck_assert_int_eq(j.state, JOB_QUEUED);
    ck_assert_str_eq(j.error_code, "restarted");
    ck_assert(j.run_at_ms == now);
    eq_job_fini(&j);
    ck_assert_int_eq(state_of(theirs), JOB_RUNNING);
    ck_assert_int_eq(state_of(queued), JOB_QUEUED);
    check_indexes();
}
END_TEST

START_TEST(recover_local_fails_a_job_out_of_attempts) {
    char id[EQ_ID_LEN + 1];
    ck_assert_int_eq(submit_ex("embed", (sub_opts){.max_attempts = 1}, id), EQ_OK);
    leased l;
    ck_assert_int_eq(lease1("embed", "local-0", &l), 1);
    size_t n;
    lc_ctx c = begin();
    ck_assert_int_eq(lc_recover_local(&c, "local-", &n), EQ_OK);
    end(&c);
    ck_assert_uint_eq(n, 1);
    eq_job j;
    get_job(id, &j);
    ck_assert_int_eq(j.state, JOB_FAILED);
    ck_assert_str_eq(j.error_code, "restarted");
    eq_job_fini(&j);
    ck_assert(fx_has(id, JOB_FAILED));
    check_indexes();
}
END_TEST

START_TEST(retry_of_a_job_cancelled_while_running) {
    char id[EQ_ID_LEN + 1], state[32];
    submit("chart", 5, id);
    leased l;
    ck_assert_int_eq(lease1("chart", "w-1", &l), 1);
    ck_assert_int_eq(cancel(id, state), EQ_OK);
    ck_assert_int_eq(fail_job(id, l.attempt, "interrupted", 1), EQ_OK);
    eq_job j;
    get_job(id, &j);
    ck_assert_int_eq(j.state, JOB_CANCELLED);
    ck_assert_str_eq(j.error_code, "cancelled");
    eq_job_fini(&j);
    ck_assert_int_eq(retry(id), EQ_OK);
    leased again;
    ck_assert_int_eq(lease1("chart", "w-2", &again), 1);
    ck_assert_uint_eq(again.attempt, l.attempt + 1);
    /* The new run is not cancelled. */
    ck_assert_int_eq(heartbeat(id, again.attempt), PROTO_HB_OK);
    ck_assert_int_eq(complete(id, again.attempt, "{}"), EQ_OK);
    ck_assert_int_eq(state_of(id), JOB_SUCCEEDED);
    check_indexes();
}
END_TEST

START_TEST(retain_deletes_old_finished_jobs) {
    char old_ok[EQ_ID_LEN + 1], old_fail[EQ_ID_LEN + 1], old_cancel[EQ_ID_LEN + 1],
        new_ok[EQ_ID_LEN + 1], running[EQ_ID_LEN + 1], queued[EQ_ID_LEN + 1], state[32];
    leased l;
    submit("t", 5, old_ok);
    ck_assert_int_eq(lease1("t", "w", &l), 1);
    ck_assert_int_eq(complete(old_ok, l.attempt, "{\"r\":1}"), EQ_OK);
    submit("t", 5, old_fail);
    ck_assert_int_eq(lease1("t", "w", &l), 1);
    ck_assert_int_eq(fail_job(old_fail, l.attempt, "bad", 0), EQ_OK);
    submit("t", 5, old_cancel);
    ck_assert_int_eq(cancel(old_cancel, state), EQ_OK);
    now += 10000;
    int64_t cutoff = now;
    submit("t", 5, new_ok);
    ck_assert_int_eq(lease1("t", "w", &l), 1);
    ck_assert_int_eq(complete(new_ok, l.attempt, "{\"r\":2}"), EQ_OK);
    submit("t", 5, running);
    ck_assert_int_eq(lease1("t", "w", &l), 1);
    submit("t", 5, queued);
    now += 10000;
    size_t n = 0;
    lc_ctx c = begin();
    ck_assert_int_eq(lc_retain(&c, cutoff, 100, &n), EQ_OK);
    end(&c);
    ck_assert_uint_eq(n, 3);
    ck_assert(!job_exists(old_ok));
    ck_assert(!job_exists(old_fail));
    ck_assert(!job_exists(old_cancel));
    ck_assert(job_exists(new_ok));
    ck_assert_int_eq(state_of(running), JOB_RUNNING);
    ck_assert_int_eq(state_of(queued), JOB_QUEUED);
    store_txn *t;
    char *res;
    ck_assert_int_eq(store_txn_begin(st, 0, &t), EQ_OK);
    ck_assert_int_eq(store_result_get(t, old_ok, &res), EQ_ENOTFOUND);
    ck_assert_int_eq(store_result_get(t, new_ok, &res), EQ_OK);
    ck_assert_str_eq(res, "{\"r\":2}");
    free(res);
    store_txn_abort(t);
    check_indexes();
    /* Nothing more to do at the same cutoff. */
    c = begin();
    ck_assert_int_eq(lc_retain(&c, cutoff, 100, &n), EQ_OK);
    end(&c);
    ck_assert_uint_eq(n, 0);
}
END_TEST

START_TEST(retain_is_bounded_per_call) {
    char id[EQ_ID_LEN + 1], state[32];
    for (int i = 0; i < 7; i++) {
        submit("t", 5, id);
        ck_assert_int_eq(cancel(id, state), EQ_OK);
    }
    now += 1;
    size_t n;
    lc_ctx c = begin();
    ck_assert_int_eq(lc_retain(&c, now, 3, &n), EQ_OK);
    end(&c);
    ck_assert_uint_eq(n, 3);
    c = begin();
    ck_assert_int_eq(lc_retain(&c, now, 100, &n), EQ_OK);
    end(&c);
    ck_assert_uint_eq(n, 4);
    check_indexes();
}
END_TEST

START_TEST(idempotency_keys) {
    char first[EQ_ID_LEN + 1], again[EQ_ID_LEN + 1], other[EQ_ID_LEN + 1];
    sub_opts o = {.prio = 5, .idem_key = "order-42", .hash = 0xabc};
    ck_assert_int_eq(submit_ex("forecast", o, first), EQ_OK);
    uint64_t seq_after_first = seq;
    now += 1000;
    /* Same key, same body: the first job again, nothing new created. */
    ck_assert_int_eq(submit_ex("forecast", o, again), EQ_EEXIST);
    ck_assert_str_eq(again, first);
    ck_assert_uint_eq(seq, seq_after_first);
    /* Same key, another body. */
    sub_opts diff = o;
    diff.hash = 0xabd;
    ck_assert_int_eq(submit_ex("forecast", diff, other), EQ_ECONFLICT);
    /* Another key is another job. */
    sub_opts k2 = o;
    k2.idem_key = "order-43";
    ck_assert_int_eq(submit_ex("forecast", k2, other), EQ_OK);
    ck_assert_str_ne(other, first);
    check_indexes();
    /* After the key's lifetime it starts afresh, and a different body is fine. */
    now = T0 + IDEM_TTL_MS;
    ck_assert_int_eq(submit_ex("forecast", diff, other), EQ_OK);
    ck_assert_str_ne(other, first);
    /* The replay now answers with the new job. */
    ck_assert_int_eq(submit_ex("forecast", diff, again), EQ_EEXIST);
    ck_assert_str_eq(again, other);
}
END_TEST

START_TEST(idempotency_key_of_a_retained_job_starts_afresh) {
    char first[EQ_ID_LEN + 1], state[32], second[EQ_ID_LEN + 1];
    sub_opts o = {.prio = 5, .idem_key = "k", .hash = 7};
    ck_assert_int_eq(submit_ex("t", o, first), EQ_OK);
    ck_assert_int_eq(cancel(first, state), EQ_OK);
    now += 10;
    size_t n;
    lc_ctx c = begin();
    ck_assert_int_eq(lc_retain(&c, now, 100, &n), EQ_OK);
    end(&c);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(submit_ex("t", o, second), EQ_OK);
    ck_assert_str_ne(second, first);
    ck_assert_int_eq(submit_ex("t", o, first), EQ_EEXIST);
    ck_assert_str_eq(first, second);
}
END_TEST

START_TEST(state_survives_a_reopen) {
    char first[EQ_ID_LEN + 1], second[EQ_ID_LEN + 1], third[EQ_ID_LEN + 1];
    submit("t", 5, first);
    submit("t", 5, second);
    ck_assert_int_eq(submit_ex("t", (sub_opts){.prio = 5, .run_at = now + 5000}, third), EQ_OK);
    leased l;
    ck_assert_int_eq(lease1("t", "w", &l), 1);
    ck_assert_str_eq(l.id, first);
    /* Close and reopen the environment: jobs, indexes and order are all on disk. */
    store_close(st);
    store_opts o;
    store_opts_defaults(&o);
    o.map_size = 64u << 20;
    ck_assert_int_eq(store_open(dir, &o, &st), EQ_OK);
    check_indexes();
    ck_assert_int_eq(state_of(first), JOB_RUNNING);
    ck_assert_int_eq(complete(first, l.attempt, "{}"), EQ_OK);
    ck_assert_int_eq(lease1("t", "w", &l), 1);
    ck_assert_str_eq(l.id, second);
    ck_assert_int_eq(lease1("t", "w", &l), 0);
    now += 5000;
    ck_assert_int_eq(lease1("t", "w", &l), 1);
    ck_assert_str_eq(l.id, third);
    check_indexes();
}
END_TEST

START_TEST(effects_record_terminal_jobs) {
    /* Many terminal events in one transaction (past the first allocation of 64). */
    char ids[100][EQ_ID_LEN + 1];
    for (int i = 0; i < 100; i++)
        submit("t", 5, ids[i]);
    lc_effects_reset(&fx);
    ck_assert_int_eq(fx.queue_changed, 0);
    lc_ctx c = begin();
    for (int i = 0; i < 100; i++) {
        eq_buf b;
        eq_buf_init(&b);
        const char *why;
        ck_assert_int_eq(lc_cancel(&c, ids[i], &b, &why), EQ_OK);
        eq_buf_fini(&b);
    }
    end(&c);
    ck_assert_uint_eq(fx.ndone, 100);
    for (int i = 0; i < 100; i++) {
        ck_assert(memcmp(fx.done_ids[i], ids[i], EQ_ID_LEN) == 0);
        ck_assert_int_eq(fx.done_ids[i][EQ_ID_LEN], JOB_CANCELLED);
    }
    /* Leasing and a re-queue are not terminal; a re-queue marks the queue changed. */
    char id[EQ_ID_LEN + 1];
    submit("t", 5, id);
    lc_effects_reset(&fx);
    leased l;
    ck_assert_int_eq(lease1("t", "w", &l), 1);
    ck_assert_uint_eq(fx.ndone, 0);
    ck_assert_int_eq(fx.queue_changed, 0);
    ck_assert_int_eq(fail_job(id, l.attempt, "e", 1), EQ_OK);
    ck_assert_uint_eq(fx.ndone, 0);
    ck_assert_int_eq(fx.queue_changed, 1);
    check_indexes();
}
END_TEST

START_TEST(an_aborted_transaction_changes_nothing) {
    char id[EQ_ID_LEN + 1];
    submit("t", 5, id);
    uint64_t seq0 = seq;
    lc_ctx c = begin();
    proto_lease_req r = {.worker = "w", .ntypes = 1, .max = 1};
    r.types[0] = "t";
    eq_buf b;
    eq_buf_init(&b);
    uint32_t n;
    int64_t next = INT64_MAX;
    ck_assert_int_eq(lc_lease(&c, &r, &b, &n, &next), EQ_OK);
    ck_assert_uint_eq(n, 1);
    store_txn_abort(c.txn);
    eq_buf_fini(&b);
    ck_assert_int_eq(state_of(id), JOB_QUEUED);
    ck_assert_uint_eq(seq, seq0);
    check_indexes();
}
END_TEST

/* BUG (pending fix): the protocol accepts a job type of up to 64 bytes (common/proto.c,
 * dec_submit: `req_str(rd, 64)`), but eq_job.type holds JOB_TYPE_MAX - 1 = 63; lc_submit copies it
 * with snprintf and silently truncates, so the job is queued under a type no worker asked for
 * and never runs. Fix: in common/proto.c use 63 (JOB_TYPE_MAX - 1; proto.h can name it
 * PROTO_MAX_TYPE_BYTES 63) for submit and lease types, and in broker/lifecycle.c lc_submit refuse
 * `strlen(s->type) >= sizeof j.type` with EQ_EINVAL before creating the job. This test accepts
 * either a refusal or an exact type. Runs only with ECONQ_PENDING_FIXES=1. */
START_TEST(submit_with_a_type_longer_than_the_job_holds) {
    char type[JOB_TYPE_MAX + 1];
    memset(type, 'k', JOB_TYPE_MAX);
    type[JOB_TYPE_MAX] = '\0';
    char id[EQ_ID_LEN + 1];
    eq_err err = submit_ex(type, (sub_opts){.prio = 5}, id);
    if (err == EQ_OK) {
        eq_job j;
        get_job(id, &j);
        ck_assert_msg(strcmp(j.type, type) == 0, "stored type has %zu bytes, asked for %zu",
                      strlen(j.type), strlen(type));
        eq_job_fini(&j);
    } else {
        ck_assert_int_eq(err, EQ_EINVAL);
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("lifecycle_upkeep");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, reap_requeues_then_fails);
    tcase_add_test(tc, reap_of_a_cancel_requested_job_cancels_it);
    tcase_add_test(tc, reap_handles_many);
    tcase_add_test(tc, recover_local_only_matches_the_prefix);
    tcase_add_test(tc, recover_local_fails_a_job_out_of_attempts);
    tcase_add_test(tc, retry_of_a_job_cancelled_while_running);
    tcase_add_test(tc, retain_deletes_old_finished_jobs);
    tcase_add_test(tc, retain_is_bounded_per_call);
    tcase_add_test(tc, idempotency_keys);
    tcase_add_test(tc, idempotency_key_of_a_retained_job_starts_afresh);
    tcase_add_test(tc, effects_record_terminal_jobs);
    tcase_add_test(tc, state_survives_a_reopen);
    tcase_add_test(tc, an_aborted_transaction_changes_nothing);
    suite_add_tcase(s, tc);
    /* Tests that fail until a known bug is fixed (see each test's comment). */
    const char *pending = getenv("ECONQ_PENDING_FIXES");
    if (pending && strcmp(pending, "1") == 0) {
        TCase *tp = tcase_create("pending_fixes");
        tcase_add_checked_fixture(tp, setup, teardown);
        tcase_add_test(tp, submit_with_a_type_longer_than_the_job_holds);
        suite_add_tcase(s, tp);
    }
    return run_suite(s);
}

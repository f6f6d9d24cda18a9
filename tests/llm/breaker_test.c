/* Tests workers/llm/breaker.c with an injected clock. */
#include <check.h>
#include <pthread.h>

#include "workers/llm/breaker.h"

typedef struct fake_clock {
    uint64_t now;
} fake_clock;

static uint64_t clock_read(void *ctx) {
    return ((fake_clock *)ctx)->now;
}

static breaker b;
static fake_clock clk;

static void setup(void) {
    clk.now = 1000000;
    breaker_config cfg = {.clock = clock_read, .clock_ctx = &clk}; /* defaults: 3, 5 min */
    ck_assert_int_eq(breaker_init(&b, &cfg), EQ_OK);
}

static void teardown(void) {
    breaker_fini(&b);
}

/* Runs one allowed call that fails. */
static void fail_once(void) {
    breaker_ticket t;
    ck_assert_int_eq(breaker_allow(&b, &t, NULL), EQ_OK);
    breaker_report(&b, t, false);
}

static breaker_state state(void) {
    breaker_status st;
    breaker_get_status(&b, &st);
    return st.state;
}

START_TEST(test_opens_after_three_and_fails_fast) {
    ck_assert_int_eq(state(), BREAKER_CLOSED);
    fail_once();
    fail_once();
    ck_assert_int_eq(state(), BREAKER_CLOSED);
    fail_once();
    breaker_status st;
    breaker_get_status(&b, &st);
    ck_assert_int_eq(st.state, BREAKER_OPEN);
    ck_assert_str_eq(breaker_state_name(st.state), "open");
    ck_assert_uint_eq(st.failures, 3);
    ck_assert_uint_eq(st.opened_at_ms, 1000000);
    ck_assert_uint_eq(st.retry_after_s, 300);
    ck_assert_uint_eq(st.retry_after_ms, 300000);
    ck_assert(!st.probing);
    ck_assert_uint_eq(st.opened_total, 1);
    /* Fails fast for the whole cool-down. */
    breaker_ticket t;
    uint64_t wait;
    clk.now += 60000;
    ck_assert_int_eq(breaker_allow(&b, &t, &wait), EQ_EBUSY);
    ck_assert_uint_eq(wait, 240000);
    clk.now += 239999;
    ck_assert_int_eq(breaker_allow(&b, &t, &wait), EQ_EBUSY);
    ck_assert_uint_eq(wait, 1);
    breaker_get_status(&b, &st);
    ck_assert_uint_eq(st.retry_after_s, 1); /* rounded up */
    ck_assert_uint_eq(st.rejected_total, 2);
}
END_TEST

START_TEST(test_success_resets_the_count) {
    fail_once();
    fail_once();
    breaker_ticket t;
    ck_assert_int_eq(breaker_allow(&b, &t, NULL), EQ_OK);
    breaker_report(&b, t, true);
    fail_once();
    fail_once();
    ck_assert_int_eq(state(), BREAKER_CLOSED); /* not three in a row */
    fail_once();
    ck_assert_int_eq(state(), BREAKER_OPEN);
}
END_TEST

START_TEST(test_half_open_single_probe_closes_on_success) {
    for (int i = 0; i < 3; i++)
        fail_once();
    clk.now += BREAKER_DEFAULT_COOLDOWN_MS;
    ck_assert_int_eq(state(), BREAKER_HALF_OPEN); /* reported as half-open once due */
    breaker_status due;
    breaker_get_status(&b, &due);
    ck_assert(!due.probing); /* nobody probing yet: a caller must be let through */
    ck_assert_uint_eq(due.retry_after_ms, 0);
    breaker_ticket probe, other;
    uint64_t wait;
    ck_assert_int_eq(breaker_allow(&b, &probe, NULL), EQ_OK);
    ck_assert(probe.probe);
    ck_assert_str_eq(breaker_state_name(state()), "half_open");
    breaker_get_status(&b, &due);
    ck_assert(due.probing);
    /* A probe that never reports stops counting as out after one cool-down. */
    clk.now += BREAKER_DEFAULT_COOLDOWN_MS;
    breaker_get_status(&b, &due);
    ck_assert(!due.probing);
    clk.now -= BREAKER_DEFAULT_COOLDOWN_MS;
    /* Exactly one probe: everyone else fails fast while it is out. */
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(breaker_allow(&b, &other, &wait), EQ_EBUSY);
        ck_assert_uint_eq(wait, BREAKER_PROBE_RETRY_MS);
    }
    breaker_report(&b, probe, true);
    breaker_status st;
    breaker_get_status(&b, &st);
    ck_assert_int_eq(st.state, BREAKER_CLOSED);
    ck_assert_uint_eq(st.failures, 0);
    ck_assert_uint_eq(st.retry_after_s, 0);
    ck_assert_int_eq(breaker_allow(&b, &other, NULL), EQ_OK);
    ck_assert(!other.probe);
}
END_TEST

START_TEST(test_half_open_probe_failure_reopens) {
    for (int i = 0; i < 3; i++)
        fail_once();
    clk.now += BREAKER_DEFAULT_COOLDOWN_MS + 5;
    breaker_ticket probe;
    ck_assert_int_eq(breaker_allow(&b, &probe, NULL), EQ_OK);
    uint64_t reopened = clk.now + 2000;
    clk.now = reopened;
    breaker_report(&b, probe, false);
    breaker_status st;
    breaker_get_status(&b, &st);
    ck_assert_int_eq(st.state, BREAKER_OPEN);
    ck_assert_uint_eq(st.opened_at_ms, reopened); /* a new cool-down from the failure */
    ck_assert_uint_eq(st.retry_after_s, 300);
    ck_assert_uint_eq(st.opened_total, 2);
    breaker_ticket t;
    ck_assert_int_eq(breaker_allow(&b, &t, NULL), EQ_EBUSY);
    clk.now += BREAKER_DEFAULT_COOLDOWN_MS;
    ck_assert_int_eq(breaker_allow(&b, &t, NULL), EQ_OK);
    ck_assert(t.probe);
}
END_TEST

START_TEST(test_stale_reports_are_ignored) {
    /* A slow call started while closed finishes after the breaker opened: its success must
     * not close the breaker, and its failure must not count twice. */
    breaker_ticket slow;
    ck_assert_int_eq(breaker_allow(&b, &slow, NULL), EQ_OK);
    for (int i = 0; i < 3; i++)
        fail_once();
    ck_assert_int_eq(state(), BREAKER_OPEN);
    breaker_report(&b, slow, true);
    ck_assert_int_eq(state(), BREAKER_OPEN);
    /* A lost probe is written off after a cool-down and a new one goes out. */
    clk.now += BREAKER_DEFAULT_COOLDOWN_MS;
    breaker_ticket lost, next;
    ck_assert_int_eq(breaker_allow(&b, &lost, NULL), EQ_OK);
    clk.now += BREAKER_DEFAULT_COOLDOWN_MS - 1;
    ck_assert_int_eq(breaker_allow(&b, &next, NULL), EQ_EBUSY);
    clk.now += 1;
    ck_assert_int_eq(breaker_allow(&b, &next, NULL), EQ_OK);
    ck_assert(next.probe);
    breaker_report(&b, lost, true); /* too late: ignored */
    ck_assert_int_eq(state(), BREAKER_HALF_OPEN);
    breaker_report(&b, next, true);
    ck_assert_int_eq(state(), BREAKER_CLOSED);
}
END_TEST

START_TEST(test_cancelled_probe_lets_another_probe) {
    for (int i = 0; i < 3; i++)
        fail_once();
    clk.now += BREAKER_DEFAULT_COOLDOWN_MS;
    breaker_ticket probe, other;
    ck_assert_int_eq(breaker_allow(&b, &probe, NULL), EQ_OK);
    ck_assert_int_eq(breaker_allow(&b, &other, NULL), EQ_EBUSY);
    breaker_cancel(&b, probe); /* never sent: no verdict */
    ck_assert_int_eq(state(), BREAKER_HALF_OPEN);
    ck_assert_int_eq(breaker_allow(&b, &other, NULL), EQ_OK);
    ck_assert(other.probe);
    ck_assert_int_eq(breaker_allow(&b, &probe, NULL), EQ_EBUSY); /* the new probe is out */
    breaker_report(&b, other, true);
    ck_assert_int_eq(state(), BREAKER_CLOSED);
    /* Cancelling while closed changes nothing. */
    ck_assert_int_eq(breaker_allow(&b, &other, NULL), EQ_OK);
    breaker_cancel(&b, other);
    ck_assert_int_eq(state(), BREAKER_CLOSED);
}
END_TEST

START_TEST(test_custom_config) {
    breaker b2;
    fake_clock c2 = {.now = 0};
    breaker_config cfg = {.threshold = 1, .cooldown_ms = 10, .clock = clock_read, .clock_ctx = &c2};
    ck_assert_int_eq(breaker_init(&b2, &cfg), EQ_OK);
    breaker_ticket t;
    ck_assert_int_eq(breaker_allow(&b2, &t, NULL), EQ_OK);
    breaker_report(&b2, t, false);
    ck_assert_int_eq(breaker_allow(&b2, &t, NULL), EQ_EBUSY);
    c2.now = 10;
    ck_assert_int_eq(breaker_allow(&b2, &t, NULL), EQ_OK);
    breaker_fini(&b2);
    /* The default clock works too. */
    ck_assert_int_eq(breaker_init(&b2, NULL), EQ_OK);
    ck_assert_int_eq(breaker_allow(&b2, &t, NULL), EQ_OK);
    breaker_fini(&b2);
}
END_TEST

/* Many threads hammer a half-open breaker: exactly one gets the probe. */
static void *race_probe(void *arg) {
    breaker_ticket t;
    return (void *)(intptr_t)(breaker_allow(&b, &t, NULL) == EQ_OK && t.probe);
}

START_TEST(test_one_probe_under_contention) {
    for (int i = 0; i < 3; i++)
        fail_once();
    clk.now += BREAKER_DEFAULT_COOLDOWN_MS;
    pthread_t th[8];
    for (int i = 0; i < 8; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, race_probe, NULL), 0);
    int probes = 0;
    for (int i = 0; i < 8; i++) {
        void *r;
        pthread_join(th[i], &r);
        probes += (int)(intptr_t)r;
    }
    ck_assert_int_eq(probes, 1);
}
END_TEST

int main(void) {
    Suite *s = suite_create("breaker");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_opens_after_three_and_fails_fast);
    tcase_add_test(tc, test_success_resets_the_count);
    tcase_add_test(tc, test_half_open_single_probe_closes_on_success);
    tcase_add_test(tc, test_half_open_probe_failure_reopens);
    tcase_add_test(tc, test_stale_reports_are_ignored);
    tcase_add_test(tc, test_cancelled_probe_lets_another_probe);
    tcase_add_test(tc, test_custom_config);
    tcase_add_test(tc, test_one_probe_under_contention);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

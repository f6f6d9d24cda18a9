/* Tests broker/webhook/wh_schedule.c: parsing ECONQ_WEBHOOK_SCHEDULE strings and the jittered
 * next-attempt times. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "broker/webhook/wh_schedule.h"

static uint64_t fixed_rng(void *ctx) {
    return *(const uint64_t *)ctx;
}

/* A small deterministic generator (splitmix64) so the jitter spread can be examined. */
static uint64_t splitmix_rng(void *ctx) {
    uint64_t *state = ctx;
    uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

START_TEST(test_default_matches_string) {
    wh_schedule def, parsed;
    wh_schedule_default(&def);
    ck_assert_int_eq(wh_schedule_parse(WH_SCHEDULE_DEFAULT, strlen(WH_SCHEDULE_DEFAULT), &parsed),
                     EQ_OK);
    ck_assert_uint_eq(def.n, 8);
    ck_assert_uint_eq(parsed.n, def.n);
    for (size_t i = 0; i < def.n; i++)
        ck_assert_uint_eq(parsed.delay_s[i], def.delay_s[i]);
    ck_assert_uint_eq(def.delay_s[0], 0);
    ck_assert_uint_eq(def.delay_s[2], 300);
    ck_assert_uint_eq(def.delay_s[7], 36000);
}
END_TEST

START_TEST(test_parse_cases) {
    wh_schedule s;
    const char *ok = " 0 , 1,2 ";
    ck_assert_int_eq(wh_schedule_parse(ok, strlen(ok), &s), EQ_OK);
    ck_assert_uint_eq(s.n, 3);
    ck_assert_uint_eq(s.delay_s[1], 1);
    ck_assert_uint_eq(s.delay_s[2], 2);
    /* The length is honoured: "5,300" cut after the first entry. */
    ck_assert_int_eq(wh_schedule_parse("5,300", 1, &s), EQ_OK);
    ck_assert_uint_eq(s.n, 1);
    ck_assert_uint_eq(s.delay_s[0], 5);
    static const char *invalid[] = {"",  " ",   ",",  "1,",  ",1", "1,,2",
                                    "a", "1;2", "-1", "1.5", "1 2"};
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++)
        ck_assert_msg(wh_schedule_parse(invalid[i], strlen(invalid[i]), &s) == EQ_EINVAL,
                      "accepted \"%s\"", invalid[i]);
    ck_assert_int_eq(wh_schedule_parse("604800", 6, &s), EQ_OK);
    ck_assert_int_eq(wh_schedule_parse("604801", 6, &s), EQ_ETOOBIG);
    ck_assert_int_eq(wh_schedule_parse("99999999999999999999999", 23, &s), EQ_ETOOBIG);
    char many[200] = "";
    for (int i = 0; i < 33; i++)
        strcat(many, i ? ",1" : "1");
    ck_assert_int_eq(wh_schedule_parse(many, strlen(many), &s), EQ_ETOOBIG);
    many[strlen(many) - 2] = '\0'; /* 32 entries */
    ck_assert_int_eq(wh_schedule_parse(many, strlen(many), &s), EQ_OK);
    ck_assert_uint_eq(s.n, WH_SCHEDULE_MAX_ENTRIES);
    char *huge = malloc(WH_SCHEDULE_MAX_CHARS + 1);
    ck_assert_ptr_nonnull(huge);
    memset(huge, ' ', WH_SCHEDULE_MAX_CHARS + 1);
    huge[0] = '1';
    ck_assert_int_eq(wh_schedule_parse(huge, WH_SCHEDULE_MAX_CHARS + 1, &s), EQ_ETOOBIG);
    free(huge);
}
END_TEST

START_TEST(test_next_without_jitter) {
    wh_schedule s;
    ck_assert_int_eq(wh_schedule_parse("0,5,300", 7, &s), EQ_OK);
    s.jitter = 0;
    int64_t next = 0;
    ck_assert_int_eq(wh_schedule_next(&s, 0, 1000, NULL, NULL, &next), EQ_OK);
    ck_assert_int_eq(next, 1000);
    ck_assert_int_eq(wh_schedule_next(&s, 1, 1000, NULL, NULL, &next), EQ_OK);
    ck_assert_int_eq(next, 6000);
    ck_assert_int_eq(wh_schedule_next(&s, 2, 1000, NULL, NULL, &next), EQ_OK);
    ck_assert_int_eq(next, 301000);
    ck_assert_int_eq(wh_schedule_next(&s, 3, 1000, NULL, NULL, &next), EQ_ENOTFOUND);
    ck_assert_int_eq(wh_schedule_next(&s, 2, INT64_MAX - 10, NULL, NULL, &next), EQ_EINVAL);
}
END_TEST

START_TEST(test_next_jitter_bounds) {
    wh_schedule s;
    wh_schedule_default(&s);
    s.jitter = 0.2;
    int64_t next = 0;
    uint64_t lo = 0, hi = UINT64_MAX, mid = UINT64_C(1) << 63;
    /* The extremes of the generator give the extremes of the window; 300 s +/- 20%. */
    ck_assert_int_eq(wh_schedule_next(&s, 2, 0, fixed_rng, &lo, &next), EQ_OK);
    ck_assert_int_eq(next, 240000);
    ck_assert_int_eq(wh_schedule_next(&s, 2, 0, fixed_rng, &hi, &next), EQ_OK);
    ck_assert(next >= 359999 && next <= 360000);
    ck_assert_int_eq(wh_schedule_next(&s, 2, 0, fixed_rng, &mid, &next), EQ_OK);
    ck_assert_int_eq(next, 300000);
    /* An immediate attempt is never delayed by jitter. */
    ck_assert_int_eq(wh_schedule_next(&s, 0, 77, fixed_rng, &hi, &next), EQ_OK);
    ck_assert_int_eq(next, 77);
    /* Many draws stay in the window and cover both halves of it. */
    uint64_t state = 42;
    int below = 0, above = 0;
    for (int i = 0; i < 1000; i++) {
        ck_assert_int_eq(wh_schedule_next(&s, 1, 0, splitmix_rng, &state, &next), EQ_OK);
        ck_assert(next >= 4000 && next <= 6000);
        below += next < 5000;
        above += next > 5000;
    }
    ck_assert_int_gt(below, 100);
    ck_assert_int_gt(above, 100);
    /* The default generator works and stays in the window. */
    for (int i = 0; i < 100; i++) {
        ck_assert_int_eq(wh_schedule_next(&s, 7, 0, NULL, NULL, &next), EQ_OK);
        ck_assert(next >= 28800000 && next <= 43200000);
    }
    s.jitter = 0.9;
    ck_assert_int_eq(wh_schedule_next(&s, 1, 0, NULL, NULL, &next), EQ_EINVAL);
}
END_TEST

int main(void) {
    Suite *s = suite_create("wh_schedule");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_default_matches_string);
    tcase_add_test(tc, test_parse_cases);
    tcase_add_test(tc, test_next_without_jitter);
    tcase_add_test(tc, test_next_jitter_bounds);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

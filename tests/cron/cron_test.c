/* Tests for broker/cron/cron.c. Expected instants were checked by hand against a calendar and
 * cross-checked with an independent minute-by-minute scan written with Python's datetime. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/cron/cron.h"
#include "tests/cron/cron_fuzz.h"

/* 2026-11-29T04:23:10Z, a Sunday. */
#define T_NOW INT64_C(1795926190)

static cron_expr parse_ok(const char *s) {
    cron_expr c;
    char err[128];
    eq_err rc = cron_parse(s, &c, err, sizeof err);
    ck_assert_msg(rc == EQ_OK, "'%s' should parse: %s", s, err);
    return c;
}

static int64_t next_of(const char *s, int64_t after) {
    cron_expr c = parse_ok(s);
    return cron_next(&c, after);
}

START_TEST(every_quarter_hour) {
    ck_assert_int_eq(next_of("*/15 * * * *", T_NOW), INT64_C(1795926600)); /* 04:30 */
    /* Strictly after: an exact tick is not returned again. */
    ck_assert_int_eq(next_of("*/15 * * * *", INT64_C(1795926600)), INT64_C(1795926600) + 900);
    cron_expr c = parse_ok("*/15 * * * *");
    ck_assert_uint_eq(c.minutes, (UINT64_C(1) << 0) | (UINT64_C(1) << 15) | (UINT64_C(1) << 30) |
                                     (UINT64_C(1) << 45));
}
END_TEST

START_TEST(range_with_step) {
    cron_expr c = parse_ok("1-30/7 * * * *");
    for (int m = 0; m < 60; m++)
        ck_assert_int_eq((int)((c.minutes >> m) & 1),
                         m == 1 || m == 8 || m == 15 || m == 22 || m == 29);
    ck_assert_int_eq(cron_next(&c, INT64_C(1795926180)), INT64_C(1795926540)); /* 04:23 -> 04:29 */
    ck_assert_int_eq(cron_next(&c, INT64_C(1795926540)), INT64_C(1795928460)); /* 04:29 -> 05:01 */
    /* N/S runs from N to the maximum. */
    cron_expr d = parse_ok("50/5 * * * *");
    ck_assert_uint_eq(d.minutes, (UINT64_C(1) << 50) | (UINT64_C(1) << 55));
}
END_TEST

START_TEST(lists_and_weekday_ranges) {
    /* Friday 2026-11-27 17:00 -> Monday 2026-11-30 09:00. */
    ck_assert_int_eq(next_of("0 9,17 * * MON-FRI", INT64_C(1795798800)), INT64_C(1796029200));
    cron_expr c = parse_ok("0,10-12,30 */6 * * *");
    ck_assert_uint_eq(c.minutes, (UINT64_C(1) << 0) | (UINT64_C(7) << 10) | (UINT64_C(1) << 30));
    ck_assert_uint_eq(c.hours, (1u << 0) | (1u << 6) | (1u << 12) | (1u << 18));
}
END_TEST

START_TEST(names_case_insensitive_and_seven_is_sunday) {
    /* Noon on Sundays in January or July: next after 2026-11-29 is Sunday 2027-01-03 12:00. */
    ck_assert_int_eq(next_of("0 12 * jan,Jul sun", T_NOW), INT64_C(1798977600));
    ck_assert_int_eq(next_of("0 12 * 1,7 7", T_NOW), INT64_C(1798977600));
    cron_expr a = parse_ok("* * * * Sun");
    cron_expr b = parse_ok("* * * * 7");
    cron_expr d = parse_ok("* * * * 0");
    ck_assert_uint_eq(a.wdays, 1);
    ck_assert_uint_eq(b.wdays, 1);
    ck_assert_uint_eq(d.wdays, 1);
    cron_expr e = parse_ok("* * * * fri-7");
    ck_assert_uint_eq(e.wdays, (1u << 5) | (1u << 6) | 1u);
    cron_expr f = parse_ok("* * * MAR-may *");
    ck_assert_uint_eq(f.months, (1u << 3) | (1u << 4) | (1u << 5));
}
END_TEST

START_TEST(feb_29_waits_for_leap_year) {
    /* 2026-03-01 -> 2028-02-29; 2096-03-01 -> 2104-02-29 (2100 is not a leap year). */
    ck_assert_int_eq(next_of("0 0 29 2 *", INT64_C(1772323200)), INT64_C(1835395200));
    ck_assert_int_eq(next_of("0 0 29 2 *", INT64_C(3981398400)), INT64_C(4233686400));
    cron_expr c = parse_ok("0 0 29 2 *");
    ck_assert_int_eq(cron_prev(&c, INT64_C(4233686400)),
                     INT64_C(3981312000)); /* 2100 skipped: 2096-02-29 */
}
END_TEST

START_TEST(dom_dow_or_rule) {
    /* Both restricted: the 13th OR a Friday. From 2026-11-01: Fri 6th, then Fri 13th, then 20th. */
    ck_assert_int_eq(next_of("0 0 13 * FRI", INT64_C(1793491200)), INT64_C(1793923200));
    ck_assert_int_eq(next_of("0 0 13 * FRI", INT64_C(1793923200)), INT64_C(1794528000));
    ck_assert_int_eq(next_of("0 0 13 * FRI", INT64_C(1794528000)), INT64_C(1795132800));
    /* Star-prefixed day-of-month: both must hold, i.e. Fridays on odd days (13 Nov 2026). */
    ck_assert_int_eq(next_of("0 0 */2 * FRI", INT64_C(1793491200)), INT64_C(1794528000));
    /* The 1st OR a Monday: Sunday 2026-11-29 -> Monday 30th; then Tuesday 1 Dec. */
    ck_assert_int_eq(next_of("0 0 1 * MON", T_NOW), INT64_C(1796083200) - 86400);
    ck_assert_int_eq(next_of("0 0 1 * MON", INT64_C(1796083200) - 86400), INT64_C(1796083200));
}
END_TEST

START_TEST(month_and_year_rollovers) {
    /* 2026-12-31 23:59:30 -> 2027-01-01 00:00. */
    ck_assert_int_eq(next_of("0 0 1 * *", INT64_C(1798761570)), INT64_C(1798761600));
    /* Last minute of the year, once a year. */
    ck_assert_int_eq(next_of("59 23 31 12 *", INT64_C(1798761540)), INT64_C(1830297540));
    /* The 31st skips short months: 2027-01-31 -> 2027-03-31. */
    ck_assert_int_eq(next_of("0 0 31 * *", INT64_C(1801353600)), INT64_C(1806451200));
    /* Previous tick across a year boundary. */
    cron_expr c = parse_ok("59 23 31 12 *");
    ck_assert_int_eq(cron_prev(&c, INT64_C(1830297540)), INT64_C(1798761540));
}
END_TEST

START_TEST(prev_is_strictly_before) {
    cron_expr c = parse_ok("*/15 * * * *");
    ck_assert_int_eq(cron_prev(&c, INT64_C(1795926600)), INT64_C(1795925700)); /* 04:30 -> 04:15 */
    ck_assert_int_eq(cron_prev(&c, INT64_C(1795926601)), INT64_C(1795926600));
    ck_assert_int_eq(cron_prev(&c, 60), 0);
    ck_assert_int_eq(cron_prev(&c, 0), -1);
}
END_TEST

static void same_expr(const cron_expr *a, const cron_expr *b) {
    ck_assert_uint_eq(a->minutes, b->minutes);
    ck_assert_uint_eq(a->hours, b->hours);
    ck_assert_uint_eq(a->mdays, b->mdays);
    ck_assert_uint_eq(a->months, b->months);
    ck_assert_uint_eq(a->wdays, b->wdays);
    ck_assert_uint_eq(a->dom_star, b->dom_star);
    ck_assert_uint_eq(a->dow_star, b->dow_star);
}

START_TEST(macros) {
    cron_expr a = parse_ok("@hourly"), b = parse_ok("0 * * * *");
    same_expr(&a, &b);
    a = parse_ok("  @DAILY "), b = parse_ok("0 0 * * *");
    same_expr(&a, &b);
    a = parse_ok("@weekly"), b = parse_ok("0 0 * * 0");
    same_expr(&a, &b);
    a = parse_ok("@monthly"), b = parse_ok("0 0 1 * *");
    same_expr(&a, &b);
    a = parse_ok("@yearly"), b = parse_ok("@annually");
    same_expr(&a, &b);
    ck_assert_int_eq(cron_next(&a, T_NOW), INT64_C(1798761600)); /* 2027-01-01 */
}
END_TEST

START_TEST(impossible_expressions_give_minus_one) {
    ck_assert_int_eq(next_of("0 0 30 2 *", T_NOW), -1);
    ck_assert_int_eq(next_of("0 0 31 4,6,9,11 *", T_NOW), -1);
    cron_expr c = parse_ok("0 0 30 2 *");
    ck_assert_int_eq(cron_prev(&c, T_NOW), -1);
    ck_assert_int_eq(cron_next(&c, -5), -1);
    ck_assert_int_eq(cron_next(&c, CRON_MAX_UNIX + 1), -1);
    /* Near the end of the supported range there is no next tick. */
    cron_expr d = parse_ok("* * * * *");
    ck_assert_int_eq(cron_next(&d, CRON_MAX_UNIX), -1);
}
END_TEST

static void expect_invalid(const char *expr, const char *needle) {
    cron_expr c;
    char err[160];
    eq_err rc = cron_parse(expr, &c, err, sizeof err);
    ck_assert_msg(rc != EQ_OK, "'%s' should be refused", expr);
    ck_assert_msg(strstr(err, needle) != NULL, "'%s': message '%s' lacks '%s'", expr, err, needle);
}

START_TEST(invalid_expressions) {
    expect_invalid("61 * * * *", "minute field: 61 is out of range 0-59");
    expect_invalid("60 * * * *", "minute field");
    expect_invalid("* 24 * * *", "hour field");
    expect_invalid("* * 0 * *", "day-of-month field");
    expect_invalid("* * 32 * *", "day-of-month field");
    expect_invalid("* * * 13 *", "month field");
    expect_invalid("* * * FOO *", "month field: unknown name 'FOO'");
    expect_invalid("* * * JANUARY *", "month field");
    expect_invalid("* * * * 8", "day-of-week field");
    expect_invalid("* * * * MON-SUN", "day-of-week field: range 1-0 runs backwards");
    expect_invalid("5-1 * * * *", "runs backwards");
    expect_invalid("*/0 * * * *", "step must be at least 1");
    expect_invalid("*/ * * * *", "step expected");
    expect_invalid("1,,2 * * * *", "minute field");
    expect_invalid("1, * * * *", "minute field: value expected");
    expect_invalid("*-5 * * * *", "minute field");
    expect_invalid("", "empty expression");
    expect_invalid("   \t ", "empty expression");
    expect_invalid("* * * *", "4 fields: expected 5");
    expect_invalid("*", "1 field: expected 5");
    expect_invalid("* * * * * *", "too many fields");
    expect_invalid("junk", "minute field");
    expect_invalid("@reboot", "unknown macro");
    expect_invalid("@daily 5", "macro must stand alone");
    expect_invalid("99999999999999999999 * * * *", "minute field: number too large");

    char big[CRON_EXPR_MAX_LEN + 10];
    memset(big, '1', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    cron_expr c;
    char err[64];
    ck_assert_int_eq(cron_parse(big, &c, err, sizeof err), EQ_ETOOBIG);
    ck_assert_ptr_nonnull(strstr(err, "longer than"));
    /* A NULL or empty err buffer is allowed. */
    ck_assert_int_eq(cron_parse("61 * * * *", &c, NULL, 0), EQ_EINVAL);
}
END_TEST

/* Cross-checks the skipping search against a minute-by-minute scan over a few days. */
START_TEST(next_and_prev_agree_with_scan) {
    static const char *const exprs[] = {"*/7 3-5 * * *",   "15 */5 1,15 * MON", "0 0 * * SAT,SUN",
                                        "30 12 28-31 * *", "0,30 * * 2 *",      "@hourly"};
    const int64_t start = INT64_C(1798502400) - 3 * 86400; /* late December 2026 */
    for (size_t i = 0; i < sizeof exprs / sizeof exprs[0]; i++) {
        cron_expr c = parse_ok(exprs[i]);
        for (int64_t t = start; t < start + 5 * 86400; t += 60 * 37 + 11) {
            int64_t n = cron_next(&c, t);
            int64_t s = t - t % 60 + 60;
            while (s < t + 70 * 86400 && !cron_matches(&c, s))
                s += 60;
            if (s >= t + 70 * 86400)
                s = n; /* not found within the scan window; nothing to compare */
            ck_assert_msg(n == s, "%s after %lld: %lld vs scan %lld", exprs[i], (long long)t,
                          (long long)n, (long long)s);
            if (n > 0) {
                int64_t p = cron_prev(&c, n);
                ck_assert(p < n);
                ck_assert_msg(p <= t, "%s: prev(next(%lld)) = %lld", exprs[i], (long long)t,
                              (long long)p);
                ck_assert_int_eq(cron_next(&c, p), n);
            }
        }
    }
}
END_TEST

/* Random expressions over the cron alphabet through the fuzz target: parsing never crashes,
 * refusals carry a message, and whatever parses yields matching ticks on the right side. */
START_TEST(random_expressions_are_safe) {
    static const char alphabet[] = "0123456789012345*****/,,-MONFRIJAsundec@";
    unsigned seed = 12345;
    int parsed = 0;
    for (int iter = 0; iter < 20000; iter++) {
        /* Mostly five short fields, sometimes four or six, from a small alphabet. */
        char expr[64];
        size_t len = 0;
        seed = seed * 1103515245u + 12345u;
        int nfields = 4 + (int)((seed >> 16) % 3);
        for (int f = 0; f < nfields; f++) {
            seed = seed * 1103515245u + 12345u;
            size_t flen = (seed >> 16) % 4 ? 1 : 2 + (seed >> 20) % 3;
            for (size_t i = 0; i < flen; i++) {
                seed = seed * 1103515245u + 12345u;
                expr[len++] = alphabet[(seed >> 16) % (sizeof alphabet - 1)];
            }
            expr[len++] = ' ';
        }
        expr[len] = '\0';
        cron_expr c;
        if (cron_parse(expr, &c, NULL, 0) == EQ_OK) parsed++;
        ck_assert_msg(cron_fuzz_one((const uint8_t *)expr, len) == 0, "fuzz target on '%s'", expr);
    }
    /* Structured random expressions parse, so the loop above is not only rejections. */
    for (int iter = 0; iter < 300; iter++) {
        char expr[64];
        seed = seed * 1103515245u + 12345u;
        unsigned r = seed >> 8;
        snprintf(expr, sizeof expr, "%u-%u/%u %u %u,%u * %u", r % 30, 30 + r % 29, 1 + r % 7,
                 r % 24, 1 + r % 28, 1 + (r >> 5) % 31, r % 8);
        cron_expr c = parse_ok(expr);
        int64_t n = cron_next(&c, T_NOW);
        ck_assert(n > T_NOW && cron_matches(&c, n));
        ck_assert_int_eq(cron_fuzz_one((const uint8_t *)expr, strlen(expr)), 0);
        parsed++;
    }
    ck_assert_int_gt(parsed, 350);
}
END_TEST

static Suite *cron_suite(void) {
    Suite *s = suite_create("cron");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, every_quarter_hour);
    tcase_add_test(tc, range_with_step);
    tcase_add_test(tc, lists_and_weekday_ranges);
    tcase_add_test(tc, names_case_insensitive_and_seven_is_sunday);
    tcase_add_test(tc, feb_29_waits_for_leap_year);
    tcase_add_test(tc, dom_dow_or_rule);
    tcase_add_test(tc, month_and_year_rollovers);
    tcase_add_test(tc, prev_is_strictly_before);
    tcase_add_test(tc, macros);
    tcase_add_test(tc, impossible_expressions_give_minus_one);
    tcase_add_test(tc, invalid_expressions);
    tcase_add_test(tc, next_and_prev_agree_with_scan);
    tcase_add_test(tc, random_expressions_are_safe);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    SRunner *sr = srunner_create(cron_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* Tests for workers/chart/chart_axis.c: nice numeric ticks, calendar ticks, number labels. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "workers/chart/chart_axis.h"

START_TEST(nice_ticks_round_numbers) {
    chart_tick t[CHART_AXIS_MAX_TICKS];
    double lo = 0.3, hi = 9.7;
    size_t n = chart__nice_ticks(&lo, &hi, 6, t, CHART_AXIS_MAX_TICKS);
    ck_assert_double_eq(lo, 0);
    ck_assert_double_eq(hi, 10);
    ck_assert_uint_eq(n, 6);
    ck_assert_str_eq(t[0].label, "0");
    ck_assert_str_eq(t[1].label, "2");
    ck_assert_str_eq(t[5].label, "10");

    lo = 348.2, hi = 371.9;
    n = chart__nice_ticks(&lo, &hi, 6, t, CHART_AXIS_MAX_TICKS);
    ck_assert_double_eq(lo, 340);
    ck_assert_double_eq(hi, 380);
    ck_assert_uint_eq(n, 5);
    ck_assert_str_eq(t[2].label, "360");

    lo = -0.013, hi = 0.042;
    n = chart__nice_ticks(&lo, &hi, 6, t, CHART_AXIS_MAX_TICKS);
    ck_assert_double_eq_tol(lo, -0.02, 1e-12);
    ck_assert_double_eq_tol(hi, 0.06, 1e-12);
    ck_assert_uint_eq(n, 5);
    ck_assert_str_eq(t[0].label, "-0.02");
    ck_assert_str_eq(t[1].label, "0.00");
    ck_assert_str_eq(t[4].label, "0.06");

    lo = 1200, hi = 14100;
    n = chart__nice_ticks(&lo, &hi, 8, t, CHART_AXIS_MAX_TICKS);
    ck_assert_str_eq(t[n - 1].label, "16,000");

    lo = 2.5e6, hi = 7.5e6;
    n = chart__nice_ticks(&lo, &hi, 6, t, CHART_AXIS_MAX_TICKS);
    ck_assert_str_eq(t[0].label, "2M");
    ck_assert_str_eq(t[1].label, "3M");

    /* Tiny steps use scientific notation; zero stays "0". */
    lo = -2.2e-9, hi = 0.7e-9;
    n = chart__nice_ticks(&lo, &hi, 4, t, CHART_AXIS_MAX_TICKS);
    ck_assert_uint_eq(n, 4);
    ck_assert_str_eq(t[0].label, "-4e-09");
    ck_assert_str_eq(t[n - 1].label, "2e-09");
    ck_assert_str_eq(t[n - 2].label, "0");

    /* A zero-width range is widened around its value. */
    lo = hi = 42;
    n = chart__nice_ticks(&lo, &hi, 5, t, CHART_AXIS_MAX_TICKS);
    ck_assert(lo < 42 && hi > 42 && n >= 2);
    lo = hi = 0;
    n = chart__nice_ticks(&lo, &hi, 5, t, CHART_AXIS_MAX_TICKS);
    ck_assert(lo < 0 && hi > 0 && n >= 2);
}
END_TEST

START_TEST(format_numbers) {
    char b[32];
    chart__format_number(1234567.891, 2, b, sizeof b);
    ck_assert_str_eq(b, "1,234,567.89");
    chart__format_number(-1000, 0, b, sizeof b);
    ck_assert_str_eq(b, "-1,000");
    chart__format_number(-0.0001, 1, b, sizeof b);
    ck_assert_str_eq(b, "0.0");
    chart__format_number(999, 0, b, sizeof b);
    ck_assert_str_eq(b, "999");
    chart__format_number(123456, 0, b, 5); /* truncated, still terminated */
    ck_assert_uint_le(strlen(b), 4);
}
END_TEST

static double day(int y, int m, int d) {
    return (double)chart__days_from_civil(y, m, d);
}

START_TEST(date_ticks_by_span) {
    chart_tick t[CHART_AXIS_MAX_TICKS];
    /* Forty years: every five years. */
    size_t n = chart__date_ticks(day(1959, 1, 1), day(1998, 12, 1), 12, t, CHART_AXIS_MAX_TICKS);
    ck_assert_uint_eq(n, 8);
    ck_assert_str_eq(t[0].label, "1960");
    ck_assert_str_eq(t[7].label, "1995");
    ck_assert_double_eq(t[0].v, day(1960, 1, 1));
    /* Ten years with room for 12 ticks: every year. */
    n = chart__date_ticks(day(1988, 1, 1), day(1997, 12, 1), 12, t, CHART_AXIS_MAX_TICKS);
    ck_assert_uint_eq(n, 10);
    ck_assert_str_eq(t[9].label, "1997");
    /* Ten years with room for only 6: every second year. */
    n = chart__date_ticks(day(1988, 1, 1), day(1997, 12, 1), 6, t, CHART_AXIS_MAX_TICKS);
    ck_assert_uint_eq(n, 5);
    ck_assert_str_eq(t[1].label, "1990");
    /* Two years: quarters. */
    n = chart__date_ticks(day(2023, 1, 1), day(2024, 12, 31), 10, t, CHART_AXIS_MAX_TICKS);
    ck_assert_uint_eq(n, 8);
    ck_assert_str_eq(t[0].label, "2023 Q1");
    ck_assert_str_eq(t[5].label, "2024 Q2");
    ck_assert_double_eq(t[5].v, day(2024, 4, 1));
    /* Eight months: months. */
    n = chart__date_ticks(day(2024, 3, 15), day(2024, 11, 10), 12, t, CHART_AXIS_MAX_TICKS);
    ck_assert_uint_eq(n, 8);
    ck_assert_str_eq(t[0].label, "Apr 2024");
    ck_assert_str_eq(t[7].label, "Nov 2024");
    /* Six weeks: Mondays every week. */
    n = chart__date_ticks(day(2026, 11, 1), day(2026, 12, 12), 10, t, CHART_AXIS_MAX_TICKS);
    ck_assert_uint_eq(n, 6);
    ck_assert_str_eq(t[0].label, "2026-11-02");
    ck_assert_str_eq(t[1].label, "2026-11-09");
    /* A week: every day. */
    n = chart__date_ticks(day(2026, 11, 1), day(2026, 11, 7), 10, t, CHART_AXIS_MAX_TICKS);
    ck_assert_uint_eq(n, 7);
    ck_assert_str_eq(t[6].label, "2026-11-07");
    /* Before 1970 (every twenty years) and degenerate spans. */
    n = chart__date_ticks(day(1821, 1, 1), day(1934, 1, 1), 12, t, CHART_AXIS_MAX_TICKS);
    ck_assert_uint_eq(n, 5);
    ck_assert_str_eq(t[0].label, "1840");
    ck_assert_uint_eq(chart__date_ticks(5, 5, 10, t, CHART_AXIS_MAX_TICKS), 0);
    ck_assert_uint_eq(chart__date_ticks(NAN, 5, 10, t, CHART_AXIS_MAX_TICKS), 0);
    /* The output bound is respected. */
    ck_assert_uint_eq(chart__date_ticks(day(2026, 11, 1), day(2026, 11, 7), 10, t, 3), 3);
}
END_TEST

START_TEST(civil_round_trip) {
    for (int64_t d = -800000; d < 800000; d += 97) {
        int64_t y;
        int m, dd;
        chart__civil_from_days(d, &y, &m, &dd);
        ck_assert_int_eq(chart__days_from_civil(y, m, dd), d);
    }
    ck_assert_double_eq(day(1970, 1, 1), 0);
    ck_assert_double_eq(day(2000, 2, 29), 11016);
}
END_TEST

static Suite *axis_suite(void) {
    Suite *s = suite_create("chart_axis");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, nice_ticks_round_numbers);
    tcase_add_test(tc, format_numbers);
    tcase_add_test(tc, date_ticks_by_span);
    tcase_add_test(tc, civil_round_trip);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    SRunner *sr = srunner_create(axis_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

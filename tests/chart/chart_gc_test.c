/* Tests for workers/chart/chart_gc.c: exactly the right charts are chosen for removal. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "workers/chart/chart_gc.h"

#define HOUR_MS INT64_C(3600000)
#define NOW_MS INT64_C(1795926190000)

static char ids[200][16];

START_TEST(keeps_the_hundred_newest) {
    /* 150 charts, one an hour, the newest two hours old; entries given in shuffled order. */
    chart_gc_entry e[150];
    int age_h[150];
    for (int i = 0; i < 150; i++)
        age_h[i] = 2 + i;
    unsigned seed = 99;
    for (int i = 149; i > 0; i--) {
        seed = seed * 1103515245u + 12345u;
        int j = (int)((seed >> 16) % (unsigned)(i + 1));
        int t = age_h[i];
        age_h[i] = age_h[j];
        age_h[j] = t;
    }
    for (int i = 0; i < 150; i++) {
        snprintf(ids[i], sizeof ids[i], "c%03d", age_h[i]);
        e[i] = (chart_gc_entry){.id = ids[i], .created_ms = NOW_MS - age_h[i] * HOUR_MS};
    }
    chart_gc_policy p = chart_gc_policy_default();
    size_t rm[150], n = 0;
    ck_assert_int_eq(chart_gc_select(e, 150, NOW_MS, &p, rm, &n), EQ_OK);
    ck_assert_uint_eq(n, 50);
    for (size_t k = 0; k < n; k++) {
        ck_assert_int_ge(age_h[rm[k]], 102); /* the 50 oldest: ages 102..151 hours */
        if (k) ck_assert_uint_gt(rm[k], rm[k - 1]);
    }
}
END_TEST

START_TEST(removes_old_charts_but_not_busy_ones) {
    chart_gc_entry e[6] = {
        {.id = "fresh", .created_ms = NOW_MS - 1 * HOUR_MS},
        {.id = "old", .created_ms = NOW_MS - 8 * 24 * HOUR_MS},
        {.id = "old-writing", .created_ms = NOW_MS - 8 * 24 * HOUR_MS, .writing = 1},
        {.id = "old-just-read",
         .created_ms = NOW_MS - 9 * 24 * HOUR_MS,
         .accessed_ms = NOW_MS - 10000},
        {.id = "old-read-earlier",
         .created_ms = NOW_MS - 9 * 24 * HOUR_MS,
         .accessed_ms = NOW_MS - 120000},
        {.id = "almost-7-days", .created_ms = NOW_MS - 7 * 24 * HOUR_MS + 1000},
    };
    chart_gc_policy p = chart_gc_policy_default();
    size_t rm[6], n = 0;
    ck_assert_int_eq(chart_gc_select(e, 6, NOW_MS, &p, rm, &n), EQ_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_uint_eq(rm[0], 1);
    ck_assert_uint_eq(rm[1], 4);

    /* A chart created a moment ago is kept even beyond the count limit. */
    chart_gc_entry f[3] = {
        {.id = "a", .created_ms = NOW_MS - 5000},
        {.id = "b", .created_ms = NOW_MS - 5000},
        {.id = "c", .created_ms = NOW_MS - 2 * HOUR_MS},
    };
    p.keep_newest = 1;
    ck_assert_int_eq(chart_gc_select(f, 3, NOW_MS, &p, rm, &n), EQ_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(rm[0], 2);
}
END_TEST

START_TEST(ties_and_limits) {
    /* Equal creation times: the order by id decides, deterministically. */
    chart_gc_entry e[3] = {
        {.id = "b", .created_ms = NOW_MS - HOUR_MS},
        {.id = "c", .created_ms = NOW_MS - HOUR_MS},
        {.id = "a", .created_ms = NOW_MS - HOUR_MS},
    };
    chart_gc_policy p = {.max_age_ms = 0, .keep_newest = 2, .grace_ms = 0};
    size_t rm[3], n = 0;
    ck_assert_int_eq(chart_gc_select(e, 3, NOW_MS, &p, rm, &n), EQ_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(rm[0], 2); /* "a" sorts last among equals */

    /* No limits: nothing goes. */
    p = (chart_gc_policy){0};
    ck_assert_int_eq(chart_gc_select(e, 3, NOW_MS, &p, rm, &n), EQ_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(chart_gc_select(NULL, 0, NOW_MS, &p, NULL, &n), EQ_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(chart_gc_select(NULL, 3, NOW_MS, &p, rm, &n), EQ_EINVAL);
    ck_assert_int_eq(chart_gc_select(e, 3, NOW_MS, NULL, rm, &n), EQ_EINVAL);
    ck_assert_int_eq(chart_gc_select(e, CHART_GC_MAX_ENTRIES + 1, NOW_MS, &p, rm, &n), EQ_ETOOBIG);
}
END_TEST

static Suite *gc_suite(void) {
    Suite *s = suite_create("chart_gc");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, keeps_the_hundred_newest);
    tcase_add_test(tc, removes_old_charts_but_not_busy_ones);
    tcase_add_test(tc, ties_and_limits);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    SRunner *sr = srunner_create(gc_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* forecast_job_run: input validation, calendar, missing values and forecast properties. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/forecast/fc_test_util.h"
#include "workers/forecast/forecast_job.h"

/* Builds params from a JSON literal, runs the job and returns the error code ("" on success). */
static const char *run_code(const char *json, cJSON **result, fc_job_error *err)
{
    cJSON *p = cJSON_Parse(json);
    ck_assert_msg(p != NULL, "bad test JSON: %s", json);
    eq_err rc = forecast_job_run(p, result, err);
    cJSON_Delete(p);
    if (rc == EQ_OK) {
        ck_assert_ptr_nonnull(*result);
        return "";
    }
    ck_assert_int_eq(rc, EQ_EINVAL);
    ck_assert_ptr_null(*result);
    ck_assert_msg(err->message[0] != '\0', "no message for %s", err->code);
    return err->code;
}

static void expect_code(const char *json, const char *code)
{
    cJSON *r = NULL;
    fc_job_error err;
    const char *got = run_code(json, &r, &err);
    ck_assert_msg(strcmp(got, code) == 0, "%s: expected %s, got '%s' (%s)", json, code, got,
                  got[0] ? err.message : "ok");
    cJSON_Delete(r);
}

#define Q4 "\"dates\":[\"2000-01-01\",\"2000-04-01\",\"2000-07-01\",\"2000-10-01\"]"

START_TEST(test_bad_inputs)
{
    expect_code("{\"series\":{" Q4 ",\"values\":[1,2,3,4]},\"method\":\"nope\"}",
                "unknown_method");
    expect_code("{\"series\":{" Q4 ",\"values\":[1,2,3,4]},\"horizon\":0}", "bad_horizon");
    expect_code("{\"series\":{" Q4 ",\"values\":[1,2,3,4]},\"horizon\":1001}", "bad_horizon");
    expect_code("{\"series\":{" Q4 ",\"values\":[1,2,3,4]},\"horizon\":2.5}", "bad_horizon");
    expect_code("{\"series\":{" Q4 ",\"values\":[5,5,5,5]},\"method\":\"naive\"}",
                "constant_series");
    expect_code("{\"series\":{\"dates\":[\"2000-01-01\"],\"values\":[1]}}", "series_too_short");
    expect_code("{\"series\":{" Q4 ",\"values\":[1,2,\"NaN\",4]}}", "non_finite_values");
    expect_code("{\"series\":{" Q4 ",\"values\":[1,2,1e999,4]}}", "non_finite_values");
    expect_code("{\"series\":{" Q4 ",\"values\":[1,2,true,4]}}", "bad_series");
    expect_code("{\"series\":{" Q4 ",\"values\":[1,2,\"-Infinity\",4]}}", "non_finite_values");
    expect_code("{\"series\":{" Q4 ",\"values\":[1,2,\"information\",4]}}", "bad_series");
    expect_code("{\"series\":{" Q4 ",\"values\":[1,2,3]}}", "bad_series");
    expect_code("{\"series\":{\"dates\":[\"2000-01-01\",\"1999-01-01\",\"2001-01-01\"],"
                "\"values\":[1,2,3]}}", "unsorted_dates");
    expect_code("{\"series\":{\"dates\":[\"2000-01-01\",\"2000-01-01\",\"2001-01-01\"],"
                "\"values\":[1,2,3]}}", "duplicate_dates");
    expect_code("{\"series\":{\"dates\":[\"2000-01-01\",\"2000-13-01\",\"2001-01-01\"],"
                "\"values\":[1,2,3]}}", "bad_date");
    expect_code("{\"series\":{\"dates\":[\"2000-01-01\",\"2000-02-01\",\"2000-04-01\","
                "\"2000-05-01\"],\"values\":[1,2,3,4]}}", "irregular_dates");
    expect_code("{\"series\":{" Q4 ",\"values\":[1,null,3,4]},\"missing\":\"error\"}",
                "missing_values");
    expect_code("{\"series\":{" Q4 ",\"values\":[1,2,3,4]},\"levels\":[80,100]}", "bad_levels");
    expect_code("{\"series\":{" Q4 ",\"values\":[1,2,3,4]},\"frequency\":\"hourly\"}",
                "bad_frequency");
    expect_code("{\"series\":{\"dataset\":\"d1\",\"column\":\"x\"}}", "unresolved_dataset");
    expect_code("[1,2]", "bad_params");
}
END_TEST

static const cJSON *get(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    ck_assert_msg(v != NULL, "result has no %s", key);
    return v;
}

static double at(const cJSON *arr, int i)
{
    const cJSON *v = cJSON_GetArrayItem(arr, i);
    ck_assert_msg(cJSON_IsNumber(v), "item %d is not a number", i);
    return v->valuedouble;
}

START_TEST(test_calendar_and_missing)
{
    cJSON *r = NULL;
    fc_job_error err;
    /* Monthly, month ends, with an interior gap and trailing null: dates continue by month. */
    ck_assert_str_eq(run_code("{\"series\":{\"dates\":[\"2019-10-31\",\"2019-11-30\","
                              "\"2019-12-31\",\"2020-01-31\",\"2020-02-29\"],"
                              "\"values\":[1,null,3,4,null]},\"horizon\":3,\"method\":\"naive\"}",
                              &r, &err), "");
    const cJSON *dates = get(r, "dates");
    ck_assert_str_eq(cJSON_GetArrayItem(dates, 0)->valuestring, "2020-02-29");
    ck_assert_str_eq(cJSON_GetArrayItem(dates, 1)->valuestring, "2020-03-31");
    ck_assert_str_eq(cJSON_GetArrayItem(dates, 2)->valuestring, "2020-04-30");
    ck_assert_str_eq(get(r, "frequency")->valuestring, "monthly");
    ck_assert_int_eq((int)get(r, "n")->valuedouble, 4);
    ck_assert_double_eq_tol(at(get(r, "point"), 0), 4.0, 1e-12);
    cJSON_Delete(r);

    /* Quarterly and annual calendars. */
    ck_assert_str_eq(run_code("{\"series\":{" Q4 ",\"values\":[1,2,4,3]},\"horizon\":2,"
                              "\"method\":\"drift\"}", &r, &err), "");
    ck_assert_str_eq(cJSON_GetArrayItem(get(r, "dates"), 0)->valuestring, "2001-01-01");
    ck_assert_str_eq(cJSON_GetArrayItem(get(r, "dates"), 1)->valuestring, "2001-04-01");
    ck_assert_str_eq(get(r, "frequency")->valuestring, "quarterly");
    cJSON_Delete(r);
    ck_assert_str_eq(run_code("{\"series\":{\"dates\":[\"1999-01-01\",\"2000-01-01\","
                              "\"2001-01-01\"],\"values\":[1,3,2]},\"horizon\":1,"
                              "\"method\":\"naive\"}", &r, &err), "");
    ck_assert_str_eq(cJSON_GetArrayItem(get(r, "dates"), 0)->valuestring, "2002-01-01");
    ck_assert_str_eq(get(r, "frequency")->valuestring, "annual");
    cJSON_Delete(r);
    /* Weekly and daily. */
    ck_assert_str_eq(run_code("{\"series\":{\"dates\":[\"2024-12-17\",\"2024-12-24\","
                              "\"2024-12-31\"],\"values\":[1,3,2]},\"horizon\":1,"
                              "\"method\":\"naive\"}", &r, &err), "");
    ck_assert_str_eq(cJSON_GetArrayItem(get(r, "dates"), 0)->valuestring, "2025-01-07");
    ck_assert_str_eq(get(r, "frequency")->valuestring, "weekly");
    cJSON_Delete(r);
    ck_assert_str_eq(run_code("{\"series\":{\"dates\":[\"2024-02-27\",\"2024-02-28\","
                              "\"2024-02-29\"],\"values\":[1,3,2]},\"horizon\":1,"
                              "\"method\":\"naive\"}", &r, &err), "");
    ck_assert_str_eq(cJSON_GetArrayItem(get(r, "dates"), 0)->valuestring, "2024-03-01");
    ck_assert_str_eq(get(r, "frequency")->valuestring, "daily");
    cJSON_Delete(r);
}
END_TEST

/* Checks the interval properties every method promises: nested levels, and bands that
 * widen step by step. With multiplicative errors the band scales with the (seasonal) level
 * and can narrow in a low season, so `multiplicative` only asks that the band relative to
 * the point forecast be wider at the horizon than one step ahead. */
static void check_intervals_ex(const cJSON *r, int h, int multiplicative)
{
    const cJSON *iv = get(r, "intervals");
    const cJSON *i80 = get(iv, "80"), *i95 = get(iv, "95");
    const cJSON *point = get(r, "point");
    const char *model = get(r, "model")->valuestring;
    ck_assert_int_eq(cJSON_GetArraySize(point), h);
    for (int j = 0; j < h; j++) {
        double p = at(point, j);
        double l80 = at(get(i80, "lower"), j), u80 = at(get(i80, "upper"), j);
        double l95 = at(get(i95, "lower"), j), u95 = at(get(i95, "upper"), j);
        ck_assert_msg(l95 <= l80 && l80 <= p && p <= u80 && u80 <= u95, "%s: step %d not nested",
                      model, j);
        if (j > 0 && !multiplicative) {
            double w = u95 - l95;
            double wp = at(get(i95, "upper"), j - 1) - at(get(i95, "lower"), j - 1);
            ck_assert_msg(w >= wp * (1 - 1e-9), "%s: interval narrows at step %d (%g < %g)",
                          model, j, w, wp);
        }
    }
    double w0 = (at(get(i95, "upper"), 0) - at(get(i95, "lower"), 0)) / fabs(at(point, 0));
    double wh = (at(get(i95, "upper"), h - 1) - at(get(i95, "lower"), h - 1)) /
                fabs(at(point, h - 1));
    ck_assert_msg(h == 1 || wh > w0, "%s: no wider at the horizon", model);
}

static void check_intervals(const cJSON *r, int h)
{
    check_intervals_ex(r, h, 0);
}

START_TEST(test_benchmarks_properties)
{
    static const char *methods[] = {"naive", "snaive", "drift"};
    fc_test_series s;
    fc_test_load("uk_driver_deaths_monthly.csv", "deaths", &s);
    for (size_t m = 0; m < 3; m++) {
        cJSON *p = fc_test_params(&s, s.n);
        cJSON_AddNumberToObject(p, "horizon", 24);
        cJSON_AddStringToObject(p, "method", methods[m]);
        cJSON *r = NULL;
        fc_job_error err;
        ck_assert_int_eq(forecast_job_run(p, &r, &err), EQ_OK);
        check_intervals(r, 24);
        ck_assert_str_eq(get(r, "method")->valuestring, methods[m]);
        const cJSON *acc = get(r, "accuracy");
        ck_assert(get(acc, "mase")->valuedouble > 0 && get(acc, "rmse")->valuedouble > 0);
        cJSON_Delete(p);
        cJSON_Delete(r);
    }
    fc_test_free(&s);
}
END_TEST

START_TEST(test_drift_exact_on_line)
{
    cJSON *r = NULL;
    fc_job_error err;
    ck_assert_str_eq(run_code("{\"series\":{\"dates\":[\"2001-01-01\",\"2002-01-01\","
                              "\"2003-01-01\",\"2004-01-01\",\"2005-01-01\"],"
                              "\"values\":[3,5,7,9,11]},\"horizon\":4,\"method\":\"drift\"}",
                              &r, &err), "");
    for (int j = 0; j < 4; j++)
        ck_assert_double_eq_tol(at(get(r, "point"), j), 13.0 + 2.0 * j, 1e-9);
    cJSON_Delete(r);
}
END_TEST

START_TEST(test_ets_inputs)
{
    expect_code("{\"series\":{" Q4 ",\"values\":[1,0,3,4]},\"method\":\"ets\",\"model\":\"MNN\"}",
                "non_positive_values");
    expect_code("{\"series\":{" Q4 ",\"values\":[1,2,3,4]},\"method\":\"ets\",\"model\":\"XNN\"}",
                "bad_model");
    expect_code("{\"series\":{" Q4 ",\"values\":[1,2,3,4]},\"method\":\"ets\",\"model\":\"AMN\"}",
                "bad_model");
    expect_code("{\"series\":{" Q4 ",\"values\":[1,2,3,4]},\"method\":\"ets\",\"model\":\"ANM\"}",
                "bad_model");
    expect_code("{\"series\":{" Q4 ",\"values\":[1,2,3,4]},\"method\":\"ets\",\"model\":\"ANdN\"}",
                "bad_model");
    expect_code("{\"series\":{" Q4 ",\"values\":[1,2,3,4]},\"method\":\"ets\",\"model\":7}",
                "bad_model");
    expect_code("{\"series\":{" Q4 ",\"values\":[1,2,3,4]},\"model\":\"AAN\"}", "bad_model");
    expect_code("{\"series\":{\"dates\":[\"2001-01-01\",\"2002-01-01\",\"2003-01-01\"],"
                "\"values\":[1,2,4]},\"method\":\"ets\",\"model\":\"AAA\"}", "bad_model");
}
END_TEST

/* A straight line is forecast exactly by ETS(A,A,N), ARIMA (0,1,0 with drift) and auto. */
static void exact_on_line(const char *json)
{
    cJSON *p = cJSON_Parse(json);
    cJSON *series = cJSON_AddObjectToObject(p, "series");
    cJSON *dates = cJSON_AddArrayToObject(series, "dates");
    cJSON *values = cJSON_AddArrayToObject(series, "values");
    for (int i = 0; i < 40; i++) {
        char d[32];
        snprintf(d, sizeof d, "%04d-01-01", 1950 + i);
        cJSON_AddItemToArray(dates, cJSON_CreateString(d));
        cJSON_AddItemToArray(values, cJSON_CreateNumber(100.0 + 2.5 * i));
    }
    cJSON *r = NULL;
    fc_job_error err;
    ck_assert_int_eq(forecast_job_run(p, &r, &err), EQ_OK);
    for (int j = 0; j < 6; j++)
        ck_assert_msg(fabs(at(get(r, "point"), j) - (100.0 + 2.5 * (40 + j))) < 1e-6,
                      "%s: step %d: %.9g", get(r, "model")->valuestring, j,
                      at(get(r, "point"), j));
    cJSON_Delete(r);
    cJSON_Delete(p);
}

START_TEST(test_exact_on_line)
{
    exact_on_line("{\"horizon\":6,\"method\":\"ets\",\"model\":\"AAN\"}");
    exact_on_line("{\"horizon\":6,\"method\":\"arima\"}");
    exact_on_line("{\"horizon\":6,\"method\":\"drift\"}");
}
END_TEST

/* ARIMA intervals nest and widen (additive errors). */
START_TEST(test_arima_intervals)
{
    static const char *files[][2] = {{"uk_driver_deaths_monthly.csv", "deaths"},
                                     {"us_macro_quarterly.csv", "realgdp"},
                                     {"lynx_annual.csv", "trappings"}};
    for (int f = 0; f < 3; f++) {
        fc_test_series s;
        fc_test_load(files[f][0], files[f][1], &s);
        cJSON *p = fc_test_params(&s, s.n);
        cJSON_AddNumberToObject(p, "horizon", 12);
        cJSON_AddStringToObject(p, "method", "arima");
        cJSON *r = NULL;
        fc_job_error err;
        ck_assert_int_eq(forecast_job_run(p, &r, &err), EQ_OK);
        ck_assert(strncmp(get(r, "model")->valuestring, "ARIMA(", 6) == 0);
        check_intervals(r, 12);
        ck_assert(cJSON_IsNumber(get(r, "aicc")));
        cJSON_Delete(r);
        cJSON_Delete(p);
        fc_test_free(&s);
    }
}
END_TEST

/* Intervals of analytic (ANA) and simulated (MNA, MAM) models nest and widen; simulated
 * ones are deterministic. */
START_TEST(test_ets_intervals)
{
    static const char *models[] = {"ANA", "AAdN", "MNA", "MAM", NULL};
    fc_test_series s;
    fc_test_load("uk_driver_deaths_monthly.csv", "deaths", &s);
    for (int m = 0; m < 5; m++) {
        cJSON *p = fc_test_params(&s, s.n);
        cJSON_AddNumberToObject(p, "horizon", 24);
        cJSON_AddStringToObject(p, "method", "ets");
        if (models[m])
            cJSON_AddStringToObject(p, "model", models[m]);
        cJSON *r = NULL, *r2 = NULL;
        fc_job_error err;
        ck_assert_int_eq(forecast_job_run(p, &r, &err), EQ_OK);
        check_intervals_ex(r, 24, get(r, "model")->valuestring[4] == 'M');
        ck_assert(cJSON_IsNumber(get(r, "aicc")));
        ck_assert_int_eq(forecast_job_run(p, &r2, &err), EQ_OK);
        char *a = cJSON_PrintUnformatted(r), *b = cJSON_PrintUnformatted(r2);
        ck_assert_str_eq(a, b);
        free(a);
        free(b);
        cJSON_Delete(r);
        cJSON_Delete(r2);
        cJSON_Delete(p);
    }
    fc_test_free(&s);
}
END_TEST

/* The default method combines Theta and ARIMA: its point forecast is their mean. */
START_TEST(test_auto_is_mean_of_members)
{
    fc_test_series s;
    fc_test_load("us_macro_quarterly.csv", "realgdp", &s);
    cJSON *p = fc_test_params(&s, s.n);
    cJSON_AddNumberToObject(p, "horizon", 8);
    cJSON *ra = NULL, *re = NULL, *rt = NULL;
    fc_job_error err;
    ck_assert_int_eq(forecast_job_run(p, &ra, &err), EQ_OK);
    ck_assert_str_eq(get(ra, "method")->valuestring, "auto");
    ck_assert(strncmp(get(ra, "model")->valuestring, "Combination(Theta", 17) == 0);
    check_intervals_ex(ra, 8, 0);
    cJSON_AddStringToObject(p, "method", "arima");
    ck_assert_int_eq(forecast_job_run(p, &re, &err), EQ_OK);
    cJSON_ReplaceItemInObject(p, "method", cJSON_CreateString("theta"));
    ck_assert_int_eq(forecast_job_run(p, &rt, &err), EQ_OK);
    for (int j = 0; j < 8; j++)
        ck_assert_double_eq_tol(at(get(ra, "point"), j),
                                0.5 * (at(get(re, "point"), j) + at(get(rt, "point"), j)), 1e-6);
    ck_assert(cJSON_IsNumber(get(get(ra, "params"), "theta.alpha")));
    /* The documented result shape. */
    static const char *keys[] = {"dates", "point", "intervals", "method", "model", "params",
                                 "aicc", "accuracy", "frequency", "n"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        get(ra, keys[i]);
    ck_assert_int_eq(cJSON_GetArraySize(get(ra, "dates")), 8);
    ck_assert_str_eq(cJSON_GetArrayItem(get(ra, "dates"), 0)->valuestring, "2009-10-01");
    ck_assert_str_eq(get(ra, "frequency")->valuestring, "quarterly");
    ck_assert_int_eq((int)get(ra, "n")->valuedouble, (int)s.n);
    const cJSON *acc = get(ra, "accuracy");
    ck_assert(get(acc, "mase")->valuedouble > 0 && get(acc, "mase")->valuedouble < 2);
    ck_assert(get(acc, "smape")->valuedouble > 0 && get(acc, "smape")->valuedouble < 5);
    ck_assert(get(acc, "rmse")->valuedouble > 0);
    cJSON_Delete(ra);
    cJSON_Delete(re);
    cJSON_Delete(rt);
    cJSON_Delete(p);
    fc_test_free(&s);
}
END_TEST

/* Every method on short, awkward series: a result or a permanent error, never a crash
 * (ASan/UBSan run this), and results always have finite, nested intervals. */
START_TEST(test_short_and_awkward_series)
{
    static const char *methods[] = {"auto", "ets", "theta", "arima", "naive", "snaive", "drift"};
    static const double shapes[][14] = {
        {1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2},
        {5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 6},
        {1e-9, 2e-9, 1e-9, 3e-9, 2e-9, 1e-9, 2e-9, 4e-9, 3e-9, 2e-9, 1e-9, 2e-9, 3e-9, 1e-9},
        {-3, 4, -5, 6, -7, 8, -9, 10, -11, 12, -13, 14, -15, 16},
        {1e12, 1.1e12, 1.3e12, 1.2e12, 1.5e12, 1.4e12, 1.6e12, 1.8e12, 1.7e12, 2e12, 2.1e12,
         2e12, 2.3e12, 2.2e12},
    };
    for (size_t sh = 0; sh < sizeof shapes / sizeof shapes[0]; sh++)
        for (int n = 2; n <= 14; n += 3)
            for (int freq = 0; freq < 2; freq++)
                for (size_t m = 0; m < sizeof methods / sizeof methods[0]; m++) {
                    cJSON *p = cJSON_CreateObject();
                    cJSON *series = cJSON_AddObjectToObject(p, "series");
                    cJSON *dates = cJSON_AddArrayToObject(series, "dates");
                    cJSON *values = cJSON_AddArrayToObject(series, "values");
                    for (int i = 0; i < n; i++) {
                        char d[32];
                        if (freq)
                            snprintf(d, sizeof d, "%04d-%02d-01", 2000 + i / 4, 1 + 3 * (i % 4));
                        else
                            snprintf(d, sizeof d, "%04d-01-01", 1990 + i);
                        cJSON_AddItemToArray(dates, cJSON_CreateString(d));
                        cJSON_AddItemToArray(values, cJSON_CreateNumber(shapes[sh][i]));
                    }
                    cJSON_AddStringToObject(p, "method", methods[m]);
                    cJSON_AddNumberToObject(p, "horizon", 5);
                    cJSON *r = NULL;
                    fc_job_error err;
                    eq_err rc = forecast_job_run(p, &r, &err);
                    ck_assert_msg(rc == EQ_OK || rc == EQ_EINVAL, "%s n=%d: rc %d", methods[m], n,
                                  rc);
                    if (rc == EQ_OK) {
                        const cJSON *iv = get(get(r, "intervals"), "95");
                        for (int j = 0; j < 5; j++) {
                            double lo = at(get(iv, "lower"), j), hi = at(get(iv, "upper"), j);
                            double pt = at(get(r, "point"), j);
                            ck_assert_msg(lo <= pt && pt <= hi, "%s n=%d shape %zu step %d",
                                          methods[m], n, sh, j);
                        }
                    } else {
                        ck_assert(err.code[0] != '\0');
                    }
                    cJSON_Delete(r);
                    cJSON_Delete(p);
                }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("forecast_job");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_bad_inputs);
    tcase_add_test(tc, test_calendar_and_missing);
    tcase_add_test(tc, test_benchmarks_properties);
    tcase_add_test(tc, test_drift_exact_on_line);
    tcase_add_test(tc, test_ets_inputs);
    tcase_add_test(tc, test_exact_on_line);
    tcase_add_test(tc, test_arima_intervals);
    tcase_add_test(tc, test_short_and_awkward_series);
    tcase_add_test(tc, test_ets_intervals);
    tcase_add_test(tc, test_auto_is_mean_of_members);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* The engine against R's forecast package on the public series
 * (tests/fixtures/forecast/reference.json, written by bench/forecast/reference.R). */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/forecast/fc_test_util.h"
#include "workers/forecast/forecast_job.h"

/* Built four times (CMakeLists.txt): part 1 runs the benchmarks, Theta and the forced ETS
 * fits, part 2 the automatic ETS selection, part 3 ARIMA on the quarterly and annual
 * series, part 4 ARIMA on the monthly ones, so each executable stays short under
 * sanitizers. */
#ifndef FC_REF_PART
#define FC_REF_PART 1
#endif

static cJSON *ref;

static void setup(void)
{
    ref = fc_test_load_json("tests/fixtures/forecast/reference.json");
}

static void teardown(void)
{
    cJSON_Delete(ref);
}

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    ck_assert_msg(cJSON_IsNumber(v), "no number %s", k);
    return v->valuedouble;
}

/* Fits `method` (with `model` when not NULL) on the training part of fixture entry `e`. */
static cJSON *fit(const cJSON *e, const char *method, const char *model)
{
    fc_test_series s;
    fc_test_load(cJSON_GetObjectItem(e, "file")->valuestring,
                 cJSON_GetObjectItem(e, "column")->valuestring, &s);
    size_t lo = 0;
    while (isnan(s.values[lo]))
        lo++;
    fc_test_series tr = {.dates = s.dates + lo, .values = s.values + lo};
    cJSON *p = fc_test_params(&tr, (size_t)num(e, "n_train"));
    cJSON_AddNumberToObject(p, "horizon", num(e, "h"));
    cJSON_AddStringToObject(p, "method", method);
    if (model)
        cJSON_AddStringToObject(p, "model", model);
    cJSON *r = NULL;
    fc_job_error err;
    eq_err rc = forecast_job_run(p, &r, &err);
    ck_assert_msg(rc == EQ_OK, "%s on %s: %s %s", method,
                  cJSON_GetObjectItem(e, "column")->valuestring, err.code, err.message);
    cJSON_Delete(p);
    fc_test_free(&s);
    return r;
}

static inline double item(const cJSON *arr, int i)
{
    const cJSON *v = cJSON_GetArrayItem(arr, i);
    ck_assert(cJSON_IsNumber(v));
    return v->valuedouble;
}

#if FC_REF_PART == 1
/* Compares our point forecasts and 80/95% bounds with R's: max relative difference. */
static void compare(const cJSON *ours, const cJSON *theirs, double tol_point, double tol_pi,
                    const char *what)
{
    const cJSON *iv = cJSON_GetObjectItem(ours, "intervals");
    const cJSON *pairs[5][2] = {
        {cJSON_GetObjectItem(ours, "point"), cJSON_GetObjectItem(theirs, "point")},
        {cJSON_GetObjectItem(cJSON_GetObjectItem(iv, "80"), "lower"),
         cJSON_GetObjectItem(theirs, "lower80")},
        {cJSON_GetObjectItem(cJSON_GetObjectItem(iv, "80"), "upper"),
         cJSON_GetObjectItem(theirs, "upper80")},
        {cJSON_GetObjectItem(cJSON_GetObjectItem(iv, "95"), "lower"),
         cJSON_GetObjectItem(theirs, "lower95")},
        {cJSON_GetObjectItem(cJSON_GetObjectItem(iv, "95"), "upper"),
         cJSON_GetObjectItem(theirs, "upper95")},
    };
    for (int k = 0; k < 5; k++) {
        int h = cJSON_GetArraySize(pairs[k][1]);
        ck_assert_int_eq(cJSON_GetArraySize(pairs[k][0]), h);
        double tol = k == 0 ? tol_point : tol_pi;
        for (int j = 0; j < h; j++) {
            double a = item(pairs[k][0], j), b = item(pairs[k][1], j);
            ck_assert_msg(fabs(a - b) <= tol * fmax(1.0, fabs(b)),
                          "%s: series %d step %d: ours %.12g, R %.12g", what, k, j, a, b);
        }
    }
}

START_TEST(test_benchmarks_match_r)
{
    static const char *methods[] = {"naive", "snaive", "drift"};
    const cJSON *e;
    cJSON_ArrayForEach(e, ref)
    {
        for (int m = 0; m < 3; m++) {
            cJSON *r = fit(e, methods[m], NULL);
            char what[128];
            snprintf(what, sizeof what, "%s %s", methods[m],
                     cJSON_GetObjectItem(e, "column")->valuestring);
            compare(r, cJSON_GetObjectItem(e, methods[m]), 1e-9, 1e-9, what);
            cJSON_Delete(r);
        }
    }
}
END_TEST

/* Theta: the same decomposition and SES; only the SES optimum differs (within 2%). */
START_TEST(test_theta_close_to_r)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, ref)
    {
        cJSON *r = fit(e, "theta", NULL);
        char what[128];
        snprintf(what, sizeof what, "theta %s", cJSON_GetObjectItem(e, "column")->valuestring);
        compare(r, cJSON_GetObjectItem(e, "theta"), 2e-2, 3e-2, what);
        cJSON_Delete(r);
    }
}
END_TEST

/* R's chosen model, forced on our side: point forecasts within 2% on average over the
 * horizon (the optimizers differ), and on every series within 8% at each step. Models
 * without a monthly season are optimised as R's optim runs Nelder-Mead, so they stop
 * where R stops: their AICc within 1 of R's on at least 18 of the 23 such series. */
START_TEST(test_ets_forced_model_close_to_r)
{
    const cJSON *e;
    double total = 0.0;
    int count = 0, checked_pi = 0, r_style = 0, same_aicc = 0;
    cJSON_ArrayForEach(e, ref)
    {
        const cJSON *rets = cJSON_GetObjectItem(e, "ets");
        const cJSON *comp = cJSON_GetObjectItem(rets, "components");
        char model[8];
        snprintf(model, sizeof model, "%s%s%s%s", cJSON_GetArrayItem(comp, 0)->valuestring,
                 cJSON_GetArrayItem(comp, 1)->valuestring,
                 strcmp(cJSON_GetArrayItem(comp, 3)->valuestring, "TRUE") == 0 ? "d" : "",
                 cJSON_GetArrayItem(comp, 2)->valuestring);
        cJSON *r = fit(e, "ets", model);
        ck_assert_str_eq(cJSON_GetObjectItem(r, "model")->valuestring,
                         cJSON_GetObjectItem(rets, "model")->valuestring);
        if (model[strlen(model) - 1] == 'N' || num(e, "period") < 12) {
            r_style++;
            same_aicc += fabs(num(r, "aicc") - num(rets, "aicc")) <= 1.0;
        }
        const cJSON *ours = cJSON_GetObjectItem(r, "point");
        const cJSON *theirs = cJSON_GetObjectItem(rets, "point");
        double dev = 0.0;
        int h = cJSON_GetArraySize(theirs);
        for (int j = 0; j < h; j++) {
            double a = item(ours, j), b = item(theirs, j);
            double rel = fabs(a - b) / fmax(fabs(b), 1e-9);
            ck_assert_msg(rel < 0.08, "%s %s step %d: ours %g, R %g",
                          cJSON_GetObjectItem(e, "column")->valuestring, model, j, a, b);
            dev += rel / h;
        }
        total += dev;
        count++;
        /* Analytic intervals (no multiplicative season) where both optimisers found the
         * same smoothing parameters (within 0.01): 95% half-widths within 5% of R's. */
        static const char *pn[] = {"alpha", "beta", "gamma", "phi"};
        int same_par = 1;
        for (int k = 0; k < 4; k++) {
            const cJSON *a = cJSON_GetObjectItem(cJSON_GetObjectItem(r, "params"), pn[k]);
            const cJSON *b = cJSON_GetObjectItem(cJSON_GetObjectItem(rets, "par"), pn[k]);
            if (a && b && fabs(a->valuedouble - b->valuedouble) > 0.01)
                same_par = 0;
        }
        if (model[strlen(model) - 1] != 'M' && same_par) {
            checked_pi++;
            const cJSON *iv = cJSON_GetObjectItem(cJSON_GetObjectItem(r, "intervals"), "95");
            const cJSON *ou = cJSON_GetObjectItem(iv, "upper");
            const cJSON *tu = cJSON_GetObjectItem(rets, "upper95");
            for (int j = 0; j < h; j++) {
                double a = item(ou, j) - item(ours, j), b = item(tu, j) - item(theirs, j);
                ck_assert_msg(fabs(a - b) <= 0.05 * b, "%s %s step %d: half-width %g, R %g",
                              cJSON_GetObjectItem(e, "column")->valuestring, model, j, a, b);
            }
        }
        cJSON_Delete(r);
    }
    ck_assert_msg(total / count < 0.02, "mean relative deviation %.4f", total / count);
    ck_assert_msg(checked_pi >= 10, "only %d interval comparisons", checked_pi);
    ck_assert_int_eq(r_style, 23);
    ck_assert_msg(same_aicc >= 18, "AICc as R's on only %d of %d", same_aicc, r_style);
}
END_TEST

#endif
#if FC_REF_PART == 2
/* Automatic selection: on the public series our AICc choice agrees with R's on at least
 * 80% of series (issue 3's target; the optimizers still reach slightly different
 * likelihoods on monthly seasonal models), and always on the series where R's choice is
 * clear-cut. */
START_TEST(test_ets_auto_selection)
{
    static const char *must[] = {"level_ft", "infl", "realcons", "cpi", "temp_f",
                                 "deaths"};
    const cJSON *e;
    int same = 0, count = 0;
    cJSON_ArrayForEach(e, ref)
    {
        const char *col = cJSON_GetObjectItem(e, "column")->valuestring;
        const char *rmodel = cJSON_GetObjectItem(cJSON_GetObjectItem(e, "ets"), "model")->valuestring;
        cJSON *r = fit(e, "ets", NULL);
        const char *ours = cJSON_GetObjectItem(r, "model")->valuestring;
        int eq = strcmp(ours, rmodel) == 0;
        for (size_t i = 0; i < sizeof must / sizeof must[0]; i++)
            if (strcmp(col, must[i]) == 0)
                ck_assert_msg(eq, "%s: ours %s, R %s", col, ours, rmodel);
        same += eq;
        count++;
        cJSON_Delete(r);
    }
    ck_assert_msg(same * 10 >= count * 8, "only %d of %d models agree with R", same, count);
}
END_TEST

#endif
#if FC_REF_PART >= 3
/* Parses "ARIMA(p,d,q)(P,D,Q)[m] ..." into o[6] (seasonal part 0 when absent). */
static void arima_order(const char *model, int o[6])
{
    memset(o, 0, 6 * sizeof *o);
    ck_assert_int_eq(sscanf(model, "ARIMA(%d,%d,%d)", &o[0], &o[1], &o[2]), 3);
    const char *s = strchr(model, ')');
    if (s && s[1] == '(')
        ck_assert_int_eq(sscanf(s + 1, "(%d,%d,%d)", &o[3], &o[4], &o[5]), 3);
}

/* ARIMA: the unit-root tests give R's differencing orders on every series; the stepwise
 * search lands on R's full order on at least half of them, and there the forecasts agree
 * (both refine the CSS estimates by exact ML). */
START_TEST(test_arima_against_r)
{
    const cJSON *e;
    int same = 0, count = 0, same_aicc = 0;
    cJSON_ArrayForEach(e, ref)
    {
        if ((num(e, "period") == 12) != (FC_REF_PART == 4))
            continue;
        const char *col = cJSON_GetObjectItem(e, "column")->valuestring;
        const cJSON *ra = cJSON_GetObjectItem(e, "arima");
        cJSON *r = fit(e, "arima", NULL);
        int ours[6], theirs[6];
        arima_order(cJSON_GetObjectItem(r, "model")->valuestring, ours);
        arima_order(cJSON_GetObjectItem(ra, "model")->valuestring, theirs);
        ck_assert_msg(ours[1] == theirs[1] && ours[4] == theirs[4], "%s: d/D %d/%d, R %d/%d", col,
                      ours[1], ours[4], theirs[1], theirs[4]);
        count++;
        if (memcmp(ours, theirs, sizeof ours) == 0 &&
            strcmp(cJSON_GetObjectItem(r, "model")->valuestring,
                   cJSON_GetObjectItem(ra, "model")->valuestring) == 0) {
            same++;
            const cJSON *op = cJSON_GetObjectItem(r, "point"), *rp = cJSON_GetObjectItem(ra, "point");
            double dev = 0.0;
            int h = cJSON_GetArraySize(rp);
            for (int j = 0; j < h; j++) {
                double a = item(op, j), b = item(rp, j);
                double rel = fabs(a - b) / fmax(fabs(b), 1e-9);
                ck_assert_msg(rel < 0.05, "%s step %d: ours %g, R %g", col, j, a, b);
                dev += rel / h;
            }
            ck_assert_msg(dev < 0.02, "%s: mean deviation %g", col, dev);
            /* Refined by exact ML, the likelihood is R's: AICc within 0.5 where both
             * optimisers converge to the same point (it is reported either way). */
            const cJSON *ml = cJSON_GetObjectItem(cJSON_GetObjectItem(r, "params"), "exact_ml");
            ck_assert_ptr_nonnull(ml);
            if (ml->valuedouble == 1.0 && dev < 1e-3) {
                /* Same model, same estimates: psi-weight intervals as R's (within 0.3% on all
                 * but co2, whose 13 differencing lags R's diffuse filter counts differently in
                 * sigma2: within 5%). */
                const cJSON *iv = cJSON_GetObjectItem(cJSON_GetObjectItem(r, "intervals"), "95");
                const cJSON *ou = cJSON_GetObjectItem(iv, "upper");
                const cJSON *tu = cJSON_GetObjectItem(ra, "upper95");
                for (int j = 0; j < h; j++) {
                    double a = item(ou, j) - item(op, j), b = item(tu, j) - item(rp, j);
                    ck_assert_msg(fabs(a - b) <= 0.05 * b, "%s step %d: half-width %g, R %g", col,
                                  j, a, b);
                }
                ck_assert_msg(fabs(num(r, "aicc") - num(ra, "aicc")) < 0.5, "%s: AICc %g, R %g",
                              col, num(r, "aicc"), num(ra, "aicc"));
                same_aicc++;
            }
        }
        cJSON_Delete(r);
    }
    ck_assert_msg(2 * same >= count, "only %d of %d ARIMA orders agree with R", same, count);
    ck_assert_msg(same_aicc >= 4, "only %d AICc comparisons", same_aicc);
}
END_TEST

#endif

static Suite *suite(void)
{
    Suite *s = suite_create("forecast_reference");
    TCase *tc = tcase_create("r");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
#if FC_REF_PART == 1
    tcase_add_test(tc, test_benchmarks_match_r);
    tcase_add_test(tc, test_theta_close_to_r);
    tcase_add_test(tc, test_ets_forced_model_close_to_r);
#elif FC_REF_PART == 2
    tcase_add_test(tc, test_ets_auto_selection);
#else
    tcase_add_test(tc, test_arima_against_r);
#endif
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

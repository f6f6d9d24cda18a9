/* fc_arima_ml_filter against closed forms. */
#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "workers/forecast/fc_arima_ml.h"

static double work[FC_ARIMA_ML_WORK(FC_ARIMA_ML_MAX_R)];

/* AR(1): the first innovation has variance 1 / (1 - phi^2), the others 1. */
START_TEST(test_ar1_exact)
{
    double x[50];
    unsigned s = 7;
    for (int t = 0; t < 50; t++) {
        s = s * 1103515245u + 12345u;
        x[t] = (double)(s >> 16 & 0x7fff) / 32768.0 - 0.5 + (t ? 0.6 * x[t - 1] : 0.0);
    }
    double phi = 0.6, ar[2] = {0, phi}, ma[1] = {0};
    fc_arima_ml ml;
    ck_assert_int_eq(fc_arima_ml_filter(x, 50, ar, 1, ma, 0, work, &ml), EQ_OK);
    double ssq = x[0] * x[0] * (1 - phi * phi);
    for (int t = 1; t < 50; t++)
        ssq += (x[t] - phi * x[t - 1]) * (x[t] - phi * x[t - 1]);
    ck_assert_double_eq_tol(ml.ssq, ssq, 1e-9);
    ck_assert_double_eq_tol(ml.sumlog, -log(1 - phi * phi), 1e-9);
    ck_assert_uint_eq(ml.nu, 50);
}
END_TEST

/* MA(1) with theta: F_1 = 1 + theta^2 and F_t = 1 + theta^2 - theta^2 / F_{t-1}. */
START_TEST(test_ma1_exact)
{
    double x[30];
    for (int t = 0; t < 30; t++)
        x[t] = sin(0.7 * t) + 0.3 * cos(2.1 * t);
    double theta = 0.5, ar[1] = {0}, ma[2] = {0, theta};
    fc_arima_ml ml;
    ck_assert_int_eq(fc_arima_ml_filter(x, 30, ar, 0, ma, 1, work, &ml), EQ_OK);
    double F = 1 + theta * theta, e = x[0], ssq = e * e / F, sumlog = log(F);
    for (int t = 1; t < 30; t++) {
        double k = theta / F;
        e = x[t] - k * e;
        F = 1 + theta * theta - theta * theta / F;
        ssq += e * e / F;
        sumlog += log(F);
    }
    ck_assert_double_eq_tol(ml.ssq, ssq, 1e-8);
    ck_assert_double_eq_tol(ml.sumlog, sumlog, 1e-8);
}
END_TEST

START_TEST(test_state_too_large)
{
    double x[4] = {1, 2, 3, 4}, ar[FC_ARIMA_ML_MAX_R + 2] = {0}, ma[1] = {0};
    fc_arima_ml ml;
    ck_assert_int_eq(fc_arima_ml_filter(x, 4, ar, FC_ARIMA_ML_MAX_R + 1, ma, 0, work, &ml),
                     EQ_EINVAL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fc_arima_ml");
    TCase *tc = tcase_create("filter");
    tcase_add_test(tc, test_ar1_exact);
    tcase_add_test(tc, test_ma1_exact);
    tcase_add_test(tc, test_state_too_large);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

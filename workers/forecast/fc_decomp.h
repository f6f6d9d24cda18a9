/* Classical seasonal decomposition (as R's stats::decompose) and small regressions used to
 * initialise and seasonally adjust the models. */
#ifndef ECONQ_WORKERS_FORECAST_FC_DECOMP_H
#define ECONQ_WORKERS_FORECAST_FC_DECOMP_H

#include <stddef.h>

#include "common/eq_err.h"

/* Writes the seasonal component of y (n >= 2m, m >= 2) into `seasonal` (n values): a
 * centred moving average trend, per-position means of the detrended series normalised to
 * sum 0 (additive) or mean 1 (multiplicative), repeated from the first observation. */
eq_err fc_decompose(const double *y, size_t n, int m, int multiplicative, double *seasonal);

/* Least-squares line through (x0 + i, y[i]), i < n: *a intercept at x = 0, *b slope. */
void fc_lsfit(const double *y, size_t n, double x0, double *a, double *b);

/* Autocorrelation of y at lags 1..maxlag into r[0..maxlag-1] (as R's acf). */
void fc_acf(const double *y, size_t n, int maxlag, double *r);

/* R's thetaf seasonality test: the lag-m autocorrelation exceeds its 90% two-sided bound. */
int fc_seasonal_test(const double *y, size_t n, int m);

/* Longest polynomial fc_poly_roots_within accepts (degree). */
#define FC_POLY_MAX_DEGREE 128

/* Whether every root of a[0] + a[1] z + ... + a[d] z^d (a[d] != 0, d <= FC_POLY_MAX_DEGREE)
 * lies strictly within radius r, by the Schur-Cohn step-down recursion on p(r z): no
 * iterative root finding, no failure mode. Destroys a. */
int fc_poly_roots_within(double *a, int d, double r);

#endif

#include "workers/forecast/fc_decomp.h"

#include <gsl/gsl_cdf.h>
#include <math.h>
#include <stdlib.h>

eq_err fc_decompose(const double *y, size_t n, int m, int multiplicative, double *seasonal)
{
    if (m < 2 || n < 2 * (size_t)m)
        return EQ_EINVAL;
    double *det = malloc(n * sizeof *det);
    double *figure = malloc((size_t)m * sizeof *figure);
    if (!det || !figure) {
        free(det);
        free(figure);
        return EQ_ENOMEM;
    }
    size_t half = (size_t)m / 2;
    int even = m % 2 == 0;
    for (size_t t = 0; t < n; t++) {
        det[t] = NAN;
        if (t < half || t + half >= n)
            continue;
        double s = 0.0;
        if (even) {
            s = 0.5 * (y[t - half] + y[t + half]);
            for (size_t k = t - half + 1; k < t + half; k++)
                s += y[k];
        } else {
            for (size_t k = t - half; k <= t + half; k++)
                s += y[k];
        }
        double trend = s / m;
        det[t] = multiplicative ? y[t] / trend : y[t] - trend;
    }
    double mean = 0.0;
    for (int i = 0; i < m; i++) {
        double s = 0.0;
        size_t cnt = 0;
        for (size_t t = (size_t)i; t < n; t += (size_t)m)
            if (!isnan(det[t])) {
                s += det[t];
                cnt++;
            }
        figure[i] = cnt ? s / (double)cnt : NAN;
        mean += figure[i] / m;
    }
    for (int i = 0; i < m; i++)
        figure[i] = multiplicative ? figure[i] / mean : figure[i] - mean;
    for (size_t t = 0; t < n; t++)
        seasonal[t] = figure[t % (size_t)m];
    free(det);
    free(figure);
    return EQ_OK;
}

void fc_lsfit(const double *y, size_t n, double x0, double *a, double *b)
{
    double mx = x0 + ((double)n - 1.0) / 2.0, my = 0.0;
    for (size_t i = 0; i < n; i++)
        my += y[i];
    my /= (double)n;
    double sxy = 0.0, sxx = 0.0;
    for (size_t i = 0; i < n; i++) {
        double dx = x0 + (double)i - mx;
        sxy += dx * (y[i] - my);
        sxx += dx * dx;
    }
    *b = sxx > 0 ? sxy / sxx : 0.0;
    *a = my - *b * mx;
}

void fc_acf(const double *y, size_t n, int maxlag, double *r)
{
    double mean = 0.0;
    for (size_t t = 0; t < n; t++)
        mean += y[t];
    mean /= (double)n;
    double c0 = 0.0;
    for (size_t t = 0; t < n; t++)
        c0 += (y[t] - mean) * (y[t] - mean);
    for (int k = 1; k <= maxlag; k++) {
        double c = 0.0;
        for (size_t t = 0; t + (size_t)k < n; t++)
            c += (y[t] - mean) * (y[t + k] - mean);
        r[k - 1] = c0 > 0 ? c / c0 : 0.0;
    }
}

int fc_seasonal_test(const double *y, size_t n, int m)
{
    if (m <= 1 || n <= 2 * (size_t)m)
        return 0;
    double r[64];
    if (m > 64)
        return 0;
    fc_acf(y, n, m, r);
    double s = 0.0;
    for (int k = 0; k < m - 1; k++)
        s += r[k] * r[k];
    double stat = sqrt((1.0 + 2.0 * s) / (double)n);
    return fabs(r[m - 1]) / stat > gsl_cdf_ugaussian_Pinv(0.95);
}

int fc_poly_roots_within(double *a, int d, double r)
{
    if (d > FC_POLY_MAX_DEGREE)
        return 0;
    double rp = 1.0, tmp[FC_POLY_MAX_DEGREE + 1];
    for (int i = 0; i <= d; i++, rp *= r)
        a[i] *= rp;
    for (; d > 0; d--) {
        double a0 = a[0], ad = a[d];
        if (!(fabs(a0) < fabs(ad)))
            return 0;
        for (int i = 1; i <= d; i++)
            tmp[i - 1] = ad * a[i] - a0 * a[d - i];
        double norm = fabs(tmp[d - 1]);
        for (int i = 0; i < d; i++)
            a[i] = tmp[i] / norm;
    }
    return 1;
}

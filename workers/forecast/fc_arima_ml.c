#include "workers/forecast/fc_arima_ml.h"

#include <math.h>
#include <string.h>

/* Terms of the MA(infinity) sum for the initial covariance: stop when the impulse response
 * is this small, or after this many terms (a near-unit-root seasonal AR decays slowly). */
#define FC_ML_P0_TOL 1e-10
#define FC_ML_P0_MAX_TERMS 5000
/* Once F_t changes by less than this (relatively), the filter has reached its steady state
 * and the covariance recursion is skipped. */
#define FC_ML_STEADY_TOL 1e-10

eq_err fc_arima_ml_filter(const double *x, size_t n, const double *ar, int p, const double *ma,
                          int q, double *work, fc_arima_ml *out)
{
    int r = p > q + 1 ? p : q + 1;
    if (r > FC_ARIMA_ML_MAX_R)
        return EQ_EINVAL;
    size_t rr = (size_t)r * (size_t)r, s = (size_t)r + 1;
    double *P = work, *RR = work + rr, *X = work + 2 * rr; /* X: (r+1)^2, zero-padded */
    double *a = X + s * s, *v = a + r, *tmp = v + r;
    double phi[FC_ARIMA_ML_MAX_R] = {0}, R[FC_ARIMA_ML_MAX_R] = {0};
    for (int i = 0; i < p; i++)
        phi[i] = ar[i + 1];
    R[0] = 1.0;
    for (int j = 1; j <= q; j++)
        R[j] = ma[j];
    for (int i = 0; i < r; i++)
        for (int j = 0; j < r; j++)
            RR[i * r + j] = R[i] * R[j];
    /* P0 = sum_k (T^k R)(T^k R)'. T is the companion form: (T v)_i = phi_i v_0 + v_{i+1}. */
    memset(P, 0, rr * sizeof *P);
    memcpy(v, R, (size_t)r * sizeof *v);
    for (int k = 0; k < FC_ML_P0_MAX_TERMS; k++) {
        double norm = 0.0;
        for (int i = 0; i < r; i++) {
            norm += v[i] * v[i];
            for (int j = 0; j <= i; j++)
                P[i * r + j] += v[i] * v[j];
        }
        if (norm < FC_ML_P0_TOL * FC_ML_P0_TOL)
            break;
        double v0 = v[0];
        for (int i = 0; i < r; i++)
            tmp[i] = phi[i] * v0 + (i + 1 < r ? v[i + 1] : 0.0);
        memcpy(v, tmp, (size_t)r * sizeof *v);
    }
    for (int i = 0; i < r; i++)
        for (int j = 0; j < i; j++)
            P[j * r + i] = P[i * r + j];
    memset(X, 0, s * s * sizeof *X);
    memset(a, 0, (size_t)r * sizeof *a);
    out->ssq = out->sumlog = 0.0;
    out->nu = 0;
    double Fprev = -1.0;
    int steady = 0;
    for (size_t t = 0; t < n; t++) {
        double F = P[0];
        if (!(F > 1e-12) || !isfinite(F))
            return EQ_EINVAL;
        double e = x[t] - a[0];
        out->ssq += e * e / F;
        out->sumlog += log(F);
        out->nu++;
        /* Update: a += P[:,0] e / F. */
        for (int i = 0; i < r; i++)
            a[i] += P[i * r] * e / F;
        /* Predict the state: a = T a. */
        double a0 = a[0];
        for (int i = 0; i < r; i++)
            a[i] = phi[i] * a0 + (i + 1 < r ? a[i + 1] : 0.0);
        if (steady)
            continue;
        /* Covariance: P = T X T' + R R' with X = P - P[:,0] P[0,:] / F. T is the companion
         * matrix, so (T X T')_ij = phi_i phi_j X_00 + phi_i X_0,j+1 + phi_j X_i+1,0 +
         * X_i+1,j+1 (X padded with a zero row and column); P is symmetric, so only the lower
         * triangle is computed. */
        double invF = 1.0 / F;
        for (int i = 0; i < r; i++)
            tmp[i] = P[i * r];
        for (int i = 0; i < r; i++) {
            double ti = tmp[i] * invF;
            for (int j = 0; j <= i; j++)
                X[i * s + j] = P[i * r + j] - ti * tmp[j];
        }
        for (int i = 0; i < r; i++)
            for (int j = i + 1; j < r; j++)
                X[i * s + j] = X[j * s + i];
        double x00 = X[0];
        for (int i = 0; i < r; i++) {
            const double *xi1 = X + (size_t)(i + 1) * s;
            double pi = phi[i], pix00 = pi * x00, xi10 = xi1[0];
            for (int j = 0; j <= i; j++)
                P[i * r + j] = phi[j] * (pix00 + xi10) + pi * X[j + 1] + xi1[j + 1] +
                               RR[i * r + j];
        }
        for (int i = 0; i < r; i++)
            for (int j = i + 1; j < r; j++)
                P[i * r + j] = P[j * r + i];
        steady = Fprev > 0 && fabs(P[0] - Fprev) < FC_ML_STEADY_TOL * Fprev;
        Fprev = P[0];
    }
    return EQ_OK;
}

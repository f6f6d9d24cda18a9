/* Exact Gaussian likelihood of a stationary ARMA model by the Kalman filter (Harvey's state
 * space form; initial state covariance from the MA(infinity) representation), used to
 * refine the CSS estimates of the chosen ARIMA model as R's CSS-ML does. */
#ifndef ECONQ_WORKERS_FORECAST_FC_ARIMA_ML_H
#define ECONQ_WORKERS_FORECAST_FC_ARIMA_ML_H

#include <stddef.h>

#include "common/eq_err.h"

/* The largest state dimension max(p, q + 1) of the expanded model. */
#define FC_ARIMA_ML_MAX_R 64

/* Workspace doubles for state dimension r. */
#define FC_ARIMA_ML_WORK(r) (3 * (r) * (r) + 6 * (r) + 1)

typedef struct fc_arima_ml {
    double ssq;    /* sum of squared standardised innovations v_t^2 / F_t */
    double sumlog; /* sum of log F_t */
    size_t nu;     /* number of innovations */
} fc_arima_ml;

/* Filters x[0..n-1] (already mean-corrected) through the ARMA model
 * x_t = sum_{i=1}^{p} ar[i] x_{t-i} + e_t + sum_{j=1}^{q} ma[j] e_{t-j} (ar[0], ma[0] unused).
 * `work` holds at least FC_ARIMA_ML_WORK(r) doubles, r = max(p, q + 1).
 * Returns EQ_EINVAL when r exceeds FC_ARIMA_ML_MAX_R or the filter degenerates. */
eq_err fc_arima_ml_filter(const double *x, size_t n, const double *ar, int p, const double *ma,
                          int q, double *work, fc_arima_ml *out);

#endif

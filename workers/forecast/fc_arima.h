/* Seasonal ARIMA with automatic order selection in the manner of Hyndman & Khandakar (2008)
 * and R's forecast::auto.arima: KPSS tests for d, a seasonal-strength test for D, then a
 * stepwise search over p, q, P, Q (and the constant or drift) by AICc. As R's CSS-ML: the
 * search estimates each candidate by conditional sum of squares (stationary AR enforced,
 * roots within 1.01 of the unit circle rejected), the chosen model is refined by exact
 * maximum likelihood (Kalman filter, fc_arima_ml.h) and its AICc is the exact one.
 * Intervals from the psi-weights of the differenced model. Seasonal terms for periods up
 * to 24. */
#ifndef ECONQ_WORKERS_FORECAST_FC_ARIMA_H
#define ECONQ_WORKERS_FORECAST_FC_ARIMA_H

#include "workers/forecast/fc_model.h"

eq_err fc_arima_fit(const fc_request *rq, fc_result *out, fc_job_error *err);

/* The number of regular differences the KPSS test (5%, level) asks for, at most 2. */
int fc_arima_ndiffs(const double *x, size_t n);

#endif

/* The classic Theta method (Assimakopoulos & Nikolopoulos 2000) as R's forecast::thetaf:
 * multiplicative classical decomposition when the lag-m autocorrelation is significant at
 * 90%, simple exponential smoothing (ETS(A,N,N)) of the adjusted data plus half the slope
 * of its linear trend, reseasonalised; intervals from the SES variance. */
#ifndef ECONQ_WORKERS_FORECAST_FC_THETA_H
#define ECONQ_WORKERS_FORECAST_FC_THETA_H

#include "workers/forecast/fc_model.h"

eq_err fc_theta_fit(const fc_request *rq, fc_result *out, fc_job_error *err);

#endif

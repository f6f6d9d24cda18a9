/* The "auto" method: the equal-weight mean of Theta and automatic ARIMA. Of the
 * combinations measured on the 27 public series (bench/forecast: hold-out of 18/8/6
 * points), it had the lowest mean MASE: Theta+ARIMA 1.570, ETS+Theta+ARIMA 1.590 (median
 * of the three 1.657), ETS+ARIMA 1.611, ETS+Theta 1.616, against 1.580 for ARIMA alone and
 * 1.585 for R's auto.arima, R's best single method. */
#ifndef ECONQ_WORKERS_FORECAST_FC_COMBO_H
#define ECONQ_WORKERS_FORECAST_FC_COMBO_H

#include "workers/forecast/fc_model.h"

/* Fits every member and averages point forecasts, fitted values and each interval bound.
 * Members that cannot be fitted on this series (too short, say) are left out; at least one
 * must succeed. */
eq_err fc_combo_fit(const fc_request *rq, fc_result *out, fc_job_error *err);

#endif

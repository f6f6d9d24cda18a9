/* The "auto" method: the equal-weight mean of Theta and automatic ARIMA. Of the
 * combinations measured on the 27 public series (bench/forecast: hold-out of 18/8/6
 * points, mean MASE with seasonal scaling), it was the most accurate: Theta+ARIMA 1.575,
 * ETS+Theta+ARIMA 1.599 (their median 1.657), ETS+Theta 1.616, ETS+ARIMA 1.622; single
 * methods: ARIMA 1.589, Theta 1.637, ETS 1.666; R's best single method (auto.arima) 1.585.
 * The choice was made on these same series, so the margin is optimistic. */
#ifndef ECONQ_WORKERS_FORECAST_FC_COMBO_H
#define ECONQ_WORKERS_FORECAST_FC_COMBO_H

#include "workers/forecast/fc_model.h"

/* Fits every member and averages point forecasts, fitted values and each interval bound.
 * Members that cannot be fitted on this series (too short, say) are left out; at least one
 * must succeed. */
eq_err fc_combo_fit(const fc_request *rq, fc_result *out, fc_job_error *err);

#endif

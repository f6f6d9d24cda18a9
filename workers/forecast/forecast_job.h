/* The forecast job's entry point: JSON params in, JSON result out. This is all the worker
 * runtime needs from the forecasting engine; it knows nothing of queues or HTTP. */
#ifndef ECONQ_WORKERS_FORECAST_FORECAST_JOB_H
#define ECONQ_WORKERS_FORECAST_FORECAST_JOB_H

#include <cjson/cJSON.h>

#include "common/eq_err.h"
#include "workers/forecast/fc_model.h" /* typedef struct fc_job_error { code, message } */

/* The largest horizon accepted (bad_horizon above it). */
#define FC_MAX_HORIZON 1000
/* ETS, Theta, ARIMA and auto fit at most the most recent this many observations (their cost
 * grows with the length times hundreds of likelihood evaluations; older history adds little
 * to the forecasts). The benchmarks use the whole series. "n" in the result is the number
 * of observations used. */
#define FC_MAX_FIT_POINTS 3000
/* At most this many interval levels per job (bad_levels above it). */
#define FC_MAX_LEVELS 10

/* Runs one forecast job. `params` (borrowed) is the job's params object: "series" (inline
 * {"dates": [...], "values": [...]}), "horizon" (1..FC_MAX_HORIZON; default 2 periods for
 * seasonal data, else 10), "method" (auto, ets, theta, naive, snaive, drift; default auto),
 * "model" (ETS model string such as "MAdM" or "ZZZ"; method ets only), "levels" (default
 * [80, 95]), "frequency" (annual, quarterly, monthly, weekly, daily; inferred from the dates
 * when absent) and "missing" ("interpolate", the default, or "error"; see fc_series.h).
 * On success returns EQ_OK and *result is a new cJSON object (caller frees with
 * cJSON_Delete) holding "dates", "point", "intervals" ({"80": {"lower": [...], "upper":
 * [...]}, ...}), "method", "model", "params", "aicc", "accuracy" {"mase", "smape", "rmse"}
 * (in-sample), "frequency" and "n". On bad input returns EQ_EINVAL with err->code a stable
 * snake_case code (series_too_short, constant_series, non_positive_values,
 * non_finite_values, missing_values, bad_date, unsorted_dates, duplicate_dates,
 * irregular_dates, unknown_frequency, bad_frequency, bad_horizon, bad_levels,
 * unknown_method, bad_model, bad_series, series_too_long, unresolved_dataset) and a
 * message; such failures are permanent. EQ_ENOMEM on allocation failure.
 * Thread-safe, no globals. */
eq_err forecast_job_run(const cJSON *params, cJSON **result, fc_job_error *err);

#endif

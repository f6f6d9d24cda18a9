/* The benchmark methods, exactly as R's forecast::naive, snaive and rwf(drift = TRUE):
 * a lag walk with lag 1 (naive, drift) or the seasonal period (snaive). */
#ifndef ECONQ_WORKERS_FORECAST_FC_BENCH_H
#define ECONQ_WORKERS_FORECAST_FC_BENCH_H

#include "workers/forecast/fc_model.h"

/* Each fills `out` (initialised here; caller calls fc_result_fini on success). */
eq_err fc_naive_fit(const fc_request *rq, fc_result *out, fc_job_error *err);
eq_err fc_snaive_fit(const fc_request *rq, fc_result *out, fc_job_error *err);
eq_err fc_drift_fit(const fc_request *rq, fc_result *out, fc_job_error *err);

#endif

/* The "auto" method: an equal-weight combination of several methods' forecasts (the
 * M4-style combination that measured best on the public series; see bench/forecast). */
#ifndef ECONQ_WORKERS_FORECAST_FC_COMBO_H
#define ECONQ_WORKERS_FORECAST_FC_COMBO_H

#include "workers/forecast/fc_model.h"

/* Fits every member and averages point forecasts, fitted values and each interval bound.
 * Members that cannot be fitted on this series (too short, say) are left out; at least one
 * must succeed. */
eq_err fc_combo_fit(const fc_request *rq, fc_result *out, fc_job_error *err);

#endif

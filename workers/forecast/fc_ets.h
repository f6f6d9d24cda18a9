/* Exponential smoothing in the innovations state-space framework (Hyndman et al. 2008),
 * following R's forecast::ets: error A/M, trend N/A/Ad, season N/A/M; maximum likelihood by
 * GSL's nmsimplex2 within the usual and admissible bounds; automatic selection by AICc. */
#ifndef ECONQ_WORKERS_FORECAST_FC_ETS_H
#define ECONQ_WORKERS_FORECAST_FC_ETS_H

#include "workers/forecast/fc_model.h"

typedef enum fc_ets_comp { FC_ETS_N = 0, FC_ETS_A = 1, FC_ETS_M = 2, FC_ETS_Z = 3 } fc_ets_comp;

typedef struct fc_ets_spec {
    fc_ets_comp error, trend, season; /* FC_ETS_Z: choose automatically */
    int damped;                       /* 0, 1, or -1 to choose */
} fc_ets_spec;

/* Parses "ZZZ", "ANN", "AAdN", "MAdM", ... (R's model strings). A trend letter without "d"
 * means undamped; "Z" trend tries N, A and Ad. Multiplicative trends are refused. */
eq_err fc_ets_spec_parse(const char *model, fc_ets_spec *out, fc_job_error *err);

/* Fits the ETS model rq->model (automatic when NULL or "ZZZ") and forecasts rq->h steps.
 * Intervals: analytic for models without a multiplicative season (Hyndman et al. 2008
 * classes 1 and 2, as R), otherwise from 5000 simulated paths with a fixed seed
 * (deterministic). Models with up to 10 optimised values (non-seasonal and quarterly) are
 * fitted in one Nelder-Mead run started and stopped as R's ets() does; among larger ones
 * (monthly seasonal) automatic selection fits every candidate with a loose tolerance
 * (seasonal states held), then refines the best three in all parameters; a forced large
 * model is optimised in full throughout. */
eq_err fc_ets_fit(const fc_request *rq, fc_result *out, fc_job_error *err);

/* As fc_ets_fit with an explicit specification (used by Theta for its SES). */
eq_err fc_ets_fit_spec(const fc_request *rq, const fc_ets_spec *spec, fc_result *out,
                       fc_job_error *err);

#endif

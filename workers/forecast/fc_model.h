/* Shared types of the forecasting engine: a fit request, a fitted result and the error
 * carried back to the job. Every method (fc_bench, fc_ets, fc_theta, fc_combo) fills an
 * fc_result from an fc_request; none of them knows about JSON, queues or HTTP. */
#ifndef ECONQ_WORKERS_FORECAST_FC_MODEL_H
#define ECONQ_WORKERS_FORECAST_FC_MODEL_H

#include <stddef.h>

#include "common/eq_err.h"

/* A permanent input error: a stable snake_case code and a human-readable message. */
typedef struct fc_job_error {
    char code[48];
    char message[256];
} fc_job_error;

/* Sets err (when not NULL) and returns EQ_EINVAL, so callers can `return fc_fail(...)`. */
eq_err fc_fail(fc_job_error *err, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* At most this many named parameters are reported per model (ETS: 4 smoothing + 1 level +
 * 1 trend + 24 seasonal states). */
#define FC_MAX_PARAMS 48

typedef struct fc_param {
    char name[24]; /* "ets.alpha", "theta.drift", ... */
    double value;
} fc_param;

/* What to fit. All arrays are borrowed for the duration of the call. */
typedef struct fc_request {
    const double *y;      /* n finite observations */
    size_t n;
    int period;           /* seasonal period: 1, 4, 12, 52, 7 */
    size_t h;             /* forecast horizon, >= 1 */
    const double *levels; /* interval levels in (0, 100) */
    size_t nlevels;
    const char *model;    /* ETS model string ("ZZZ", "MAdM", ...) or NULL for automatic */
} fc_request;

/* A fitted model and its forecasts. Owned arrays, released by fc_result_fini(). */
typedef struct fc_result {
    size_t n, h, nlevels;
    double *fitted;       /* n one-step in-sample fitted values, NAN where none */
    double *point;        /* h point forecasts */
    double *lower;        /* nlevels * h, row i holds level i */
    double *upper;
    char model[96];       /* e.g. "ETS(M,Ad,M)", "Naive", "Theta" */
    fc_param params[FC_MAX_PARAMS];
    size_t nparams;
    double aicc;          /* NAN when the method has no likelihood */
    double sigma2;        /* innovation variance, NAN when not applicable */
} fc_result;

/* Allocates the arrays of `r` for n observations, h steps and nlevels levels (NAN-filled). */
eq_err fc_result_init(fc_result *r, size_t n, size_t h, size_t nlevels);
/* Releases the arrays of `r`; safe on a zeroed or already finished result. */
void fc_result_fini(fc_result *r);
/* Appends a named parameter (silently ignored past FC_MAX_PARAMS). */
void fc_result_param(fc_result *r, const char *name, double value);
/* Fills the intervals of `r` from normal quantiles: point[j] -/+ z(level) * se[j]. */
void fc_result_normal_intervals(fc_result *r, const double *levels, const double *se);

#endif

/* Internals shared by fc_ets.c (estimation, selection) and fc_ets_forecast.c (forecasts
 * and intervals). Not part of the engine's interface. */
#ifndef ECONQ_WORKERS_FORECAST_FC_ETS_INTERNAL_H
#define ECONQ_WORKERS_FORECAST_FC_ETS_INTERNAL_H

#include <stddef.h>

#include "workers/forecast/fc_ets.h"

/* R refuses seasonal ETS for periods above 24 (too many states to estimate). */
#define FC_ETS_MAX_M 24

/* One candidate model being fitted. */
typedef struct fc__ets_ctx {
    const double *y;
    size_t n;
    int m;              /* seasonal period, 1 when no season */
    int error, trend, season, damped;
    size_t nsm;         /* smoothing parameters: alpha [beta] [gamma] [phi] */
    size_t nx;          /* optimised values: smoothing parameters then initial states */
    size_t nopt;        /* how many of them the current run varies (the rest stay in xfull) */
    double *xfull;      /* the full point while optimising */
    double scale[4 + 2 + FC_ETS_MAX_M];
    long evals;         /* objective evaluations in the current run */
    int r_style;        /* in an R-style run: inadmissible points cost more the later found */
} fc__ets_ctx;

/* States: level, trend and the seasonal ring where s[t % m] is the index for time t. */
typedef struct fc__ets_state {
    double l, b;
    double s[FC_ETS_MAX_M];
} fc__ets_state;

typedef struct fc__ets_par {
    double alpha, beta, gamma, phi;
    double init[2 + FC_ETS_MAX_M]; /* l0, [b0], s0 (most recent) .. s_{m-1}, as R */
} fc__ets_par;

/* A fitted candidate. */
typedef struct fc__ets_fit {
    fc__ets_ctx c;
    double x[4 + 2 + FC_ETS_MAX_M]; /* the optimiser's (scaled) point */
    double step[4 + 2 + FC_ETS_MAX_M];
    fc__ets_par p;
    fc__ets_state final;
    double lik, aicc, sigma2;
    size_t np;
    int done; /* fitted to the end (no refinement stage) */
} fc__ets_fit;

/* The recursions of R's etscalc. Returns the criterion n log(SSE) (+ 2 sum log|f| for
 * multiplicative errors), or INFINITY when a forecast degenerates. Optionally writes the
 * one-step fitted values, the residuals and the final state. */
double fc__ets_calc(const fc__ets_ctx *c, const fc__ets_par *p, double *fitted, double *resid,
                    fc__ets_state *final);

/* Fills fitted values, sigma2, AICc, point forecasts and intervals of `fit` into `out`. */
eq_err fc__ets_forecast(const fc__ets_fit *fit, const fc_request *rq, fc_result *out);

#endif

/* Lag walks. The interval variance follows forecast:::forecast.lagwalk: the residual mean
 * square (with one degree of freedom taken by the drift) times the number of whole seasonal
 * steps, plus the drift's own standard error. */
#include "workers/forecast/fc_bench.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static eq_err fc__lagwalk(const fc_request *rq, size_t lag, int drift, const char *name,
                          fc_result *out, fc_job_error *err)
{
    const double *y = rq->y;
    size_t n = rq->n;
    if (n < lag + 1 || (drift && n < lag + 2))
        return fc_fail(err, "series_too_short", "%s needs at least %zu observations, got %zu",
                       name, lag + 1 + (drift ? 1 : 0), n);
    eq_err rc = fc_result_init(out, n, rq->h, rq->nlevels);
    if (rc != EQ_OK)
        return rc;
    size_t m = n - lag; /* number of lag differences */
    double b = 0.0, bse = 0.0;
    if (drift) {
        double sum = 0.0;
        for (size_t t = lag; t < n; t++)
            sum += y[t] - y[t - lag];
        b = sum / (double)m;
        double ss = 0.0;
        for (size_t t = lag; t < n; t++) {
            double d = y[t] - y[t - lag] - b;
            ss += d * d;
        }
        double sigma = sqrt(ss / (double)(m - 1));
        bse = sigma / sqrt((double)m);
    }
    double ss = 0.0;
    for (size_t t = lag; t < n; t++) {
        out->fitted[t] = y[t - lag] + b;
        double e = y[t] - out->fitted[t];
        ss += e * e;
    }
    double mse = ss / (double)(m - (drift && b != 0.0 ? 1 : 0));
    double *se = malloc(rq->h * sizeof *se);
    if (!se) {
        fc_result_fini(out);
        return EQ_ENOMEM;
    }
    for (size_t j = 0; j < rq->h; j++) {
        double steps = (double)(j / lag + 1);
        out->point[j] = y[n - lag + j % lag] + steps * b;
        se[j] = sqrt(mse * steps + (steps * bse) * (steps * bse));
    }
    fc_result_normal_intervals(out, rq->levels, se);
    free(se);
    strcpy(out->model, name);
    out->sigma2 = mse;
    if (drift) {
        fc_result_param(out, "drift", b);
        fc_result_param(out, "drift_se", bse);
    }
    if (lag > 1)
        fc_result_param(out, "lag", (double)lag);
    return EQ_OK;
}

eq_err fc_naive_fit(const fc_request *rq, fc_result *out, fc_job_error *err)
{
    return fc__lagwalk(rq, 1, 0, "Naive", out, err);
}

eq_err fc_snaive_fit(const fc_request *rq, fc_result *out, fc_job_error *err)
{
    size_t lag = rq->period > 1 ? (size_t)rq->period : 1;
    return fc__lagwalk(rq, lag, 0, "Seasonal naive", out, err);
}

eq_err fc_drift_fit(const fc_request *rq, fc_result *out, fc_job_error *err)
{
    return fc__lagwalk(rq, 1, 1, "Random walk with drift", out, err);
}

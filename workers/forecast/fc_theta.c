#include "workers/forecast/fc_theta.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "workers/forecast/fc_decomp.h"
#include "workers/forecast/fc_ets.h"

static double fc__param(const fc_result *r, const char *name)
{
    for (size_t i = 0; i < r->nparams; i++)
        if (strcmp(r->params[i].name, name) == 0)
            return r->params[i].value;
    return NAN;
}

eq_err fc_theta_fit(const fc_request *rq, fc_result *out, fc_job_error *err)
{
    size_t n = rq->n, m = rq->period > 1 ? (size_t)rq->period : 1;
    if (n < 4)
        return fc_fail(err, "series_too_short", "Theta needs at least 4 observations");
    double *x = malloc(n * sizeof *x), *seas = malloc(n * sizeof *seas);
    double *se = malloc(rq->h * sizeof *se);
    fc_result ses;
    memset(&ses, 0, sizeof ses);
    eq_err rc = EQ_OK;
    if (!x || !seas || !se) {
        rc = EQ_ENOMEM;
        goto out;
    }
    int seasonal = m > 1 && fc_seasonal_test(rq->y, n, (int)m);
    if (seasonal) {
        if ((rc = fc_decompose(rq->y, n, (int)m, 1, seas)) != EQ_OK)
            goto out;
        for (size_t t = 0; t < n && seasonal; t++)
            if (fabs(seas[t]) < 1e-4 || !isfinite(seas[t]))
                seasonal = 0;
    }
    for (size_t t = 0; t < n; t++)
        x[t] = seasonal ? rq->y[t] / seas[t] : rq->y[t];
    fc_request sr = *rq;
    sr.y = x;
    sr.model = NULL;
    fc_ets_spec spec = {FC_ETS_A, FC_ETS_N, FC_ETS_N, 0};
    if ((rc = fc_ets_fit_spec(&sr, &spec, &ses, err)) != EQ_OK)
        goto out;
    if ((rc = fc_result_init(out, n, rq->h, rq->nlevels)) != EQ_OK)
        goto out;
    double alpha = fmax(1e-10, fc__param(&ses, "alpha"));
    double a, b;
    fc_lsfit(x, n, 0.0, &a, &b);
    b /= 2.0;
    double shift = (1.0 - pow(1.0 - alpha, (double)n)) / alpha;
    for (size_t j = 0; j < rq->h; j++) {
        double f = ses.point[j] + b * ((double)j + shift);
        out->point[j] = seasonal ? f * seas[n - m + j % m] : f;
        se[j] = sqrt(ses.sigma2) * sqrt((double)j * alpha * alpha + 1.0);
    }
    for (size_t t = 0; t < n; t++)
        out->fitted[t] = seasonal ? ses.fitted[t] * seas[t] : ses.fitted[t];
    fc_result_normal_intervals(out, rq->levels, se);
    strcpy(out->model, seasonal ? "Theta (seasonally adjusted)" : "Theta");
    out->sigma2 = ses.sigma2;
    fc_result_param(out, "alpha", alpha);
    fc_result_param(out, "drift", b);
    fc_result_param(out, "l0", fc__param(&ses, "l0"));
    fc_result_param(out, "seasonal", seasonal ? 1.0 : 0.0);
out:
    fc_result_fini(&ses);
    free(x);
    free(seas);
    free(se);
    return rc;
}

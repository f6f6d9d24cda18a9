/* Result bookkeeping shared by every method. */
#include "workers/forecast/fc_model.h"

#include <gsl/gsl_cdf.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

eq_err fc_fail(fc_job_error *err, const char *code, const char *fmt, ...)
{
    if (err) {
        snprintf(err->code, sizeof err->code, "%s", code);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return EQ_EINVAL;
}

static double *fc__nan_array(size_t len)
{
    double *a = malloc((len ? len : 1) * sizeof *a);
    if (a)
        for (size_t i = 0; i < len; i++)
            a[i] = NAN;
    return a;
}

eq_err fc_result_init(fc_result *r, size_t n, size_t h, size_t nlevels)
{
    memset(r, 0, sizeof *r);
    r->n = n;
    r->h = h;
    r->nlevels = nlevels;
    r->aicc = NAN;
    r->sigma2 = NAN;
    r->fitted = fc__nan_array(n);
    r->point = fc__nan_array(h);
    r->lower = fc__nan_array(h * nlevels);
    r->upper = fc__nan_array(h * nlevels);
    if (!r->fitted || !r->point || !r->lower || !r->upper) {
        fc_result_fini(r);
        return EQ_ENOMEM;
    }
    return EQ_OK;
}

void fc_result_fini(fc_result *r)
{
    free(r->fitted);
    free(r->point);
    free(r->lower);
    free(r->upper);
    r->fitted = r->point = r->lower = r->upper = NULL;
}

void fc_result_param(fc_result *r, const char *name, double value)
{
    if (r->nparams >= FC_MAX_PARAMS)
        return;
    fc_param *p = &r->params[r->nparams++];
    snprintf(p->name, sizeof p->name, "%s", name);
    p->value = value;
}

void fc_result_normal_intervals(fc_result *r, const double *levels, const double *se)
{
    for (size_t i = 0; i < r->nlevels; i++) {
        double z = gsl_cdf_ugaussian_Pinv(0.5 + levels[i] / 200.0);
        for (size_t j = 0; j < r->h; j++) {
            r->lower[i * r->h + j] = r->point[j] - z * se[j];
            r->upper[i * r->h + j] = r->point[j] + z * se[j];
        }
    }
}

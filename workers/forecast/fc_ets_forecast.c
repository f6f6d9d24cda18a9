/* ETS point forecasts and prediction intervals: analytic variances (Hyndman et al. 2008,
 * classes 1 and 2) or simulated sample paths for multiplicative seasons. */
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>

#include "workers/forecast/fc_ets_internal.h"

/* Simulated paths for intervals of models without analytic variances here. */
#define FC_ETS_SIM_PATHS 5000
/* Fixed seed: identical inputs give identical intervals. */
#define FC_ETS_SIM_SEED 20260101UL

/* The k-th smallest of x[0..n-1] (0-based), partially reordering x (Hoare's selection). */
static double fc__select(double *x, size_t n, size_t k)
{
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        double pivot = x[lo + (hi - lo) / 2];
        size_t i = lo, j = hi;
        while (i <= j) {
            while (x[i] < pivot)
                i++;
            while (x[j] > pivot)
                j--;
            if (i <= j) {
                double t = x[i];
                x[i] = x[j];
                x[j] = t;
                i++;
                if (j == 0)
                    break;
                j--;
            }
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            break;
    }
    return x[k];
}

/* R's quantile type 8 of x[0..n-1] (reorders x). */
static double fc__quantile8(double *x, size_t n, double prob)
{
    double nppm = (double)n * prob + (prob + 1.0) / 3.0;
    double j = floor(nppm), g = nppm - j;
    long lo = (long)j - 1;
    if (lo < 0)
        lo = 0;
    if (lo > (long)n - 1)
        lo = (long)n - 1;
    double a = fc__select(x, n, (size_t)lo);
    if (g == 0.0 || lo == (long)n - 1)
        return a;
    double b = x[lo + 1];
    for (size_t i = (size_t)lo + 2; i < n; i++)
        b = fmin(b, x[i]);
    return (1 - g) * a + g * b;
}

static eq_err fc__ets_simulate(const fc__ets_fit *fit, const fc_request *rq, fc_result *out)
{
    const fc__ets_ctx *c = &fit->c;
    const fc__ets_par *p = &fit->p;
    fc__ets_state *st = malloc(FC_ETS_SIM_PATHS * sizeof *st);
    double *col = malloc(FC_ETS_SIM_PATHS * sizeof *col);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    eq_err rc = EQ_OK;
    if (!st || !col || !rng) {
        rc = EQ_ENOMEM;
        goto out;
    }
    gsl_rng_set(rng, FC_ETS_SIM_SEED);
    for (size_t i = 0; i < FC_ETS_SIM_PATHS; i++)
        st[i] = fit->final;
    double sigma = sqrt(out->sigma2), ab = c->trend ? p->beta / p->alpha : 0.0;
    size_t m = (size_t)c->m;
    for (size_t j = 0; j < rq->h; j++) {
        size_t k = (c->n + j) % m;
        for (size_t i = 0; i < FC_ETS_SIM_PATHS; i++) {
            fc__ets_state *s = &st[i];
            double phib = c->trend ? p->phi * s->b : 0.0;
            double q = s->l + phib;
            double so = c->season ? s->s[k] : 0.0;
            double f = c->season == FC_ETS_A ? q + so : c->season == FC_ETS_M ? q * so : q;
            double e = gsl_ran_gaussian_ziggurat(rng, sigma);
            double y = c->error == FC_ETS_A ? f + e : f * (1 + e);
            col[i] = y;
            double pl = c->season == FC_ETS_A ? y - so
                        : c->season == FC_ETS_M ? (fabs(so) < 1e-10 ? 1e10 : y / so) : y;
            double l = q + p->alpha * (pl - q);
            if (c->trend)
                s->b = phib + ab * ((l - s->l) - phib);
            if (c->season) {
                double ts = c->season == FC_ETS_A ? y - q : (fabs(q) < 1e-10 ? 1e10 : y / q);
                s->s[k] = so + p->gamma * (ts - so);
            }
            s->l = l;
        }
        for (size_t i = 0; i < rq->nlevels; i++) {
            double a = 0.5 - rq->levels[i] / 200.0;
            out->lower[i * rq->h + j] = fc__quantile8(col, FC_ETS_SIM_PATHS, a);
            out->upper[i * rq->h + j] = fc__quantile8(col, FC_ETS_SIM_PATHS, 1 - a);
        }
    }
out:
    gsl_rng_free(rng);
    free(col);
    free(st);
    return rc;
}

/* Fills fitted values, sigma2, point forecasts, intervals and parameters of `fit`. */
eq_err fc__ets_forecast(const fc__ets_fit *fit, const fc_request *rq, fc_result *out)
{
    const fc__ets_ctx *c = &fit->c;
    const fc__ets_par *p = &fit->p;
    double *resid = malloc(c->n * sizeof *resid);
    double *se = malloc(rq->h * sizeof *se);
    eq_err rc = EQ_OK;
    if (!resid || !se) {
        rc = EQ_ENOMEM;
        goto out;
    }
    fc__ets_calc(c, p, out->fitted, resid, NULL);
    double sse = 0.0;
    for (size_t t = 0; t < c->n; t++)
        sse += resid[t] * resid[t];
    out->sigma2 = sse / (double)(c->n - c->nx);
    out->aicc = fit->aicc;
    size_t m = (size_t)c->m;
    double phistar = p->phi, pw = p->phi;
    for (size_t j = 0; j < rq->h; j++) {
        double q = fit->final.l + (c->trend ? phistar * fit->final.b : 0.0);
        double s = c->season ? fit->final.s[(c->n + j) % m] : 0.0;
        out->point[j] = c->season == FC_ETS_A ? q + s : c->season == FC_ETS_M ? q * s : q;
        pw *= p->phi;
        phistar += pw;
    }
    if (c->season != FC_ETS_M) {
        /* Classes 1 and 2 of Hyndman et al. (2008, ch. 6), as R's class1/class2:
         * c_j = alpha + beta phi_j + gamma [j mod m == 0]; additive errors have
         * var_h = sigma2 (1 + sum_{j<h} c_j^2); multiplicative ones
         * var_h = (1 + sigma2) theta_h - mu_h^2 with theta_h = mu_h^2 +
         * sigma2 sum_{j<h} c_j^2 theta_{h-j}. */
        double *cj = malloc(rq->h * sizeof *cj), *theta = malloc(rq->h * sizeof *theta);
        if (!cj || !theta) {
            free(cj);
            free(theta);
            rc = EQ_ENOMEM;
            goto out;
        }
        double cum = 0.0, phij = 0.0, pj = 1.0;
        for (size_t j = 0; j < rq->h; j++) {
            pj *= p->phi;
            phij += pj;
            cj[j] = p->alpha + (c->trend ? p->beta * phij : 0.0) +
                    (c->season && (j + 1) % m == 0 ? p->gamma : 0.0);
        }
        for (size_t j = 0; j < rq->h; j++) {
            double mu = out->point[j];
            if (c->error == FC_ETS_A) {
                se[j] = sqrt(out->sigma2 * (1.0 + cum));
                cum += cj[j] * cj[j];
            } else {
                double th = mu * mu;
                for (size_t i = 0; i < j; i++)
                    th += out->sigma2 * cj[i] * cj[i] * theta[j - 1 - i];
                theta[j] = th;
                se[j] = sqrt(fmax(0.0, (1.0 + out->sigma2) * th - mu * mu));
            }
        }
        free(cj);
        free(theta);
        fc_result_normal_intervals(out, rq->levels, se);
    } else {
        rc = fc__ets_simulate(fit, rq, out);
    }
out:
    free(resid);
    free(se);
    return rc;
}


#include "workers/forecast/fc_arima.h"

#include <gsl/gsl_multimin.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workers/forecast/fc_arima_ml.h"
#include "workers/forecast/fc_decomp.h"

/* Order limits of the search (R's auto.arima defaults). */
#define FC_ARIMA_MAX_P 5
#define FC_ARIMA_MAX_Q 5
#define FC_ARIMA_MAX_SP 2
#define FC_ARIMA_MAX_SQ 2
#define FC_ARIMA_MAX_ORDER 5
#define FC_ARIMA_MAX_MODELS 94
/* Seasonal terms only for periods up to this (longer ones would need 100+ lag polynomials). */
#define FC_ARIMA_MAX_M 24
/* Expanded polynomial degrees: p + m P and the differencing operator. */
#define FC_ARIMA_MAX_AR (FC_ARIMA_MAX_P + FC_ARIMA_MAX_M * FC_ARIMA_MAX_SP)
#define FC_ARIMA_MAX_DEG (FC_ARIMA_MAX_AR + 2 + FC_ARIMA_MAX_M)
#define FC_ARIMA_MAX_PAR (FC_ARIMA_MAX_P + FC_ARIMA_MAX_Q + FC_ARIMA_MAX_SP + FC_ARIMA_MAX_SQ + 1)
#define FC_ARIMA_BAD 1e10
/* CSS search: simplex size (in units of 0.1 per coefficient) at which a run stops, and
 * restarts per candidate. */
#define FC_ARIMA_CSS_TOL 3e-3
#define FC_ARIMA_CSS_RESTARTS 2
/* KPSS 5% critical value (level stationarity, Kwiatkowski et al. 1992). */
#define FC_KPSS_CRIT 0.463
/* Seasonal differencing when the seasonal strength exceeds this (R's nsdiffs "seas"). */
#define FC_SEAS_STRENGTH 0.64

typedef struct fc__arima_order {
    int p, d, q, P, D, Q, constant;
} fc__arima_order;

/* One fitted model. */
typedef struct fc__arima_fit {
    fc__arima_order o;
    double par[FC_ARIMA_MAX_PAR]; /* phi[p], theta[q], Phi[P], Theta[Q], mu */
    size_t npar;
    double sigma2, aicc;
    int ml; /* 1 when refined by exact maximum likelihood */
} fc__arima_fit;

typedef struct fc__arima_ctx {
    const double *w; /* the differenced series */
    size_t nw;
    int m;
    fc__arima_order o;
    double *e;       /* residual buffer (nw) */
    double *x;       /* mean-corrected series for the Kalman filter (nw) */
    double *work;    /* Kalman filter workspace */
    double ar[FC_ARIMA_MAX_AR + 1], ma[FC_ARIMA_MAX_AR + 1];
    int par_ar, par_ma; /* expanded degrees */
    double scale[FC_ARIMA_MAX_PAR];
} fc__arima_ctx;

int fc_arima_ndiffs(const double *x0, size_t n)
{
    double *x = malloc(n * sizeof *x);
    if (!x)
        return 0;
    memcpy(x, x0, n * sizeof *x);
    int d = 0;
    for (; d <= 2 && n > 3; d++) {
        double mean = 0.0;
        int constant = 1;
        for (size_t t = 0; t < n; t++) {
            mean += x[t];
            constant = constant && x[t] == x[0];
        }
        if (constant || d == 2)
            break;
        mean /= (double)n;
        size_t lag = (size_t)(3.0 * sqrt((double)n) / 13.0);
        double s = 0.0, eta = 0.0, s2 = 0.0;
        for (size_t t = 0; t < n; t++) {
            double e = x[t] - mean;
            s += e;
            eta += s * s;
            s2 += e * e;
        }
        s2 /= (double)n;
        for (size_t i = 1; i <= lag; i++) {
            double c = 0.0;
            for (size_t t = i; t < n; t++)
                c += (x[t] - mean) * (x[t - i] - mean);
            s2 += 2.0 * (1.0 - (double)i / (double)(lag + 1)) * c / (double)n;
        }
        double stat = eta / ((double)n * (double)n * s2);
        if (!(stat > FC_KPSS_CRIT))
            break;
        for (size_t t = 0; t + 1 < n; t++)
            x[t] = x[t + 1] - x[t];
        n--;
    }
    free(x);
    return d;
}

/* Seasonal strength of a classical additive decomposition: 1 - var(R) / var(S + R). */
static int fc__arima_nsdiffs(const double *y, size_t n, int m)
{
    if (m <= 1 || m > FC_ARIMA_MAX_M || n < 2 * (size_t)m)
        return 0;
    double *seas = malloc(n * sizeof *seas);
    if (!seas || fc_decompose(y, n, m, 0, seas) != EQ_OK) {
        free(seas);
        return 0;
    }
    size_t half = (size_t)m / 2, cnt = 0;
    double sr = 0, srr = 0, ssr = 0, ssrr = 0;
    for (size_t t = half; t + half < n; t++) {
        double s = 0.0;
        for (size_t k = t - half; k <= t + half; k++)
            s += (m % 2 == 0 && (k == t - half || k == t + half)) ? 0.5 * y[k] : y[k];
        double trend = s / m, r = y[t] - trend - seas[t], sa = r + seas[t];
        sr += r;
        srr += r * r;
        ssr += sa;
        ssrr += sa * sa;
        cnt++;
    }
    free(seas);
    if (cnt < 2)
        return 0;
    double vr = srr / cnt - (sr / cnt) * (sr / cnt), vs = ssrr / cnt - (ssr / cnt) * (ssr / cnt);
    return vs > 0 && 1.0 - vr / vs > FC_SEAS_STRENGTH;
}

/* Whether 1 - c[0] z - ... - c[k-1] z^k (sign -1) or 1 + c[0] z + ... (sign +1) has all
 * roots outside radius r. */
static int fc__arima_roots_outside(const double *c, int k, double sign, double r)
{
    while (k > 0 && c[k - 1] == 0.0)
        k--;
    if (k == 0)
        return 1;
    double a[FC_POLY_MAX_DEGREE + 1];
    /* Reversed: z^k + sign c0 z^{k-1} + ... + sign c_{k-1}; roots are the reciprocals. */
    for (int i = 0; i < k; i++)
        a[i] = sign * c[k - 1 - i];
    a[k] = 1.0;
    return fc_poly_roots_within(a, k, 1.0 / r);
}

/* Expands the seasonal products into ar[1..par_ar] and ma[1..par_ma]. */
static void fc__arima_expand(fc__arima_ctx *c, const double *par)
{
    const fc__arima_order *o = &c->o;
    const double *phi = par, *theta = par + o->p, *sphi = theta + o->q, *stheta = sphi + o->P;
    int m = c->m;
    c->par_ar = o->p + m * o->P;
    c->par_ma = o->q + m * o->Q;
    for (int i = 0; i <= c->par_ar; i++)
        c->ar[i] = 0.0;
    for (int i = 0; i <= c->par_ma; i++)
        c->ma[i] = 0.0;
    /* (1 - sum phi B^i)(1 - sum Phi B^mj) = 1 - sum ar_k B^k */
    for (int i = 0; i <= o->p; i++) {
        double a = i == 0 ? 1.0 : -phi[i - 1];
        for (int j = 0; j <= o->P; j++) {
            double b = j == 0 ? 1.0 : -sphi[j - 1];
            if (i + m * j > 0)
                c->ar[i + m * j] -= a * b;
        }
    }
    for (int i = 0; i <= o->q; i++) {
        double a = i == 0 ? 1.0 : theta[i - 1];
        for (int j = 0; j <= o->Q; j++) {
            double b = j == 0 ? 1.0 : stheta[j - 1];
            if (i + m * j > 0)
                c->ma[i + m * j] += a * b;
        }
    }
}

/* Conditional sum of squares residuals (R's ARIMA_CSS); returns the sum of squares. */
static double fc__arima_css(fc__arima_ctx *c, const double *par, size_t *nused)
{
    fc__arima_expand(c, par);
    double mu = c->o.constant ? par[c->o.p + c->o.q + c->o.P + c->o.Q] : 0.0;
    size_t ncond = (size_t)c->par_ar;
    double ssq = 0.0;
    for (size_t t = 0; t < c->nw; t++) {
        if (t < ncond) {
            c->e[t] = 0.0;
            continue;
        }
        double tmp = c->w[t] - mu;
        for (int i = 1; i <= c->par_ar; i++)
            tmp -= c->ar[i] * (c->w[t - (size_t)i] - mu);
        int jmax = c->par_ma < (int)(t - ncond) ? c->par_ma : (int)(t - ncond);
        for (int j = 1; j <= jmax; j++)
            tmp -= c->ma[j] * c->e[t - (size_t)j];
        c->e[t] = tmp;
        ssq += tmp * tmp;
    }
    *nused = c->nw - ncond;
    return ssq;
}

static double fc__arima_objective(const gsl_vector *v, void *arg)
{
    fc__arima_ctx *c = arg;
    double par[FC_ARIMA_MAX_PAR];
    for (size_t i = 0; i < v->size; i++)
        par[i] = v->data[i] * c->scale[i];
    const fc__arima_order *o = &c->o;
    if (!fc__arima_roots_outside(par, o->p, -1.0, 1.0) ||
        !fc__arima_roots_outside(par + o->p + o->q, o->P, -1.0, 1.0))
        return FC_ARIMA_BAD;
    size_t nu;
    double ssq = fc__arima_css(c, par, &nu);
    if (!(ssq > 0) || !isfinite(ssq) || nu == 0)
        return FC_ARIMA_BAD;
    return 0.5 * log(ssq / (double)nu);
}

static size_t fc__arima_npar(const fc__arima_order *o)
{
    return (size_t)(o->p + o->q + o->P + o->Q + (o->constant ? 1 : 0));
}

/* Estimates one order by CSS. fit->aicc is INFINITY when the model is rejected. */
static eq_err fc__arima_fit_one(fc__arima_ctx *c, const fc__arima_order *o, fc__arima_fit *fit)
{
    memset(fit, 0, sizeof *fit);
    fit->o = *o;
    fit->aicc = INFINITY;
    c->o = *o;
    size_t k = fc__arima_npar(o);
    fit->npar = k;
    size_t nw = c->nw;
    size_t ncond = (size_t)(o->p + c->m * o->P);
    if (nw <= ncond + k + 3)
        return EQ_OK;
    double mean = 0.0, sd = 0.0;
    for (size_t t = 0; t < nw; t++)
        mean += c->w[t];
    mean /= (double)nw;
    for (size_t t = 0; t < nw; t++)
        sd += (c->w[t] - mean) * (c->w[t] - mean);
    sd = sqrt(sd / (double)nw);
    double x[FC_ARIMA_MAX_PAR], step[FC_ARIMA_MAX_PAR];
    for (size_t i = 0; i < k; i++) {
        c->scale[i] = 0.1;
        x[i] = 0.0;
        step[i] = 1.0;
    }
    if (o->constant) {
        c->scale[k - 1] = sd > 0 ? 0.1 * sd : 1.0;
        x[k - 1] = mean / c->scale[k - 1];
    }
    double best = INFINITY;
    if (k > 0) {
        gsl_vector_view xv = gsl_vector_view_array(x, k), sv = gsl_vector_view_array(step, k);
        gsl_multimin_function fn = {.f = fc__arima_objective, .n = k, .params = c};
        gsl_multimin_fminimizer *mz =
            gsl_multimin_fminimizer_alloc(gsl_multimin_fminimizer_nmsimplex2, k);
        if (!mz)
            return EQ_ENOMEM;
        int its = 0;
        for (int restart = 0; restart < FC_ARIMA_CSS_RESTARTS; restart++) {
            gsl_multimin_fminimizer_set(mz, &fn, &xv.vector, &sv.vector);
            for (; its < 400 * (int)k; its++) {
                if (gsl_multimin_fminimizer_iterate(mz) != 0)
                    break;
                if (gsl_multimin_test_size(gsl_multimin_fminimizer_size(mz), FC_ARIMA_CSS_TOL) ==
                    GSL_SUCCESS)
                    break;
            }
            double v = gsl_multimin_fminimizer_minimum(mz);
            gsl_vector_memcpy(&xv.vector, gsl_multimin_fminimizer_x(mz));
            int done = !(v < best - 1e-8 * fabs(best));
            best = fmin(best, v);
            if (done)
                break;
            for (size_t i = 0; i < k; i++)
                step[i] = 0.2;
        }
        gsl_multimin_fminimizer_free(mz);
    }
    for (size_t i = 0; i < k; i++)
        fit->par[i] = x[i] * c->scale[i];
    size_t nu;
    double ssq = fc__arima_css(c, fit->par, &nu);
    if (!(ssq > 0) || !isfinite(ssq) || best >= FC_ARIMA_BAD)
        return EQ_OK;
    /* Reject fits with AR or MA roots close to the unit circle (as auto.arima). */
    if (!fc__arima_roots_outside(c->ar + 1, c->par_ar, -1.0, 1.01) ||
        !fc__arima_roots_outside(c->ma + 1, c->par_ma, 1.0, 1.01))
        return EQ_OK;
    fit->sigma2 = ssq / (double)nu;
    /* The CSS likelihood over the whole differenced sample, so models with different
     * conditioning lags compare on the same footing. */
    double N = (double)nw, K = (double)k + 1.0;
    double m2ll = N * (log(2.0 * M_PI * fit->sigma2) + 1.0);
    fit->aicc = m2ll + 2.0 * K + 2.0 * K * (K + 1.0) / (N - K - 1.0);
    return EQ_OK;
}

typedef struct fc__arima_search {
    fc__arima_ctx *c;
    fc__arima_fit best, cand;
    fc__arima_order tried[FC_ARIMA_MAX_MODELS];
    size_t ntried;
    int maxP, maxQ;
} fc__arima_search;

/* Fits `o` unless out of bounds or already tried; returns 1 when it became the best. */
static int fc__arima_try(fc__arima_search *s, fc__arima_order o, eq_err *rc)
{
    if (o.p < 0 || o.q < 0 || o.P < 0 || o.Q < 0 || o.p > FC_ARIMA_MAX_P ||
        o.q > FC_ARIMA_MAX_Q || o.P > s->maxP || o.Q > s->maxQ ||
        o.p + o.q + o.P + o.Q > FC_ARIMA_MAX_ORDER || s->ntried >= FC_ARIMA_MAX_MODELS)
        return 0;
    for (size_t i = 0; i < s->ntried; i++)
        if (memcmp(&s->tried[i], &o, sizeof o) == 0)
            return 0;
    s->tried[s->ntried++] = o;
    if ((*rc = fc__arima_fit_one(s->c, &o, &s->cand)) != EQ_OK)
        return 0;
    if (s->cand.aicc < s->best.aicc) {
        s->best = s->cand;
        return 1;
    }
    return 0;
}

/* Hyndman-Khandakar stepwise search from the four starting models. */
static eq_err fc__arima_stepwise(fc__arima_search *s, int d, int D, int seasonal)
{
    eq_err rc = EQ_OK;
    int allow_c = d + D <= 1;
    s->best.aicc = INFINITY;
    fc__arima_order starts[5] = {
        {2, d, 2, seasonal, D, seasonal, allow_c}, {0, d, 0, 0, D, 0, allow_c},
        {1, d, 0, seasonal, D, 0, allow_c},        {0, d, 1, 0, D, seasonal, allow_c},
        {0, d, 0, 0, D, 0, 0},
    };
    for (int i = 0; i < 5 && rc == EQ_OK; i++)
        fc__arima_try(s, starts[i], &rc);
    for (int moved = 1; moved && rc == EQ_OK && s->ntried < FC_ARIMA_MAX_MODELS;) {
        moved = 0;
        fc__arima_order b = s->best.o;
        static const int dirs[][4] = {
            {0, 0, -1, 0}, {0, 0, 0, -1}, {0, 0, 1, 0},  {0, 0, 0, 1},  {0, 0, -1, -1},
            {0, 0, -1, 1}, {0, 0, 1, -1}, {0, 0, 1, 1},  {-1, 0, 0, 0}, {0, -1, 0, 0},
            {1, 0, 0, 0},  {0, 1, 0, 0},  {-1, -1, 0, 0}, {-1, 1, 0, 0}, {1, -1, 0, 0},
            {1, 1, 0, 0},
        };
        for (size_t i = 0; i < sizeof dirs / sizeof dirs[0] && !moved && rc == EQ_OK; i++) {
            if (!seasonal && (dirs[i][2] || dirs[i][3]))
                continue;
            fc__arima_order o = b;
            o.p += dirs[i][0];
            o.q += dirs[i][1];
            o.P += dirs[i][2];
            o.Q += dirs[i][3];
            moved = fc__arima_try(s, o, &rc);
        }
        if (!moved && allow_c && rc == EQ_OK) {
            fc__arima_order o = b;
            o.constant = !o.constant;
            moved = fc__arima_try(s, o, &rc);
        }
    }
    return rc;
}

static double fc__arima_ml_objective(const gsl_vector *v, void *arg)
{
    fc__arima_ctx *c = arg;
    double par[FC_ARIMA_MAX_PAR];
    for (size_t i = 0; i < v->size; i++)
        par[i] = v->data[i] * c->scale[i];
    const fc__arima_order *o = &c->o;
    if (!fc__arima_roots_outside(par, o->p, -1.0, 1.0) ||
        !fc__arima_roots_outside(par + o->p + o->q, o->P, -1.0, 1.0))
        return FC_ARIMA_BAD;
    fc__arima_expand(c, par);
    double mu = o->constant ? par[v->size - 1] : 0.0;
    for (size_t t = 0; t < c->nw; t++)
        c->x[t] = c->w[t] - mu;
    fc_arima_ml ml;
    if (fc_arima_ml_filter(c->x, c->nw, c->ar, c->par_ar, c->ma, c->par_ma, c->work, &ml) !=
            EQ_OK ||
        !(ml.ssq > 0))
        return FC_ARIMA_BAD;
    double v2 = 0.5 * (log(ml.ssq / (double)ml.nu) + ml.sumlog / (double)ml.nu);
    return isfinite(v2) ? v2 : FC_ARIMA_BAD;
}

/* Refines a CSS fit by exact maximum likelihood (R's CSS-ML) and recomputes sigma2 and
 * AICc from the exact likelihood. Keeps the CSS estimates when the filter cannot run (state
 * too large) or the ML optimum has roots near the unit circle. */
static eq_err fc__arima_refine_ml(fc__arima_ctx *c, fc__arima_fit *fit)
{
    c->o = fit->o;
    size_t k = fit->npar;
    double x[FC_ARIMA_MAX_PAR], step[FC_ARIMA_MAX_PAR];
    double sd = 0.0, mean = 0.0;
    for (size_t t = 0; t < c->nw; t++)
        mean += c->w[t] / (double)c->nw;
    for (size_t t = 0; t < c->nw; t++)
        sd += (c->w[t] - mean) * (c->w[t] - mean) / (double)c->nw;
    sd = sqrt(sd);
    for (size_t i = 0; i < k; i++) {
        c->scale[i] = (fit->o.constant && i == k - 1) ? (sd > 0 ? 0.1 * sd : 1.0) : 0.1;
        x[i] = fit->par[i] / c->scale[i];
        step[i] = 0.5;
    }
    gsl_vector_view xv = gsl_vector_view_array(x, k);
    double start = fc__arima_ml_objective(&xv.vector, c);
    if (!(start < FC_ARIMA_BAD))
        return EQ_OK;
    double best = start;
    if (k > 0) {
        gsl_vector_view sv = gsl_vector_view_array(step, k);
        gsl_multimin_function fn = {.f = fc__arima_ml_objective, .n = k, .params = c};
        gsl_multimin_fminimizer *mz =
            gsl_multimin_fminimizer_alloc(gsl_multimin_fminimizer_nmsimplex2, k);
        if (!mz)
            return EQ_ENOMEM;
        gsl_multimin_fminimizer_set(mz, &fn, &xv.vector, &sv.vector);
        for (int it = 0; it < 200 * (int)k; it++) {
            if (gsl_multimin_fminimizer_iterate(mz) != 0)
                break;
            if (gsl_multimin_test_size(gsl_multimin_fminimizer_size(mz), 1e-4) == GSL_SUCCESS)
                break;
        }
        if (gsl_multimin_fminimizer_minimum(mz) < best) {
            best = gsl_multimin_fminimizer_minimum(mz);
            gsl_vector_memcpy(&xv.vector, gsl_multimin_fminimizer_x(mz));
        }
        gsl_multimin_fminimizer_free(mz);
    }
    double par[FC_ARIMA_MAX_PAR];
    for (size_t i = 0; i < k; i++)
        par[i] = x[i] * c->scale[i];
    fc__arima_expand(c, par);
    if (!fc__arima_roots_outside(c->ar + 1, c->par_ar, -1.0, 1.01) ||
        !fc__arima_roots_outside(c->ma + 1, c->par_ma, 1.0, 1.01))
        return EQ_OK;
    double mu = fit->o.constant ? par[k - 1] : 0.0;
    for (size_t t = 0; t < c->nw; t++)
        c->x[t] = c->w[t] - mu;
    fc_arima_ml ml;
    if (fc_arima_ml_filter(c->x, c->nw, c->ar, c->par_ar, c->ma, c->par_ma, c->work, &ml) !=
        EQ_OK)
        return EQ_OK;
    memcpy(fit->par, par, k * sizeof *par);
    double N = (double)ml.nu, K = (double)k + 1.0;
    double m2ll = N * (log(2.0 * M_PI * ml.ssq / N) + 1.0) + ml.sumlog;
    /* The reported (and interval) variance divides by the degrees of freedom, as
     * forecast::Arima does; the likelihood uses the MLE. */
    fit->sigma2 = ml.ssq / (N - (double)k);
    fit->aicc = m2ll + 2.0 * K + 2.0 * K * (K + 1.0) / (N - K - 1.0);
    fit->ml = 1;
    return EQ_OK;
}

/* Multiplies poly (degree *deg, poly[0] = 1) by (1 - B^lag). */
static void fc__poly_diff(double *poly, int *deg, int lag)
{
    for (int i = *deg + lag; i >= lag; i--)
        poly[i] = (i <= *deg ? poly[i] : 0.0) - poly[i - lag];
    *deg += lag;
}

static void fc__arima_describe(const fc__arima_fit *f, int m, fc_result *out)
{
    const fc__arima_order *o = &f->o;
    int len = snprintf(out->model, sizeof out->model, "ARIMA(%d,%d,%d)", o->p, o->d, o->q);
    if (o->P || o->D || o->Q)
        len += snprintf(out->model + len, sizeof out->model - (size_t)len, "(%d,%d,%d)[%d]",
                        o->P, o->D, o->Q, m);
    if (o->constant)
        snprintf(out->model + len, sizeof out->model - (size_t)len, "%s",
                 o->d + o->D == 1 ? " with drift" : " with non-zero mean");
    static const char *names[4] = {"ar", "ma", "sar", "sma"};
    int counts[4] = {o->p, o->q, o->P, o->Q};
    size_t k = 0;
    for (int g = 0; g < 4; g++)
        for (int i = 0; i < counts[g]; i++) {
            char name[16];
            snprintf(name, sizeof name, "%s%d", names[g], i + 1);
            fc_result_param(out, name, f->par[k++]);
        }
    if (o->constant)
        fc_result_param(out, o->d + o->D == 1 ? "drift" : "intercept", f->par[k]);
    fc_result_param(out, "sigma2", f->sigma2);
    fc_result_param(out, "exact_ml", f->ml ? 1.0 : 0.0);
}

static eq_err fc__arima_forecast(fc__arima_ctx *c, const fc__arima_fit *f,
                                 const fc_request *rq, fc_result *out)
{
    size_t n = rq->n, nw = c->nw, h = rq->h;
    c->o = f->o;
    size_t nu;
    fc__arima_css(c, f->par, &nu);
    double mu = f->o.constant ? f->par[f->npar - 1] : 0.0;
    double *wf = malloc(h * sizeof *wf), *yf = malloc(h * sizeof *yf);
    double *psi = malloc(h * sizeof *psi), *se = malloc(h * sizeof *se);
    eq_err rc = EQ_OK;
    if (!wf || !yf || !psi || !se) {
        rc = EQ_ENOMEM;
        goto out;
    }
    for (size_t j = 0; j < h; j++) {
        double v = mu;
        for (int i = 1; i <= c->par_ar; i++) {
            long t = (long)(nw + j) - i;
            double wt = t >= (long)nw ? wf[t - (long)nw] : t >= 0 ? c->w[t] : mu;
            v += c->ar[i] * (wt - mu);
        }
        for (int k = (int)j + 1; k <= c->par_ma; k++) {
            long t = (long)(nw + j) - k;
            if (t >= 0)
                v += c->ma[k] * c->e[t];
        }
        wf[j] = v;
    }
    double delta[FC_ARIMA_MAX_DEG + 1] = {1.0};
    int ddeg = 0;
    for (int i = 0; i < f->o.D; i++)
        fc__poly_diff(delta, &ddeg, c->m);
    for (int i = 0; i < f->o.d; i++)
        fc__poly_diff(delta, &ddeg, 1);
    for (size_t j = 0; j < h; j++) {
        double v = wf[j];
        for (int i = 1; i <= ddeg; i++) {
            long t = (long)(n + j) - i;
            v -= delta[i] * (t >= (long)n ? yf[t - (long)n] : rq->y[t]);
        }
        yf[j] = v;
        out->point[j] = v;
    }
    /* psi-weights of ar(B) delta(B) y = ma(B) e. */
    double full[FC_ARIMA_MAX_AR + FC_ARIMA_MAX_DEG + 2] = {0};
    int fdeg = c->par_ar + ddeg;
    for (int i = 0; i <= c->par_ar; i++)
        for (int k = 0; k <= ddeg; k++)
            full[i + k] += (i == 0 ? 1.0 : -c->ar[i]) * delta[k];
    double cum = 0.0;
    for (size_t j = 0; j < h; j++) {
        double p = j == 0 ? 1.0 : ((int)j <= c->par_ma ? c->ma[j] : 0.0);
        for (int i = 1; i <= fdeg && (size_t)i <= j; i++)
            p -= full[i] * psi[j - (size_t)i];
        psi[j] = p;
        cum += p * p;
        se[j] = sqrt(f->sigma2 * cum);
    }
    fc_result_normal_intervals(out, rq->levels, se);
    size_t off = n - nw, ncond = (size_t)c->par_ar;
    for (size_t t = ncond; t < nw; t++)
        out->fitted[off + t] = rq->y[off + t] - c->e[t];
    out->sigma2 = f->sigma2;
    out->aicc = f->aicc;
    fc__arima_describe(f, c->m, out);
out:
    free(wf);
    free(yf);
    free(psi);
    free(se);
    return rc;
}

eq_err fc_arima_fit(const fc_request *rq, fc_result *out, fc_job_error *err)
{
    size_t n = rq->n;
    int m = rq->period > 1 && rq->period <= FC_ARIMA_MAX_M ? rq->period : 1;
    if (n < 6)
        return fc_fail(err, "series_too_short", "ARIMA needs at least 6 observations, got %zu",
                       n);
    double *w = malloc(n * sizeof *w), *e = malloc(n * sizeof *e), *xb = malloc(n * sizeof *xb);
    double *work = malloc(FC_ARIMA_ML_WORK(FC_ARIMA_ML_MAX_R) * sizeof *work);
    fc__arima_search *s = malloc(sizeof *s);
    eq_err rc = EQ_OK;
    if (!w || !e || !xb || !work || !s) {
        rc = EQ_ENOMEM;
        goto out;
    }
    memcpy(w, rq->y, n * sizeof *w);
    size_t nw = n;
    int D = m > 1 ? fc__arima_nsdiffs(rq->y, n, m) : 0;
    for (int i = 0; i < D; i++) {
        for (size_t t = 0; t + (size_t)m < nw; t++)
            w[t] = w[t + (size_t)m] - w[t];
        nw -= (size_t)m;
    }
    int d = fc_arima_ndiffs(w, nw);
    for (int i = 0; i < d; i++) {
        for (size_t t = 0; t + 1 < nw; t++)
            w[t] = w[t + 1] - w[t];
        nw--;
    }
    fc__arima_ctx c = {.w = w, .nw = nw, .m = m, .e = e, .x = xb, .work = work};
    memset(s, 0, sizeof *s);
    s->c = &c;
    int seasonal = m > 1 && nw > 2 * (size_t)m;
    s->maxP = seasonal ? FC_ARIMA_MAX_SP : 0;
    s->maxQ = seasonal ? FC_ARIMA_MAX_SQ : 0;
    if (nw < 4) {
        rc = fc_fail(err, "series_too_short", "too few observations left after differencing");
        goto out;
    }
    int flat = 1;
    for (size_t t = 1; t < nw && flat; t++)
        flat = w[t] == w[0];
    if (flat) {
        /* The differenced series is constant (a deterministic trend): ARIMA(0,d,0) with the
         * constant as drift or mean reproduces it exactly. */
        fc__arima_order o = {0, d, 0, 0, D, 0, d + D <= 1 && w[0] != 0.0};
        s->best.o = o;
        s->best.npar = o.constant ? 1 : 0;
        s->best.par[0] = w[0];
        s->best.sigma2 = 0.0;
        s->best.aicc = NAN;
    } else if ((rc = fc__arima_stepwise(s, d, D, seasonal)) != EQ_OK) {
        goto out;
    }
    if (!flat && !isfinite(s->best.aicc)) {
        rc = fc_fail(err, "series_too_short", "no ARIMA model could be estimated from %zu "
                     "observations", n);
        goto out;
    }
    if (!flat && (rc = fc__arima_refine_ml(&c, &s->best)) != EQ_OK)
        goto out;
    if ((rc = fc_result_init(out, n, rq->h, rq->nlevels)) != EQ_OK)
        goto out;
    if ((rc = fc__arima_forecast(&c, &s->best, rq, out)) != EQ_OK)
        fc_result_fini(out);
out:
    free(w);
    free(e);
    free(xb);
    free(work);
    free(s);
    return rc;
}

#include "workers/forecast/fc_combo.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "workers/forecast/fc_arima.h"
#include "workers/forecast/fc_theta.h"

typedef eq_err (*fc_combo_member_fn)(const fc_request *rq, fc_result *out, fc_job_error *err);

static const struct {
    const char *prefix;
    fc_combo_member_fn fit;
} fc__members[] = {
    {.prefix = "theta", .fit = fc_theta_fit},
    {.prefix = "arima", .fit = fc_arima_fit},
};
#define FC_COMBO_N (sizeof fc__members / sizeof fc__members[0])

eq_err fc_combo_fit(const fc_request *rq, fc_result *out, fc_job_error *err)
{
    fc_result part[FC_COMBO_N];
    int ok[FC_COMBO_N] = {0};
    size_t k = 0;
    eq_err rc = EQ_OK;
    fc_job_error first = {{0}, {0}};
    fc_request mrq = *rq;
    mrq.model = NULL;
    for (size_t i = 0; i < FC_COMBO_N; i++) {
        fc_job_error e;
        rc = fc__members[i].fit(&mrq, &part[i], &e);
        if (rc == EQ_OK) {
            ok[i] = 1;
            k++;
        } else if (rc == EQ_EINVAL) {
            if (!first.code[0])
                first = e;
            rc = EQ_OK;
        } else {
            goto out;
        }
    }
    if (k == 0) {
        if (err)
            *err = first;
        rc = EQ_EINVAL;
        goto out;
    }
    if ((rc = fc_result_init(out, rq->n, rq->h, rq->nlevels)) != EQ_OK)
        goto out;
    size_t nb = rq->h * rq->nlevels;
    for (size_t j = 0; j < rq->h; j++)
        out->point[j] = 0.0;
    for (size_t j = 0; j < nb; j++)
        out->lower[j] = out->upper[j] = 0.0;
    int len = snprintf(out->model, sizeof out->model, "Combination(");
    for (size_t i = 0; i < FC_COMBO_N; i++) {
        if (!ok[i])
            continue;
        for (size_t j = 0; j < rq->h; j++)
            out->point[j] += part[i].point[j] / (double)k;
        for (size_t j = 0; j < nb; j++) {
            out->lower[j] += part[i].lower[j] / (double)k;
            out->upper[j] += part[i].upper[j] / (double)k;
        }
        if (len < (int)sizeof out->model)
            len += snprintf(out->model + len, sizeof out->model - (size_t)len, "%s%s",
                            len > 12 ? "," : "", part[i].model);
        for (size_t p = 0; p < part[i].nparams; p++) {
            char name[64];
            snprintf(name, sizeof name, "%s.%s", fc__members[i].prefix, part[i].params[p].name);
            fc_result_param(out, name, part[i].params[p].value);
        }
    }
    if (len < (int)sizeof out->model - 1)
        strcat(out->model, ")");
    for (size_t t = 0; t < rq->n; t++) {
        double s = 0.0;
        size_t cnt = 0;
        for (size_t i = 0; i < FC_COMBO_N; i++)
            if (ok[i] && !isnan(part[i].fitted[t])) {
                s += part[i].fitted[t];
                cnt++;
            }
        out->fitted[t] = cnt == k ? s / (double)cnt : NAN;
    }
out:
    for (size_t i = 0; i < FC_COMBO_N; i++)
        if (ok[i])
            fc_result_fini(&part[i]);
    return rc;
}

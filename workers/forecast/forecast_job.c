/* JSON params -> fc_series + fc_request -> a method -> JSON result. */
#include "workers/forecast/forecast_job.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "workers/forecast/fc_accuracy.h"
#include "workers/forecast/fc_arima.h"
#include "workers/forecast/fc_bench.h"
#include "workers/forecast/fc_combo.h"
#include "workers/forecast/fc_ets.h"
#include "workers/forecast/fc_series.h"
#include "workers/forecast/fc_theta.h"

typedef eq_err (*fc_fit_fn)(const fc_request *rq, fc_result *out, fc_job_error *err);

typedef struct fc_method {
    const char *name;
    fc_fit_fn fit;
    int model_based; /* fitted by optimisation: capped at FC_MAX_FIT_POINTS */
} fc_method;

static const fc_method fc__methods[] = {
    {.name = "naive", .fit = fc_naive_fit},
    {.name = "snaive", .fit = fc_snaive_fit},
    {.name = "drift", .fit = fc_drift_fit},
    {.name = "ets", .fit = fc_ets_fit, .model_based = 1},
    {.name = "theta", .fit = fc_theta_fit, .model_based = 1},
    {.name = "arima", .fit = fc_arima_fit, .model_based = 1},
    {.name = "auto", .fit = fc_combo_fit, .model_based = 1},
};

static const fc_method *fc__method_find(const char *name)
{
    for (size_t i = 0; i < sizeof fc__methods / sizeof fc__methods[0]; i++)
        if (strcmp(fc__methods[i].name, name) == 0)
            return &fc__methods[i];
    return NULL;
}

/* Adds `v` as a number, or null when it is not finite (JSON has no NaN). */
static cJSON *fc__add_num(cJSON *obj, const char *key, double v)
{
    return isfinite(v) ? cJSON_AddNumberToObject(obj, key, v) : cJSON_AddNullToObject(obj, key);
}

static cJSON *fc__num_array(const double *v, size_t k)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < k; i++) {
        cJSON *x = isfinite(v[i]) ? cJSON_CreateNumber(v[i]) : cJSON_CreateNull();
        if (!x || !cJSON_AddItemToArray(a, x)) {
            cJSON_Delete(x);
            cJSON_Delete(a);
            return NULL;
        }
    }
    return a;
}

static int fc__add_array(cJSON *obj, const char *key, cJSON *arr)
{
    if (!arr)
        return 0;
    if (!cJSON_AddItemToObject(obj, key, arr)) {
        cJSON_Delete(arr);
        return 0;
    }
    return 1;
}

static void fc__level_key(double level, char out[32])
{
    snprintf(out, 32, "%g", level);
}

static cJSON *fc__result_json(const char *method, const fc_series *s, const fc_request *rq,
                              const fc_result *r, const double *levels)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON *dates = cJSON_AddArrayToObject(o, "dates");
    for (size_t j = 0; dates && j < r->h; j++) {
        char d[11];
        fc_series_future_date(s, j + 1, d);
        cJSON *x = cJSON_CreateString(d);
        if (!x || !cJSON_AddItemToArray(dates, x)) {
            cJSON_Delete(x);
            goto fail;
        }
    }
    if (!dates || !fc__add_array(o, "point", fc__num_array(r->point, r->h)))
        goto fail;
    cJSON *iv = cJSON_AddObjectToObject(o, "intervals");
    for (size_t i = 0; iv && i < r->nlevels; i++) {
        char key[32];
        fc__level_key(levels[i], key);
        cJSON *lv = cJSON_AddObjectToObject(iv, key);
        if (!lv || !fc__add_array(lv, "lower", fc__num_array(r->lower + i * r->h, r->h)) ||
            !fc__add_array(lv, "upper", fc__num_array(r->upper + i * r->h, r->h)))
            goto fail;
    }
    if (!iv || !cJSON_AddStringToObject(o, "method", method) ||
        !cJSON_AddStringToObject(o, "model", r->model))
        goto fail;
    cJSON *params = cJSON_AddObjectToObject(o, "params");
    for (size_t i = 0; params && i < r->nparams; i++)
        if (!fc__add_num(params, r->params[i].name, r->params[i].value))
            goto fail;
    if (!params || !fc__add_num(o, "aicc", r->aicc))
        goto fail;
    fc_accuracy acc = fc_accuracy_of(rq->y, r->fitted, rq->n,
                                     fc_mase_scale(rq->y, rq->n, rq->period));
    cJSON *ac = cJSON_AddObjectToObject(o, "accuracy");
    if (!ac || !fc__add_num(ac, "mase", acc.mase) || !fc__add_num(ac, "smape", acc.smape) ||
        !fc__add_num(ac, "rmse", acc.rmse) ||
        !cJSON_AddStringToObject(o, "frequency", fc_freq_name(s->freq)) ||
        !cJSON_AddNumberToObject(o, "n", (double)rq->n))
        goto fail;
    return o;
fail:
    cJSON_Delete(o);
    return NULL;
}

/* Reads an optional string member; EQ_EINVAL when present but not a string. */
static eq_err fc__opt_string(const cJSON *params, const char *key, const char **out,
                             fc_job_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, key);
    *out = NULL;
    if (!v || cJSON_IsNull(v))
        return EQ_OK;
    if (!cJSON_IsString(v))
        return fc_fail(err, strcmp(key, "model") == 0 ? "bad_model"
                            : strcmp(key, "method") == 0 ? "unknown_method"
                            : strcmp(key, "frequency") == 0 ? "bad_frequency" : "bad_params",
                       "\"%s\" must be a string", key);
    *out = v->valuestring;
    return EQ_OK;
}

static eq_err fc__parse_levels(const cJSON *params, double *levels, size_t *nlevels,
                               fc_job_error *err)
{
    const cJSON *lv = cJSON_GetObjectItemCaseSensitive(params, "levels");
    if (!lv || cJSON_IsNull(lv)) {
        levels[0] = 80.0;
        levels[1] = 95.0;
        *nlevels = 2;
        return EQ_OK;
    }
    if (!cJSON_IsArray(lv))
        return fc_fail(err, "bad_levels", "\"levels\" must be an array of percentages");
    int k = cJSON_GetArraySize(lv);
    if (k > FC_MAX_LEVELS)
        return fc_fail(err, "bad_levels", "at most %d levels are allowed", FC_MAX_LEVELS);
    size_t i = 0;
    for (const cJSON *x = lv->child; x; x = x->next, i++) {
        if (!cJSON_IsNumber(x) || !(x->valuedouble > 0.0 && x->valuedouble < 100.0))
            return fc_fail(err, "bad_levels", "levels[%zu] must be a number in (0, 100)", i);
        for (size_t j = 0; j < i; j++)
            if (levels[j] == x->valuedouble)
                return fc_fail(err, "bad_levels", "levels[%zu] repeats %g", i, x->valuedouble);
        levels[i] = x->valuedouble;
    }
    *nlevels = i;
    return EQ_OK;
}

eq_err forecast_job_run(const cJSON *params, cJSON **result, fc_job_error *err)
{
    *result = NULL;
    if (err)
        err->code[0] = err->message[0] = '\0';
    if (!cJSON_IsObject(params))
        return fc_fail(err, "bad_params", "params must be an object");
    const char *method_name, *model, *frequency, *missing_name;
    eq_err rc;
    if ((rc = fc__opt_string(params, "method", &method_name, err)) != EQ_OK ||
        (rc = fc__opt_string(params, "model", &model, err)) != EQ_OK ||
        (rc = fc__opt_string(params, "frequency", &frequency, err)) != EQ_OK ||
        (rc = fc__opt_string(params, "missing", &missing_name, err)) != EQ_OK)
        return rc;
    if (!method_name)
        method_name = "auto";
    const fc_method *method = fc__method_find(method_name);
    if (!method)
        return fc_fail(err, "unknown_method", "unknown method \"%s\"", method_name);
    if (model && strcmp(method->name, "ets") != 0)
        return fc_fail(err, "bad_model", "\"model\" applies to method \"ets\" only (method is "
                       "\"%s\")", method->name);
    fc_missing missing = FC_MISSING_INTERPOLATE;
    if (missing_name && strcmp(missing_name, "error") == 0)
        missing = FC_MISSING_ERROR;
    else if (missing_name && strcmp(missing_name, "interpolate") != 0)
        return fc_fail(err, "bad_params", "\"missing\" must be \"interpolate\" or \"error\"");
    double levels[FC_MAX_LEVELS];
    size_t nlevels = 0;
    if ((rc = fc__parse_levels(params, levels, &nlevels, err)) != EQ_OK)
        return rc;

    fc_series s;
    rc = fc_series_parse(cJSON_GetObjectItemCaseSensitive(params, "series"), frequency, missing,
                         &s, err);
    if (rc != EQ_OK)
        return rc;
    size_t h = s.period > 1 ? 2 * (size_t)s.period : 10;
    const cJSON *hv = cJSON_GetObjectItemCaseSensitive(params, "horizon");
    if (hv && !cJSON_IsNull(hv)) {
        if (!cJSON_IsNumber(hv) || hv->valuedouble != floor(hv->valuedouble) ||
            hv->valuedouble < 1 || hv->valuedouble > FC_MAX_HORIZON) {
            rc = fc_fail(err, "bad_horizon", "\"horizon\" must be an integer in 1..%d",
                         FC_MAX_HORIZON);
            goto out;
        }
        h = (size_t)hv->valuedouble;
    }
    int constant = 1;
    for (size_t i = 1; i < s.n && constant; i++)
        constant = s.y[i] == s.y[0];
    if (constant) {
        rc = fc_fail(err, "constant_series", "the series is constant (%g); there is nothing "
                     "to model", s.y[0]);
        goto out;
    }
    /* Model-based methods fit the most recent FC_MAX_FIT_POINTS observations. */
    size_t skip = method->model_based && s.n > FC_MAX_FIT_POINTS ? s.n - FC_MAX_FIT_POINTS : 0;
    fc_request rq = {.y = s.y + skip, .n = s.n - skip, .period = s.period, .h = h,
                     .levels = levels, .nlevels = nlevels, .model = model};
    fc_result r;
    if ((rc = method->fit(&rq, &r, err)) != EQ_OK)
        goto out;
    *result = fc__result_json(method->name, &s, &rq, &r, levels);
    fc_result_fini(&r);
    if (!*result)
        rc = EQ_ENOMEM;
out:
    fc_series_fini(&s);
    return rc;
}

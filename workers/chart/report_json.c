/* JSON front end of the Excel report: forecast job results (and their history) to
 * report_series, and a whole batch's results to a workbook in memory. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workers/chart/chart.h"
#include "workers/chart/report_xlsx.h"

#define REPORT_MAX_STRING 4096 /* bytes of a name, method, model or error kept from JSON */

static void report__jerrf(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Size of an optional array member: -1 and a message if present but not an array or too
 * long, 0 if absent. */
static int report__array_len(const cJSON *obj, const char *key, const char *what, const cJSON **arr,
                             char *err, size_t errlen, eq_err *rc) {
    *arr = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!*arr || cJSON_IsNull(*arr)) {
        *arr = NULL;
        return 0;
    }
    if (!cJSON_IsArray(*arr)) {
        report__jerrf(err, errlen, "%s.%s must be an array", what, key);
        *rc = EQ_EINVAL;
        return -1;
    }
    int n = cJSON_GetArraySize(*arr);
    if (n > REPORT_MAX_ROWS) {
        report__jerrf(err, errlen, "%s.%s has %d entries; the limit is %d", what, key, n,
                      REPORT_MAX_ROWS);
        *rc = EQ_ETOOBIG;
        return -1;
    }
    return n;
}

static eq_err report__fill_numbers(const cJSON *arr, double *out, const char *what, const char *key,
                                   char *err, size_t errlen) {
    size_t i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr) {
        if (cJSON_IsNumber(it))
            out[i] = it->valuedouble;
        else if (cJSON_IsNull(it))
            out[i] = NAN;
        else {
            report__jerrf(err, errlen, "%s.%s[%zu] is not a number", what, key, i);
            return EQ_EINVAL;
        }
        i++;
    }
    return EQ_OK;
}

static eq_err report__fill_dates(const cJSON *arr, double *out, const char *what, char *err,
                                 size_t errlen) {
    size_t i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr) {
        if (!cJSON_IsString(it) || chart_parse_date(it->valuestring, &out[i]) != EQ_OK) {
            report__jerrf(err, errlen, "%s.dates[%zu] is not a date (YYYY-MM-DD)", what, i);
            return EQ_EINVAL;
        }
        i++;
    }
    return EQ_OK;
}

static double report__metric(const cJSON *acc, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(acc, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* Copies an optional string (NULL stays NULL); returns 0 on allocation failure. */
static int report__dup(const char *s, char **out) {
    *out = NULL;
    if (!s) return 1;
    *out = strndup(s, REPORT_MAX_STRING);
    return *out != NULL;
}

static const char *report__string_member(const cJSON *obj, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

void report_json_series_fini(report_json_series *s) {
    if (!s) return;
    free(s->buf);
    free(s->name);
    free(s->method);
    free(s->model);
    free(s->error);
    memset(s, 0, sizeof *s);
}

eq_err report_series_from_json(const char *name, const cJSON *history, const cJSON *result,
                               const char *error, report_json_series *out, char *err,
                               size_t errlen) {
    eq_err rc = EQ_OK;
    const cJSON *hd = NULL, *hv = NULL, *fd = NULL, *fp = NULL;
    const cJSON *lo[REPORT_MAX_LEVELS], *hi[REPORT_MAX_LEVELS];
    int nh = 0, nf = 0;
    size_t nl = 0;

    if (err && errlen) err[0] = '\0';
    memset(out, 0, sizeof *out);
    if (history && !cJSON_IsNull(history)) {
        if (!cJSON_IsObject(history)) {
            report__jerrf(err, errlen, "history must be an object");
            return EQ_EINVAL;
        }
        nh = report__array_len(history, "dates", "history", &hd, err, errlen, &rc);
        int nv =
            nh < 0 ? -1 : report__array_len(history, "values", "history", &hv, err, errlen, &rc);
        if (nh < 0 || nv < 0) return rc;
        if (nh != nv) {
            report__jerrf(err, errlen, "history has %d dates but %d values", nh, nv);
            return EQ_EINVAL;
        }
    }
    if (result && !cJSON_IsNull(result)) {
        if (!cJSON_IsObject(result)) {
            report__jerrf(err, errlen, "result must be an object");
            return EQ_EINVAL;
        }
        nf = report__array_len(result, "dates", "result", &fd, err, errlen, &rc);
        int np = nf < 0 ? -1 : report__array_len(result, "point", "result", &fp, err, errlen, &rc);
        if (nf < 0 || np < 0) return rc;
        if (nf != np) {
            report__jerrf(err, errlen, "result has %d dates but %d points", nf, np);
            return EQ_EINVAL;
        }
        const cJSON *iv = cJSON_GetObjectItemCaseSensitive(result, "intervals");
        if (iv && !cJSON_IsNull(iv) && !cJSON_IsObject(iv)) {
            report__jerrf(err, errlen, "result.intervals must be an object");
            return EQ_EINVAL;
        }
        const cJSON *lv;
        cJSON_ArrayForEach(lv, iv) {
            char *end = NULL;
            double level = lv->string ? strtod(lv->string, &end) : NAN;
            if (!lv->string || end == lv->string || *end || !(level > 0 && level < 100)) {
                report__jerrf(err, errlen, "result.intervals: bad level '%.16s'",
                              lv->string ? lv->string : "");
                return EQ_EINVAL;
            }
            if (nl == REPORT_MAX_LEVELS) {
                report__jerrf(err, errlen, "more than %d interval levels", REPORT_MAX_LEVELS);
                return EQ_ETOOBIG;
            }
            lo[nl] = cJSON_GetObjectItemCaseSensitive(lv, "lower");
            hi[nl] = cJSON_GetObjectItemCaseSensitive(lv, "upper");
            if (!cJSON_IsArray(lo[nl]) || !cJSON_IsArray(hi[nl]) ||
                cJSON_GetArraySize(lo[nl]) != nf || cJSON_GetArraySize(hi[nl]) != nf) {
                report__jerrf(err, errlen,
                              "result.intervals.%s needs lower and upper arrays "
                              "of %d entries",
                              lv->string, nf);
                return EQ_EINVAL;
            }
            out->iv[nl].level = level;
            nl++;
        }
    }

    size_t total = 2 * (size_t)nh + (2 + 2 * nl) * (size_t)nf;
    out->buf = malloc(sizeof(double) * (total ? total : 1));
    if (!out->buf || !report__dup(name, &out->name) || !report__dup(error, &out->error) ||
        !report__dup(report__string_member(result, "method"), &out->method) ||
        !report__dup(report__string_member(result, "model"), &out->model)) {
        rc = EQ_ENOMEM;
        goto fail;
    }
    double *p = out->buf;
    report_series *s = &out->s;
    s->hist_days = p, p += nh;
    s->hist_values = p, p += nh;
    s->fc_days = p, p += nf;
    s->point = p, p += nf;
    s->nhist = (size_t)nh;
    s->nfc = (size_t)nf;
    if ((hd && (rc = report__fill_dates(hd, (double *)s->hist_days, "history", err, errlen))) ||
        (hv && (rc = report__fill_numbers(hv, (double *)s->hist_values, "history", "values", err,
                                          errlen))) ||
        (fd && (rc = report__fill_dates(fd, (double *)s->fc_days, "result", err, errlen))) ||
        (fp && (rc = report__fill_numbers(fp, (double *)s->point, "result", "point", err, errlen))))
        goto fail;
    for (size_t k = 0; k < nl; k++) {
        out->iv[k].lower = p, p += nf;
        out->iv[k].upper = p, p += nf;
        if ((rc = report__fill_numbers(lo[k], (double *)out->iv[k].lower, "intervals", "lower", err,
                                       errlen)) ||
            (rc = report__fill_numbers(hi[k], (double *)out->iv[k].upper, "intervals", "upper", err,
                                       errlen)))
            goto fail;
    }
    s->intervals = out->iv;
    s->nintervals = nl;
    s->name = out->name;
    s->method = out->method;
    s->model = out->model;
    s->error = out->error;
    const cJSON *acc = cJSON_GetObjectItemCaseSensitive(result, "accuracy");
    s->mase = report__metric(acc, "mase");
    s->smape = report__metric(acc, "smape");
    s->rmse = report__metric(acc, "rmse");
    return EQ_OK;

fail:
    report_json_series_fini(out);
    return rc;
}

eq_err report_xlsx_from_json(const cJSON *items, unsigned char **out, size_t *len, char *err,
                             size_t errlen) {
    eq_err rc = EQ_OK;
    if (!cJSON_IsArray(items)) {
        report__jerrf(err, errlen, "items must be an array");
        return EQ_EINVAL;
    }
    int n = cJSON_GetArraySize(items);
    if (n > REPORT_MAX_SERIES) {
        report__jerrf(err, errlen, "%d items; the limit is %d", n, REPORT_MAX_SERIES);
        return EQ_ETOOBIG;
    }
    report_json_series *js = calloc((size_t)(n ? n : 1), sizeof *js);
    report_series *ss = calloc((size_t)(n ? n : 1), sizeof *ss);
    if (!js || !ss) {
        rc = EQ_ENOMEM;
        goto done;
    }
    int i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, items) {
        if (!cJSON_IsObject(it)) {
            report__jerrf(err, errlen, "item %d is not an object", i);
            rc = EQ_EINVAL;
            goto done;
        }
        char sub[200];
        rc = report_series_from_json(report__string_member(it, "name"),
                                     cJSON_GetObjectItemCaseSensitive(it, "history"),
                                     cJSON_GetObjectItemCaseSensitive(it, "result"),
                                     report__string_member(it, "error"), &js[i], sub, sizeof sub);
        if (rc != EQ_OK) {
            report__jerrf(err, errlen, "item %d: %s", i, sub);
            goto done;
        }
        ss[i] = js[i].s;
        i++;
    }
    rc = report_xlsx_write_mem(ss, (size_t)n, out, len, err, errlen);
done:
    for (int k = 0; js && k < n; k++)
        report_json_series_fini(&js[k]);
    free(js);
    free(ss);
    return rc;
}

/* chart_forecast_from_json(): a forecast job's JSON result (plus its history) to a chart. */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workers/chart/chart.h"
#include "workers/chart/chart_axis.h"

static void chart__jerrf(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Reads exactly `n` digits at *p into *v. */
static int chart__digits(const char **p, int n, int *v) {
    int x = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i])) return 0;
        x = x * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *v = x;
    return 1;
}

eq_err chart_parse_date(const char *s, double *days) {
    int y, m, d, hh = 0, mm = 0, ss = 0;
    if (!s || !days) return EQ_EINVAL;
    const char *p = s;
    if (!chart__digits(&p, 4, &y) || *p++ != '-' || !chart__digits(&p, 2, &m) || *p++ != '-' ||
        !chart__digits(&p, 2, &d))
        return EQ_EINVAL;
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1]) return EQ_EINVAL;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (m == 2 && d == 29 && !leap) return EQ_EINVAL;
    if (*p == 'T' || *p == ' ') {
        p++;
        if (!chart__digits(&p, 2, &hh) || *p++ != ':' || !chart__digits(&p, 2, &mm))
            return EQ_EINVAL;
        if (*p == ':') {
            p++;
            if (!chart__digits(&p, 2, &ss)) return EQ_EINVAL;
            if (*p == '.') {
                p++;
                if (!isdigit((unsigned char)*p)) return EQ_EINVAL;
                while (isdigit((unsigned char)*p))
                    p++;
            }
        }
        if (*p == 'Z') p++;
        if (hh > 23 || mm > 59 || ss > 60) return EQ_EINVAL;
    }
    if (*p != '\0') return EQ_EINVAL;
    *days = (double)chart__days_from_civil(y, m, d) + (hh * 3600 + mm * 60 + ss) / 86400.0;
    return EQ_OK;
}

/* Checks that `item` is an array of at most CHART_MAX_POINTS entries; returns its size or -1. */
static int chart__array(const cJSON *item, const char *what, char *err, size_t errlen, eq_err *rc) {
    if (!cJSON_IsArray(item)) {
        chart__jerrf(err, errlen, "%s must be an array", what);
        *rc = EQ_EINVAL;
        return -1;
    }
    int n = cJSON_GetArraySize(item);
    if (n > CHART_MAX_POINTS) {
        chart__jerrf(err, errlen, "%s has %d entries; the limit is %d", what, n, CHART_MAX_POINTS);
        *rc = EQ_ETOOBIG;
        return -1;
    }
    return n;
}

/* Fills `out` (n entries) from an array of dates. */
static eq_err chart__dates(const cJSON *arr, double *out, int n, const char *what, char *err,
                           size_t errlen) {
    int i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr) {
        if (i >= n) break;
        if (!cJSON_IsString(it) || chart_parse_date(it->valuestring, &out[i]) != EQ_OK) {
            chart__jerrf(err, errlen, "%s[%d] is not a date (YYYY-MM-DD)", what, i);
            return EQ_EINVAL;
        }
        i++;
    }
    return EQ_OK;
}

/* Fills `out` (n entries) from an array of numbers; null becomes NaN (a gap). */
static eq_err chart__numbers(const cJSON *arr, double *out, int n, const char *what, char *err,
                             size_t errlen) {
    int i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr) {
        if (i >= n) break;
        if (cJSON_IsNumber(it))
            out[i] = it->valuedouble;
        else if (cJSON_IsNull(it))
            out[i] = NAN;
        else {
            chart__jerrf(err, errlen, "%s[%d] is not a number", what, i);
            return EQ_EINVAL;
        }
        i++;
    }
    return EQ_OK;
}

/* Reads one {dates, <values_key>} pair of equal-length arrays into malloc'd x and y. */
static eq_err chart__read_pair(const cJSON *obj, const char *name, const char *values_key,
                               double **x, double **y, size_t *n, char *err, size_t errlen) {
    eq_err rc = EQ_OK;
    char what[64];
    const cJSON *dates = cJSON_GetObjectItemCaseSensitive(obj, "dates");
    const cJSON *vals = cJSON_GetObjectItemCaseSensitive(obj, values_key);
    snprintf(what, sizeof what, "%s.dates", name);
    int nd = chart__array(dates, what, err, errlen, &rc);
    if (nd < 0) return rc;
    snprintf(what, sizeof what, "%s.%s", name, values_key);
    int nv = chart__array(vals, what, err, errlen, &rc);
    if (nv < 0) return rc;
    if (nd != nv) {
        chart__jerrf(err, errlen, "%s.dates has %d entries but %s has %d", name, nd, what, nv);
        return EQ_EINVAL;
    }
    *x = malloc(sizeof(double) * (size_t)(nd ? nd : 1));
    *y = malloc(sizeof(double) * (size_t)(nd ? nd : 1));
    if (!*x || !*y) {
        rc = EQ_ENOMEM;
        goto fail;
    }
    if ((rc = chart__numbers(vals, *y, nv, what, err, errlen)) != EQ_OK) goto fail;
    snprintf(what, sizeof what, "%s.dates", name);
    if ((rc = chart__dates(dates, *x, nd, what, err, errlen)) != EQ_OK) goto fail;
    *n = (size_t)nd;
    return EQ_OK;
fail:
    free(*x);
    free(*y);
    *x = *y = NULL;
    return rc;
}

typedef struct chart_level {
    double level;
    const cJSON *obj;
    char label[32];
} chart_level;

static int chart__level_cmp(const void *a, const void *b) {
    double la = ((const chart_level *)a)->level, lb = ((const chart_level *)b)->level;
    return la < lb ? 1 : la > lb ? -1 : 0; /* widest (highest level) first */
}

eq_err chart_forecast_from_json(const cJSON *history, const cJSON *forecast, const chart_opts *opts,
                                unsigned char **out, size_t *len, char *err, size_t errlen) {
    eq_err rc = EQ_OK;
    double *hx = NULL, *hy = NULL, *fx = NULL, *fy = NULL;
    double *lower[CHART_MAX_BANDS] = {0}, *upper[CHART_MAX_BANDS] = {0};
    size_t hn = 0, fn = 0, nb = 0;
    chart_level levels[CHART_MAX_BANDS];
    chart_band bands[CHART_MAX_BANDS];

    if (err && errlen) err[0] = '\0';
    if (!cJSON_IsObject(forecast)) {
        chart__jerrf(err, errlen, "forecast result must be an object");
        return EQ_EINVAL;
    }
    if (history && !cJSON_IsNull(history)) {
        if (!cJSON_IsObject(history)) {
            chart__jerrf(err, errlen, "history must be an object");
            return EQ_EINVAL;
        }
        if ((rc = chart__read_pair(history, "history", "values", &hx, &hy, &hn, err, errlen)))
            return rc;
    }
    if ((rc = chart__read_pair(forecast, "forecast", "point", &fx, &fy, &fn, err, errlen)))
        goto done;

    const cJSON *intervals = cJSON_GetObjectItemCaseSensitive(forecast, "intervals");
    if (intervals && !cJSON_IsNull(intervals)) {
        if (!cJSON_IsObject(intervals)) {
            chart__jerrf(err, errlen, "forecast.intervals must be an object");
            rc = EQ_EINVAL;
            goto done;
        }
        const cJSON *lv;
        cJSON_ArrayForEach(lv, intervals) {
            char *end = NULL;
            double level = strtod(lv->string ? lv->string : "", &end);
            if (!lv->string || end == lv->string || *end != '\0' || !(level > 0 && level < 100) ||
                !cJSON_IsObject(lv)) {
                chart__jerrf(err, errlen, "forecast.intervals: bad level '%.16s'",
                             lv->string ? lv->string : "");
                rc = EQ_EINVAL;
                goto done;
            }
            if (nb == CHART_MAX_BANDS) {
                chart__jerrf(err, errlen, "at most %d interval levels", CHART_MAX_BANDS);
                rc = EQ_ETOOBIG;
                goto done;
            }
            levels[nb].level = level;
            levels[nb].obj = lv;
            snprintf(levels[nb].label, sizeof levels[nb].label, "%g%% interval", level);
            nb++;
        }
        qsort(levels, nb, sizeof levels[0], chart__level_cmp);
    }
    for (size_t i = 0; i < nb; i++) {
        char what[48];
        const cJSON *lo = cJSON_GetObjectItemCaseSensitive(levels[i].obj, "lower");
        const cJSON *hi = cJSON_GetObjectItemCaseSensitive(levels[i].obj, "upper");
        snprintf(what, sizeof what, "intervals.%g.lower", levels[i].level);
        int nl = chart__array(lo, what, err, errlen, &rc);
        if (nl < 0) goto done;
        snprintf(what, sizeof what, "intervals.%g.upper", levels[i].level);
        int nu = chart__array(hi, what, err, errlen, &rc);
        if (nu < 0) goto done;
        if ((size_t)nl != fn || (size_t)nu != fn) {
            chart__jerrf(err, errlen,
                         "intervals.%g: lower and upper need %zu entries like "
                         "forecast.dates",
                         levels[i].level, fn);
            rc = EQ_EINVAL;
            goto done;
        }
        lower[i] = malloc(sizeof(double) * (fn ? fn : 1));
        upper[i] = malloc(sizeof(double) * (fn ? fn : 1));
        if (!lower[i] || !upper[i]) {
            rc = EQ_ENOMEM;
            goto done;
        }
        if ((rc = chart__numbers(lo, lower[i], nl, "lower", err, errlen)) != EQ_OK ||
            (rc = chart__numbers(hi, upper[i], nu, "upper", err, errlen)) != EQ_OK)
            goto done;
        bands[i] = (chart_band){
            .x_days = fx, .lower = lower[i], .upper = upper[i], .n = fn, .label = levels[i].label};
    }

    chart_series hs = {.name = "History", .x_days = hx, .y = hy, .n = hn};
    chart_series fs = {.name = "Forecast", .x_days = fx, .y = fy, .n = fn};
    chart_spec spec = {
        .title = opts ? opts->title : NULL,
        .y_label = opts ? opts->y_label : NULL,
        .width = opts ? opts->width : 0,
        .height = opts ? opts->height : 0,
        .dark = opts ? opts->dark : 0,
        .format = opts ? opts->format : NULL,
        .history = hn ? &hs : NULL,
        .forecast = &fs,
        .bands = bands,
        .nbands = nb,
    };
    rc = chart_render(&spec, out, len, err, errlen);

done:
    for (size_t i = 0; i < CHART_MAX_BANDS; i++) {
        free(lower[i]);
        free(upper[i]);
    }
    free(fx);
    free(fy);
    free(hx);
    free(hy);
    return rc;
}

eq_err chart_lines_from_json(const cJSON *data, const chart_opts *opts, unsigned char **out,
                             size_t *len, char *err, size_t errlen) {
    eq_err rc = EQ_OK;
    double *x = NULL, *ys[CHART_MAX_LINES] = {0};
    chart_series lines[CHART_MAX_LINES];
    size_t nl = 0;

    if (err && errlen) err[0] = '\0';
    if (!cJSON_IsObject(data)) {
        chart__jerrf(err, errlen, "line chart data must be an object");
        return EQ_EINVAL;
    }
    const cJSON *dates = cJSON_GetObjectItemCaseSensitive(data, "dates");
    const cJSON *series = cJSON_GetObjectItemCaseSensitive(data, "series");
    int nd = chart__array(dates, "dates", err, errlen, &rc);
    if (nd < 0) return rc;
    if (!cJSON_IsArray(series) || cJSON_GetArraySize(series) == 0) {
        chart__jerrf(err, errlen, "series must be a non-empty array");
        return EQ_EINVAL;
    }
    if (cJSON_GetArraySize(series) > CHART_MAX_LINES) {
        chart__jerrf(err, errlen, "at most %d series", CHART_MAX_LINES);
        return EQ_ETOOBIG;
    }
    x = malloc(sizeof(double) * (size_t)(nd ? nd : 1));
    if (!x) return EQ_ENOMEM;
    if ((rc = chart__dates(dates, x, nd, "dates", err, errlen)) != EQ_OK) goto done;
    const cJSON *it;
    cJSON_ArrayForEach(it, series) {
        char what[48];
        snprintf(what, sizeof what, "series[%zu].values", nl);
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(it, "name");
        const cJSON *vals = cJSON_GetObjectItemCaseSensitive(it, "values");
        int nv = chart__array(vals, what, err, errlen, &rc);
        if (nv < 0) goto done;
        if (nv != nd) {
            chart__jerrf(err, errlen, "%s has %d entries but dates has %d", what, nv, nd);
            rc = EQ_EINVAL;
            goto done;
        }
        ys[nl] = malloc(sizeof(double) * (size_t)(nd ? nd : 1));
        if (!ys[nl]) {
            rc = EQ_ENOMEM;
            goto done;
        }
        if ((rc = chart__numbers(vals, ys[nl], nv, what, err, errlen)) != EQ_OK) goto done;
        lines[nl] = (chart_series){.name = cJSON_IsString(name) ? name->valuestring : NULL,
                                   .x_days = x,
                                   .y = ys[nl],
                                   .n = (size_t)nd};
        nl++;
    }
    chart_spec spec = {
        .title = opts ? opts->title : NULL,
        .y_label = opts ? opts->y_label : NULL,
        .width = opts ? opts->width : 0,
        .height = opts ? opts->height : 0,
        .dark = opts ? opts->dark : 0,
        .format = opts ? opts->format : NULL,
        .lines = lines,
        .nlines = nl,
    };
    rc = chart_render(&spec, out, len, err, errlen);
done:
    for (size_t i = 0; i < CHART_MAX_LINES; i++)
        free(ys[i]);
    free(x);
    return rc;
}

/* Reads an optional string member into *out; EQ_EINVAL if present and not a string. */
static eq_err chart__opt_string(const cJSON *params, const char *key, const char **out, char *err,
                                size_t errlen) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, key);
    if (!v || cJSON_IsNull(v)) return EQ_OK;
    if (!cJSON_IsString(v)) {
        chart__jerrf(err, errlen, "%s must be a string", key);
        return EQ_EINVAL;
    }
    *out = v->valuestring;
    return EQ_OK;
}

static eq_err chart__opt_int(const cJSON *params, const char *key, int lo, int hi, int *out,
                             char *err, size_t errlen) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, key);
    if (!v || cJSON_IsNull(v)) return EQ_OK;
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < lo ||
        v->valuedouble > hi) {
        chart__jerrf(err, errlen, "%s must be an integer from %d to %d", key, lo, hi);
        return EQ_EINVAL;
    }
    *out = (int)v->valuedouble;
    return EQ_OK;
}

eq_err chart_opts_from_json(const cJSON *params, chart_opts *out, char *err, size_t errlen) {
    eq_err rc;
    const char *theme = NULL;
    chart_opts o = {.width = CHART_DEFAULT_WIDTH, .height = CHART_DEFAULT_HEIGHT, .format = "png"};
    if (err && errlen) err[0] = '\0';
    if (params && !cJSON_IsNull(params) && !cJSON_IsObject(params)) {
        chart__jerrf(err, errlen, "params must be an object");
        return EQ_EINVAL;
    }
    if ((rc = chart__opt_string(params, "format", &o.format, err, errlen)) ||
        (rc = chart__opt_string(params, "theme", &theme, err, errlen)) ||
        (rc = chart__opt_string(params, "title", &o.title, err, errlen)) ||
        (rc = chart__opt_string(params, "y_label", &o.y_label, err, errlen)) ||
        (rc = chart__opt_int(params, "width", CHART_MIN_WIDTH, CHART_MAX_WIDTH, &o.width, err,
                             errlen)) ||
        (rc = chart__opt_int(params, "height", CHART_MIN_HEIGHT, CHART_MAX_HEIGHT, &o.height, err,
                             errlen)))
        return rc;
    if (strcmp(o.format, "png") != 0 && strcmp(o.format, "svg") != 0) {
        chart__jerrf(err, errlen, "format must be \"png\" or \"svg\"");
        return EQ_EINVAL;
    }
    if (theme && strcmp(theme, "light") != 0 && strcmp(theme, "dark") != 0) {
        chart__jerrf(err, errlen, "theme must be \"light\" or \"dark\"");
        return EQ_EINVAL;
    }
    o.dark = theme && strcmp(theme, "dark") == 0;
    *out = o;
    return EQ_OK;
}

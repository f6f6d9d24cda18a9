/* Series parsing, calendar arithmetic and the missing-value policy. */
#include "workers/forecast/fc_series.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Howard Hinnant's days_from_civil / civil_from_days (proleptic Gregorian). */
static int64_t fc__days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void fc__civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int fc__month_days(int64_t y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return days[m - 1];
}

eq_err fc_date_parse(const char *s, int64_t *day)
{
    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return EQ_EINVAL;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return EQ_EINVAL;
    int y = atoi(s), m = atoi(s + 5), d = atoi(s + 8);
    if (m < 1 || m > 12 || d < 1 || d > fc__month_days(y, m))
        return EQ_EINVAL;
    *day = fc__days_from_civil(y, m, d);
    return EQ_OK;
}

void fc_date_format(int64_t day, char out[11])
{
    int64_t y;
    int m, d;
    fc__civil_from_days(day, &y, &m, &d);
    int yy = (int)(y < 0 ? 0 : y % 10000);
    out[0] = (char)('0' + yy / 1000);
    out[1] = (char)('0' + yy / 100 % 10);
    out[2] = (char)('0' + yy / 10 % 10);
    out[3] = (char)('0' + yy % 10);
    out[4] = '-';
    out[5] = (char)('0' + m / 10);
    out[6] = (char)('0' + m % 10);
    out[7] = '-';
    out[8] = (char)('0' + d / 10);
    out[9] = (char)('0' + d % 10);
    out[10] = '\0';
}

static const struct {
    const char *name;
    fc_freq freq;
    int period;
} fc__freqs[] = {
    {"annual", FC_FREQ_ANNUAL, 1},       {"quarterly", FC_FREQ_QUARTERLY, 4},
    {"monthly", FC_FREQ_MONTHLY, 12},    {"weekly", FC_FREQ_WEEKLY, 52},
    {"daily", FC_FREQ_DAILY, 7},
};

const char *fc_freq_name(fc_freq f)
{
    return fc__freqs[f].name;
}

int fc_freq_period(fc_freq f)
{
    return fc__freqs[f].period;
}

eq_err fc_freq_parse(const char *name, fc_freq *out)
{
    if (name && strcmp(name, "yearly") == 0) {
        *out = FC_FREQ_ANNUAL;
        return EQ_OK;
    }
    for (size_t i = 0; name && i < sizeof fc__freqs / sizeof fc__freqs[0]; i++)
        if (strcmp(name, fc__freqs[i].name) == 0) {
            *out = fc__freqs[i].freq;
            return EQ_OK;
        }
    return EQ_EINVAL;
}

/* Months per step for calendar frequencies, 0 for day-based ones. */
static int fc__step_months(fc_freq f)
{
    return f == FC_FREQ_ANNUAL ? 12 : f == FC_FREQ_QUARTERLY ? 3 : f == FC_FREQ_MONTHLY ? 1 : 0;
}

static int64_t fc__month_index(int64_t day)
{
    int64_t y;
    int m, d;
    fc__civil_from_days(day, &y, &m, &d);
    return y * 12 + (m - 1);
}

void fc_series_future_date(const fc_series *s, size_t step, char out[11])
{
    int64_t last = s->day[s->n - 1];
    int months = fc__step_months(s->freq);
    if (months == 0) {
        fc_date_format(last + (int64_t)step * (s->freq == FC_FREQ_WEEKLY ? 7 : 1), out);
        return;
    }
    int64_t y;
    int m, d;
    fc__civil_from_days(last, &y, &m, &d);
    int64_t idx = y * 12 + (m - 1) + (int64_t)step * months;
    int64_t ny = idx >= 0 ? idx / 12 : (idx - 11) / 12;
    int nm = (int)(idx - ny * 12) + 1;
    int md = fc__month_days(ny, nm);
    fc_date_format(fc__days_from_civil(ny, nm, d > md ? md : d), out);
}

static int fc__cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Infers the frequency from the median gap between consecutive dates. */
static eq_err fc__infer_freq(const int64_t *day, size_t n, fc_freq *out, fc_job_error *err)
{
    int64_t *gap = malloc((n - 1) * sizeof *gap);
    if (!gap)
        return EQ_ENOMEM;
    for (size_t i = 0; i + 1 < n; i++)
        gap[i] = day[i + 1] - day[i];
    qsort(gap, n - 1, sizeof *gap, fc__cmp_i64);
    int64_t g = gap[(n - 1) / 2];
    free(gap);
    if (g >= 1 && g <= 4)
        *out = FC_FREQ_DAILY;
    else if (g >= 6 && g <= 8)
        *out = FC_FREQ_WEEKLY;
    else if (g >= 28 && g <= 31)
        *out = FC_FREQ_MONTHLY;
    else if (g >= 89 && g <= 92)
        *out = FC_FREQ_QUARTERLY;
    else if (g >= 365 && g <= 366)
        *out = FC_FREQ_ANNUAL;
    else
        return fc_fail(err, "unknown_frequency",
                       "cannot infer the frequency from a typical gap of %lld days; give "
                       "\"frequency\"", (long long)g);
    return EQ_OK;
}

static eq_err fc__check_calendar(const fc_series *s, fc_job_error *err)
{
    int months = fc__step_months(s->freq);
    for (size_t i = 1; i < s->n; i++) {
        int64_t a = s->day[i - 1], b = s->day[i];
        int ok = months ? fc__month_index(b) - fc__month_index(a) == months
                        : s->freq == FC_FREQ_WEEKLY ? b - a == 7 : b - a >= 1;
        if (!ok) {
            char da[11], db[11];
            fc_date_format(a, da);
            fc_date_format(b, db);
            return fc_fail(err, "irregular_dates",
                           "dates %s and %s are not one %s period apart (at index %zu)", da,
                           db, fc_freq_name(s->freq), i);
        }
    }
    return EQ_OK;
}

/* "NaN", "Infinity", "-inf", ...: the spellings of non-finite numbers JSON cannot carry. */
static int fc__non_finite_name(const char *s)
{
    static const char *names[] = {"nan", "inf", "infinity"};
    if (*s == '-' || *s == '+')
        s++;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcasecmp(s, names[i]) == 0)
            return 1;
    return 0;
}

eq_err fc_series_parse(const cJSON *series, const char *frequency, fc_missing missing,
                       fc_series *out, fc_job_error *err)
{
    memset(out, 0, sizeof *out);
    if (!cJSON_IsObject(series))
        return fc_fail(err, "bad_series", "series must be an object {\"dates\", \"values\"}");
    if (cJSON_GetObjectItemCaseSensitive(series, "dataset"))
        return fc_fail(err, "unresolved_dataset",
                       "dataset references must be resolved before forecasting");
    const cJSON *dates = cJSON_GetObjectItemCaseSensitive(series, "dates");
    const cJSON *values = cJSON_GetObjectItemCaseSensitive(series, "values");
    if (!cJSON_IsArray(dates) || !cJSON_IsArray(values))
        return fc_fail(err, "bad_series", "series.dates and series.values must be arrays");
    int nd = cJSON_GetArraySize(dates), nv = cJSON_GetArraySize(values);
    if (nd != nv)
        return fc_fail(err, "bad_series", "series has %d dates but %d values", nd, nv);
    if (nd > FC_MAX_SERIES_POINTS)
        return fc_fail(err, "series_too_long", "series has %d points; the limit is %d", nd,
                       FC_MAX_SERIES_POINTS);
    size_t n = (size_t)nd;
    out->y = malloc((n ? n : 1) * sizeof *out->y);
    out->day = malloc((n ? n : 1) * sizeof *out->day);
    if (!out->y || !out->day) {
        fc_series_fini(out);
        return EQ_ENOMEM;
    }
    eq_err rc = EQ_OK;
    size_t i = 0;
    const cJSON *d = dates->child, *v = values->child;
    for (; i < n; i++, d = d->next, v = v->next) {
        if (!cJSON_IsString(d) || fc_date_parse(d->valuestring, &out->day[i]) != EQ_OK) {
            rc = fc_fail(err, "bad_date", "series.dates[%zu] is not a \"YYYY-MM-DD\" date", i);
            goto fail;
        }
        if (i > 0 && out->day[i] == out->day[i - 1]) {
            rc = fc_fail(err, "duplicate_dates", "series.dates[%zu] repeats %s", i,
                         d->valuestring);
            goto fail;
        }
        if (i > 0 && out->day[i] < out->day[i - 1]) {
            rc = fc_fail(err, "unsorted_dates", "series.dates[%zu] (%s) is before the date "
                         "preceding it; dates must increase", i, d->valuestring);
            goto fail;
        }
        if (cJSON_IsNull(v)) {
            out->y[i] = NAN;
        } else if (cJSON_IsNumber(v)) {
            if (!isfinite(v->valuedouble)) {
                rc = fc_fail(err, "non_finite_values", "series.values[%zu] is not finite", i);
                goto fail;
            }
            out->y[i] = v->valuedouble;
        } else if (cJSON_IsString(v) && fc__non_finite_name(v->valuestring)) {
            rc = fc_fail(err, "non_finite_values", "series.values[%zu] is not finite", i);
            goto fail;
        } else {
            rc = fc_fail(err, "bad_series", "series.values[%zu] must be a number or null", i);
            goto fail;
        }
    }
    /* Trim leading and trailing missing values. */
    size_t lo = 0, hi = n;
    while (lo < hi && isnan(out->y[lo]))
        lo++;
    while (hi > lo && isnan(out->y[hi - 1]))
        hi--;
    n = hi - lo;
    memmove(out->y, out->y + lo, n * sizeof *out->y);
    memmove(out->day, out->day + lo, n * sizeof *out->day);
    out->n = n;
    if (n < 2) {
        rc = fc_fail(err, "series_too_short", "series has %zu non-missing values; at least 2 "
                     "are needed", n);
        goto fail;
    }
    for (i = 1; i + 1 < n; i++) {
        if (!isnan(out->y[i]))
            continue;
        if (missing == FC_MISSING_ERROR) {
            rc = fc_fail(err, "missing_values", "series.values[%zu] is null and \"missing\" is "
                         "\"error\"", i + lo);
            goto fail;
        }
        size_t j = i;
        while (isnan(out->y[j]))
            j++;
        double a = out->y[i - 1], b = out->y[j];
        for (size_t k = i; k < j; k++)
            out->y[k] = a + (b - a) * (double)(k - i + 1) / (double)(j - i + 1);
        i = j;
    }
    if (frequency) {
        if (fc_freq_parse(frequency, &out->freq) != EQ_OK) {
            rc = fc_fail(err, "bad_frequency", "unknown frequency \"%s\"", frequency);
            goto fail;
        }
    } else if ((rc = fc__infer_freq(out->day, n, &out->freq, err)) != EQ_OK) {
        goto fail;
    }
    out->period = fc_freq_period(out->freq);
    if ((rc = fc__check_calendar(out, err)) != EQ_OK)
        goto fail;
    return EQ_OK;
fail:
    fc_series_fini(out);
    return rc;
}

void fc_series_fini(fc_series *s)
{
    free(s->y);
    free(s->day);
    s->y = NULL;
    s->day = NULL;
    s->n = 0;
}

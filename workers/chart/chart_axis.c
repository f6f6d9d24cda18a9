/* Tick selection for numeric and date axes. */
#include "workers/chart/chart_axis.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const chart_month_abbr[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

int64_t chart__days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void chart__civil_from_days(int64_t days, int64_t *y, int *m, int *d) {
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* Heckbert's "nice number": 1, 2, 5 or 10 times a power of ten near x. */
static double chart__nice(double x, int round) {
    double e = floor(log10(x));
    double f = x / pow(10, e);
    double nf;
    if (round)
        nf = f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10;
    else
        nf = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
    return nf * pow(10, e);
}

void chart__format_number(double v, int decimals, char *buf, size_t len) {
    if (decimals < 0) decimals = 0;
    if (decimals > 10) decimals = 10;
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%.*f", decimals, v);
    if (strspn(tmp, "-0.") == strlen(tmp))
        snprintf(tmp, sizeof tmp, "%.*f", decimals, 0.0); /* no "-0.0" */
    /* Insert thousands separators into the integer part. */
    const char *s = tmp;
    size_t o = 0;
    if (*s == '-' && o + 1 < len) buf[o++] = *s++;
    size_t ndig = strcspn(s, ".");
    for (size_t i = 0; s[i] && o + 1 < len; i++) {
        if (i < ndig && i > 0 && (ndig - i) % 3 == 0 && o + 2 < len) buf[o++] = ',';
        buf[o++] = s[i];
    }
    if (len) buf[o < len ? o : len - 1] = '\0';
}

size_t chart__nice_ticks(double *lo, double *hi, int target, chart_tick *ticks, size_t max) {
    if (target < 2) target = 2;
    if (!(*hi > *lo)) {
        double pad = fabs(*lo) > 1e-12 ? fabs(*lo) * 0.1 : 1.0;
        *lo -= pad;
        *hi += pad;
    }
    double range = chart__nice(*hi - *lo, 0);
    double step = chart__nice(range / (target - 1), 1);
    double glo = floor(*lo / step) * step;
    double ghi = ceil(*hi / step) * step;
    *lo = glo;
    *hi = ghi;
    int decimals = (int)fmax(0, -floor(log10(step) + 1e-9));
    /* Large values get a suffix: 1,500,000 becomes "1.5M". */
    double mag = fmax(fabs(glo), fabs(ghi));
    double scale = 1;
    const char *suffix = "";
    if (mag >= 1e12) {
        scale = 1e12, suffix = "T";
    } else if (mag >= 1e9) {
        scale = 1e9, suffix = "B";
    } else if (mag >= 1e6) {
        scale = 1e6, suffix = "M";
    }
    if (scale > 1) decimals = (int)fmax(0, -floor(log10(step / scale) + 1e-9));
    size_t n = 0;
    for (int i = 0; n < max; i++) {
        double v = glo + i * step;
        if (v > ghi + step * 0.5) break;
        ticks[n].v = v;
        char num[24];
        if (decimals > 6) /* tiny steps read better in scientific notation */
            snprintf(num, sizeof num, "%.3g", fabs(v) < step * 1e-6 ? 0.0 : v);
        else
            chart__format_number(v / scale, decimals, num, sizeof num);
        snprintf(ticks[n].label, sizeof ticks[n].label, "%s%s", num, suffix);
        n++;
    }
    return n;
}

static size_t chart__day_ticks(double lo, double hi, int max_ticks, chart_tick *ticks, size_t max) {
    static const int steps[] = {1, 2, 7, 14, 28};
    int step = 28;
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        if ((hi - lo) / steps[i] + 1 <= max_ticks) {
            step = steps[i];
            break;
        }
    }
    size_t n = 0;
    for (int64_t d = (int64_t)ceil(lo); d <= (int64_t)floor(hi) && n < max; d++) {
        /* Weekly steps fall on Mondays; 1970-01-05 (day 4) was a Monday. */
        int64_t phase = step >= 7 ? (((d - 4) % step) + step) % step : (d % step + step) % step;
        if (phase != 0) continue;
        int64_t y;
        int m, dd;
        chart__civil_from_days(d, &y, &m, &dd);
        ticks[n].v = (double)d;
        snprintf(ticks[n].label, sizeof ticks[n].label, "%04lld-%02d-%02d", (long long)y, m, dd);
        n++;
    }
    return n;
}

size_t chart__date_ticks(double lo, double hi, int max_ticks, chart_tick *ticks, size_t max) {
    if (max_ticks < 2) max_ticks = 2;
    if (!(hi > lo) || !isfinite(lo) || !isfinite(hi)) return 0;
    if (hi - lo <= 75) return chart__day_ticks(lo, hi, max_ticks, ticks, max);
    static const int steps[] = {1, 3, 6, 12, 24, 60, 120, 240, 600, 1200, 2400, 6000, 12000};
    double span_months = (hi - lo) / 30.436875;
    int step = steps[sizeof steps / sizeof steps[0] - 1];
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        if (span_months / steps[i] + 1 <= max_ticks) {
            step = steps[i];
            break;
        }
    }
    int64_t y0;
    int m0, d0;
    chart__civil_from_days((int64_t)floor(lo), &y0, &m0, &d0);
    int64_t k = y0 * 12 + (m0 - 1); /* months since year 0 */
    k -= ((k % step) + step) % step;
    size_t n = 0;
    for (; n < max; k += step) {
        int64_t y = k >= 0 ? k / 12 : -((-k + 11) / 12);
        int m = (int)(k - y * 12) + 1;
        double day = (double)chart__days_from_civil(y, m, 1);
        if (day > hi) break;
        if (day < lo) continue;
        ticks[n].v = day;
        if (step >= 12)
            snprintf(ticks[n].label, sizeof ticks[n].label, "%lld", (long long)y);
        else if (step == 3)
            snprintf(ticks[n].label, sizeof ticks[n].label, "%lld Q%d", (long long)y,
                     (m - 1) / 3 + 1);
        else
            snprintf(ticks[n].label, sizeof ticks[n].label, "%s %lld", chart_month_abbr[m - 1],
                     (long long)y);
        n++;
    }
    return n;
}

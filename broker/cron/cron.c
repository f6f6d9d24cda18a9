/* Cron expression parsing and tick search; see cron.h for the syntax and the day rule. */
#include "broker/cron/cron.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Longest single field (between blanks) we copy for parsing; bounded by the expression. */
#define CRON_FIELD_MAX CRON_EXPR_MAX_LEN

typedef struct cron_field_def {
    const char *name;         /* for messages: "minute field" */
    int min, max;             /* accepted numeric range (day-of-week accepts 7) */
    const char *const *names; /* optional names, index 0 = `min` */
    int nnames;
} cron_field_def;

static const char *const cron_month_names[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                               "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
static const char *const cron_day_names[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

static const cron_field_def cron_fields[5] = {
    {.name = "minute", .min = 0, .max = 59},
    {.name = "hour", .min = 0, .max = 23},
    {.name = "day-of-month", .min = 1, .max = 31},
    {.name = "month", .min = 1, .max = 12, .names = cron_month_names, .nnames = 12},
    {.name = "day-of-week", .min = 0, .max = 7, .names = cron_day_names, .nnames = 7},
};

static const struct {
    const char *macro;
    const char *expansion;
} cron_macros[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

static void cron__errf(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Reads one value (a number or a name) at *p; advances *p past it. */
static eq_err cron__value(const cron_field_def *f, const char **p, int *out, char *err,
                          size_t errlen) {
    const char *s = *p;
    if (isdigit((unsigned char)*s)) {
        long v = 0;
        while (isdigit((unsigned char)*s)) {
            v = v * 10 + (*s - '0');
            if (v > 1000) {
                cron__errf(err, errlen, "%s field: number too large", f->name);
                return EQ_EINVAL;
            }
            s++;
        }
        if (v < f->min || v > f->max) {
            cron__errf(err, errlen, "%s field: %ld is out of range %d-%d", f->name, v, f->min,
                       f->max);
            return EQ_EINVAL;
        }
        *out = (int)v;
        *p = s;
        return EQ_OK;
    }
    if (f->names && isalpha((unsigned char)*s)) {
        size_t n = 0;
        while (isalpha((unsigned char)s[n]))
            n++;
        for (int i = 0; i < f->nnames && n == 3; i++) {
            if (strncasecmp(s, f->names[i], 3) == 0) {
                *out = f->min + i;
                *p = s + n;
                return EQ_OK;
            }
        }
        cron__errf(err, errlen, "%s field: unknown name '%.*s'", f->name, (int)(n > 16 ? 16 : n),
                   s);
        return EQ_EINVAL;
    }
    if (*s == '\0')
        cron__errf(err, errlen, "%s field: value expected", f->name);
    else
        cron__errf(err, errlen, "%s field: unexpected character '%c'", f->name,
                   isprint((unsigned char)*s) ? *s : '?');
    return EQ_EINVAL;
}

/* Parses one comma-separated field into a bit mask; *star set if it starts with '*'. */
static eq_err cron__field(const cron_field_def *f, const char *text, uint64_t *mask, int *star,
                          char *err, size_t errlen) {
    uint64_t m = 0;
    const char *p = text;
    *star = (*p == '*');
    for (;;) {
        int lo, hi, step = 1;
        eq_err rc;
        int has_range = 0;
        if (*p == '*') {
            lo = f->min;
            hi = f->max;
            has_range = 1;
            p++;
        } else {
            if ((rc = cron__value(f, &p, &lo, err, errlen)) != EQ_OK) return rc;
            hi = lo;
            if (*p == '-') {
                p++;
                if ((rc = cron__value(f, &p, &hi, err, errlen)) != EQ_OK) return rc;
                if (hi < lo) {
                    cron__errf(err, errlen, "%s field: range %d-%d runs backwards", f->name, lo,
                               hi);
                    return EQ_EINVAL;
                }
                has_range = 1;
            }
        }
        if (*p == '/') {
            p++;
            if (!isdigit((unsigned char)*p)) {
                cron__errf(err, errlen, "%s field: step expected after '/'", f->name);
                return EQ_EINVAL;
            }
            long s = 0;
            while (isdigit((unsigned char)*p)) {
                s = s * 10 + (*p - '0');
                if (s > 1000) {
                    cron__errf(err, errlen, "%s field: step too large", f->name);
                    return EQ_EINVAL;
                }
                p++;
            }
            if (s == 0) {
                cron__errf(err, errlen, "%s field: step must be at least 1", f->name);
                return EQ_EINVAL;
            }
            step = (int)s;
            if (!has_range) hi = f->max; /* "N/S" means N to the maximum in steps of S */
        }
        for (int v = lo; v <= hi; v += step)
            m |= UINT64_C(1) << v;
        if (*p == ',') {
            p++;
            continue;
        }
        if (*p != '\0') {
            cron__errf(err, errlen, "%s field: unexpected character '%c'", f->name,
                       isprint((unsigned char)*p) ? *p : '?');
            return EQ_EINVAL;
        }
        break;
    }
    *mask = m;
    return EQ_OK;
}

eq_err cron_parse(const char *expr, cron_expr *out, char *err, size_t errlen) {
    if (err && errlen) err[0] = '\0';
    if (!expr || !out) {
        cron__errf(err, errlen, "no expression");
        return EQ_EINVAL;
    }
    size_t len = strnlen(expr, CRON_EXPR_MAX_LEN + 1);
    if (len > CRON_EXPR_MAX_LEN) {
        cron__errf(err, errlen, "expression longer than %d bytes", CRON_EXPR_MAX_LEN);
        return EQ_ETOOBIG;
    }
    while (*expr == ' ' || *expr == '\t')
        expr++;
    if (*expr == '\0') {
        cron__errf(err, errlen, "empty expression");
        return EQ_EINVAL;
    }
    if (*expr == '@') {
        size_t n = strcspn(expr, " \t");
        if (expr[n + strspn(expr + n, " \t")] != '\0') {
            cron__errf(err, errlen, "a macro must stand alone");
            return EQ_EINVAL;
        }
        for (size_t i = 0; i < sizeof cron_macros / sizeof cron_macros[0]; i++) {
            if (strlen(cron_macros[i].macro) == n &&
                strncasecmp(expr, cron_macros[i].macro, n) == 0)
                return cron_parse(cron_macros[i].expansion, out, err, errlen);
        }
        cron__errf(err, errlen, "unknown macro '%.*s'", (int)(n > 16 ? 16 : n), expr);
        return EQ_EINVAL;
    }

    char field[CRON_FIELD_MAX + 1];
    uint64_t masks[5];
    int stars[5];
    const char *p = expr;
    int nf = 0;
    for (;;) {
        p += strspn(p, " \t");
        if (*p == '\0') break;
        size_t n = strcspn(p, " \t");
        if (nf == 5) {
            cron__errf(err, errlen,
                       "too many fields: expected 5 (minute hour day-of-month "
                       "month day-of-week)");
            return EQ_EINVAL;
        }
        memcpy(field, p, n);
        field[n] = '\0';
        eq_err rc = cron__field(&cron_fields[nf], field, &masks[nf], &stars[nf], err, errlen);
        if (rc != EQ_OK) return rc;
        nf++;
        p += n;
    }
    if (nf != 5) {
        cron__errf(err, errlen,
                   "%d field%s: expected 5 (minute hour day-of-month month "
                   "day-of-week)",
                   nf, nf == 1 ? "" : "s");
        return EQ_EINVAL;
    }
    uint8_t wdays = (uint8_t)(masks[4] & 0x7f);
    if (masks[4] & (UINT64_C(1) << 7)) wdays |= 1; /* 7 is Sunday */
    out->minutes = masks[0];
    out->hours = (uint32_t)masks[1];
    out->mdays = (uint32_t)masks[2];
    out->months = (uint16_t)masks[3];
    out->wdays = wdays;
    out->dom_star = (uint8_t)stars[2];
    out->dow_star = (uint8_t)stars[4];
    return EQ_OK;
}

/* Calendar arithmetic on the proleptic Gregorian calendar (H. Hinnant's algorithms). */
static int64_t cron__days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

typedef struct cron_tm {
    int64_t year;
    int month, mday, hour, minute, wday;
} cron_tm;

static void cron__split(int64_t t, cron_tm *tm) {
    int64_t days = t / 86400; /* t >= 0 here */
    int64_t secs = t % 86400;
    tm->hour = (int)(secs / 3600);
    tm->minute = (int)(secs % 3600 / 60);
    tm->wday = (int)((days + 4) % 7); /* 1970-01-01 was a Thursday */
    int64_t z = days + 719468;
    int64_t era = z / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    tm->mday = (int)(doy - (153 * mp + 2) / 5 + 1);
    tm->month = (int)(mp < 10 ? mp + 3 : mp - 9);
    tm->year = yoe + era * 400 + (tm->month <= 2);
}

static int cron__day_ok(const cron_expr *c, const cron_tm *tm) {
    int dom = (c->mdays >> tm->mday) & 1;
    int dow = (c->wdays >> tm->wday) & 1;
    if (c->dom_star || c->dow_star) return dom && dow;
    return dom || dow;
}

int cron_matches(const cron_expr *c, int64_t t) {
    if (!c || t < 0 || t > CRON_MAX_UNIX) return 0;
    cron_tm tm;
    cron__split(t, &tm);
    return ((c->months >> tm.month) & 1) && cron__day_ok(c, &tm) && ((c->hours >> tm.hour) & 1) &&
           ((c->minutes >> tm.minute) & 1);
}

int64_t cron_next(const cron_expr *c, int64_t after) {
    if (!c || after < 0 || after > CRON_MAX_UNIX) return -1;
    int64_t t = after - after % 60 + 60;
    cron_tm tm;
    cron__split(t, &tm);
    int64_t limit_year = tm.year + CRON_SEARCH_YEARS;
    /* Each step jumps to the start of the next candidate month, day, hour or minute. */
    while (t <= CRON_MAX_UNIX) {
        cron__split(t, &tm);
        if (tm.year > limit_year) return -1;
        if (!((c->months >> tm.month) & 1)) {
            int64_t y = tm.year + (tm.month == 12);
            int m = tm.month == 12 ? 1 : tm.month + 1;
            t = cron__days_from_civil(y, m, 1) * 86400;
        } else if (!cron__day_ok(c, &tm)) {
            t = (t / 86400 + 1) * 86400;
        } else if (!((c->hours >> tm.hour) & 1)) {
            t = (t / 3600 + 1) * 3600;
        } else if (!((c->minutes >> tm.minute) & 1)) {
            t += 60;
        } else {
            return t;
        }
    }
    return -1;
}

int64_t cron_prev(const cron_expr *c, int64_t before) {
    if (!c || before <= 0 || before > CRON_MAX_UNIX + 1) return -1;
    int64_t t = (before - 1) - (before - 1) % 60;
    cron_tm tm;
    cron__split(t, &tm);
    int64_t limit_year = tm.year - CRON_SEARCH_YEARS;
    /* Each step jumps to the last minute of the previous candidate month, day or hour. */
    while (t >= 0) {
        cron__split(t, &tm);
        if (tm.year < limit_year) return -1;
        if (!((c->months >> tm.month) & 1)) {
            t = cron__days_from_civil(tm.year, tm.month, 1) * 86400 - 60;
        } else if (!cron__day_ok(c, &tm)) {
            t = (t / 86400) * 86400 - 60;
        } else if (!((c->hours >> tm.hour) & 1)) {
            t = (t / 3600) * 3600 - 60;
        } else if (!((c->minutes >> tm.minute) & 1)) {
            t -= 60;
        } else {
            return t;
        }
    }
    return -1;
}

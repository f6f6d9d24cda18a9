/* Axis ticks for charts (internal to workers/chart): "nice" numeric ticks and calendar ticks
 * on a date axis, plus calendar arithmetic on days since 1970-01-01. */
#ifndef ECONQ_WORKERS_CHART_AXIS_H
#define ECONQ_WORKERS_CHART_AXIS_H

#include <stddef.h>
#include <stdint.h>

#define CHART_AXIS_MAX_TICKS 32 /* more ticks than this never fit on an axis */

typedef struct chart_tick {
    double v; /* position in data units (days for a date axis) */
    char label[32];
} chart_tick;

/* Chooses ticks for [lo, hi] with about `target` intervals at 1, 2 or 5 times a power of ten.
 * Widens [*lo, *hi] to whole steps. Returns the number of ticks written (<= max). A zero-width
 * range is widened around its value first. */
size_t chart__nice_ticks(double *lo, double *hi, int target, chart_tick *ticks, size_t max);

/* Chooses calendar ticks (days, months, quarters or years) within [lo, hi] days, at most
 * `max_ticks`, labelled "2026-01-05", "Mar 2026", "2026 Q2" or "2026". Returns how many. */
size_t chart__date_ticks(double lo, double hi, int max_ticks, chart_tick *ticks, size_t max);

/* Formats a number for a tick label with `decimals` digits after the point and a thousands
 * separator ("12,500.5"); never "-0". chart__nice_ticks() adds M/B/T suffixes itself. */
void chart__format_number(double v, int decimals, char *buf, size_t len);

int64_t chart__days_from_civil(int64_t y, int m, int d);
void chart__civil_from_days(int64_t days, int64_t *y, int *m, int *d);

#endif

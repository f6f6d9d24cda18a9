/* Cron expressions: parsing and next/previous tick computation, pure and UTC only.
 *
 * Syntax (five fields, separated by spaces or tabs):
 *     minute(0-59) hour(0-23) day-of-month(1-31) month(1-12|JAN-DEC) day-of-week(0-7|SUN-SAT)
 * Each field is a comma-separated list of items: `*`, `N`, `A-B`, and any of those followed by
 * `/STEP` (`N/STEP` means N to the field's maximum). Names are case-insensitive and may be used
 * at either end of a range; 7 is Sunday as well as 0. Ranges must run upwards (`FRI-MON` is
 * refused rather than wrapped). The macros @hourly @daily @midnight @weekly @monthly @yearly
 * @annually stand for their usual five-field forms; @reboot is refused.
 *
 * Day rule (Vixie cron's, the one crontab(5) documents): if neither the day-of-month nor the
 * day-of-week field starts with `*`, a day matches when EITHER matches; otherwise both must.
 * So `0 0 13 * FRI` fires on every 13th and every Friday, while `0 0 * * FRI` fires on Fridays.
 * A stepped star (every second day, written star-slash-2) counts as starting with `*`, so with a
 * day-of-week of FRI it fires on Fridays that fall on an odd day of the month. */
#ifndef ECONQ_BROKER_CRON_H
#define ECONQ_BROKER_CRON_H

#include <stddef.h>
#include <stdint.h>

#include "common/eq_err.h"

/* Longest expression accepted, in bytes; schedules come from API clients. */
#define CRON_EXPR_MAX_LEN 256

/* How far cron_next()/cron_prev() search before giving up on an expression that can never
 * match (e.g. `0 0 30 2 *`). Feb 29 needs up to 8 years (2096 -> 2104), so 10 is enough for
 * every satisfiable expression. */
#define CRON_SEARCH_YEARS 10

/* Times are accepted between 1970-01-01 and the end of 9999 (UTC). */
#define CRON_MAX_UNIX INT64_C(253402300799)

/* A parsed expression: bit i of each mask set when value i matches. */
typedef struct cron_expr {
    uint64_t minutes; /* bits 0..59 */
    uint32_t hours;   /* bits 0..23 */
    uint32_t mdays;   /* bits 1..31 */
    uint16_t months;  /* bits 1..12 */
    uint8_t wdays;    /* bits 0..6, 0 = Sunday */
    uint8_t dom_star; /* day-of-month field started with '*' */
    uint8_t dow_star; /* day-of-week field started with '*' */
} cron_expr;

/* Parses `expr` (NUL-terminated) into `*out`. On failure returns EQ_EINVAL (or EQ_ETOOBIG for
 * an over-long expression) and writes a message naming the bad field to `err` (if errlen > 0),
 * e.g. "minute field: 61 is out of range 0-59". `*out` is written only on success. */
eq_err cron_parse(const char *expr, cron_expr *out, char *err, size_t errlen);

/* Returns the first matching minute (unix seconds, a multiple of 60) strictly after `after`,
 * or -1 when there is none within CRON_SEARCH_YEARS or `after` is outside [0, CRON_MAX_UNIX]. */
int64_t cron_next(const cron_expr *c, int64_t after);

/* Returns the last matching minute strictly before `before`, or -1 as for cron_next().
 * Useful to find whether a tick was missed: cron_prev(c, now) > last_run. */
int64_t cron_prev(const cron_expr *c, int64_t before);

/* Returns 1 if the minute containing `t` matches `c`, else 0. */
int cron_matches(const cron_expr *c, int64_t t);

#endif

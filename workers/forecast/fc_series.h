/* A time series as the engine sees it: finite values on a regular calendar.
 * Parsing turns the job's {"dates": [...], "values": [...]} into an fc_series, infers the
 * frequency from the dates and applies the missing-value policy:
 *   - leading and trailing nulls are trimmed (with their dates);
 *   - interior nulls are filled by linear interpolation between the neighbouring
 *     observations (FC_MISSING_INTERPOLATE, the default) or refused (FC_MISSING_ERROR).
 * Dates are "YYYY-MM-DD", strictly increasing. Annual, quarterly and monthly series must
 * step by exactly one period (day of month ignored); weekly ones by 7 days; daily ones may
 * skip days (business days) and are continued one calendar day at a time. */
#ifndef ECONQ_WORKERS_FORECAST_FC_SERIES_H
#define ECONQ_WORKERS_FORECAST_FC_SERIES_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "workers/forecast/fc_model.h"

/* A series longer than this is refused (series_too_long): the engine is O(n) per fit but
 * the job's JSON and the result must stay reasonable. */
#define FC_MAX_SERIES_POINTS 100000

typedef enum fc_freq {
    FC_FREQ_ANNUAL,
    FC_FREQ_QUARTERLY,
    FC_FREQ_MONTHLY,
    FC_FREQ_WEEKLY,
    FC_FREQ_DAILY,
} fc_freq;

typedef enum fc_missing {
    FC_MISSING_INTERPOLATE,
    FC_MISSING_ERROR,
} fc_missing;

typedef struct fc_series {
    double *y;     /* n values, all finite */
    int64_t *day;  /* n dates as days since 1970-01-01 */
    size_t n;
    fc_freq freq;
    int period;    /* seasonal period used by the models: 1, 4, 12, 52 or 7 */
} fc_series;

/* Parses `series` (borrowed). `frequency` may be NULL to infer it. On success `out` owns
 * its arrays (fc_series_fini). On bad input returns EQ_EINVAL and fills `err`. */
eq_err fc_series_parse(const cJSON *series, const char *frequency, fc_missing missing,
                       fc_series *out, fc_job_error *err);
void fc_series_fini(fc_series *s);

/* Writes the date `step` periods after the last observation (step >= 1) as "YYYY-MM-DD". */
void fc_series_future_date(const fc_series *s, size_t step, char out[11]);

/* "annual", "quarterly", ... */
const char *fc_freq_name(fc_freq f);
/* Parses a frequency name ("annual"/"yearly", "quarterly", "monthly", "weekly", "daily"). */
eq_err fc_freq_parse(const char *name, fc_freq *out);
/* The seasonal period of a frequency. */
int fc_freq_period(fc_freq f);

/* Parses a strict "YYYY-MM-DD" date into days since 1970-01-01. */
eq_err fc_date_parse(const char *s, int64_t *day);
/* Formats days since 1970-01-01 as "YYYY-MM-DD". */
void fc_date_format(int64_t day, char out[11]);

#endif

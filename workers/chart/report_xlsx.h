/* Excel reports of forecasts (libxlsxwriter), shared by batch results and the `report` job.
 *
 * The workbook has a "Summary" sheet (Series, Method, Model, MASE, sMAPE, RMSE, Error, Sheet)
 * and one sheet per series with the columns Date | Actual | Forecast | Lo L | Hi L ... (one
 * Lo/Hi pair per interval level, in ascending level order, e.g. Lo 80 | Hi 80 | Lo 95 | Hi 95),
 * dates as real Excel dates (1900 date system, format yyyy-mm-dd) and values as numbers (NaN is
 * left blank), plus a native Excel line chart of history, forecast and bounds. Only values are
 * written, never formulas, so readers that do not recalculate see the real numbers.
 *
 * Dates before 1900-03-01 cannot be Excel dates; a series with such a date gets its Date column
 * written as ISO text ("1821-01-01") instead.
 *
 * Sheet names are made from series names: []:*?/\ become '_', leading and trailing apostrophes
 * are dropped, the name is cut to 31 characters, and clashes (case-insensitive, with "Summary"
 * and Excel's reserved "History" too) get a " (2)", " (3)"... suffix. */
#ifndef ECONQ_WORKERS_REPORT_XLSX_H
#define ECONQ_WORKERS_REPORT_XLSX_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "common/eq_err.h"

#define REPORT_MAX_SERIES 10000      /* summary rows: a batch holds at most 10,000 jobs */
#define REPORT_MAX_DETAIL_SHEETS 500 /* series after this get a Summary row only */
#define REPORT_MAX_ROWS 100000       /* history + forecast rows per series sheet */
#define REPORT_MAX_LEVELS 10         /* interval levels per series (as a forecast job allows) */
#define REPORT_MAX_OUTPUT_BYTES (256u << 20) /* report_xlsx_write_mem() refuses larger files */

typedef struct report_interval {
    double level;                /* e.g. 80, 95 */
    const double *lower, *upper; /* nfc values each */
} report_interval;

/* One forecast result. All pointers are borrowed for the duration of the call. */
typedef struct report_series {
    const char *name;
    const double *hist_days, *hist_values; /* days since 1970-01-01 */
    size_t nhist;
    const double *fc_days, *point;
    size_t nfc;
    const report_interval *intervals;
    size_t nintervals;
    const char *method, *model; /* NULL when unknown */
    double mase, smape, rmse;   /* NaN when unknown */
    const char *error;          /* non-NULL for a failed series */
} report_series;

/* Writes the workbook for `n` series to `path` (created or truncated).
 * Errors: EQ_EINVAL, EQ_ETOOBIG (a limit above), EQ_ENOMEM, EQ_EIO; message in err. */
eq_err report_xlsx_write_file(const report_series *series, size_t n, const char *path, char *err,
                              size_t errlen);

/* As report_xlsx_write_file(), into memory: *out is malloc'd (caller frees), *len its size.
 * libxlsxwriter 1.1.4 can only write files, so this goes through a private temporary file in
 * $TMPDIR (or /tmp) that is removed before returning. */
eq_err report_xlsx_write_mem(const report_series *series, size_t n, unsigned char **out,
                             size_t *len, char *err, size_t errlen);

/* A report_series read from JSON; owns its arrays and strings. */
typedef struct report_json_series {
    report_series s; /* points into the fields below */
    report_interval iv[REPORT_MAX_LEVELS];
    double *buf; /* every array, in one allocation */
    char *name, *method, *model, *error;
} report_json_series;

/* Fills `out` from one forecast:
 *   history: {"dates": ["YYYY-MM-DD", ...], "values": [number|null, ...]} or NULL;
 *   result:  a forecast job's result ({"dates", "point", "intervals": {"80": {"lower",
 *            "upper"}, ...}, "method", "model", "accuracy": {"mase", "smape", "rmse"}}) or
 *            NULL for a failed series;
 *   error:   the failure message, or NULL.
 * Strings are copied. On success release with report_json_series_fini(); on failure nothing
 * needs releasing. Errors: EQ_EINVAL (malformed, message in err), EQ_ETOOBIG, EQ_ENOMEM. */
eq_err report_series_from_json(const char *name, const cJSON *history, const cJSON *result,
                               const char *error, report_json_series *out, char *err,
                               size_t errlen);
void report_json_series_fini(report_json_series *s);

/* Writes a workbook for a JSON array of items {"name": "...", "history": {...} | null,
 * "result": {...} | null, "error": "..." | null} (the batch results endpoint's shape) into
 * memory, as report_xlsx_write_mem(). A malformed item is refused with its index in err. */
eq_err report_xlsx_from_json(const cJSON *items, unsigned char **out, size_t *len, char *err,
                             size_t errlen);

/* Makes the sheet name for `name` (see above) into `out` (at least 128 bytes), unique among
 * the `ntaken` names in `taken`. Exposed for tests. */
void report_sheet_name(const char *name, const char *const *taken, size_t ntaken, char *out,
                       size_t outlen);

#endif

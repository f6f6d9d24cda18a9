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

#include "common/eq_err.h"

#define REPORT_MAX_SERIES 10000       /* summary rows: a batch holds at most 10,000 jobs */
#define REPORT_MAX_DETAIL_SHEETS 500  /* series after this get a Summary row only */
#define REPORT_MAX_ROWS 100000        /* history + forecast rows per series sheet */
#define REPORT_MAX_LEVELS 4           /* interval levels per series */
#define REPORT_MAX_OUTPUT_BYTES (256u << 20) /* report_xlsx_write_mem() refuses larger files */

typedef struct report_interval {
    double level;                 /* e.g. 80, 95 */
    const double *lower, *upper;  /* nfc values each */
} report_interval;

/* One forecast result. All pointers are borrowed for the duration of the call. */
typedef struct report_series {
    const char *name;
    const double *hist_days, *hist_values;  /* days since 1970-01-01 */
    size_t nhist;
    const double *fc_days, *point;
    size_t nfc;
    const report_interval *intervals;
    size_t nintervals;
    const char *method, *model;             /* NULL when unknown */
    double mase, smape, rmse;               /* NaN when unknown */
    const char *error;                      /* non-NULL for a failed series */
} report_series;

/* Writes the workbook for `n` series to `path` (created or truncated).
 * Errors: EQ_EINVAL, EQ_ETOOBIG (a limit above), EQ_ENOMEM, EQ_EIO; message in err. */
eq_err report_xlsx_write_file(const report_series *series, size_t n, const char *path,
                              char *err, size_t errlen);

/* As report_xlsx_write_file(), into memory: *out is malloc'd (caller frees), *len its size.
 * libxlsxwriter 1.1.4 can only write files, so this goes through a private temporary file in
 * $TMPDIR (or /tmp) that is removed before returning. */
eq_err report_xlsx_write_mem(const report_series *series, size_t n, unsigned char **out,
                             size_t *len, char *err, size_t errlen);

/* Makes the sheet name for `name` (see above) into `out` (at least 128 bytes), unique among
 * the `ntaken` names in `taken`. Exposed for tests. */
void report_sheet_name(const char *name, const char *const *taken, size_t ntaken, char *out,
                       size_t outlen);

#endif

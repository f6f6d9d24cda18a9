/* Shared between the files of api/upload; not part of the public API.
 * Each format parser (CSV, XLSX, XLS) fills an up_grid of typed cells; upload__table_build()
 * then infers column types, the date column and the frequency, the same way for every format. */
#ifndef ECONQ_API_UPLOAD_UPLOAD_INTERNAL_H
#define ECONQ_API_UPLOAD_UPLOAD_INTERNAL_H

#include <stdint.h>

#include "api/upload/upload.h"

typedef enum up_cell_kind {
    UP_CELL_TEXT,   /* text: parsed later as a date, number or missing token */
    UP_CELL_NUMBER, /* a typed number (spreadsheets) */
    UP_CELL_DATE,   /* a typed date; num is days since 1970-01-01 */
    UP_CELL_BOOL,   /* num is 0 or 1 */
    UP_CELL_ERROR   /* a spreadsheet error value (#N/A, #DIV/0!): missing */
} up_cell_kind;

#define UP_CELL_INLINE 16 /* texts shorter than this live inside the cell (most numbers) */

/* 40 bytes; a grid holds at most max_cells of them. */
typedef struct up_cell {
    uint32_t row, col; /* row 0 is the header */
    up_cell_kind kind;
    union {
        double num; /* every kind but UP_CELL_TEXT */
        char *text; /* UP_CELL_TEXT longer than the inline buffer, owned; else NULL */
    };
    char small[UP_CELL_INLINE];
} up_cell;

/* The text of a UP_CELL_TEXT cell (not stable across grid growth: use it, do not keep it). */
static inline const char *up_cell_text(const up_cell *c)
{
    return c->text != NULL ? c->text : c->small;
}

typedef struct up_grid {
    up_cell *cells;
    size_t n, cap;
    uint32_t nrows, ncols; /* 1 + the largest index seen */
    int decimal_comma_ok;  /* CSV with ';' or tab delimiter: "1,5" may mean 1.5 */
    const upload_limits *lim;
} up_grid;

void upload__grid_init(up_grid *g, const upload_limits *l);
void upload__grid_fini(up_grid *g);
/* Adds a cell, enforcing the row, column, cell-count and cell-length limits. `text` is copied
 * (textlen bytes) for UP_CELL_TEXT; empty text is not stored (an empty cell). */
eq_err upload__grid_put(up_grid *g, size_t row, size_t col, up_cell_kind kind, double num,
                        const char *text, size_t textlen, upload_error *err);
/* Builds the table from the grid (row 0 = header); empties the grid. */
eq_err upload__table_build(up_grid *g, const char *kind, ds_table **out, upload_error *err);

eq_err upload__csv_parse(const void *buf, size_t len, up_grid *g, upload_error *err);
eq_err upload__xlsx_parse(const void *buf, size_t len, up_grid *g, upload_error *err);
eq_err upload__xls_parse(const void *buf, size_t len, up_grid *g, upload_error *err);

/* Sets err (if not NULL) and returns `ret`. */
eq_err upload__fail(upload_error *err, eq_err ret, int status, const char *type,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Values (upload_values.c). All take a NUL-terminated string and ignore surrounding blanks. */
int upload__is_missing(const char *s);
/* Parses a number; decimal_comma selects "1.234,5" over "1,234.5". Returns 1 on success. */
int upload__parse_number(const char *s, int decimal_comma, double *v);
/* Parses YYYY-MM-DD (also '/' and an ignored time part), YYYY-MM, YYYYQn, YYYY-Qn, YYYYMmm and,
 * when allow_year, YYYY. Returns 1 and the day count on success. */
int upload__parse_date(const char *s, int allow_year, double *days);
/* Days since 1970-01-01 of a civil date (proleptic Gregorian). */
int64_t upload__days_from_civil(int64_t y, unsigned m, unsigned d);
/* Converts an Excel serial date to days since 1970-01-01 (time of day dropped); NaN when out
 * of range. In the 1900 system serial 60 is Excel's fictitious 1900-02-29 and maps to
 * 1900-03-01; serials below 60 are shifted by one day so 1 is 1900-01-01. */
double upload__excel_days(double serial, int date1904);
/* Length of the longest valid UTF-8 prefix of s (len when all of it is valid). */
size_t upload__utf8_prefix(const unsigned char *s, size_t len);
/* A header name that allows plain YYYY integers to be read as dates ("date", "year", ...). */
int upload__dateish_name(const char *name);

#endif

/* Dataset uploads: validation and parsing of CSV, XLSX and XLS files into a typed table.
 *
 * This folder owns only pure parsing: every entry point takes bytes in memory and returns a
 * table or an upload_error; nothing here touches the network, the store or global state, so
 * each parser can be driven by a fuzzer. The one exception to "memory only" is XLS: libfreexl
 * reads only from a path and, as mutation testing showed, misbehaves on corrupt files, so
 * upload_parse() writes XLS bytes to a private temporary file made with mkostemp() (mode 0600,
 * in $TMPDIR or /tmp, its name unlinked at once) and runs freexl in a forked child that opens
 * it through /proc/self/fd and streams the cells back over a pipe (see upload_xls.c).
 *
 * Every refusal fills an upload_error with an HTTP status and a stable slug (`type`) meant for
 * a problem+json body; the slugs are listed in README.md beside this header and never change
 * meaning. Nothing is kept from a refused upload. */
#ifndef ECONQ_API_UPLOAD_UPLOAD_H
#define ECONQ_API_UPLOAD_UPLOAD_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "common/eq_err.h"

/* Default limits; each can be changed per call through upload_limits. */
#define UPLOAD_MAX_BYTES (10u * 1024u * 1024u) /* whole file (raw body or multipart part) */
#define UPLOAD_MAX_ROWS 1000000u               /* data rows, the header excluded */
#define UPLOAD_MAX_COLS 1000u                  /* columns */
#define UPLOAD_MAX_CELLS 4000000u              /* rows x columns of the grid, bounds memory */
#define UPLOAD_MAX_CELL_BYTES 4096u            /* one cell's text after decoding */
#define UPLOAD_XLSX_MAX_ENTRIES 1000u          /* files inside an .xlsx archive */
#define UPLOAD_XLSX_MAX_UNCOMPRESSED (200ull * 1024u * 1024u) /* sum of entry sizes */
#define UPLOAD_XLSX_MAX_RATIO 100.0            /* uncompressed/compressed, per large entry */
#define UPLOAD_XLSX_RATIO_MIN_BYTES (1024u * 1024u) /* entries smaller than this skip the ratio check */
#define UPLOAD_NAME_MAX 100u                   /* bytes of a cleaned dataset name */
#define UPLOAD_NAME_MAX_INPUT 1024u            /* a longer raw name is refused, not truncated */

typedef enum ds_type { DS_TYPE_NUMBER, DS_TYPE_DATE, DS_TYPE_TEXT } ds_type;

/* One column. NUMBER: num[i] is the value, NaN when missing. DATE: num[i] is the day count
 * since 1970-01-01 (negative before), NaN when missing. TEXT: text[i] is a UTF-8 string,
 * NULL when missing. The array that does not apply is NULL. */
typedef struct ds_column {
    char *name;     /* unique within the table, UTF-8, never empty */
    ds_type type;
    size_t missing; /* number of missing values */
    double *num;
    char **text;
} ds_column;

typedef struct ds_table {
    size_t nrows, ncols;
    ds_column *cols;
    int date_col;       /* index of the first DATE column, -1 if none */
    char frequency[16]; /* "annual","quarterly","monthly","weekly","daily","irregular","" */
    char kind[8];       /* "csv","xlsx","xls" */
} ds_table;

typedef struct upload_limits {
    size_t max_bytes;
    size_t max_rows;
    size_t max_cols;
    size_t max_cells;
    size_t max_cell_bytes;
    size_t xlsx_max_entries;
    uint64_t xlsx_max_uncompressed;
    double xlsx_max_ratio;
} upload_limits;

typedef struct upload_error {
    int status;       /* HTTP status: 400, 413, 415 or 422 */
    char type[48];    /* stable slug, e.g. "archive-bomb" */
    char detail[256]; /* human-readable, safe to echo to the client */
} upload_error;

/* Fills `l` with the UPLOAD_* defaults above. */
void upload_limits_defaults(upload_limits *l);

/* Validates and parses one uploaded file. `kind` is "csv", "xlsx" or "xls" as claimed by the
 * Content-Type or the filename (see upload_kind_from_type()); the magic number is checked
 * against it before anything else. The first row is the header. On EQ_OK, *out is a new table
 * (caller frees with ds_table_free()); otherwise *out is NULL and `err` says why. `err` may
 * be NULL. Returns EQ_ETOOBIG for size limits, EQ_ENOMEM, EQ_EIO (temporary file for XLS),
 * EQ_EUNSUPPORTED for an unknown kind, and EQ_EINVAL for every other refusal. */
eq_err upload_parse(const void *buf, size_t len, const char *kind, const upload_limits *l,
                    ds_table **out, upload_error *err);

void ds_table_free(ds_table *t);

/* Returns the column named `name`, or NULL. */
const ds_column *ds_table_column(const ds_table *t, const char *name);

/* Cleans a user-given dataset name into `out` (NUL-terminated, at most outlen-1 bytes and
 * never more than UPLOAD_NAME_MAX). A name is a label, never a path.
 * Refused (EQ_EINVAL, 400 "invalid-name"): NULL, input longer than UPLOAD_NAME_MAX_INPUT bytes,
 * invalid UTF-8, control characters (U+0000-U+001F except tab, U+007F-U+009F), an empty result.
 * Cleaned: everything up to the last '/' or '\\' is dropped (browsers send "C:\fakepath\x.csv");
 * runs of two or more dots become one dot (so ".." never survives); leading dots and
 * surrounding white space are removed; inner runs of white space become one space; a result
 * longer than UPLOAD_NAME_MAX bytes (or outlen-1) is cut at a UTF-8 character boundary. */
eq_err upload_clean_name(const char *in, char *out, size_t outlen, upload_error *err);

/* Kind ("csv", "xlsx", "xls") from a Content-Type value (parameters ignored, case-insensitive)
 * or, when the type is absent, generic (application/octet-stream) or unknown, from the suffix
 * of `filename`. Either argument may be NULL. Returns NULL when neither tells. */
const char *upload_kind_from_type(const char *content_type, const char *filename);

/* One part of a multipart/form-data body. The strings are copied (NUL-terminated, empty when
 * absent); `data` points into the body given to multipart_parse() and lives as long as it. */
#define MULTIPART_MAX_HEADER_BYTES 8192u /* header block of one part */
#define MULTIPART_MAX_BOUNDARY 70u       /* RFC 2046 */
typedef struct multipart_part {
    char name[128];
    char filename[256];
    char content_type[128];
    const unsigned char *data;
    size_t len;
} multipart_part;

/* Splits a multipart/form-data body. `content_type_header` is the request's Content-Type with
 * its boundary parameter. Fills up to `max_parts` parts and sets *nparts. Refusals (EQ_EINVAL,
 * 400): "missing-boundary", "malformed-multipart", "too-many-parts". */
eq_err multipart_parse(const char *content_type_header, const void *body, size_t len,
                       multipart_part *parts, size_t max_parts, size_t *nparts,
                       upload_error *err);

/* Stable binary encoding for storage, version byte first (DS_CODEC_VERSION), integers and
 * doubles little-endian. *out is malloc'd (caller frees). */
#define DS_CODEC_VERSION 1
eq_err ds_table_encode(const ds_table *t, unsigned char **out, size_t *len);
/* Decodes and fully validates an encoding; EQ_EPROTO if malformed or of another version.
 * *out is new (caller frees with ds_table_free()). */
eq_err ds_table_decode(const void *buf, size_t len, ds_table **out);

/* JSON description: {"kind","rows","frequency","date_column","start","end","columns":[{"name",
 * "type","missing"}...]}; with_stats adds per column "count" and, for numbers "min","max",
 * "mean","sd" (sample, n-1; null when undefined), for dates "first","last". Caller frees
 * with cJSON_Delete(); NULL only when out of memory. */
cJSON *ds_table_describe(const ds_table *t, int with_stats);

/* The values of one column for GET /v1/datasets/{id}/columns/{name}:
 * {"name","type","missing","values":[...]} (numbers, "YYYY-MM-DD" strings or text; null when
 * missing) plus "dates" (the date column, row for row) when the table has one and it is not
 * this column. NULL when there is no such column or memory ran out. Caller cJSON_Delete()s. */
cJSON *ds_column_json(const ds_table *t, const char *column);

/* The inline series a forecast job takes, {"dates": ["YYYY-MM-DD", ...], "values": [x|null]},
 * from NUMBER column `column` against the table's date column, in increasing date order;
 * rows without a date are left out. Refusals: EQ_ENOTFOUND 404 "column-not-found"; EQ_EINVAL
 * 422 "column-not-numeric", "no-date-column", "duplicate-dates". *out is new on EQ_OK. */
eq_err ds_table_series_json(const ds_table *t, const char *column, cJSON **out,
                            upload_error *err);

/* Writes a day count since 1970-01-01 as YYYY-MM-DD into out (at least 11 bytes); an empty
 * string for NaN or a date outside the years 0000-9999. */
void ds_date_format(double days, char *out, size_t outlen);

#endif

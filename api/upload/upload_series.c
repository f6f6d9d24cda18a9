/* Columns out of a stored table: the values of one column, and the inline series
 * {"dates", "values"} a forecast job takes when it names {"dataset", "column"}. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api/upload/upload_internal.h"

typedef struct dated_row {
    double day;
    size_t row;
} dated_row;

static int dated_row_cmp(const void *a, const void *b)
{
    const dated_row *x = a, *y = b;
    if (x->day != y->day)
        return x->day < y->day ? -1 : 1;
    return x->row < y->row ? -1 : x->row > y->row;
}

static cJSON *json_value(const ds_column *col, size_t r)
{
    char buf[16];
    switch (col->type) {
    case DS_TYPE_NUMBER:
        return isnan(col->num[r]) ? cJSON_CreateNull() : cJSON_CreateNumber(col->num[r]);
    case DS_TYPE_DATE:
        if (isnan(col->num[r]))
            return cJSON_CreateNull();
        ds_date_format(col->num[r], buf, sizeof buf);
        return cJSON_CreateString(buf);
    default:
        return col->text[r] == NULL ? cJSON_CreateNull() : cJSON_CreateString(col->text[r]);
    }
}

/* Appends the value of `col` at each row of `rows` (or every row when rows is NULL). */
static int add_values(cJSON *arr, const ds_column *col, const dated_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        cJSON *v = json_value(col, rows ? rows[i].row : i);
        if (v == NULL || !cJSON_AddItemToArray(arr, v)) {
            cJSON_Delete(v);
            return 0;
        }
    }
    return 1;
}

cJSON *ds_column_json(const ds_table *t, const char *column)
{
    const ds_column *col = ds_table_column(t, column);
    if (col == NULL)
        return NULL;
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    static const char *const types[] = {"number", "date", "text"};
    cJSON_AddStringToObject(o, "name", col->name);
    cJSON_AddStringToObject(o, "type", types[col->type]);
    cJSON_AddNumberToObject(o, "missing", (double)col->missing);
    cJSON *vals = cJSON_AddArrayToObject(o, "values");
    int ok = vals != NULL && add_values(vals, col, NULL, t->nrows);
    if (ok && t->date_col >= 0 && &t->cols[t->date_col] != col) {
        cJSON *dates = cJSON_AddArrayToObject(o, "dates");
        ok = dates != NULL && add_values(dates, &t->cols[t->date_col], NULL, t->nrows);
    }
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

eq_err ds_table_series_json(const ds_table *t, const char *column, cJSON **out,
                            upload_error *err)
{
    *out = NULL;
    const ds_column *col = ds_table_column(t, column);
    if (col == NULL)
        return upload__fail(err, EQ_ENOTFOUND, 404, "column-not-found",
                            "the dataset has no column named \"%.100s\"", column);
    if (col->type != DS_TYPE_NUMBER)
        return upload__fail(err, EQ_EINVAL, 422, "column-not-numeric",
                            "column \"%.100s\" does not hold numbers", column);
    if (t->date_col < 0)
        return upload__fail(err, EQ_EINVAL, 422, "no-date-column",
                            "the dataset has no date column to forecast against");
    const ds_column *dc = &t->cols[t->date_col];
    dated_row *rows = malloc((t->nrows ? t->nrows : 1) * sizeof *rows);
    if (rows == NULL)
        return upload__fail(err, EQ_ENOMEM, 500, "out-of-memory", "out of memory");
    size_t n = 0;
    for (size_t r = 0; r < t->nrows; r++)
        if (!isnan(dc->num[r]))
            rows[n++] = (dated_row){dc->num[r], r};
    qsort(rows, n, sizeof *rows, dated_row_cmp);
    for (size_t i = 1; i < n; i++) {
        if (rows[i].day == rows[i - 1].day) {
            char d[16];
            size_t a = rows[i - 1].row + 1, b = rows[i].row + 1;
            ds_date_format(rows[i].day, d, sizeof d);
            free(rows);
            return upload__fail(err, EQ_EINVAL, 422, "duplicate-dates",
                                "the date %s appears in data rows %zu and %zu", d, a, b);
        }
    }
    cJSON *o = cJSON_CreateObject();
    cJSON *dates = o ? cJSON_AddArrayToObject(o, "dates") : NULL;
    cJSON *vals = o ? cJSON_AddArrayToObject(o, "values") : NULL;
    int ok = dates != NULL && vals != NULL && add_values(dates, dc, rows, n) &&
             add_values(vals, col, rows, n);
    free(rows);
    if (!ok) {
        cJSON_Delete(o);
        return upload__fail(err, EQ_ENOMEM, 500, "out-of-memory", "out of memory");
    }
    *out = o;
    return EQ_OK;
}

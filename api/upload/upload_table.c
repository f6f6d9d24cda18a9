/* The cell grid every parser fills, and the inference that turns it into a ds_table:
 * column types, missing values, the date column and the frequency. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/upload/upload_internal.h"

#define NO_CELL UINT32_MAX

void upload__grid_init(up_grid *g, const upload_limits *l)
{
    memset(g, 0, sizeof *g);
    g->lim = l;
}

void upload__grid_fini(up_grid *g)
{
    for (size_t i = 0; i < g->n; i++)
        if (g->cells[i].kind == UP_CELL_TEXT)
            free(g->cells[i].text);
    free(g->cells);
    g->cells = NULL;
    g->n = g->cap = 0;
}

eq_err upload__grid_put(up_grid *g, size_t row, size_t col, up_cell_kind kind, double num,
                        const char *text, size_t textlen, upload_error *err)
{
    const upload_limits *l = g->lim;
    if (kind == UP_CELL_TEXT && textlen == 0)
        return EQ_OK;
    if (row > l->max_rows)
        return upload__fail(err, EQ_ETOOBIG, 413, "too-many-rows",
                            "more than %zu data rows", l->max_rows);
    if (col >= l->max_cols)
        return upload__fail(err, EQ_ETOOBIG, 413, "too-many-columns",
                            "more than %zu columns", l->max_cols);
    if (kind == UP_CELL_TEXT && textlen > l->max_cell_bytes)
        return upload__fail(err, EQ_ETOOBIG, 413, "cell-too-long",
                            "a cell in row %zu, column %zu is longer than %zu bytes", row + 1,
                            col + 1, l->max_cell_bytes);
    if (kind == UP_CELL_TEXT && upload__utf8_prefix((const unsigned char *)text, textlen) != textlen)
        return upload__fail(err, EQ_EINVAL, 422, "invalid-encoding",
                            "a cell in row %zu, column %zu is not valid UTF-8", row + 1, col + 1);
    if (g->n >= l->max_cells || g->n >= NO_CELL - 1)
        return upload__fail(err, EQ_ETOOBIG, 413, "too-many-cells",
                            "more than %zu cells", l->max_cells);
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 256;
        up_cell *c = realloc(g->cells, cap * sizeof *c);
        if (c == NULL)
            return upload__fail(err, EQ_ENOMEM, 500, "out-of-memory", "out of memory");
        g->cells = c;
        g->cap = cap;
    }
    up_cell *c = &g->cells[g->n];
    c->row = (uint32_t)row;
    c->col = (uint32_t)col;
    c->kind = kind;
    c->small[0] = '\0';
    if (kind != UP_CELL_TEXT)
        c->num = num;
    else
        c->text = NULL;
    if (kind == UP_CELL_TEXT && textlen < UP_CELL_INLINE) {
        memcpy(c->small, text, textlen);
        c->small[textlen] = '\0';
    } else if (kind == UP_CELL_TEXT) {
        c->text = malloc(textlen + 1);
        if (c->text == NULL)
            return upload__fail(err, EQ_ENOMEM, 500, "out-of-memory", "out of memory");
        memcpy(c->text, text, textlen);
        c->text[textlen] = '\0';
    }
    g->n++;
    if (row + 1 > g->nrows)
        g->nrows = (uint32_t)(row + 1);
    if (col + 1 > g->ncols)
        g->ncols = (uint32_t)(col + 1);
    return EQ_OK;
}

void ds_table_free(ds_table *t)
{
    if (t == NULL)
        return;
    for (size_t c = 0; c < t->ncols; c++) {
        ds_column *col = &t->cols[c];
        free(col->name);
        free(col->num);
        if (col->text != NULL)
            for (size_t r = 0; r < t->nrows; r++)
                free(col->text[r]);
        free(col->text);
    }
    free(t->cols);
    free(t);
}

const ds_column *ds_table_column(const ds_table *t, const char *name)
{
    for (size_t c = 0; c < t->ncols; c++)
        if (strcmp(t->cols[c].name, name) == 0)
            return &t->cols[c];
    return NULL;
}

/* Is this cell a missing value? */
static int cell_missing(const up_cell *c)
{
    return c == NULL || c->kind == UP_CELL_ERROR ||
           (c->kind == UP_CELL_TEXT && upload__is_missing(up_cell_text(c)));
}

/* The cells of one column (NULL = empty), rows 1.. that were kept. */
typedef struct col_view {
    const up_cell **cells;
    size_t n;
} col_view;

static int column_is_date(const col_view *v, int allow_year, double *out)
{
    size_t seen = 0;
    for (size_t i = 0; i < v->n; i++) {
        const up_cell *c = v->cells[i];
        double d = NAN;
        if (cell_missing(c)) {
            out[i] = NAN;
            continue;
        }
        if (c->kind == UP_CELL_DATE)
            d = c->num;
        else if (c->kind == UP_CELL_TEXT && upload__parse_date(up_cell_text(c), allow_year, &d))
            ;
        else if (c->kind == UP_CELL_NUMBER && allow_year && c->num == floor(c->num) &&
                 c->num >= 1000 && c->num <= 9999)
            d = (double)upload__days_from_civil((int64_t)c->num, 1, 1);
        else
            return 0;
        out[i] = d;
        seen++;
    }
    return seen > 0;
}

static int column_is_number(const col_view *v, int decimal_comma, double *out)
{
    for (size_t i = 0; i < v->n; i++) {
        const up_cell *c = v->cells[i];
        double d;
        if (cell_missing(c))
            d = NAN;
        else if (c->kind == UP_CELL_NUMBER || c->kind == UP_CELL_BOOL)
            d = c->num;
        else if (c->kind == UP_CELL_TEXT && upload__parse_number(up_cell_text(c), decimal_comma, &d))
            ;
        else
            return 0;
        out[i] = d;
    }
    return 1;
}

/* Text of a non-missing cell, newly allocated. */
static char *cell_text(const up_cell *c)
{
    char buf[64];
    if (c->kind == UP_CELL_TEXT)
        return strdup(up_cell_text(c));
    if (c->kind == UP_CELL_DATE)
        ds_date_format(c->num, buf, sizeof buf);
    else if (c->kind == UP_CELL_BOOL)
        snprintf(buf, sizeof buf, "%s", c->num != 0 ? "TRUE" : "FALSE");
    else
        snprintf(buf, sizeof buf, "%.15g", c->num);
    return strdup(buf);
}

static eq_err fill_column(ds_column *col, const col_view *v, int decimal_comma_ok)
{
    int allow_year = upload__dateish_name(col->name);
    col->num = malloc((v->n ? v->n : 1) * sizeof *col->num);
    if (col->num == NULL)
        return EQ_ENOMEM;
    if (column_is_date(v, allow_year, col->num)) {
        col->type = DS_TYPE_DATE;
    } else if (column_is_number(v, 0, col->num) ||
               (decimal_comma_ok && column_is_number(v, 1, col->num))) {
        col->type = DS_TYPE_NUMBER;
    } else {
        free(col->num);
        col->num = NULL;
        col->type = DS_TYPE_TEXT;
        col->text = calloc(v->n ? v->n : 1, sizeof *col->text);
        if (col->text == NULL)
            return EQ_ENOMEM;
        for (size_t i = 0; i < v->n; i++) {
            if (cell_missing(v->cells[i])) {
                col->missing++;
            } else if ((col->text[i] = cell_text(v->cells[i])) == NULL) {
                return EQ_ENOMEM;
            }
        }
        return EQ_OK;
    }
    for (size_t i = 0; i < v->n; i++)
        col->missing += isnan(col->num[i]);
    return EQ_OK;
}

/* Header text of column c (0-based, for "column_N"), made unique among the nprev names. */
static char *column_name(const up_cell *h, size_t c, const ds_column *prev, size_t nprev)
{
    char base[256], name[300];
    if (h == NULL || cell_missing(h)) {
        if (h != NULL && h->kind == UP_CELL_TEXT && up_cell_text(h)[0] != '\0')
            snprintf(base, sizeof base, "%s", up_cell_text(h)); /* a header literally "NA" */
        else
            snprintf(base, sizeof base, "column_%zu", c + 1);
    } else {
        char *t = cell_text(h);
        if (t == NULL)
            return NULL;
        snprintf(base, sizeof base, "%s", t);
        free(t);
    }
    /* Trim blanks; keep the rest of the header as given (it is data, not a path). */
    char *b = base;
    while (*b == ' ' || *b == '\t')
        b++;
    size_t n = strlen(b);
    while (n > 0 && (b[n - 1] == ' ' || b[n - 1] == '\t' || b[n - 1] == '\r' || b[n - 1] == '\n'))
        b[--n] = '\0';
    if (*b == '\0')
        snprintf(b = base, sizeof base, "column_%zu", c + 1);
    snprintf(name, sizeof name, "%s", b);
    for (unsigned k = 2;; k++) {
        size_t i = 0;
        while (i < nprev && strcmp(prev[i].name, name) != 0)
            i++;
        if (i == nprev)
            break;
        snprintf(name, sizeof name, "%s_%u", b, k);
    }
    return strdup(name);
}

static void infer_frequency(ds_table *t)
{
    t->frequency[0] = '\0';
    if (t->date_col < 0)
        return;
    const double *d = t->cols[t->date_col].num;
    size_t nd = 0;
    double *diff = malloc((t->nrows ? t->nrows : 1) * sizeof *diff);
    if (diff == NULL)
        return;
    double prev = NAN;
    for (size_t i = 0; i < t->nrows; i++) {
        if (isnan(d[i]))
            continue;
        if (!isnan(prev))
            diff[nd++] = fabs(d[i] - prev);
        prev = d[i];
    }
    if (nd == 0) {
        free(diff);
        return;
    }
    static const struct {
        const char *name;
        double lo, hi;
    } classes[] = {{"daily", 1, 4},       {"weekly", 6, 8},    {"monthly", 28, 31},
                   {"quarterly", 89, 92}, {"annual", 365, 366}};
    size_t counts[5] = {0};
    for (size_t i = 0; i < nd; i++)
        for (size_t k = 0; k < 5; k++)
            if (diff[i] >= classes[k].lo && diff[i] <= classes[k].hi)
                counts[k]++;
    free(diff);
    /* The median falls in class k exactly when more than half of the gaps do; we ask for
     * three quarters so that a series with a few holes still counts and a mix does not. */
    snprintf(t->frequency, sizeof t->frequency, "irregular");
    for (size_t k = 0; k < 5; k++)
        if (counts[k] * 4 >= nd * 3)
            snprintf(t->frequency, sizeof t->frequency, "%s", classes[k].name);
}

eq_err upload__table_build(up_grid *g, const char *kind, ds_table **out, upload_error *err)
{
    eq_err rc = EQ_ENOMEM;
    uint32_t *idx = NULL;
    size_t *rowmap = NULL;
    const up_cell **cells = NULL;
    ds_table *t = NULL;
    *out = NULL;
    if (g->n == 0) {
        rc = upload__fail(err, EQ_EINVAL, 422, "empty-file", "the file holds no cells");
        goto done;
    }
    if ((size_t)g->nrows * g->ncols > g->lim->max_cells) {
        rc = upload__fail(err, EQ_ETOOBIG, 413, "too-many-cells",
                          "%u rows by %u columns is more than %zu cells", g->nrows, g->ncols,
                          g->lim->max_cells);
        goto done;
    }
    size_t R = g->nrows, C = g->ncols;
    idx = malloc(R * C * sizeof *idx);
    rowmap = calloc(R, sizeof *rowmap);
    t = calloc(1, sizeof *t);
    if (idx == NULL || rowmap == NULL || t == NULL)
        goto nomem;
    memset(idx, 0xff, R * C * sizeof *idx);
    for (size_t i = 0; i < g->n; i++)
        idx[(size_t)g->cells[i].row * C + g->cells[i].col] = (uint32_t)i;
    /* Rows without a single cell (blank lines, gaps in a sheet) are dropped. */
    size_t kept = 0;
    for (size_t r = 1; r < R; r++) {
        size_t c = 0;
        while (c < C && idx[r * C + c] == NO_CELL)
            c++;
        if (c < C)
            rowmap[kept++] = r;
    }
    if (kept == 0) {
        rc = upload__fail(err, EQ_EINVAL, 422, "no-data-rows", "the file has no data rows");
        goto done;
    }
    cells = malloc(kept * sizeof *cells);
    t->cols = calloc(C, sizeof *t->cols);
    if (cells == NULL || t->cols == NULL)
        goto nomem;
    t->nrows = kept;
    t->date_col = -1;
    snprintf(t->kind, sizeof t->kind, "%s", kind);
    for (size_t c = 0; c < C; c++) {
        const up_cell *h = idx[c] == NO_CELL ? NULL : &g->cells[idx[c]];
        size_t nonempty = 0;
        for (size_t i = 0; i < kept; i++) {
            uint32_t k = idx[rowmap[i] * C + c];
            cells[i] = k == NO_CELL ? NULL : &g->cells[k];
            nonempty += cells[i] != NULL;
        }
        if (h == NULL && nonempty == 0)
            continue; /* a column that is empty from top to bottom, header included */
        ds_column *col = &t->cols[t->ncols];
        if ((col->name = column_name(h, c, t->cols, t->ncols)) == NULL)
            goto nomem;
        t->ncols++; /* owned by t from here, so freed on failure */
        col_view v = {cells, kept};
        if (fill_column(col, &v, g->decimal_comma_ok) != EQ_OK)
            goto nomem;
        if (col->type == DS_TYPE_DATE && t->date_col < 0)
            t->date_col = (int)(t->ncols - 1);
    }
    size_t numeric = 0;
    for (size_t c = 0; c < t->ncols; c++)
        numeric += t->cols[c].type == DS_TYPE_NUMBER;
    if (numeric == 0) {
        rc = upload__fail(err, EQ_EINVAL, 422, "no-numeric-column",
                          "no column holds numbers only");
        goto done;
    }
    infer_frequency(t);
    *out = t;
    t = NULL;
    rc = EQ_OK;
    goto done;
nomem:
    rc = upload__fail(err, EQ_ENOMEM, 500, "out-of-memory", "out of memory");
done:
    ds_table_free(t);
    free(cells);
    free(rowmap);
    free(idx);
    upload__grid_fini(g);
    return rc;
}

/* The stored form of a table and its JSON description.
 *
 * Encoding, version DS_CODEC_VERSION (1), all integers little-endian:
 *   u8 version | u8 kind_len, kind | u8 freq_len, frequency | i32 date_col | u64 nrows |
 *   u32 ncols | per column: u32 name_len, name | u8 type | u64 missing | values
 * values: NUMBER and DATE, nrows IEEE-754 doubles as u64 bits; TEXT, per row u32 len
 * (0xFFFFFFFF = missing) and the bytes. decode checks every length against what remains
 * before allocating, so a hostile record cannot make it allocate more than its own size. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/upload/upload_internal.h"

#define TEXT_MISSING 0xFFFFFFFFu

typedef struct wbuf {
    unsigned char *p;
    size_t len, cap;
    int oom;
} wbuf;

static void put(wbuf *w, const void *src, size_t n)
{
    if (w->oom)
        return;
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap : 256;
        while (cap < w->len + n)
            cap *= 2;
        unsigned char *q = realloc(w->p, cap);
        if (q == NULL) {
            w->oom = 1;
            return;
        }
        w->p = q;
        w->cap = cap;
    }
    memcpy(w->p + w->len, src, n);
    w->len += n;
}

static void put_le(wbuf *w, uint64_t v, size_t n)
{
    unsigned char b[8];
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    put(w, b, n);
}

static void put_f64(wbuf *w, double d)
{
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    put_le(w, bits, 8);
}

eq_err ds_table_encode(const ds_table *t, unsigned char **out, size_t *len)
{
    wbuf w = {0};
    size_t kl = strnlen(t->kind, sizeof t->kind), fl = strnlen(t->frequency, sizeof t->frequency);
    put_le(&w, DS_CODEC_VERSION, 1);
    put_le(&w, kl, 1);
    put(&w, t->kind, kl);
    put_le(&w, fl, 1);
    put(&w, t->frequency, fl);
    put_le(&w, (uint32_t)(int32_t)t->date_col, 4);
    put_le(&w, t->nrows, 8);
    put_le(&w, t->ncols, 4);
    for (size_t c = 0; c < t->ncols; c++) {
        const ds_column *col = &t->cols[c];
        size_t nl = strlen(col->name);
        put_le(&w, nl, 4);
        put(&w, col->name, nl);
        put_le(&w, (uint64_t)col->type, 1);
        put_le(&w, col->missing, 8);
        for (size_t r = 0; r < t->nrows; r++) {
            if (col->type != DS_TYPE_TEXT) {
                put_f64(&w, col->num[r]);
            } else if (col->text[r] == NULL) {
                put_le(&w, TEXT_MISSING, 4);
            } else {
                size_t sl = strlen(col->text[r]);
                put_le(&w, sl, 4);
                put(&w, col->text[r], sl);
            }
        }
    }
    if (w.oom) {
        free(w.p);
        return EQ_ENOMEM;
    }
    *out = w.p;
    *len = w.len;
    return EQ_OK;
}

typedef struct rbuf {
    const unsigned char *p;
    size_t left;
} rbuf;

static int get_le(rbuf *r, size_t n, uint64_t *v)
{
    if (r->left < n)
        return 0;
    *v = 0;
    for (size_t i = 0; i < n; i++)
        *v |= (uint64_t)r->p[i] << (8 * i);
    r->p += n;
    r->left -= n;
    return 1;
}

/* Reads n bytes as a new NUL-terminated string. */
static char *get_str(rbuf *r, size_t n)
{
    if (r->left < n)
        return NULL;
    char *s = malloc(n + 1);
    if (s == NULL)
        return NULL;
    memcpy(s, r->p, n);
    s[n] = '\0';
    r->p += n;
    r->left -= n;
    return s;
}

static int get_fixed(rbuf *r, char *out, size_t outlen)
{
    uint64_t n;
    if (!get_le(r, 1, &n) || n >= outlen || r->left < n)
        return 0;
    memcpy(out, r->p, n);
    out[n] = '\0';
    r->p += n;
    r->left -= n;
    return 1;
}

eq_err ds_table_decode(const void *buf, size_t len, ds_table **out)
{
    rbuf r = {buf, len};
    uint64_t v, nrows, ncols;
    *out = NULL;
    ds_table *t = calloc(1, sizeof *t);
    if (t == NULL)
        return EQ_ENOMEM;
    eq_err rc = EQ_EPROTO;
    if (!get_le(&r, 1, &v) || v != DS_CODEC_VERSION || !get_fixed(&r, t->kind, sizeof t->kind) ||
        !get_fixed(&r, t->frequency, sizeof t->frequency) || !get_le(&r, 4, &v))
        goto fail;
    t->date_col = (int)(int32_t)(uint32_t)v;
    if (!get_le(&r, 8, &nrows) || !get_le(&r, 4, &ncols))
        goto fail;
    /* Each column takes at least 13 bytes plus 4 per row, so both counts are bounded by len. */
    if (ncols > r.left / 13 || (ncols == 0 && nrows != 0) || (ncols > 0 && nrows > r.left / 4) ||
        (t->date_col != -1 && (t->date_col < 0 || (uint64_t)t->date_col >= ncols)))
        goto fail;
    t->cols = calloc(ncols ? ncols : 1, sizeof *t->cols);
    if (t->cols == NULL)
        goto nomem;
    t->nrows = nrows;
    for (size_t c = 0; c < ncols; c++) {
        ds_column *col = &t->cols[c];
        uint64_t nl, type, missing;
        if (!get_le(&r, 4, &nl) || nl == 0 || nl > r.left)
            goto fail;
        if ((col->name = get_str(&r, nl)) == NULL)
            goto nomem;
        t->ncols++;
        if (!get_le(&r, 1, &type) || type > DS_TYPE_TEXT || !get_le(&r, 8, &missing) ||
            missing > nrows)
            goto fail;
        col->type = (ds_type)type;
        col->missing = missing;
        size_t counted = 0;
        if (col->type != DS_TYPE_TEXT) {
            if (nrows > r.left / 8)
                goto fail;
            if ((col->num = malloc((nrows ? nrows : 1) * sizeof *col->num)) == NULL)
                goto nomem;
            for (size_t i = 0; i < nrows; i++) {
                uint64_t bits = 0;
                if (!get_le(&r, 8, &bits))
                    goto fail;
                memcpy(&col->num[i], &bits, sizeof bits);
                counted += isnan(col->num[i]);
            }
        } else {
            if (nrows > r.left / 4)
                goto fail;
            if ((col->text = calloc(nrows ? nrows : 1, sizeof *col->text)) == NULL)
                goto nomem;
            for (size_t i = 0; i < nrows; i++) {
                uint64_t sl;
                if (!get_le(&r, 4, &sl))
                    goto fail;
                if (sl == TEXT_MISSING) {
                    counted++;
                    continue;
                }
                if (sl > r.left)
                    goto fail;
                if ((col->text[i] = get_str(&r, sl)) == NULL)
                    goto nomem;
            }
        }
        if (counted != missing)
            goto fail;
    }
    if (r.left != 0)
        goto fail;
    *out = t;
    return EQ_OK;
nomem:
    rc = EQ_ENOMEM;
fail:
    ds_table_free(t);
    return rc;
}

void ds_date_format(double days, char *out, size_t outlen)
{
    if (outlen == 0)
        return;
    out[0] = '\0';
    /* Years 0000-9999 only: days -719528 (0000-01-01) to 2932896 (9999-12-31). */
    if (isnan(days) || days < -719528 || days > 2932896 || outlen < 11)
        return;
    /* Howard Hinnant's civil_from_days. */
    long long z = (long long)floor(days) + 719468;
    long long era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long long y = (long long)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned d = doy - (153 * mp + 2) / 5 + 1;
    unsigned m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    /* Written by hand: the ranges are known, and snprintf's truncation warnings are not. */
    unsigned yy = (unsigned)y;
    char *o = out;
    *o++ = (char)('0' + yy / 1000 % 10);
    *o++ = (char)('0' + yy / 100 % 10);
    *o++ = (char)('0' + yy / 10 % 10);
    *o++ = (char)('0' + yy % 10);
    *o++ = '-';
    *o++ = (char)('0' + m / 10 % 10);
    *o++ = (char)('0' + m % 10);
    *o++ = '-';
    *o++ = (char)('0' + d / 10 % 10);
    *o++ = (char)('0' + d % 10);
    *o = '\0';
}

static const char *type_name(ds_type t)
{
    return t == DS_TYPE_NUMBER ? "number" : t == DS_TYPE_DATE ? "date" : "text";
}

/* Adds a number, or null when it is not finite (JSON has no NaN). */
static void add_num(cJSON *o, const char *k, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(o, k, v);
    else
        cJSON_AddNullToObject(o, k);
}

static void add_date(cJSON *o, const char *k, double days)
{
    char buf[16];
    if (isnan(days)) {
        cJSON_AddNullToObject(o, k);
        return;
    }
    ds_date_format(days, buf, sizeof buf);
    cJSON_AddStringToObject(o, k, buf);
}

static void column_stats(const ds_table *t, const ds_column *col, cJSON *o)
{
    size_t n = 0;
    double min = NAN, max = NAN, mean = 0, m2 = 0;
    if (col->type == DS_TYPE_TEXT) {
        cJSON_AddNumberToObject(o, "count", (double)(t->nrows - col->missing));
        return;
    }
    for (size_t i = 0; i < t->nrows; i++) {
        double x = col->num[i];
        if (isnan(x))
            continue;
        n++;
        if (n == 1 || x < min)
            min = x;
        if (n == 1 || x > max)
            max = x;
        double delta = x - mean; /* Welford's running mean and variance */
        mean += delta / (double)n;
        m2 += delta * (x - mean);
    }
    cJSON_AddNumberToObject(o, "count", (double)n);
    if (col->type == DS_TYPE_DATE) {
        add_date(o, "first", min);
        add_date(o, "last", max);
        return;
    }
    add_num(o, "min", min);
    add_num(o, "max", max);
    add_num(o, "mean", n ? mean : NAN);
    add_num(o, "sd", n > 1 ? sqrt(m2 / (double)(n - 1)) : NAN);
}

cJSON *ds_table_describe(const ds_table *t, int with_stats)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    cJSON_AddStringToObject(o, "kind", t->kind);
    cJSON_AddNumberToObject(o, "rows", (double)t->nrows);
    cJSON_AddNumberToObject(o, "ncolumns", (double)t->ncols);
    if (t->frequency[0] != '\0')
        cJSON_AddStringToObject(o, "frequency", t->frequency);
    else
        cJSON_AddNullToObject(o, "frequency");
    double start = NAN, end = NAN;
    if (t->date_col >= 0) {
        const ds_column *d = &t->cols[t->date_col];
        cJSON_AddStringToObject(o, "date_column", d->name);
        for (size_t i = 0; i < t->nrows; i++) {
            if (isnan(d->num[i]))
                continue;
            if (isnan(start) || d->num[i] < start)
                start = d->num[i];
            if (isnan(end) || d->num[i] > end)
                end = d->num[i];
        }
    } else {
        cJSON_AddNullToObject(o, "date_column");
    }
    add_date(o, "start", start);
    add_date(o, "end", end);
    cJSON *cols = cJSON_AddArrayToObject(o, "columns");
    for (size_t c = 0; cols != NULL && c < t->ncols; c++) {
        const ds_column *col = &t->cols[c];
        cJSON *jc = cJSON_CreateObject();
        if (jc == NULL || !cJSON_AddItemToArray(cols, jc)) {
            cJSON_Delete(jc);
            cJSON_Delete(o);
            return NULL;
        }
        cJSON_AddStringToObject(jc, "name", col->name);
        cJSON_AddStringToObject(jc, "type", type_name(col->type));
        cJSON_AddNumberToObject(jc, "missing", (double)col->missing);
        if (with_stats)
            column_stats(t, col, jc);
    }
    if (cols == NULL) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

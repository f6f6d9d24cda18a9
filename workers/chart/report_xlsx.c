/* Excel forecast reports with libxlsxwriter; see report_xlsx.h for the layout. */
#include "workers/chart/report_xlsx.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xlsxwriter.h>

#define REPORT_SHEET_CHARS 31           /* Excel's limit on a sheet name, in UTF-16 units */
#define REPORT_MAX_CELL_TEXT 1024       /* bytes of a name or error message written to a cell */
#define REPORT_EXCEL_EPOCH 25569.0      /* Excel serial of 1970-01-01 (1900 date system) */
#define REPORT_MIN_DATE_DAYS (-25508.0) /* 1900-03-01, first date Excel counts correctly */
#define REPORT_MAX_DATE_DAYS 2932896.0  /* 9999-12-31 */

static void report__errf(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Length in bytes of the valid UTF-8 sequence at s, or 0 if invalid. */
static size_t report__utf8_len(const unsigned char *s) {
    unsigned c = s[0];
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 2 && c < 0xc2) return 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80) return 0;
    return n;
}

/* Copies text for a cell: valid UTF-8 only, XML-forbidden control characters become spaces,
 * at most REPORT_MAX_CELL_TEXT bytes. */
static void report__clean_text(const char *src, char *dst, size_t cap) {
    const unsigned char *s = (const unsigned char *)(src ? src : "");
    size_t o = 0;
    while (*s && o + 5 < cap && o < REPORT_MAX_CELL_TEXT) {
        size_t n = report__utf8_len(s);
        if (n == 0) {
            dst[o++] = '?';
            s++;
        } else if (n == 1 && *s < 0x20 && *s != '\t' && *s != '\n') {
            dst[o++] = ' ';
            s++;
        } else {
            memcpy(dst + o, s, n);
            o += n;
            s += n;
        }
    }
    dst[o] = '\0';
}

/* Cuts `s` in place to at most `units` UTF-16 units (4-byte sequences count 2). */
static void report__cut_units(char *s, size_t units) {
    size_t i = 0, u = 0;
    while (s[i]) {
        size_t n = report__utf8_len((const unsigned char *)s + i);
        size_t w = n == 4 ? 2 : 1;
        if (n == 0 || u + w > units) break;
        u += w;
        i += n;
    }
    s[i] = '\0';
}

static int report__name_taken(const char *name, const char *const *taken, size_t ntaken) {
    if (strcasecmp(name, "Summary") == 0 || strcasecmp(name, "History") == 0) return 1;
    for (size_t i = 0; i < ntaken; i++)
        if (taken[i] && strcasecmp(name, taken[i]) == 0) return 1;
    return 0;
}

void report_sheet_name(const char *name, const char *const *taken, size_t ntaken, char *out,
                       size_t outlen) {
    char base[4 * REPORT_SHEET_CHARS + 8];
    size_t o = 0;
    const unsigned char *s = (const unsigned char *)(name ? name : "");
    while (*s && o + 5 < sizeof base) {
        size_t n = report__utf8_len(s);
        if (n == 0 || (n == 1 && (*s < 0x20 || strchr("[]:*?/\\", *s)))) {
            base[o++] = '_';
            s++;
            continue;
        }
        memcpy(base + o, s, n);
        o += n;
        s += n;
    }
    base[o] = '\0';
    report__cut_units(base, REPORT_SHEET_CHARS);
    /* Excel refuses names that begin or end with an apostrophe. */
    size_t lead = strspn(base, "'");
    memmove(base, base + lead, strlen(base + lead) + 1);
    for (size_t l = strlen(base); l > 0 && base[l - 1] == '\''; l--)
        base[l - 1] = '\0';
    if (base[0] == '\0') snprintf(base, sizeof base, "Series");

    char cand[4 * REPORT_SHEET_CHARS + 32];
    snprintf(cand, sizeof cand, "%s", base);
    for (unsigned k = 2; report__name_taken(cand, taken, ntaken) && k < 1000000; k++) {
        char suffix[16];
        int sl = snprintf(suffix, sizeof suffix, " (%u)", k);
        char cut[sizeof base];
        snprintf(cut, sizeof cut, "%s", base);
        report__cut_units(cut, REPORT_SHEET_CHARS - (size_t)sl);
        snprintf(cand, sizeof cand, "%s%s", cut, suffix);
    }
    snprintf(out, outlen, "%s", cand);
}

typedef struct report_ctx {
    lxw_workbook *wb;
    lxw_format *bold, *date, *num, *acc;
    lxw_error lerr; /* first libxlsxwriter error */
} report_ctx;

static void report__check(report_ctx *c, lxw_error e) {
    if (e != LXW_NO_ERROR && c->lerr == LXW_NO_ERROR) c->lerr = e;
}

static void report__number(report_ctx *c, lxw_worksheet *ws, lxw_row_t r, lxw_col_t col, double v,
                           lxw_format *f) {
    if (isfinite(v)) report__check(c, worksheet_write_number(ws, r, col, v, f));
}

static void report__text(report_ctx *c, lxw_worksheet *ws, lxw_row_t r, lxw_col_t col,
                         const char *s, lxw_format *f) {
    char buf[REPORT_MAX_CELL_TEXT + 8];
    report__clean_text(s, buf, sizeof buf);
    if (buf[0]) report__check(c, worksheet_write_string(ws, r, col, buf, f));
}

static eq_err report__validate(const report_series *ss, size_t n, char *err, size_t errlen) {
    if (n > REPORT_MAX_SERIES) {
        report__errf(err, errlen, "%zu series; the limit is %d", n, REPORT_MAX_SERIES);
        return EQ_ETOOBIG;
    }
    if (n && !ss) {
        report__errf(err, errlen, "no series array");
        return EQ_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        const report_series *s = &ss[i];
        if (s->nhist > REPORT_MAX_ROWS || s->nfc > REPORT_MAX_ROWS ||
            s->nhist + s->nfc > REPORT_MAX_ROWS) {
            report__errf(err, errlen, "series %zu has more than %d rows", i, REPORT_MAX_ROWS);
            return EQ_ETOOBIG;
        }
        if (s->nintervals > REPORT_MAX_LEVELS) {
            report__errf(err, errlen, "series %zu has more than %d interval levels", i,
                         REPORT_MAX_LEVELS);
            return EQ_ETOOBIG;
        }
        if ((s->nhist && (!s->hist_days || !s->hist_values)) ||
            (s->nfc && (!s->fc_days || !s->point)) || (s->nintervals && !s->intervals)) {
            report__errf(err, errlen, "series %zu is missing a data array", i);
            return EQ_EINVAL;
        }
        for (size_t k = 0; k < s->nintervals; k++) {
            if (s->nfc && (!s->intervals[k].lower || !s->intervals[k].upper)) {
                report__errf(err, errlen, "series %zu interval %zu has no bounds", i, k);
                return EQ_EINVAL;
            }
        }
    }
    return EQ_OK;
}

static int report__excel_date_ok(double d) {
    return isfinite(d) && d >= REPORT_MIN_DATE_DAYS && d <= REPORT_MAX_DATE_DAYS;
}

static void report__iso_date(double days, char *buf, size_t len) {
    if (!isfinite(days) || fabs(days) > 1e8) {
        snprintf(buf, len, "?");
        return;
    }
    int64_t z = (int64_t)floor(days) + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int d = (int)(doy - (153 * mp + 2) / 5 + 1);
    int m = (int)(mp < 10 ? mp + 3 : mp - 9);
    int64_t y = yoe + era * 400 + (m <= 2);
    snprintf(buf, len, "%04lld-%02d-%02d", (long long)y, m, d);
}

static int report__level_cmp(const void *a, const void *b) {
    double la = (*(const report_interval *const *)a)->level;
    double lb = (*(const report_interval *const *)b)->level;
    return la < lb ? -1 : la > lb ? 1 : 0;
}

/* Bound lines shade from a strong orange (the narrowest level) to a pale one (the widest). */
static lxw_color_t report__level_color(size_t k, size_t n) {
    static const int from[3] = {0xF0, 0x8C, 0x5A}, to[3] = {0xF8, 0xD4, 0xBE};
    double t = n > 1 ? (double)k / (double)(n - 1) : 0;
    lxw_color_t c = 0;
    for (int i = 0; i < 3; i++)
        c = (c << 8) | (lxw_color_t)(from[i] + (to[i] - from[i]) * t + 0.5);
    return c;
}

/* Writes one series sheet and its chart. */
static void report__series_sheet(report_ctx *c, lxw_worksheet *ws, const char *sheet,
                                 const report_series *s) {
    const report_interval *lv[REPORT_MAX_LEVELS];
    size_t nl = s->nintervals;
    for (size_t k = 0; k < nl; k++)
        lv[k] = &s->intervals[k];
    qsort(lv, nl, sizeof lv[0], report__level_cmp);

    report__text(c, ws, 0, 0, "Date", c->bold);
    report__text(c, ws, 0, 1, "Actual", c->bold);
    report__text(c, ws, 0, 2, "Forecast", c->bold);
    for (size_t k = 0; k < nl; k++) {
        char h[32];
        snprintf(h, sizeof h, "Lo %g", lv[k]->level);
        report__text(c, ws, 0, (lxw_col_t)(3 + 2 * k), h, c->bold);
        snprintf(h, sizeof h, "Hi %g", lv[k]->level);
        report__text(c, ws, 0, (lxw_col_t)(4 + 2 * k), h, c->bold);
    }
    int as_dates = 1;
    for (size_t i = 0; i < s->nhist; i++)
        as_dates &= report__excel_date_ok(s->hist_days[i]);
    for (size_t i = 0; i < s->nfc; i++)
        as_dates &= report__excel_date_ok(s->fc_days[i]);

    /* Merge history and forecast by date; a date in both shares one row. */
    size_t i = 0, j = 0;
    lxw_row_t row = 1;
    while (i < s->nhist || j < s->nfc) {
        int take_h = i < s->nhist && (j >= s->nfc || s->hist_days[i] <= s->fc_days[j]);
        int take_f = j < s->nfc && (i >= s->nhist || s->fc_days[j] <= s->hist_days[i]);
        double day = take_h ? s->hist_days[i] : s->fc_days[j];
        if (as_dates) {
            report__check(c, worksheet_write_number(ws, row, 0, day + REPORT_EXCEL_EPOCH, c->date));
        } else {
            char iso[32];
            report__iso_date(day, iso, sizeof iso);
            report__text(c, ws, row, 0, iso, NULL);
        }
        if (take_h) report__number(c, ws, row, 1, s->hist_values[i++], c->num);
        if (take_f) {
            report__number(c, ws, row, 2, s->point[j], c->num);
            for (size_t k = 0; k < nl; k++) {
                report__number(c, ws, row, (lxw_col_t)(3 + 2 * k), lv[k]->lower[j], c->num);
                report__number(c, ws, row, (lxw_col_t)(4 + 2 * k), lv[k]->upper[j], c->num);
            }
            j++;
        }
        row++;
    }
    lxw_col_t last_col = (lxw_col_t)(2 + 2 * nl);
    report__check(c, worksheet_set_column(ws, 0, 0, 12, NULL));
    report__check(c, worksheet_set_column(ws, 1, last_col, 11, NULL));
    worksheet_freeze_panes(ws, 1, 1);
    if (row <= 1) return;

    lxw_chart *ch = workbook_add_chart(c->wb, LXW_CHART_LINE);
    if (!ch) {
        report__check(c, LXW_ERROR_MEMORY_MALLOC_FAILED);
        return;
    }
    for (lxw_col_t col = 1; col <= last_col; col++) {
        lxw_chart_series *se = chart_add_series(ch, NULL, NULL);
        if (!se) {
            report__check(c, LXW_ERROR_MEMORY_MALLOC_FAILED);
            return;
        }
        chart_series_set_categories(se, sheet, 1, 0, row - 1, 0);
        chart_series_set_values(se, sheet, 1, col, row - 1, col);
        chart_series_set_name_range(se, sheet, 0, col);
        lxw_chart_line line = {.width = 2.0f};
        if (col == 1) {
            line.color = 0x1F5FA8;
        } else if (col == 2) {
            line.color = 0xD9480F;
        } else {
            line.color = report__level_color((size_t)(col - 3) / 2, nl);
            line.width = 1.25f;
            line.dash_type = LXW_CHART_LINE_DASH_DASH;
        }
        chart_series_set_line(se, &line);
    }
    char title[REPORT_MAX_CELL_TEXT + 8];
    report__clean_text(s->name && s->name[0] ? s->name : sheet, title, sizeof title);
    report__cut_units(title, 200);
    chart_title_set_name(ch, title);
    chart_legend_set_position(ch, LXW_CHART_LEGEND_BOTTOM);
    chart_show_blanks_as(ch, LXW_CHART_BLANKS_AS_GAP);
    if (as_dates) chart_axis_set_num_format(ch->x_axis, "yyyy-mm");
    lxw_chart_options opt = {.x_offset = 10, .y_offset = 10, .x_scale = 1.8, .y_scale = 1.6};
    report__check(c, worksheet_insert_chart_opt(ws, 1, (lxw_col_t)(last_col + 2), ch, &opt));
}

static void report__summary(report_ctx *c, lxw_worksheet *ws, const report_series *ss, size_t n,
                            char (*sheets)[128]) {
    static const char *const head[] = {"Series", "Method", "Model", "MASE",
                                       "sMAPE",  "RMSE",   "Error", "Sheet"};
    for (lxw_col_t k = 0; k < 8; k++)
        report__text(c, ws, 0, k, head[k], c->bold);
    for (size_t i = 0; i < n; i++) {
        const report_series *s = &ss[i];
        lxw_row_t r = (lxw_row_t)(i + 1);
        report__text(c, ws, r, 0, s->name && s->name[0] ? s->name : sheets[i], NULL);
        report__text(c, ws, r, 1, s->method, NULL);
        report__text(c, ws, r, 2, s->model, NULL);
        report__number(c, ws, r, 3, s->mase, c->acc);
        report__number(c, ws, r, 4, s->smape, c->acc);
        report__number(c, ws, r, 5, s->rmse, c->acc);
        report__text(c, ws, r, 6, s->error, NULL);
        if (sheets[i][0]) {
            /* Quote the name for the reference, doubling any apostrophe. */
            char url[300];
            size_t o = (size_t)snprintf(url, sizeof url, "internal:'");
            for (const char *p = sheets[i]; *p && o + 8 < sizeof url; p++) {
                if (*p == '\'') url[o++] = '\'';
                url[o++] = *p;
            }
            snprintf(url + o, sizeof url - o, "'!A1");
            report__check(c, worksheet_write_url_opt(ws, r, 7, url, NULL, sheets[i], NULL));
        }
    }
    report__check(c, worksheet_set_column(ws, 0, 0, 28, NULL));
    report__check(c, worksheet_set_column(ws, 1, 2, 16, NULL));
    report__check(c, worksheet_set_column(ws, 3, 5, 10, NULL));
    report__check(c, worksheet_set_column(ws, 6, 6, 40, NULL));
    report__check(c, worksheet_set_column(ws, 7, 7, 24, NULL));
    worksheet_freeze_panes(ws, 1, 0);
    report__check(c, worksheet_autofilter(ws, 0, 0, (lxw_row_t)n, 7));
}

eq_err report_xlsx_write_file(const report_series *ss, size_t n, const char *path, char *err,
                              size_t errlen) {
    eq_err rc;
    char(*sheets)[128] = NULL;
    const char **taken = NULL;
    if (err && errlen) err[0] = '\0';
    if (!path || !path[0]) {
        report__errf(err, errlen, "no output path");
        return EQ_EINVAL;
    }
    if ((rc = report__validate(ss, n, err, errlen)) != EQ_OK) return rc;
    sheets = calloc(n ? n : 1, sizeof *sheets);
    taken = calloc(n ? n : 1, sizeof *taken);
    if (!sheets || !taken) {
        rc = EQ_ENOMEM;
        goto fail_alloc;
    }
    report_ctx c = {0};
    c.wb = workbook_new(path);
    if (!c.wb) {
        report__errf(err, errlen, "cannot create the workbook");
        rc = EQ_ENOMEM;
        goto fail_alloc;
    }
    c.bold = workbook_add_format(c.wb);
    c.date = workbook_add_format(c.wb);
    c.num = workbook_add_format(c.wb);
    c.acc = workbook_add_format(c.wb);
    if (!c.bold || !c.date || !c.num || !c.acc) {
        report__check(&c, LXW_ERROR_MEMORY_MALLOC_FAILED);
    } else {
        format_set_bold(c.bold);
        format_set_num_format(c.date, "yyyy-mm-dd");
        format_set_num_format(c.num, "#,##0.00##");
        format_set_num_format(c.acc, "0.000");
    }
    lxw_worksheet *summary = workbook_add_worksheet(c.wb, "Summary");
    if (!summary) report__check(&c, LXW_ERROR_MEMORY_MALLOC_FAILED);
    size_t ndetail = 0;
    for (size_t i = 0; i < n && c.lerr == LXW_NO_ERROR; i++) {
        const report_series *s = &ss[i];
        if (s->nhist + s->nfc == 0 || ndetail == REPORT_MAX_DETAIL_SHEETS) continue;
        report_sheet_name(s->name, taken, ndetail, sheets[i], sizeof sheets[i]);
        taken[ndetail++] = sheets[i];
        lxw_worksheet *ws = workbook_add_worksheet(c.wb, sheets[i]);
        if (!ws) {
            report__errf(err, errlen, "sheet name '%s' refused", sheets[i]);
            report__check(&c, LXW_ERROR_SHEETNAME_ALREADY_USED);
            break;
        }
        report__series_sheet(&c, ws, sheets[i], s);
    }
    if (summary && c.lerr == LXW_NO_ERROR) report__summary(&c, summary, ss, n, sheets);
    lxw_error close_err = workbook_close(c.wb);
    report__check(&c, close_err);
    if (c.lerr != LXW_NO_ERROR) {
        if (!err || !err[0]) report__errf(err, errlen, "xlsx: %s", lxw_strerror(c.lerr));
        rc = c.lerr == LXW_ERROR_MEMORY_MALLOC_FAILED ? EQ_ENOMEM
             : c.lerr == LXW_ERROR_CREATING_XLSX_FILE || c.lerr == LXW_ERROR_CREATING_TMPFILE
                 ? EQ_EIO
                 : EQ_EINVAL;
        if (close_err != LXW_ERROR_CREATING_XLSX_FILE) unlink(path);
        goto fail_alloc;
    }
    rc = EQ_OK;
fail_alloc:
    free(taken);
    free(sheets);
    return rc;
}

eq_err report_xlsx_write_mem(const report_series *ss, size_t n, unsigned char **out, size_t *len,
                             char *err, size_t errlen) {
    eq_err rc;
    if (!out || !len) {
        report__errf(err, errlen, "no output");
        return EQ_EINVAL;
    }
    const char *dir = getenv("TMPDIR");
    char path[512];
    snprintf(path, sizeof path, "%s/econq-report-XXXXXX", dir && dir[0] ? dir : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0) {
        report__errf(err, errlen, "temporary file: %s", strerror(errno));
        return EQ_EIO;
    }
    close(fd);
    if ((rc = report_xlsx_write_file(ss, n, path, err, errlen)) != EQ_OK) goto fail_file;
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (!f || fstat(fileno(f), &st) != 0) {
        report__errf(err, errlen, "reading back: %s", strerror(errno));
        rc = EQ_EIO;
        goto fail_open;
    }
    if ((uint64_t)st.st_size > REPORT_MAX_OUTPUT_BYTES) {
        report__errf(err, errlen, "workbook larger than %u bytes", REPORT_MAX_OUTPUT_BYTES);
        rc = EQ_ETOOBIG;
        goto fail_open;
    }
    unsigned char *buf = malloc(st.st_size ? (size_t)st.st_size : 1);
    if (!buf) {
        rc = EQ_ENOMEM;
        goto fail_open;
    }
    if (fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
        free(buf);
        report__errf(err, errlen, "short read of the workbook");
        rc = EQ_EIO;
        goto fail_open;
    }
    fclose(f);
    unlink(path);
    *out = buf;
    *len = (size_t)st.st_size;
    return EQ_OK;

fail_open:
    if (f) fclose(f);
fail_file:
    unlink(path);
    return rc;
}

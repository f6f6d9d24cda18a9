/* chart_render(): lays out and draws a chart_spec with cairo into PNG or SVG bytes. */
#include "workers/chart/chart.h"

#include <cairo-svg.h>
#include <cairo.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workers/chart/chart_axis.h"

static const chart_theme chart_themes[2] = {
    {
        .background = 0xffffff,
        .text = 0x222222,
        .grid = 0xe3e3e3,
        .axis = 0x8a8a8a,
        .history = 0x1f5fa8,
        .forecast = 0xd9480f,
        .band_alpha = {0.16, 0.32, 0.30, 0.28, 0.26, 0.24, 0.22, 0.20, 0.18, 0.16},
        .palette = {0x1f5fa8, 0xd9480f, 0x2b8a3e, 0x7048e8, 0xc2255c, 0x0b7285, 0xe67700, 0x495057},
    },
    {
        .background = 0x1b1d21,
        .text = 0xe6e6e6,
        .grid = 0x33363c,
        .axis = 0x80848c,
        .history = 0x5aa9ff,
        .forecast = 0xff8c42,
        .band_alpha = {0.20, 0.38, 0.34, 0.30, 0.28, 0.26, 0.24, 0.22, 0.20, 0.18},
        .palette = {0x5aa9ff, 0xff8c42, 0x69db7c, 0xb197fc, 0xf783ac, 0x66d9e8, 0xffd43b, 0xced4da},
    },
};

const chart_theme *chart_theme_get(int dark) {
    return &chart_themes[dark ? 1 : 0];
}

/* Growable output buffer fed by cairo's stream writers. */
typedef struct chart_buf {
    unsigned char *p;
    size_t len, cap;
    int too_big, oom;
} chart_buf;

static cairo_status_t chart__write_cb(void *closure, const unsigned char *data, unsigned int n) {
    chart_buf *b = closure;
    if (b->len + n > CHART_MAX_OUTPUT_BYTES) {
        b->too_big = 1;
        return CAIRO_STATUS_WRITE_ERROR;
    }
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 65536;
        while (cap < b->len + n)
            cap *= 2;
        unsigned char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return CAIRO_STATUS_WRITE_ERROR;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    return CAIRO_STATUS_SUCCESS;
}

static void chart__errf(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Copies at most CHART_MAX_TEXT bytes of valid UTF-8 from `src`, replacing invalid bytes and
 * control characters with '?', so cairo never rejects a label. */
static void chart__clean_text(const char *src, char *dst, size_t cap) {
    size_t o = 0;
    const unsigned char *s = (const unsigned char *)(src ? src : "");
    while (*s && o + 5 < cap && o < CHART_MAX_TEXT) {
        unsigned c = *s;
        size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        int ok = n > 0;
        for (size_t i = 1; ok && i < n; i++)
            ok = (s[i] & 0xc0) == 0x80;
        if (ok && n == 2 && c < 0xc2) ok = 0; /* overlong */
        if (!ok || (n == 1 && c < 0x20)) {
            dst[o++] = '?';
            s++;
            continue;
        }
        memcpy(dst + o, s, n);
        o += n;
        s += n;
    }
    dst[o] = '\0';
}

typedef struct chart_ctx {
    const chart_spec *spec;
    const chart_theme *th;
    cairo_t *cr;
    double w, h, fs;           /* image size, base font size */
    double px0, px1, py0, py1; /* plot area in device units */
    double xlo, xhi, ylo, yhi; /* data window */
} chart_ctx;

static void chart__rgb(cairo_t *cr, uint32_t c, double a) {
    cairo_set_source_rgba(cr, ((c >> 16) & 0xff) / 255.0, ((c >> 8) & 0xff) / 255.0,
                          (c & 0xff) / 255.0, a);
}

static double chart__X(const chart_ctx *c, double x) {
    return c->px0 + (x - c->xlo) / (c->xhi - c->xlo) * (c->px1 - c->px0);
}

static double chart__Y(const chart_ctx *c, double y) {
    return c->py1 - (y - c->ylo) / (c->yhi - c->ylo) * (c->py1 - c->py0);
}

static void chart__extend(double v, double *lo, double *hi) {
    if (!isfinite(v)) return;
    if (v < *lo) *lo = v;
    if (v > *hi) *hi = v;
}

static void chart__series_extent(const chart_series *s, double *xlo, double *xhi, double *ylo,
                                 double *yhi) {
    for (size_t i = 0; s && i < s->n; i++) {
        if (isfinite(s->x_days[i]) && isfinite(s->y[i])) {
            chart__extend(s->x_days[i], xlo, xhi);
            chart__extend(s->y[i], ylo, yhi);
        }
    }
}

static eq_err chart__check_series(const chart_series *s, const char *what, char *err,
                                  size_t errlen) {
    if (!s) return EQ_OK;
    if (s->n > CHART_MAX_POINTS) {
        chart__errf(err, errlen, "%s has %zu points; the limit is %d", what, s->n,
                    CHART_MAX_POINTS);
        return EQ_ETOOBIG;
    }
    if (s->n && (!s->x_days || !s->y)) {
        chart__errf(err, errlen, "%s has no data arrays", what);
        return EQ_EINVAL;
    }
    return EQ_OK;
}

static eq_err chart__validate(const chart_spec *sp, char *err, size_t errlen) {
    eq_err rc;
    if (sp->format && strcmp(sp->format, "png") != 0 && strcmp(sp->format, "svg") != 0) {
        chart__errf(err, errlen, "format must be \"png\" or \"svg\"");
        return EQ_EINVAL;
    }
    int w = sp->width ? sp->width : CHART_DEFAULT_WIDTH;
    int h = sp->height ? sp->height : CHART_DEFAULT_HEIGHT;
    if (w < CHART_MIN_WIDTH || w > CHART_MAX_WIDTH || h < CHART_MIN_HEIGHT ||
        h > CHART_MAX_HEIGHT) {
        chart__errf(err, errlen, "size %dx%d outside %d-%d x %d-%d", w, h, CHART_MIN_WIDTH,
                    CHART_MAX_WIDTH, CHART_MIN_HEIGHT, CHART_MAX_HEIGHT);
        return EQ_EINVAL;
    }
    if (sp->nlines > CHART_MAX_LINES || sp->nbands > CHART_MAX_BANDS) {
        chart__errf(err, errlen, "at most %d lines and %d bands", CHART_MAX_LINES, CHART_MAX_BANDS);
        return EQ_ETOOBIG;
    }
    if ((sp->nlines && !sp->lines) || (sp->nbands && !sp->bands)) {
        chart__errf(err, errlen, "line or band array missing");
        return EQ_EINVAL;
    }
    if ((rc = chart__check_series(sp->history, "history", err, errlen)) != EQ_OK ||
        (rc = chart__check_series(sp->forecast, "forecast", err, errlen)) != EQ_OK)
        return rc;
    for (size_t i = 0; i < sp->nlines; i++)
        if ((rc = chart__check_series(&sp->lines[i], "a line series", err, errlen)) != EQ_OK)
            return rc;
    for (size_t i = 0; i < sp->nbands; i++) {
        const chart_band *b = &sp->bands[i];
        if (b->n > CHART_MAX_POINTS) {
            chart__errf(err, errlen, "a band has %zu points; the limit is %d", b->n,
                        CHART_MAX_POINTS);
            return EQ_ETOOBIG;
        }
        if (b->n && (!b->x_days || !b->lower || !b->upper)) {
            chart__errf(err, errlen, "a band has no data arrays");
            return EQ_EINVAL;
        }
    }
    return EQ_OK;
}

/* A polyline being built: runs of points are stroked; a run of one point becomes a dot. */
typedef struct chart_pen {
    cairo_t *cr;
    double lw, lastx, lasty;
    size_t run;
} chart_pen;

static void chart__pen_to(chart_pen *p, double x, double y) {
    if (p->run == 0)
        cairo_move_to(p->cr, x, y);
    else if (x != p->lastx || y != p->lasty)
        cairo_line_to(p->cr, x, y);
    p->lastx = x, p->lasty = y;
    p->run++;
}

static void chart__pen_break(chart_pen *p) {
    if (p->run == 1) {
        cairo_new_path(p->cr);
        cairo_arc(p->cr, p->lastx, p->lasty, p->lw * 1.6, 0, 2 * M_PI);
        cairo_fill(p->cr);
    } else if (p->run > 1) {
        cairo_stroke(p->cr);
    }
    cairo_new_path(p->cr);
    p->run = 0;
}

/* Points falling in one pixel column, reduced to first, lowest, highest and last (in input
 * order), which draws the same picture as all of them. */
typedef struct chart_column {
    long col;
    size_t n;
    double x[4], y[4]; /* first, min, max, last */
    size_t imin, imax;
} chart_column;

static void chart__column_flush(chart_column *k, chart_pen *p) {
    if (k->n == 0) return;
    chart__pen_to(p, k->x[0], k->y[0]);
    if (k->n > 1) {
        int min_first = k->imin <= k->imax;
        chart__pen_to(p, k->x[min_first ? 1 : 2], k->y[min_first ? 1 : 2]);
        chart__pen_to(p, k->x[min_first ? 2 : 1], k->y[min_first ? 2 : 1]);
        chart__pen_to(p, k->x[3], k->y[3]);
    }
    k->n = 0;
}

/* Strokes a series as a polyline broken at non-finite points; isolated points get a dot.
 * `lead`, if given, is a point the line starts from (the last history point for a forecast).
 * Series much denser than the plot's pixel columns are reduced per column first. */
static void chart__draw_series(chart_ctx *c, const chart_series *s, uint32_t color, double lw,
                               const double *lead) {
    cairo_t *cr = c->cr;
    chart__rgb(cr, color, 1.0);
    cairo_set_line_width(cr, lw);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
    chart_pen p = {.cr = cr, .lw = lw};
    if (lead) chart__pen_to(&p, chart__X(c, lead[0]), chart__Y(c, lead[1]));
    int reduce = (double)s->n > 4.0 * (c->px1 - c->px0);
    chart_column k = {.n = 0};
    for (size_t i = 0; i < s->n; i++) {
        if (!isfinite(s->x_days[i]) || !isfinite(s->y[i])) {
            chart__column_flush(&k, &p);
            chart__pen_break(&p);
            continue;
        }
        double x = chart__X(c, s->x_days[i]), y = chart__Y(c, s->y[i]);
        if (!reduce) {
            chart__pen_to(&p, x, y);
            continue;
        }
        long col = (long)floor(x);
        if (k.n && col != k.col) chart__column_flush(&k, &p);
        if (k.n == 0) {
            k.col = col;
            k.x[0] = k.x[1] = k.x[2] = k.x[3] = x;
            k.y[0] = k.y[1] = k.y[2] = k.y[3] = y;
            k.imin = k.imax = i;
        } else {
            /* Screen y grows downwards: the lowest value has the largest y. */
            if (y > k.y[1]) k.x[1] = x, k.y[1] = y, k.imin = i;
            if (y < k.y[2]) k.x[2] = x, k.y[2] = y, k.imax = i;
            k.x[3] = x, k.y[3] = y;
        }
        k.n++;
    }
    chart__column_flush(&k, &p);
    chart__pen_break(&p);
}

/* Fills a band between lower and upper, one polygon per run of finite points. */
static void chart__draw_band(chart_ctx *c, const chart_band *b, uint32_t color, double alpha) {
    cairo_t *cr = c->cr;
    chart__rgb(cr, color, alpha);
    size_t start = 0;
    for (size_t i = 0; i <= b->n; i++) {
        int ok =
            i < b->n && isfinite(b->x_days[i]) && isfinite(b->lower[i]) && isfinite(b->upper[i]);
        if (ok) continue;
        if (i - start >= 2) {
            for (size_t k = start; k < i; k++)
                cairo_line_to(cr, chart__X(c, b->x_days[k]), chart__Y(c, b->upper[k]));
            for (size_t k = i; k-- > start;)
                cairo_line_to(cr, chart__X(c, b->x_days[k]), chart__Y(c, b->lower[k]));
            cairo_close_path(cr);
            cairo_fill(cr);
        }
        cairo_new_path(cr);
        start = i + 1;
    }
}

static double chart__text_width(cairo_t *cr, const char *s) {
    cairo_text_extents_t e;
    cairo_text_extents(cr, s, &e);
    return e.x_advance;
}

static void chart__font(cairo_t *cr, double size, int bold) {
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
}

/* Cuts `s` (UTF-8, in place) at a character boundary and appends "..." until it fits in
 * `width` device units at the current font. */
static void chart__fit_text(cairo_t *cr, char *s, double width) {
    size_t len = strlen(s);
    if (chart__text_width(cr, s) <= width) return;
    char *tmp = malloc(len + 4);
    if (!tmp) return;
    while (len > 0) {
        do
            len--;
        while (len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80);
        memcpy(tmp, s, len);
        memcpy(tmp + len, "...", 4);
        if (chart__text_width(cr, tmp) <= width) break;
    }
    memcpy(s, tmp, len + 4);
    free(tmp);
}

typedef struct chart_legend_item {
    char label[CHART_MAX_TEXT + 8];
    uint32_t color;
    double alpha;  /* < 1: a filled swatch (a band); 1: a line swatch */
    size_t layers; /* a band's swatch is drawn as `layers` stacked bands, as in the plot */
} chart_legend_item;

static size_t chart__legend_items(const chart_ctx *c, chart_legend_item *items, size_t max) {
    const chart_spec *sp = c->spec;
    size_t n = 0;
    if (sp->history && sp->history->n && n < max) {
        chart__clean_text(sp->history->name ? sp->history->name : "History", items[n].label,
                          sizeof items[n].label);
        items[n].color = c->th->history, items[n++].alpha = 1;
    }
    if (sp->forecast && sp->forecast->n && n < max) {
        chart__clean_text(sp->forecast->name ? sp->forecast->name : "Forecast", items[n].label,
                          sizeof items[n].label);
        items[n].color = c->th->forecast, items[n++].alpha = 1;
    }
    for (size_t i = 0; i < sp->nbands && n < max; i++) {
        char def[32];
        snprintf(def, sizeof def, "Interval %zu", i + 1);
        chart__clean_text(sp->bands[i].label ? sp->bands[i].label : def, items[n].label,
                          sizeof items[n].label);
        items[n].color = c->th->forecast, items[n].layers = i + 1;
        items[n++].alpha = c->th->band_alpha[i];
    }
    for (size_t i = 0; i < sp->nlines && n < max; i++) {
        char def[32];
        snprintf(def, sizeof def, "Series %zu", i + 1);
        chart__clean_text(sp->lines[i].name ? sp->lines[i].name : def, items[n].label,
                          sizeof items[n].label);
        items[n].color = c->th->palette[i % 8], items[n++].alpha = 1;
    }
    return n;
}

/* Draws one centred row of legend entries with its baseline at y; long legends are cut
 * where they would run off the image. */
static void chart__draw_legend(chart_ctx *c, const chart_legend_item *items, size_t n, double y) {
    cairo_t *cr = c->cr;
    chart__font(cr, c->fs, 0);
    double sw = c->fs * 2.0, gap = c->fs * 0.5, sep = c->fs * 1.6;
    double total = 0;
    size_t shown = 0;
    for (; shown < n; shown++) {
        double wi = sw + gap + chart__text_width(cr, items[shown].label) + (shown ? sep : 0);
        if (total + wi > c->w - 20) break;
        total += wi;
    }
    double x = (c->w - total) / 2;
    for (size_t i = 0; i < shown; i++) {
        const chart_legend_item *it = &items[i];
        if (it->alpha < 1) {
            for (size_t k = 0; k < it->layers && k < CHART_MAX_BANDS; k++) {
                chart__rgb(cr, it->color, c->th->band_alpha[k]);
                cairo_rectangle(cr, x, y - c->fs * 0.8, sw, c->fs * 0.9);
                cairo_fill(cr);
            }
        } else {
            chart__rgb(cr, it->color, 1);
            cairo_set_line_width(cr, 2.5);
            cairo_move_to(cr, x, y - c->fs * 0.35);
            cairo_line_to(cr, x + sw, y - c->fs * 0.35);
            cairo_stroke(cr);
        }
        chart__rgb(cr, c->th->text, 1);
        cairo_move_to(cr, x + sw + gap, y);
        cairo_show_text(cr, it->label);
        x += sw + gap + chart__text_width(cr, it->label) + sep;
    }
}

static void chart__draw(chart_ctx *c) {
    const chart_spec *sp = c->spec;
    cairo_t *cr = c->cr;
    char title[CHART_MAX_TEXT + 8], ylabel[CHART_MAX_TEXT + 8];
    chart__clean_text(sp->title, title, sizeof title);
    chart__clean_text(sp->y_label, ylabel, sizeof ylabel);

    chart__rgb(cr, c->th->background, 1);
    cairo_paint(cr);

    /* Vertical layout: title, plot, x tick labels, legend. */
    chart_legend_item items[2 + CHART_MAX_BANDS + CHART_MAX_LINES];
    size_t nitems = chart__legend_items(c, items, sizeof items / sizeof items[0]);
    double top = title[0] ? c->fs * 3.2 : c->fs * 1.5;
    double bottom = c->fs * 2.4 + (nitems ? c->fs * 2.4 : 0) + c->fs * 0.4;
    c->py0 = top;
    c->py1 = c->h - bottom;

    chart_tick yt[CHART_AXIS_MAX_TICKS];
    int ytarget = (int)fmax(3, fmin(10, (c->py1 - c->py0) / (c->fs * 3.6)));
    size_t nyt = chart__nice_ticks(&c->ylo, &c->yhi, ytarget, yt, CHART_AXIS_MAX_TICKS);

    chart__font(cr, c->fs, 0);
    double ylw = 0;
    for (size_t i = 0; i < nyt; i++)
        ylw = fmax(ylw, chart__text_width(cr, yt[i].label));
    c->px0 = 12 + (ylabel[0] ? c->fs * 1.8 : 0) + ylw + c->fs * 0.6;
    c->px1 = c->w - c->fs * 2.0;

    if (title[0]) {
        chart__font(cr, c->fs * 1.45, 1);
        chart__rgb(cr, c->th->text, 1);
        double tw = chart__text_width(cr, title);
        if (tw > c->w - 20) {
            /* A long title shrinks to fit (down to a still legible size), then is clipped. */
            double size = fmax(8.0, c->fs * 1.45 * (c->w - 20) / tw);
            chart__font(cr, size, 1);
            tw = chart__text_width(cr, title);
            chart__fit_text(cr, title, c->w - 20);
            tw = chart__text_width(cr, title);
        }
        cairo_move_to(cr, fmax(10, (c->w - tw) / 2), c->fs * 2.0);
        cairo_show_text(cr, title);
        chart__font(cr, c->fs, 0);
    }
    if (ylabel[0]) {
        double tw = chart__text_width(cr, ylabel);
        cairo_save(cr);
        chart__rgb(cr, c->th->text, 1);
        cairo_move_to(cr, 12 + c->fs, (c->py0 + c->py1) / 2 + tw / 2);
        cairo_rotate(cr, -M_PI / 2);
        cairo_show_text(cr, ylabel);
        cairo_restore(cr);
    }

    /* Grid and tick labels. */
    cairo_set_line_width(cr, 1);
    for (size_t i = 0; i < nyt; i++) {
        double y = round(chart__Y(c, yt[i].v)) + 0.5;
        chart__rgb(cr, c->th->grid, 1);
        cairo_move_to(cr, c->px0, y);
        cairo_line_to(cr, c->px1, y);
        cairo_stroke(cr);
        chart__rgb(cr, c->th->text, 1);
        cairo_move_to(cr, c->px0 - c->fs * 0.5 - chart__text_width(cr, yt[i].label),
                      y + c->fs * 0.35);
        cairo_show_text(cr, yt[i].label);
    }
    chart_tick xt[CHART_AXIS_MAX_TICKS];
    int xmax = (int)fmax(2, fmin(14, (c->px1 - c->px0) / (c->fs * 7.5)));
    size_t nxt = chart__date_ticks(c->xlo, c->xhi, xmax, xt, CHART_AXIS_MAX_TICKS);
    for (size_t i = 0; i < nxt; i++) {
        double x = round(chart__X(c, xt[i].v)) + 0.5;
        chart__rgb(cr, c->th->grid, 1);
        cairo_move_to(cr, x, c->py0);
        cairo_line_to(cr, x, c->py1);
        cairo_stroke(cr);
        chart__rgb(cr, c->th->axis, 1);
        cairo_move_to(cr, x, c->py1);
        cairo_line_to(cr, x, c->py1 + c->fs * 0.4);
        cairo_stroke(cr);
        chart__rgb(cr, c->th->text, 1);
        double tw = chart__text_width(cr, xt[i].label);
        cairo_move_to(cr, fmax(2, fmin(c->w - tw - 2, x - tw / 2)), c->py1 + c->fs * 1.6);
        cairo_show_text(cr, xt[i].label);
    }
    chart__rgb(cr, c->th->axis, 1);
    cairo_move_to(cr, c->px0, round(c->py0) + 0.5);
    cairo_line_to(cr, c->px0, round(c->py1) + 0.5);
    cairo_line_to(cr, c->px1, round(c->py1) + 0.5);
    cairo_stroke(cr);

    /* Data, clipped to the plot area. */
    cairo_save(cr);
    cairo_rectangle(cr, c->px0, c->py0, c->px1 - c->px0, c->py1 - c->py0);
    cairo_clip(cr);
    for (size_t i = 0; i < sp->nbands; i++)
        chart__draw_band(c, &sp->bands[i], c->th->forecast, c->th->band_alpha[i]);
    double lw = fmax(2.0, c->fs / 6.0);
    double lead[2], *leadp = NULL;
    if (sp->history) {
        chart__draw_series(c, sp->history, c->th->history, lw, NULL);
        for (size_t i = sp->history->n; i-- > 0;) {
            if (isfinite(sp->history->x_days[i]) && isfinite(sp->history->y[i])) {
                lead[0] = sp->history->x_days[i], lead[1] = sp->history->y[i];
                leadp = lead;
                break;
            }
        }
    }
    if (sp->forecast && sp->forecast->n) {
        if (leadp) {
            /* A dashed marker where the forecast starts. */
            double dash[2] = {4, 4};
            double x = round(chart__X(c, lead[0])) + 0.5;
            chart__rgb(cr, c->th->axis, 1);
            cairo_set_line_width(cr, 1);
            cairo_set_dash(cr, dash, 2, 0);
            cairo_move_to(cr, x, c->py0);
            cairo_line_to(cr, x, c->py1);
            cairo_stroke(cr);
            cairo_set_dash(cr, NULL, 0, 0);
        }
        chart__draw_series(c, sp->forecast, c->th->forecast, lw, leadp);
    }
    for (size_t i = 0; i < sp->nlines; i++)
        chart__draw_series(c, &sp->lines[i], c->th->palette[i % 8], lw, NULL);
    cairo_restore(cr);

    if (nitems) chart__draw_legend(c, items, nitems, c->h - c->fs * 1.0);
}

eq_err chart_render(const chart_spec *sp, unsigned char **out, size_t *len, char *err,
                    size_t errlen) {
    if (err && errlen) err[0] = '\0';
    if (!sp || !out || !len) {
        chart__errf(err, errlen, "no chart");
        return EQ_EINVAL;
    }
    eq_err rc = chart__validate(sp, err, errlen);
    if (rc != EQ_OK) return rc;

    chart_ctx c = {.spec = sp, .th = chart_theme_get(sp->dark)};
    c.w = sp->width ? sp->width : CHART_DEFAULT_WIDTH;
    c.h = sp->height ? sp->height : CHART_DEFAULT_HEIGHT;
    c.fs = 13.0 * fmax(0.75, fmin(2.5, fmin(c.w / 1000.0, c.h / 500.0)));
    c.xlo = c.ylo = INFINITY;
    c.xhi = c.yhi = -INFINITY;
    chart__series_extent(sp->history, &c.xlo, &c.xhi, &c.ylo, &c.yhi);
    chart__series_extent(sp->forecast, &c.xlo, &c.xhi, &c.ylo, &c.yhi);
    for (size_t i = 0; i < sp->nlines; i++)
        chart__series_extent(&sp->lines[i], &c.xlo, &c.xhi, &c.ylo, &c.yhi);
    for (size_t i = 0; i < sp->nbands; i++) {
        const chart_band *b = &sp->bands[i];
        for (size_t k = 0; k < b->n; k++) {
            if (isfinite(b->x_days[k]) && isfinite(b->lower[k]) && isfinite(b->upper[k])) {
                chart__extend(b->x_days[k], &c.xlo, &c.xhi);
                chart__extend(b->lower[k], &c.ylo, &c.yhi);
                chart__extend(b->upper[k], &c.ylo, &c.yhi);
            }
        }
    }
    if (!(c.xlo <= c.xhi) || !(c.ylo <= c.yhi)) {
        chart__errf(err, errlen, "no finite data points to draw");
        return EQ_EINVAL;
    }
    /* Dates far outside years 1..9999 or absurd magnitudes cannot be laid out. */
    if (fabs(c.xlo) > 3e6 || fabs(c.xhi) > 3e6 || fabs(c.ylo) > 1e300 || fabs(c.yhi) > 1e300) {
        chart__errf(err, errlen, "data outside the drawable range");
        return EQ_EINVAL;
    }
    double xpad = c.xhi > c.xlo ? (c.xhi - c.xlo) * 0.01 : 1.0;
    c.xlo -= xpad;
    c.xhi += xpad;
    if (c.yhi > c.ylo) {
        /* A little air above and below, without crossing zero for one-signed data. */
        double ypad = (c.yhi - c.ylo) * 0.04;
        c.ylo = c.ylo >= 0 && c.ylo - ypad < 0 ? 0 : c.ylo - ypad;
        c.yhi = c.yhi <= 0 && c.yhi + ypad > 0 ? 0 : c.yhi + ypad;
    }

    int svg = sp->format && strcmp(sp->format, "svg") == 0;
    chart_buf buf = {0};
    cairo_surface_t *surf =
        svg ? cairo_svg_surface_create_for_stream(chart__write_cb, &buf, c.w, c.h)
            : cairo_image_surface_create(CAIRO_FORMAT_RGB24, (int)c.w, (int)c.h);
    if (cairo_surface_status(surf) != CAIRO_STATUS_SUCCESS) {
        rc = cairo_surface_status(surf) == CAIRO_STATUS_NO_MEMORY ? EQ_ENOMEM : EQ_EIO;
        chart__errf(err, errlen, "cairo: %s", cairo_status_to_string(cairo_surface_status(surf)));
        goto fail_surface;
    }
    c.cr = cairo_create(surf);
    chart__draw(&c);
    cairo_status_t st = cairo_status(c.cr);
    cairo_destroy(c.cr);
    if (st == CAIRO_STATUS_SUCCESS) {
        if (svg) {
            cairo_surface_finish(surf);
            st = cairo_surface_status(surf);
        } else {
            st = cairo_surface_write_to_png_stream(surf, chart__write_cb, &buf);
        }
    }
    if (st != CAIRO_STATUS_SUCCESS || buf.oom || buf.too_big) {
        rc = buf.too_big                                 ? EQ_ETOOBIG
             : (buf.oom || st == CAIRO_STATUS_NO_MEMORY) ? EQ_ENOMEM
                                                         : EQ_EIO;
        if (buf.too_big)
            chart__errf(err, errlen, "image larger than %u bytes", CHART_MAX_OUTPUT_BYTES);
        else
            chart__errf(err, errlen, "cairo: %s", cairo_status_to_string(st));
        goto fail_surface;
    }
    cairo_surface_destroy(surf);
    *out = buf.p;
    *len = buf.len;
    return EQ_OK;

fail_surface:
    cairo_surface_destroy(surf);
    free(buf.p);
    return rc;
}

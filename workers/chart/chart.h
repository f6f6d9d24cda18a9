/* Chart rendering with cairo: a forecast chart (history, forecast, shaded interval bands) and
 * a line chart of one or more series, as PNG (default) or SVG, on a light or dark theme.
 * Pure: plain C structs in, a malloc'd image in memory out; no files, no globals.
 *
 * x values are days since 1970-01-01 (fractions allowed); the x-axis is a date axis whose ticks
 * are days, months, quarters or years depending on the span. NaN or infinite values are skipped
 * (lines break at them). */
#ifndef ECONQ_WORKERS_CHART_H
#define ECONQ_WORKERS_CHART_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "common/eq_err.h"

/* Limits on what a job may ask to draw. */
#define CHART_MIN_WIDTH 300  /* narrower leaves no room for the axes */
#define CHART_MAX_WIDTH 4000 /* 4000x3000 ARGB is 48 MB, the most we allocate */
#define CHART_MIN_HEIGHT 200
#define CHART_MAX_HEIGHT 3000
#define CHART_DEFAULT_WIDTH 1000
#define CHART_DEFAULT_HEIGHT 500
#define CHART_MAX_POINTS 200000 /* per series or band; more cannot be seen anyway */
#define CHART_MAX_LINES 16      /* series in a line chart */
#define CHART_MAX_BANDS 10      /* interval bands on a forecast chart (a forecast job's levels) */
#define CHART_MAX_TEXT 200      /* bytes of a title, axis label or series name drawn */
#define CHART_MAX_OUTPUT_BYTES (64u << 20) /* an encoded image larger than this is refused */

typedef struct chart_series {
    const char *name;     /* legend label; NULL for none */
    const double *x_days; /* days since 1970-01-01 */
    const double *y;
    size_t n;
} chart_series;

typedef struct chart_band {
    const double *x_days, *lower, *upper;
    size_t n;
    const char *label; /* legend label, e.g. "95% interval" */
} chart_band;

/* What to draw. A forecast chart sets history and/or forecast (and bands, widest first: they
 * are drawn in order, so the narrower band lies on top); a line chart sets lines. Both may be
 * combined. All pointers are borrowed for the duration of chart_render(). */
typedef struct chart_spec {
    const char *title, *y_label; /* optional */
    int width, height;           /* 0 = default */
    int dark;                    /* dark theme */
    const char *format;          /* "png" (default when NULL) or "svg" */
    const chart_series *history;
    const chart_series *forecast;
    const chart_band *bands;
    size_t nbands;
    const chart_series *lines;
    size_t nlines;
} chart_spec;

/* Colours of a theme as 0xRRGGBB; bands are the forecast colour at band_alpha[i] over the
 * background. Exposed so tests and legends elsewhere agree with the drawing. */
typedef struct chart_theme {
    uint32_t background, text, grid, axis;
    uint32_t history, forecast;
    double band_alpha[CHART_MAX_BANDS];
    uint32_t palette[8]; /* line-chart series colours, cycled */
} chart_theme;

/* Returns the static theme for `dark` (0 or 1). */
const chart_theme *chart_theme_get(int dark);

/* Renders `spec`. On success *out is a malloc'd image of *len bytes (caller frees).
 * Errors: EQ_EINVAL (nothing finite to draw, bad format or size; message in err),
 * EQ_ETOOBIG (a limit above), EQ_ENOMEM, EQ_EIO (cairo failed). */
eq_err chart_render(const chart_spec *spec, unsigned char **out, size_t *len, char *err,
                    size_t errlen);

/* Options for the JSON convenience below; NULL means all defaults. */
typedef struct chart_opts {
    const char *title, *y_label;
    int width, height;
    int dark;
    const char *format; /* "png" | "svg" */
} chart_opts;

/* Reads chart options from a job's params: "format" ("png" default, or "svg"), "width" and
 * "height" (integers within the limits above; default 1000x500), "theme" ("light" default,
 * or "dark"), "title" and "y_label" (strings). Other members are ignored. Strings in *out are
 * borrowed from `params`. EQ_EINVAL with a message naming the member on a bad value. */
eq_err chart_opts_from_json(const cJSON *params, chart_opts *out, char *err, size_t errlen);

/* Draws a forecast chart from JSON as the forecast worker produces it:
 *   history:  {"dates": ["YYYY-MM-DD", ...], "values": [number|null, ...]}   (may be NULL)
 *   forecast: {"dates": [...], "point": [...],
 *              "intervals": {"80": {"lower": [...], "upper": [...]}, "95": {...}}}
 * Dates may carry a time ("YYYY-MM-DDTHH:MM[:SS][Z]"). Interval levels are drawn widest first
 * and labelled "80% interval" etc.; at most CHART_MAX_BANDS. Output as for chart_render(). */
eq_err chart_forecast_from_json(const cJSON *history, const cJSON *forecast, const chart_opts *opts,
                                unsigned char **out, size_t *len, char *err, size_t errlen);

/* Draws a line chart of one or more columns sharing a date axis:
 *   {"dates": ["YYYY-MM-DD", ...],
 *    "series": [{"name": "realgdp", "values": [number|null, ...]}, ...]}
 * Each values array must have as many entries as dates; at most CHART_MAX_LINES series.
 * Output as for chart_render(). */
eq_err chart_lines_from_json(const cJSON *data, const chart_opts *opts, unsigned char **out,
                             size_t *len, char *err, size_t errlen);

/* Parses "YYYY-MM-DD" with an optional "THH:MM[:SS[.fff]][Z]" (or a space for T) into days
 * since 1970-01-01. Returns EQ_EINVAL for anything else, including impossible dates. */
eq_err chart_parse_date(const char *s, double *days);

#endif

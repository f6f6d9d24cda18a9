/* Helpers shared by the chart tests: fixture CSV loading and PNG decoding. */
#ifndef ECONQ_TESTS_CHART_TEST_UTIL_H
#define ECONQ_TESTS_CHART_TEST_UTIL_H

#include <cairo.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workers/chart/chart.h"

#define TEST_MAX_ROWS 1000

/* A column of a fixture CSV (first column a date): x in days, y values. */
typedef struct test_column {
    double x[TEST_MAX_ROWS], y[TEST_MAX_ROWS];
    char dates[TEST_MAX_ROWS][11];
    size_t n;
} test_column;

/* Loads column `col` (1-based, after the date) of tests/fixtures/data/<name>. */
static inline void test_load_column(const char *name, int col, test_column *out) {
    const char *root = getenv("ECONQ_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/fixtures/data/%s", root ? root : ".", name);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    char line[1024];
    out->n = 0;
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f)); /* header */
    while (fgets(line, sizeof line, f) && out->n < TEST_MAX_ROWS) {
        char *save = NULL, *tok = strtok_r(line, ",\r\n", &save);
        if (!tok) continue;
        ck_assert_int_eq(chart_parse_date(tok, &out->x[out->n]), EQ_OK);
        snprintf(out->dates[out->n], sizeof out->dates[0], "%.10s", tok);
        for (int c = 0; c < col && tok; c++)
            tok = strtok_r(NULL, ",\r\n", &save);
        ck_assert_ptr_nonnull(tok);
        out->y[out->n++] = strtod(tok, NULL);
    }
    fclose(f);
}

typedef struct test_reader {
    const unsigned char *p;
    size_t len, off;
} test_reader;

static inline cairo_status_t test_read_cb(void *closure, unsigned char *data, unsigned int n) {
    test_reader *r = closure;
    if (r->off + n > r->len) return CAIRO_STATUS_READ_ERROR;
    memcpy(data, r->p + r->off, n);
    r->off += n;
    return CAIRO_STATUS_SUCCESS;
}

/* Decodes PNG bytes; the caller destroys the surface. */
static inline cairo_surface_t *test_decode_png(const unsigned char *p, size_t len) {
    test_reader r = {.p = p, .len = len};
    cairo_surface_t *s = cairo_image_surface_create_from_png_stream(test_read_cb, &r);
    ck_assert_int_eq(cairo_surface_status(s), CAIRO_STATUS_SUCCESS);
    cairo_surface_flush(s);
    return s;
}

static inline uint32_t test_pixel(cairo_surface_t *s, int x, int y) {
    const unsigned char *d = cairo_image_surface_get_data(s);
    int stride = cairo_image_surface_get_stride(s);
    uint32_t v;
    memcpy(&v, d + (size_t)y * (size_t)stride + (size_t)x * 4, 4);
    return v & 0xffffff;
}

/* Counts pixels within `tol` per channel of colour `rgb`. */
static inline size_t test_count_near(cairo_surface_t *s, uint32_t rgb, int tol) {
    int w = cairo_image_surface_get_width(s), h = cairo_image_surface_get_height(s);
    size_t n = 0;
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            uint32_t p = test_pixel(s, x, y);
            int ok = 1;
            for (int sh = 0; sh <= 16 && ok; sh += 8)
                ok = abs((int)((p >> sh) & 0xff) - (int)((rgb >> sh) & 0xff)) <= tol;
            n += (size_t)ok;
        }
    }
    return n;
}

/* `fg` composited at `alpha` over `bg`, as cairo's OVER does. */
static inline uint32_t test_blend(uint32_t fg, uint32_t bg, double alpha) {
    uint32_t out = 0;
    for (int sh = 0; sh <= 16; sh += 8) {
        double f = (fg >> sh) & 0xff, b = (bg >> sh) & 0xff;
        out |= (uint32_t)(f * alpha + b * (1 - alpha) + 0.5) << sh;
    }
    return out;
}

/* Writes bytes to $ECONQ_BUILD_DIR/<name> so a person can look at them. */
static inline void test_save(const char *name, const unsigned char *p, size_t len) {
    const char *dir = getenv("ECONQ_BUILD_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir ? dir : ".", name);
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(p, 1, len, f);
        fclose(f);
    }
}

#endif

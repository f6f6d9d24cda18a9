/* Tests for workers/chart/chart_render.c and chart_json.c: PNG decoded and inspected, SVG
 * parsed with expat, themes, degenerate inputs and limits. */
#include <expat.h>
#include <math.h>

#include "tests/chart/chart_fuzz.h"
#include "tests/chart/chart_test_util.h"

#define HORIZON 24

/* A forecast of the CO2 series built in the test: seasonal naive plus the last year's drift,
 * with bands widening like sqrt(h). Good enough to look like a real forecast. */
typedef struct fixture {
    test_column co2;
    double hx[TEST_MAX_ROWS], hy[TEST_MAX_ROWS];
    size_t hn;
    double fx[HORIZON], fy[HORIZON], lo80[HORIZON], hi80[HORIZON], lo95[HORIZON], hi95[HORIZON];
    chart_series history, forecast;
    chart_band bands[2];
    chart_spec spec;
} fixture;

static fixture fx_data;

static void fixture_build(fixture *f, int dark, const char *format) {
    test_load_column("co2_monthly.csv", 1, &f->co2);
    ck_assert_uint_gt(f->co2.n, 200);
    size_t start = f->co2.n - 120;
    f->hn = 0;
    for (size_t i = start; i < f->co2.n; i++) {
        f->hx[f->hn] = f->co2.x[i];
        f->hy[f->hn++] = f->co2.y[i];
    }
    double drift = (f->hy[f->hn - 1] - f->hy[f->hn - 13]);
    for (int h = 0; h < HORIZON; h++) {
        f->fx[h] = f->hx[f->hn - 1] + 30.44 * (h + 1);
        f->fy[h] = f->hy[f->hn - 12 + h % 12] + drift * (h / 12 + 1);
        double s = 0.6 * sqrt(h + 1.0);
        f->lo80[h] = f->fy[h] - 1.28 * s, f->hi80[h] = f->fy[h] + 1.28 * s;
        f->lo95[h] = f->fy[h] - 1.96 * s, f->hi95[h] = f->fy[h] + 1.96 * s;
    }
    f->history = (chart_series){.name = "CO2 (ppm)", .x_days = f->hx, .y = f->hy, .n = f->hn};
    f->forecast = (chart_series){.name = "Forecast", .x_days = f->fx, .y = f->fy, .n = HORIZON};
    f->bands[0] = (chart_band){
        .x_days = f->fx, .lower = f->lo95, .upper = f->hi95, .n = HORIZON, .label = "95% interval"};
    f->bands[1] = (chart_band){
        .x_days = f->fx, .lower = f->lo80, .upper = f->hi80, .n = HORIZON, .label = "80% interval"};
    f->spec = (chart_spec){.title = "Mauna Loa CO2, monthly",
                           .y_label = "ppm",
                           .dark = dark,
                           .format = format,
                           .history = &f->history,
                           .forecast = &f->forecast,
                           .bands = f->bands,
                           .nbands = 2};
}

static size_t distinct_colours(cairo_surface_t *s) {
    /* A coarse histogram (4 bits per channel) keeps antialiasing from inflating the count. */
    static unsigned char seen[4096];
    memset(seen, 0, sizeof seen);
    size_t n = 0;
    int w = cairo_image_surface_get_width(s), h = cairo_image_surface_get_height(s);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint32_t p = test_pixel(s, x, y);
            unsigned k = ((p >> 12) & 0xf00) | ((p >> 8) & 0xf0) | ((p >> 4) & 0xf);
            n += !seen[k];
            seen[k] = 1;
        }
    return n;
}

START_TEST(forecast_png_light) {
    fixture_build(&fx_data, 0, NULL);
    unsigned char *png = NULL;
    size_t len = 0;
    char err[128];
    ck_assert_int_eq(chart_render(&fx_data.spec, &png, &len, err, sizeof err), EQ_OK);
    ck_assert_uint_gt(len, 1000);
    ck_assert_mem_eq(png, "\x89PNG", 4);
    test_save("chart_forecast_light.png", png, len);

    cairo_surface_t *s = test_decode_png(png, len);
    ck_assert_int_eq(cairo_image_surface_get_width(s), CHART_DEFAULT_WIDTH);
    ck_assert_int_eq(cairo_image_surface_get_height(s), CHART_DEFAULT_HEIGHT);
    const chart_theme *th = chart_theme_get(0);
    ck_assert_uint_eq(test_pixel(s, 0, 0), th->background);
    ck_assert_uint_eq(test_pixel(s, 999, 499), th->background);
    /* Not blank: the history line, the forecast line and both band shades are present. */
    ck_assert_uint_gt(test_count_near(s, th->history, 8), 300);
    ck_assert_uint_gt(test_count_near(s, th->forecast, 8), 100);
    uint32_t band95 = test_blend(th->forecast, th->background, th->band_alpha[0]);
    uint32_t band80 = test_blend(th->forecast, band95, th->band_alpha[1]);
    ck_assert_uint_gt(test_count_near(s, band95, 3), 200);
    ck_assert_uint_gt(test_count_near(s, band80, 3), 200);
    ck_assert_uint_ge(distinct_colours(s), 6);
    cairo_surface_destroy(s);
    free(png);
}
END_TEST

START_TEST(forecast_png_dark) {
    fixture_build(&fx_data, 1, "png");
    fx_data.spec.width = 800;
    fx_data.spec.height = 400;
    unsigned char *png = NULL;
    size_t len = 0;
    ck_assert_int_eq(chart_render(&fx_data.spec, &png, &len, NULL, 0), EQ_OK);
    test_save("chart_forecast_dark.png", png, len);
    cairo_surface_t *s = test_decode_png(png, len);
    ck_assert_int_eq(cairo_image_surface_get_width(s), 800);
    ck_assert_int_eq(cairo_image_surface_get_height(s), 400);
    const chart_theme *th = chart_theme_get(1);
    /* The background is dark: corner pixel and the average over the image. */
    uint32_t bg = test_pixel(s, 0, 0);
    ck_assert_uint_eq(bg, th->background);
    double sum = 0;
    for (int y = 0; y < 400; y++)
        for (int x = 0; x < 800; x++) {
            uint32_t p = test_pixel(s, x, y);
            sum += 0.299 * ((p >> 16) & 0xff) + 0.587 * ((p >> 8) & 0xff) + 0.114 * (p & 0xff);
        }
    ck_assert_double_lt(sum / (800.0 * 400.0), 70.0);
    ck_assert_uint_gt(test_count_near(s, th->history, 8), 200);
    ck_assert_uint_gt(test_count_near(s, th->forecast, 8), 80);
    cairo_surface_destroy(s);
    free(png);
}
END_TEST

typedef struct xml_state {
    int depth, max_depth, elements;
    char root[16];
} xml_state;

static void xml_start(void *ud, const XML_Char *name, const XML_Char **atts) {
    (void)atts;
    xml_state *st = ud;
    if (st->elements++ == 0) snprintf(st->root, sizeof st->root, "%s", name);
    if (++st->depth > st->max_depth) st->max_depth = st->depth;
}

static void xml_end(void *ud, const XML_Char *name) {
    (void)name;
    ((xml_state *)ud)->depth--;
}

static void check_svg(const unsigned char *svg, size_t len) {
    XML_Parser p = XML_ParserCreate(NULL);
    xml_state st = {0};
    XML_SetUserData(p, &st);
    XML_SetElementHandler(p, xml_start, xml_end);
    enum XML_Status ok = XML_Parse(p, (const char *)svg, (int)len, 1);
    ck_assert_msg(ok == XML_STATUS_OK, "SVG not well-formed: %s at line %lu",
                  XML_ErrorString(XML_GetErrorCode(p)), (unsigned long)XML_GetCurrentLineNumber(p));
    XML_ParserFree(p);
    ck_assert_str_eq(st.root, "svg");
    ck_assert_int_eq(st.depth, 0);
    ck_assert_int_gt(st.elements, 20);
}

START_TEST(forecast_svg_well_formed) {
    fixture_build(&fx_data, 0, "svg");
    unsigned char *svg = NULL;
    size_t len = 0;
    ck_assert_int_eq(chart_render(&fx_data.spec, &svg, &len, NULL, 0), EQ_OK);
    test_save("chart_forecast.svg", svg, len);
    check_svg(svg, len);
    ck_assert_ptr_nonnull(memmem(svg, len, "width=\"1000\"", 12));
    free(svg);
}
END_TEST

START_TEST(line_chart_of_several_columns) {
    static test_column cols[3];
    chart_series lines[3];
    const char *names[3] = {"realgdp", "realcons", "realinv"};
    for (int i = 0; i < 3; i++) {
        test_load_column("us_macro_quarterly.csv", i + 1, &cols[i]);
        lines[i] =
            (chart_series){.name = names[i], .x_days = cols[i].x, .y = cols[i].y, .n = cols[i].n};
    }
    chart_spec spec = {.title = "US macro, quarterly",
                       .y_label = "billions of 2005 dollars",
                       .lines = lines,
                       .nlines = 3};
    unsigned char *png = NULL;
    size_t len = 0;
    ck_assert_int_eq(chart_render(&spec, &png, &len, NULL, 0), EQ_OK);
    test_save("chart_lines.png", png, len);
    cairo_surface_t *s = test_decode_png(png, len);
    const chart_theme *th = chart_theme_get(0);
    for (int i = 0; i < 3; i++)
        ck_assert_msg(test_count_near(s, th->palette[i], 8) > 200, "series %d not drawn", i);
    cairo_surface_destroy(s);
    free(png);
    spec.format = "svg";
    spec.dark = 1;
    ck_assert_int_eq(chart_render(&spec, &png, &len, NULL, 0), EQ_OK);
    check_svg(png, len);
    free(png);
}
END_TEST

static int render_count;

/* Renders, decodes and saves as chart_degenerate_<n>.png for a person to look at. */
static void render_ok(const chart_spec *spec) {
    unsigned char *img = NULL;
    size_t len = 0;
    char err[128];
    eq_err rc = chart_render(spec, &img, &len, err, sizeof err);
    ck_assert_msg(rc == EQ_OK, "render failed: %s", err);
    char name[64];
    snprintf(name, sizeof name, "chart_degenerate_%d.png", render_count++);
    test_save(name, img, len);
    cairo_surface_t *s = test_decode_png(img, len);
    ck_assert_int_eq(cairo_image_surface_get_width(s), spec->width ? spec->width : 1000);
    cairo_surface_destroy(s);
    free(img);
}

START_TEST(degenerate_inputs) {
    double x1[1] = {20000}, y1[1] = {5};
    chart_series one = {.x_days = x1, .y = y1, .n = 1};
    chart_spec spec = {.history = &one};
    render_ok(&spec);

    double xc[50], yc[50];
    for (int i = 0; i < 50; i++)
        xc[i] = 18000 + i, yc[i] = 42.0;
    chart_series flat = {.name = "flat", .x_days = xc, .y = yc, .n = 50};
    spec = (chart_spec){.lines = &flat, .nlines = 1, .title = "constant"};
    render_ok(&spec);
    for (int i = 0; i < 50; i++)
        yc[i] = 0.0;
    render_ok(&spec);

    double yn[50];
    for (int i = 0; i < 50; i++)
        yn[i] = (i % 7 == 3) ? NAN : (i == 20 ? INFINITY : sin(i / 5.0));
    chart_series gappy = {.name = "gaps", .x_days = xc, .y = yn, .n = 50};
    spec = (chart_spec){.history = &gappy, .width = 300, .height = 200};
    render_ok(&spec);

    /* Isolated points between NaNs, negative and tiny values, dates before 1970. */
    double xs[5] = {-3000, -2990, -2980, -2970, -2960}, ys[5] = {NAN, -1e-9, NAN, -2e-9, NAN};
    chart_series sparse = {.x_days = xs, .y = ys, .n = 5};
    spec = (chart_spec){.history = &sparse, .title = "bad \xff\xfe utf-8 \x01 title"};
    render_ok(&spec);
    /* A title far wider than the image shrinks instead of running off both sides. */
    spec = (chart_spec){.history = &gappy,
                        .title = "A very long chart title that would never fit on one line of "
                                 "a small chart without being made smaller first",
                        .width = 400,
                        .height = 250};
    render_ok(&spec);

    /* Huge values get suffixed labels and still render. */
    double yb[50];
    for (int i = 0; i < 50; i++)
        yb[i] = 1e12 + i * 1e10;
    chart_series big = {.x_days = xc, .y = yb, .n = 50};
    spec = (chart_spec){.lines = &big, .nlines = 1};
    render_ok(&spec);
}
END_TEST

START_TEST(nothing_to_draw_and_limits) {
    unsigned char *img = (unsigned char *)"untouched";
    size_t len = 0;
    char err[128];
    chart_spec empty = {0};
    ck_assert_int_eq(chart_render(&empty, &img, &len, err, sizeof err), EQ_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "no finite data"));

    double x[3] = {1, 2, 3}, y[3] = {NAN, NAN, NAN};
    chart_series allnan = {.x_days = x, .y = y, .n = 3};
    chart_spec spec = {.history = &allnan};
    ck_assert_int_eq(chart_render(&spec, &img, &len, err, sizeof err), EQ_EINVAL);

    y[0] = 1, y[1] = 2, y[2] = 3;
    spec.format = "gif";
    ck_assert_int_eq(chart_render(&spec, &img, &len, err, sizeof err), EQ_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "format"));
    spec.format = NULL;
    spec.width = CHART_MAX_WIDTH + 1;
    ck_assert_int_eq(chart_render(&spec, &img, &len, err, sizeof err), EQ_EINVAL);
    spec.width = 0;
    spec.height = CHART_MIN_HEIGHT - 1;
    ck_assert_int_eq(chart_render(&spec, &img, &len, err, sizeof err), EQ_EINVAL);
    spec.height = 0;
    allnan.n = CHART_MAX_POINTS + 1;
    ck_assert_int_eq(chart_render(&spec, &img, &len, err, sizeof err), EQ_ETOOBIG);
    allnan.n = 3;
    spec.nlines = CHART_MAX_LINES + 1;
    spec.lines = &allnan;
    ck_assert_int_eq(chart_render(&spec, &img, &len, err, sizeof err), EQ_ETOOBIG);
    ck_assert_str_eq((const char *)img, "untouched");
}
END_TEST

static const char *forecast_json =
    "{\"dates\":[\"2024-01-01\",\"2024-02-01\",\"2024-03-01\",\"2024-04-01\"],"
    "\"point\":[10.5,11,11.2,null],"
    "\"intervals\":{\"80\":{\"lower\":[9.5,9.8,9.7,9],\"upper\":[11.5,12.2,12.7,13]},"
    "\"95\":{\"lower\":[9,9.1,8.9,8],\"upper\":[12,12.9,13.5,14]}}}";

START_TEST(forecast_from_json) {
    cJSON *hist = cJSON_CreateObject();
    cJSON *dates = cJSON_AddArrayToObject(hist, "dates");
    cJSON *vals = cJSON_AddArrayToObject(hist, "values");
    for (int m = 1; m <= 12; m++) {
        char d[16];
        snprintf(d, sizeof d, "2023-%02d-01", m);
        cJSON_AddItemToArray(dates, cJSON_CreateString(d));
        cJSON_AddItemToArray(vals, m == 6 ? cJSON_CreateNull() : cJSON_CreateNumber(8 + m * 0.2));
    }
    cJSON *fc = cJSON_Parse(forecast_json);
    ck_assert_ptr_nonnull(fc);
    chart_opts opts = {.title = "From JSON", .format = "png"};
    unsigned char *png = NULL;
    size_t len = 0;
    char err[160];
    eq_err rc = chart_forecast_from_json(hist, fc, &opts, &png, &len, err, sizeof err);
    ck_assert_msg(rc == EQ_OK, "%s", err);
    test_save("chart_from_json.png", png, len);
    cairo_surface_t *s = test_decode_png(png, len);
    const chart_theme *th = chart_theme_get(0);
    ck_assert_uint_gt(test_count_near(s, th->history, 8), 100);
    ck_assert_uint_gt(
        test_count_near(s, test_blend(th->forecast, th->background, th->band_alpha[0]), 3), 100);
    cairo_surface_destroy(s);
    free(png);

    /* Without history, SVG. */
    opts.format = "svg";
    ck_assert_int_eq(chart_forecast_from_json(NULL, fc, &opts, &png, &len, err, sizeof err), EQ_OK);
    check_svg(png, len);
    free(png);

    /* Malformed inputs give messages, not crashes. */
    cJSON *bad = cJSON_Parse("{\"dates\":[\"2024-01-01\"],\"point\":[1,2]}");
    ck_assert_int_eq(chart_forecast_from_json(NULL, bad, NULL, &png, &len, err, sizeof err),
                     EQ_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "forecast.dates has 1 entries"));
    cJSON_Delete(bad);
    bad = cJSON_Parse("{\"dates\":[\"2024-02-30\"],\"point\":[1]}");
    ck_assert_int_eq(chart_forecast_from_json(NULL, bad, NULL, &png, &len, err, sizeof err),
                     EQ_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "forecast.dates[0] is not a date"));
    cJSON_Delete(bad);
    bad = cJSON_Parse("{\"dates\":[\"2024-02-01\"],\"point\":[1],"
                      "\"intervals\":{\"80\":{\"lower\":[1,2],\"upper\":[3]}}}");
    ck_assert_int_eq(chart_forecast_from_json(NULL, bad, NULL, &png, &len, err, sizeof err),
                     EQ_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "intervals.80"));
    cJSON_Delete(bad);
    bad = cJSON_Parse("{\"dates\":[\"2024-02-01\"],\"point\":[\"x\"]}");
    ck_assert_int_eq(chart_forecast_from_json(NULL, bad, NULL, &png, &len, err, sizeof err),
                     EQ_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "forecast.point[0] is not a number"));
    cJSON_Delete(bad);
    bad = cJSON_Parse("{\"dates\":[\"2024-02-01\"],\"point\":[1],\"intervals\":{\"abc\":{}}}");
    ck_assert_int_eq(chart_forecast_from_json(NULL, bad, NULL, &png, &len, err, sizeof err),
                     EQ_EINVAL);
    cJSON_Delete(bad);
    ck_assert_int_eq(chart_forecast_from_json(NULL, hist, NULL, &png, &len, err, sizeof err),
                     EQ_EINVAL); /* history has no "point" */
    cJSON_Delete(fc);
    cJSON_Delete(hist);
}
END_TEST

START_TEST(lines_from_json) {
    cJSON *data = cJSON_Parse("{\"dates\":[\"2020-01-01\",\"2020-04-01\",\"2020-07-01\","
                              "\"2020-10-01\",\"2021-01-01\"],"
                              "\"series\":[{\"name\":\"a\",\"values\":[1,2,3,null,5]},"
                              "{\"name\":\"b\",\"values\":[5,4,3,2,1]}]}");
    ck_assert_ptr_nonnull(data);
    unsigned char *img = NULL;
    size_t len = 0;
    char err[160];
    chart_opts opts = {.title = "Two columns", .dark = 1};
    eq_err rc = chart_lines_from_json(data, &opts, &img, &len, err, sizeof err);
    ck_assert_msg(rc == EQ_OK, "%s", err);
    test_save("chart_lines_json.png", img, len);
    cairo_surface_t *s = test_decode_png(img, len);
    const chart_theme *th = chart_theme_get(1);
    ck_assert_uint_eq(test_pixel(s, 0, 0), th->background);
    ck_assert_uint_gt(test_count_near(s, th->palette[0], 8), 100);
    ck_assert_uint_gt(test_count_near(s, th->palette[1], 8), 100);
    cairo_surface_destroy(s);
    free(img);

    cJSON *values =
        cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(data, "series"), 1), "values");
    cJSON_DeleteItemFromArray(values, 0);
    ck_assert_int_eq(chart_lines_from_json(data, &opts, &img, &len, err, sizeof err), EQ_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "series[1].values has 4 entries but dates has 5"));
    cJSON_Delete(data);

    data = cJSON_Parse("{\"dates\":[\"2020-01-01\"],\"series\":[]}");
    ck_assert_int_eq(chart_lines_from_json(data, NULL, &img, &len, err, sizeof err), EQ_EINVAL);
    cJSON_Delete(data);
    data = cJSON_CreateObject();
    cJSON_AddItemToObject(data, "dates", cJSON_CreateArray());
    cJSON *series = cJSON_AddArrayToObject(data, "series");
    for (int i = 0; i <= CHART_MAX_LINES; i++) {
        cJSON *one = cJSON_CreateObject();
        cJSON_AddItemToObject(one, "values", cJSON_CreateArray());
        cJSON_AddItemToArray(series, one);
    }
    ck_assert_int_eq(chart_lines_from_json(data, NULL, &img, &len, err, sizeof err), EQ_ETOOBIG);
    cJSON_Delete(data);
}
END_TEST

START_TEST(opts_from_json) {
    chart_opts o;
    char err[128];
    cJSON *p = cJSON_Parse("{\"job\":\"j1\",\"format\":\"svg\",\"width\":800,"
                           "\"height\":400,\"theme\":\"dark\",\"title\":\"GDP\"}");
    ck_assert_int_eq(chart_opts_from_json(p, &o, err, sizeof err), EQ_OK);
    ck_assert_str_eq(o.format, "svg");
    ck_assert_int_eq(o.width, 800);
    ck_assert_int_eq(o.height, 400);
    ck_assert_int_eq(o.dark, 1);
    ck_assert_str_eq(o.title, "GDP");
    ck_assert_ptr_null(o.y_label);
    cJSON_Delete(p);

    ck_assert_int_eq(chart_opts_from_json(NULL, &o, err, sizeof err), EQ_OK);
    ck_assert_str_eq(o.format, "png");
    ck_assert_int_eq(o.width, CHART_DEFAULT_WIDTH);
    ck_assert_int_eq(o.dark, 0);

    static const struct {
        const char *json, *needle;
    } bad[] = {
        {"{\"format\":\"gif\"}", "format"},
        {"{\"format\":3}", "format must be a string"},
        {"{\"width\":100000}", "width must be an integer from 300 to 4000"},
        {"{\"height\":250.5}", "height"},
        {"{\"theme\":\"blue\"}", "theme"},
        {"[1]", "params must be an object"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        p = cJSON_Parse(bad[i].json);
        ck_assert_int_eq(chart_opts_from_json(p, &o, err, sizeof err), EQ_EINVAL);
        ck_assert_msg(strstr(err, bad[i].needle) != NULL, "%s: '%s'", bad[i].json, err);
        cJSON_Delete(p);
    }
}
END_TEST

START_TEST(parse_dates) {
    double d;
    ck_assert_int_eq(chart_parse_date("1970-01-01", &d), EQ_OK);
    ck_assert_double_eq(d, 0);
    ck_assert_int_eq(chart_parse_date("2000-03-01", &d), EQ_OK);
    ck_assert_double_eq(d, 11017);
    ck_assert_int_eq(chart_parse_date("1969-12-31T12:00:00Z", &d), EQ_OK);
    ck_assert_double_eq(d, -0.5);
    ck_assert_int_eq(chart_parse_date("2024-02-29 06:00", &d), EQ_OK);
    ck_assert_double_eq(d, 19782.25);
    ck_assert_int_eq(chart_parse_date("2023-02-29", &d), EQ_EINVAL);
    ck_assert_int_eq(chart_parse_date("2024-13-01", &d), EQ_EINVAL);
    ck_assert_int_eq(chart_parse_date("2024-1-01", &d), EQ_EINVAL);
    ck_assert_int_eq(chart_parse_date("2024-01-01x", &d), EQ_EINVAL);
    ck_assert_int_eq(chart_parse_date("2024-01-01T25:00", &d), EQ_EINVAL);
    ck_assert_int_eq(chart_parse_date("", &d), EQ_EINVAL);
}
END_TEST

/* The largest inputs allowed render (and stay quick enough for a worker). */
START_TEST(largest_inputs) {
    static double x[CHART_MAX_POINTS], y[CHART_MAX_POINTS];
    for (size_t i = 0; i < CHART_MAX_POINTS; i++) {
        x[i] = 3650.0 + (double)i / 24.0; /* hourly from 1980 */
        y[i] = sin((double)i / 500.0) * 100 + (double)(i % 97);
    }
    chart_series big = {.name = "hourly", .x_days = x, .y = y, .n = CHART_MAX_POINTS};
    chart_spec spec = {.title = "200,000 points", .history = &big};
    unsigned char *img = NULL;
    size_t len = 0;
    ck_assert_int_eq(chart_render(&spec, &img, &len, NULL, 0), EQ_OK);
    test_save("chart_200k.png", img, len);
    cairo_surface_t *s = test_decode_png(img, len);
    ck_assert_uint_gt(test_count_near(s, chart_theme_get(0)->history, 8), 5000);
    cairo_surface_destroy(s);
    free(img);

    double sx[3] = {0, 1, 2}, sy[3] = {1, 3, 2};
    chart_series small = {.x_days = sx, .y = sy, .n = 3};
    spec = (chart_spec){.title = "largest image",
                        .history = &small,
                        .width = CHART_MAX_WIDTH,
                        .height = CHART_MAX_HEIGHT,
                        .dark = 1};
    ck_assert_int_eq(chart_render(&spec, &img, &len, NULL, 0), EQ_OK);
    s = test_decode_png(img, len);
    ck_assert_int_eq(cairo_image_surface_get_width(s), CHART_MAX_WIDTH);
    ck_assert_int_eq(cairo_image_surface_get_height(s), CHART_MAX_HEIGHT);
    cairo_surface_destroy(s);
    free(img);
}
END_TEST

/* Mutated forecast JSON (numbers, types, lengths, dates) never crashes: each call either
 * renders or fails with a message. */
START_TEST(mutated_json_is_safe) {
    unsigned seed = 777;
    int ok = 0, refused = 0;
    chart_opts opts = {.width = 300, .height = 200};
    for (int iter = 0; iter < 60; iter++) {
        cJSON *fc = cJSON_Parse(forecast_json);
        cJSON *targets[8];
        size_t nt = 0;
        targets[nt++] = cJSON_GetObjectItem(fc, "dates");
        targets[nt++] = cJSON_GetObjectItem(fc, "point");
        cJSON *iv = cJSON_GetObjectItem(fc, "intervals");
        targets[nt++] = cJSON_GetObjectItem(cJSON_GetObjectItem(iv, "80"), "lower");
        targets[nt++] = cJSON_GetObjectItem(cJSON_GetObjectItem(iv, "95"), "upper");
        for (int m = 0; m < 2; m++) {
            seed = seed * 1103515245u + 12345u;
            cJSON *arr = targets[(seed >> 16) % nt];
            int idx = (int)((seed >> 8) % 4);
            cJSON *item = NULL;
            switch ((seed >> 20) % 6) {
            case 0:
                cJSON_DeleteItemFromArray(arr, idx);
                break;
            case 1:
                item = cJSON_CreateNumber(1e308);
                break;
            case 2:
                item = cJSON_CreateString("1999-02-29");
                break;
            case 3:
                item = cJSON_CreateNull();
                break;
            case 4:
                item = cJSON_CreateNumber(-1e-300);
                break;
            default:
                item = cJSON_CreateString("0001-01-01");
                break;
            }
            if (item && !cJSON_ReplaceItemInArray(arr, idx, item))
                cJSON_Delete(item); /* index past a shortened array */
        }
        char *printed = cJSON_PrintUnformatted(fc);
        ck_assert_ptr_nonnull(printed);
        ck_assert_int_eq(chart_fuzz_one((const uint8_t *)printed, strlen(printed)), 0);
        free(printed);
        unsigned char *img = NULL;
        size_t len = 0;
        char err[160] = "";
        eq_err rc = chart_forecast_from_json(NULL, fc, &opts, &img, &len, err, sizeof err);
        if (rc == EQ_OK) {
            ok++;
            ck_assert_uint_gt(len, 100);
            free(img);
        } else {
            refused++;
            ck_assert_msg(err[0] != '\0', "refused without a message");
        }
        cJSON_Delete(fc);
    }
    ck_assert_int_gt(ok, 0);
    ck_assert_int_gt(refused, 0);
}
END_TEST

static Suite *chart_suite(void) {
    Suite *s = suite_create("chart_render");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, forecast_png_light);
    tcase_add_test(tc, forecast_png_dark);
    tcase_add_test(tc, forecast_svg_well_formed);
    tcase_add_test(tc, line_chart_of_several_columns);
    tcase_add_test(tc, degenerate_inputs);
    tcase_add_test(tc, nothing_to_draw_and_limits);
    tcase_add_test(tc, forecast_from_json);
    tcase_add_test(tc, lines_from_json);
    tcase_add_test(tc, opts_from_json);
    tcase_add_test(tc, parse_dates);
    tcase_add_test(tc, largest_inputs);
    tcase_add_test(tc, mutated_json_is_safe);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    SRunner *sr = srunner_create(chart_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

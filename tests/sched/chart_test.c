/* Charts against a real `econqd serve`: a forecast drawn as PNG (decoded with cairo: size, not
 * blank, several colours) and SVG (parsed with expat), dataset columns as lines, a report
 * workbook, caching headers, refusals, and chart clean-up removing exactly the right files. */
#include <cairo.h>
#include <check.h>
#include <expat.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/support/eqtest.h"

static eqd d;
static char dir[256];

static void start(const char *const *extra) {
    const char *args[16] = {"--durability", "nosync"};
    int n = 2;
    for (int i = 0; extra && extra[i] && n < 15; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    eqt_tmpdir(dir, sizeof dir);
    ck_assert_int_eq(eqd_start(&d, "serve", dir, args), 0);
}

static void stop(void) {
    eqd_signal(&d, SIGTERM);
    ck_assert_int_eq(eqd_wait(&d), 0);
    eqt_rmdir(dir);
}

/* Submits and waits; returns the finished job (caller deletes). */
static cJSON *run(const char *body, const char *state) {
    char id[64];
    ck_assert_int_eq(eqt_submit(d.port, body, id), 202);
    cJSON *j = eqt_wait_terminal(d.port, id, 30);
    ck_assert_ptr_nonnull(j);
    if (strcmp(eqt_str(j, "state"), state) != 0) {
        char *t = cJSON_Print(j);
        fprintf(stderr, "%s\n", t);
        free(t);
    }
    ck_assert_str_eq(eqt_str(j, "state"), state);
    return j;
}

/* A forecast over a synthetic monthly series; returns its id in out. */
static void forecast(char *out) {
    char body[8192];
    int n = snprintf(body, sizeof body,
                     "{\"type\":\"forecast\",\"params\":{\"horizon\":12,\"series\":{\"name\":"
                     "\"demo\",\"dates\":[");
    for (int i = 0; i < 60; i++)
        n += snprintf(body + n, sizeof body - n, "%s\"%d-%02d-01\"", i ? "," : "", 2000 + i / 12,
                      i % 12 + 1);
    n += snprintf(body + n, sizeof body - n, "],\"values\":[");
    for (int i = 0; i < 60; i++)
        n += snprintf(body + n, sizeof body - n, "%s%.3f", i ? "," : "",
                      100 + i + 10 * sin(i / 3.0));
    snprintf(body + n, sizeof body - n, "]}}}");
    cJSON *j = run(body, "succeeded");
    snprintf(out, 27, "%s", eqt_str(j, "id"));
    cJSON_Delete(j);
}

/* Runs a chart job and fetches its file; r is the GET answer. */
static void chart(const char *params, http_resp *r, char *chart_id) {
    char body[1024], path[128];
    snprintf(body, sizeof body, "{\"type\":\"chart\",\"params\":%s}", params);
    cJSON *j = run(body, "succeeded");
    cJSON *res = cJSON_GetObjectItem(j, "result");
    const char *url = eqt_str(res, "url");
    ck_assert_ptr_nonnull(url);
    snprintf(path, sizeof path, "%s", url);
    if (chart_id) snprintf(chart_id, 27, "%s", eqt_str(res, "chart_id"));
    ck_assert_int_eq((int)eqt_num(res, "bytes") > 0, 1);
    cJSON_Delete(j);
    ck_assert_int_eq(http_do(d.port, "GET", path, NULL, NULL, 0, r), 0);
    ck_assert_int_eq(r->status, 200);
}

typedef struct png_src {
    const unsigned char *p;
    size_t n, off;
} png_src;

static cairo_status_t png_read(void *arg, unsigned char *data, unsigned int len) {
    png_src *s = arg;
    if (s->n - s->off < len) return CAIRO_STATUS_READ_ERROR;
    memcpy(data, s->p + s->off, len);
    s->off += len;
    return CAIRO_STATUS_SUCCESS;
}

/* Distinct colours (up to 64) among the pixels. */
static int colours(cairo_surface_t *img) {
    uint32_t seen[64];
    int n = 0;
    int w = cairo_image_surface_get_width(img), h = cairo_image_surface_get_height(img);
    int stride = cairo_image_surface_get_stride(img);
    const unsigned char *data = cairo_image_surface_get_data(img);
    for (int y = 0; y < h && n < 64; y++)
        for (int x = 0; x < w && n < 64; x++) {
            uint32_t px = *(const uint32_t *)(data + y * stride + x * 4) & 0xffffff;
            int k = 0;
            while (k < n && seen[k] != px)
                k++;
            if (k == n) seen[n++] = px;
        }
    return n;
}

START_TEST(forecast_png_svg_lines_and_report) {
    start(NULL);
    char fid[32], cid[32], body[512];
    forecast(fid);

    /* PNG: decoded, default size, not blank. */
    http_resp r;
    snprintf(body, sizeof body, "{\"job\":\"%s\"}", fid);
    chart(body, &r, cid);
    char h[256];
    ck_assert_str_eq(http_header(&r, "Content-Type", h, sizeof h), "image/png");
    ck_assert_str_eq(http_header(&r, "Cache-Control", h, sizeof h),
                     "public, max-age=31536000, immutable");
    char etag[64];
    ck_assert_ptr_nonnull(http_header(&r, "ETag", etag, sizeof etag));
    ck_assert_int_eq(atoi(http_header(&r, "Content-Length", h, sizeof h)), (int)r.len);
    png_src src = {(const unsigned char *)r.body, r.len, 0};
    cairo_surface_t *img = cairo_image_surface_create_from_png_stream(png_read, &src);
    ck_assert_int_eq(cairo_surface_status(img), CAIRO_STATUS_SUCCESS);
    ck_assert_int_eq(cairo_image_surface_get_width(img), 1000);
    ck_assert_int_eq(cairo_image_surface_get_height(img), 500);
    ck_assert_int_ge(colours(img), 6); /* background, text, grid, history, forecast, bands */
    cairo_surface_destroy(img);
    http_resp_free(&r);

    /* A conditional request: 304. */
    char path[96], hdr[128];
    snprintf(path, sizeof path, "/v1/charts/%s", cid);
    snprintf(hdr, sizeof hdr, "If-None-Match: %s\r\n", etag);
    ck_assert_int_eq(http_do(d.port, "GET", path, hdr, NULL, 0, &r), 0);
    ck_assert_int_eq(r.status, 304);
    http_resp_free(&r);
    ck_assert_int_eq(
        http_do(d.port, "GET", "/v1/charts/01M8JVD4534W6G74AACRZMDZD2", NULL, NULL, 0, &r), 0);
    ck_assert_int_eq(r.status, 404);
    http_resp_free(&r);

    /* SVG, dark, smaller: well-formed XML with an svg root. */
    snprintf(body, sizeof body,
             "{\"job\":\"%s\",\"format\":\"svg\",\"theme\":\"dark\",\"width\":640,"
             "\"height\":360}",
             fid);
    chart(body, &r, NULL);
    ck_assert_str_eq(http_header(&r, "Content-Type", h, sizeof h), "image/svg+xml");
    XML_Parser xp = XML_ParserCreate(NULL);
    ck_assert_int_eq(XML_Parse(xp, r.body, (int)r.len, 1), XML_STATUS_OK);
    XML_ParserFree(xp);
    ck_assert_ptr_nonnull(strstr(r.body, "<svg"));
    http_resp_free(&r);

    /* Dataset columns as lines. */
    const char *csv = "date,a,b\n2020-01-01,1,5\n2020-02-01,2,4\n2020-03-01,3,6\n2020-04-01,5,3\n"
                      "2020-05-01,4,7\n";
    ck_assert_int_eq(http_do(d.port, "POST", "/v1/datasets?name=t", "Content-Type: text/csv\r\n",
                             csv, strlen(csv), &r),
                     0);
    ck_assert_int_eq(r.status / 100, 2);
    cJSON *ds = http_json(&r);
    http_resp_free(&r);
    snprintf(body, sizeof body, "{\"dataset\":\"%s\",\"columns\":[\"a\",\"b\"]}",
             eqt_str(ds, "id"));
    chart(body, &r, NULL);
    src = (png_src){(const unsigned char *)r.body, r.len, 0};
    img = cairo_image_surface_create_from_png_stream(png_read, &src);
    ck_assert_int_eq(cairo_surface_status(img), CAIRO_STATUS_SUCCESS);
    ck_assert_int_ge(colours(img), 4);
    cairo_surface_destroy(img);
    http_resp_free(&r);
    /* An unknown column is refused at submit, naming the field. */
    snprintf(body, sizeof body,
             "{\"type\":\"chart\",\"params\":{\"dataset\":\"%s\",\"columns\":"
             "[\"zzz\"]}}",
             eqt_str(ds, "id"));
    ck_assert_int_eq(eqt_submit(d.port, body, NULL), 422);
    cJSON_Delete(ds);
    /* A chart of a job that is not a succeeded forecast. */
    snprintf(body, sizeof body, "{\"type\":\"chart\",\"params\":{\"job\":\"%s\"}}", cid);
    ck_assert_int_eq(eqt_submit(d.port, body, NULL), 422);

    /* The report: an xlsx (a zip) served at the same route. */
    snprintf(body, sizeof body, "{\"type\":\"report\",\"params\":{\"jobs\":[\"%s\"]}}", fid);
    cJSON *j = run(body, "succeeded");
    snprintf(path, sizeof path, "%s", eqt_str(cJSON_GetObjectItem(j, "result"), "url"));
    cJSON_Delete(j);
    ck_assert_int_eq(http_do(d.port, "GET", path, NULL, NULL, 0, &r), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(http_header(&r, "Content-Type", h, sizeof h),
                     "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
    ck_assert_int_gt((int)r.len, 1000);
    ck_assert_mem_eq(r.body, "PK", 2);
    http_resp_free(&r);
    stop();
}
END_TEST

START_TEST(report_of_a_batch) {
    start(NULL);
    char body[8192], path[128];
    int n = snprintf(body, sizeof body, "{\"jobs\":[");
    for (int k = 0; k < 2; k++) {
        n += snprintf(body + n, sizeof body - n,
                      "%s{\"type\":\"forecast\",\"params\":{\"horizon\":6,"
                      "\"series\":{\"name\":\"s%d\",\"dates\":[",
                      k ? "," : "", k);
        for (int i = 0; i < 36; i++)
            n += snprintf(body + n, sizeof body - n, "%s\"%d-%02d-01\"", i ? "," : "",
                          2010 + i / 12, i % 12 + 1);
        n += snprintf(body + n, sizeof body - n, "],\"values\":[");
        for (int i = 0; i < 36; i++)
            n += snprintf(body + n, sizeof body - n, "%s%.2f", i ? "," : "",
                          50 + k * 10 + i * 0.5 + (i % 4));
        n += snprintf(body + n, sizeof body - n, "]}}}");
    }
    snprintf(body + n, sizeof body - n, "]}");
    http_resp r;
    ck_assert_int_eq(http_do(d.port, "POST", "/v1/batches", "Content-Type: application/json\r\n",
                             body, strlen(body), &r),
                     0);
    ck_assert_int_eq(r.status / 100, 2);
    cJSON *b = http_json(&r);
    http_resp_free(&r);
    snprintf(path, sizeof path, "/v1/batches/%s", eqt_str(b, "id"));
    int done = 0;
    for (int w = 0; w < 300 && !done; w++) {
        ck_assert_int_eq(http_do(d.port, "GET", path, NULL, NULL, 0, &r), 0);
        cJSON *st = http_json(&r);
        done = cJSON_IsTrue(cJSON_GetObjectItem(st, "done"));
        cJSON_Delete(st);
        http_resp_free(&r);
        if (!done) eqt_sleep_ms(100);
    }
    ck_assert(done);
    snprintf(body, sizeof body, "{\"type\":\"report\",\"params\":{\"batch\":\"%s\"}}",
             eqt_str(b, "id"));
    cJSON_Delete(b);
    cJSON *j = run(body, "succeeded");
    cJSON *res = cJSON_GetObjectItem(j, "result");
    ck_assert_str_eq(eqt_str(res, "format"), "xlsx");
    snprintf(path, sizeof path, "%s", eqt_str(res, "url"));
    cJSON_Delete(j);
    ck_assert_int_eq(http_do(d.port, "GET", path, NULL, NULL, 0, &r), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_mem_eq(r.body, "PK", 2);
    /* Summary and one sheet per series: the zip's directory names sheet3 but not sheet4. */
    ck_assert_ptr_nonnull(memmem(r.body, r.len, "xl/worksheets/sheet3.xml", 24));
    ck_assert_ptr_null(memmem(r.body, r.len, "xl/worksheets/sheet4.xml", 24));
    http_resp_free(&r);
    /* A batch id that does not exist is refused at submit. */
    ck_assert_int_eq(eqt_submit(d.port,
                                "{\"type\":\"report\",\"params\":{\"batch\":"
                                "\"01M8JVD4534W6G74AACRZMDZD2\"}}",
                                NULL),
                     422);
    stop();
}
END_TEST

static int exists(const char *id, const char *ext) {
    char path[512];
    snprintf(path, sizeof path, "%s/charts/%s.%s", dir, id, ext);
    return access(path, F_OK) == 0;
}

START_TEST(clean_up_removes_exactly_the_right_files) {
    /* The scheduler's clock two hours ahead: every chart made now is past the grace period;
     * keep the 2 newest of 4. */
    const char *extra[] = {"--chart-max-count", "2", "--clock-offset-ms", "7200000", NULL};
    start(extra);
    char fid[32], ids[4][32], body[256];
    forecast(fid);
    snprintf(body, sizeof body, "{\"job\":\"%s\",\"format\":\"svg\"}", fid);
    for (int i = 0; i < 4; i++) {
        http_resp r;
        chart(body, &r, ids[i]);
        http_resp_free(&r);
        eqt_sleep_ms(3); /* distinct creation times */
    }
    /* Orphans: a file without an index entry and a leftover temporary. */
    char orphan[512], tmp[512];
    snprintf(orphan, sizeof orphan, "%s/charts/01M8JVD4534W6G74AACRZMDZD2.png", dir);
    snprintf(tmp, sizeof tmp, "%s/charts/01M8JVD4534W6G74AACRZMDZD3.svg.tmp", dir);
    FILE *f = fopen(orphan, "w");
    fputs("x", f);
    fclose(f);
    f = fopen(tmp, "w");
    fputs("y", f);
    fclose(f);
    for (int i = 0; i < 4; i++)
        ck_assert(exists(ids[i], "svg"));

    cJSON *j = run("{\"type\":\"maintenance.charts\",\"params\":{}}", "succeeded");
    cJSON *res = cJSON_GetObjectItem(j, "result");
    ck_assert_int_eq((int)eqt_num(res, "removed"), 2);
    ck_assert_int_eq((int)eqt_num(res, "kept"), 2);
    ck_assert_int_eq((int)eqt_num(res, "orphans_removed"), 2);
    cJSON_Delete(j);
    /* Files go right after the commit that deleted their entries. */
    for (int w = 0; w < 50 && (exists(ids[0], "svg") || exists(ids[1], "svg")); w++)
        eqt_sleep_ms(100);
    ck_assert(!exists(ids[0], "svg"));
    ck_assert(!exists(ids[1], "svg"));
    ck_assert(exists(ids[2], "svg"));
    ck_assert(exists(ids[3], "svg"));
    ck_assert_int_ne(access(orphan, F_OK), 0);
    ck_assert_int_ne(access(tmp, F_OK), 0);
    for (int i = 0; i < 4; i++) {
        char path[96];
        http_resp r;
        snprintf(path, sizeof path, "/v1/charts/%s", ids[i]);
        ck_assert_int_eq(http_do(d.port, "GET", path, NULL, NULL, 0, &r), 0);
        ck_assert_int_eq(r.status, i < 2 ? 404 : 200);
        http_resp_free(&r);
    }
    /* The maintenance.charts schedule exists and another pass removes nothing more. */
    j = run("{\"type\":\"maintenance.charts\",\"params\":{}}", "succeeded");
    ck_assert_int_eq((int)eqt_num(cJSON_GetObjectItem(j, "result"), "removed"), 0);
    cJSON_Delete(j);
    stop();
}
END_TEST

int main(void) {
    Suite *s = suite_create("chart");
    TCase *tc = tcase_create("chart");
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, forecast_png_svg_lines_and_report);
    tcase_add_test(tc, clean_up_removes_exactly_the_right_files);
    tcase_add_test(tc, report_of_a_batch);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

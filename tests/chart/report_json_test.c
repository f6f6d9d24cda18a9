/* Tests for workers/chart/report_json.c: forecast job results as JSON to report_series and to
 * a workbook, checked with openpyxl through tests/chart/check_report.py. */
#include <check.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "workers/chart/report_xlsx.h"

/* A result shaped like workers/forecast/forecast_job.c's, levels listed 80 then 95. */
static const char *result_json =
    "{\"dates\":[\"2024-01-01\",\"2024-02-01\",\"2024-03-01\"],"
    "\"point\":[10.5,11,null],"
    "\"intervals\":{\"80\":{\"lower\":[9.5,9.8,9.7],\"upper\":[11.5,12.2,12.7]},"
    "\"95\":{\"lower\":[9,9.1,8.9],\"upper\":[12,12.9,13.5]}},"
    "\"method\":\"ets\",\"model\":\"ETS(A,N,N)\",\"params\":{\"alpha\":0.5},\"aicc\":12.5,"
    "\"accuracy\":{\"mase\":0.75,\"smape\":0.05,\"rmse\":null},\"frequency\":\"monthly\","
    "\"n\":4}";

static const char *history_json =
    "{\"dates\":[\"2023-09-01\",\"2023-10-01\",\"2023-11-01\",\"2023-12-01\"],"
    "\"values\":[9.1,null,9.8,10.2]}";

START_TEST(series_from_json) {
    cJSON *res = cJSON_Parse(result_json), *hist = cJSON_Parse(history_json);
    ck_assert_ptr_nonnull(res);
    ck_assert_ptr_nonnull(hist);
    report_json_series js;
    char err[160];
    eq_err rc = report_series_from_json("sales", hist, res, NULL, &js, err, sizeof err);
    ck_assert_msg(rc == EQ_OK, "%s", err);
    const report_series *s = &js.s;
    ck_assert_str_eq(s->name, "sales");
    ck_assert_str_eq(s->method, "ets");
    ck_assert_str_eq(s->model, "ETS(A,N,N)");
    ck_assert_ptr_null(s->error);
    ck_assert_double_eq(s->mase, 0.75);
    ck_assert_double_eq(s->smape, 0.05);
    ck_assert(isnan(s->rmse));
    ck_assert_uint_eq(s->nhist, 4);
    ck_assert_double_eq(s->hist_days[0], 19601); /* 2023-09-01 */
    ck_assert(isnan(s->hist_values[1]));
    ck_assert_uint_eq(s->nfc, 3);
    ck_assert_double_eq(s->fc_days[2], 19783); /* 2024-03-01 */
    ck_assert(isnan(s->point[2]));
    ck_assert_uint_eq(s->nintervals, 2);
    ck_assert_double_eq(s->intervals[0].level, 80);
    ck_assert_double_eq(s->intervals[1].level, 95);
    ck_assert_double_eq(s->intervals[1].upper[2], 13.5);
    report_json_series_fini(&js);

    /* A failed series: no result, no history, an error. */
    rc = report_series_from_json("broken", NULL, NULL, "constant_series", &js, err, sizeof err);
    ck_assert_int_eq(rc, EQ_OK);
    ck_assert_str_eq(js.s.error, "constant_series");
    ck_assert_uint_eq(js.s.nhist + js.s.nfc, 0);
    report_json_series_fini(&js);
    cJSON_Delete(res);
    cJSON_Delete(hist);
}
END_TEST

static void expect_bad(const char *hist, const char *res, eq_err want, const char *needle) {
    cJSON *h = hist ? cJSON_Parse(hist) : NULL, *r = res ? cJSON_Parse(res) : NULL;
    report_json_series js;
    char err[160];
    eq_err rc = report_series_from_json("x", h, r, NULL, &js, err, sizeof err);
    ck_assert_msg(rc == want, "got %d for %s / %s", rc, hist ? hist : "-", res ? res : "-");
    ck_assert_msg(strstr(err, needle) != NULL, "message '%s' lacks '%s'", err, needle);
    cJSON_Delete(h);
    cJSON_Delete(r);
}

START_TEST(malformed_json) {
    expect_bad("{\"dates\":[\"2024-01-01\"],\"values\":[1,2]}", NULL, EQ_EINVAL,
               "history has 1 dates but 2 values");
    expect_bad("{\"dates\":[\"01/02/2024\"],\"values\":[1]}", NULL, EQ_EINVAL,
               "history.dates[0] is not a date");
    expect_bad("{\"dates\":\"2024-01-01\",\"values\":[1]}", NULL, EQ_EINVAL,
               "history.dates must be an array");
    expect_bad(NULL, "{\"dates\":[\"2024-01-01\"],\"point\":[true]}", EQ_EINVAL,
               "result.point[0] is not a number");
    expect_bad(NULL, "{\"dates\":[\"2024-01-01\"],\"point\":[1],\"intervals\":{\"x\":{}}}",
               EQ_EINVAL, "bad level 'x'");
    expect_bad(NULL,
               "{\"dates\":[\"2024-01-01\"],\"point\":[1],"
               "\"intervals\":{\"80\":{\"lower\":[1],\"upper\":[]}}}",
               EQ_EINVAL, "intervals.80 needs lower and upper");
    expect_bad(NULL, "[1,2]", EQ_EINVAL, "result must be an object");

    char many[2048] = "{\"dates\":[\"2024-01-01\"],\"point\":[1],\"intervals\":{";
    for (int i = 0; i <= REPORT_MAX_LEVELS; i++) {
        char lv[96];
        snprintf(lv, sizeof lv, "%s\"%d\":{\"lower\":[0],\"upper\":[2]}", i ? "," : "", 50 + i);
        strcat(many, lv);
    }
    strcat(many, "}}");
    expect_bad(NULL, many, EQ_ETOOBIG, "interval levels");
}
END_TEST

START_TEST(workbook_from_items) {
    char items_text[4096];
    snprintf(items_text, sizeof items_text,
             "[{\"name\":\"sales\",\"history\":%s,\"result\":%s},"
             "{\"name\":\"broken\",\"history\":null,\"result\":null,"
             "\"error\":\"constant_series: all values are equal\"}]",
             history_json, result_json);
    cJSON *items = cJSON_Parse(items_text);
    ck_assert_ptr_nonnull(items);
    unsigned char *buf = NULL;
    size_t len = 0;
    char err[160];
    eq_err rc = report_xlsx_from_json(items, &buf, &len, err, sizeof err);
    ck_assert_msg(rc == EQ_OK, "%s", err);
    ck_assert_mem_eq(buf, "PK\x03\x04", 4);

    const char *dir = getenv("ECONQ_BUILD_DIR");
    const char *root = getenv("ECONQ_SOURCE_DIR");
    char path[512], jpath[600], cmd[2048];
    snprintf(path, sizeof path, "%s/report_from_json.xlsx", dir ? dir : ".");
    snprintf(jpath, sizeof jpath, "%s.expected.json", path);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(buf, 1, len, f), len);
    fclose(f);
    free(buf);
    /* Expected by hand from the JSON above. */
    f = fopen(jpath, "w");
    ck_assert_ptr_nonnull(f);
    fputs("{\"sheets\":[\"Summary\",\"sales\"],"
          "\"summary\":[[\"sales\",\"ets\",\"ETS(A,N,N)\",0.75,0.05,null,null,\"sales\"],"
          "[\"broken\",null,null,null,null,null,\"constant_series: all values are equal\",null]],"
          "\"series\":{\"sales\":{"
          "\"header\":[\"Date\",\"Actual\",\"Forecast\",\"Lo 80\",\"Hi 80\",\"Lo 95\",\"Hi 95\"],"
          "\"dates_are_dates\":true,\"chart_series\":6,\"rows\":["
          "[\"2023-09-01\",9.1],[\"2023-10-01\",null],[\"2023-11-01\",9.8],[\"2023-12-01\",10.2],"
          "[\"2024-01-01\",null,10.5,9.5,11.5,9,12],[\"2024-02-01\",null,11,9.8,12.2,9.1,12.9],"
          "[\"2024-03-01\",null,null,9.7,12.7,8.9,13.5]]}}}",
          f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s/tests/chart/check_report.py' '%s' '%s'",
             root ? root : ".", path, jpath);
    ck_assert_int_eq(system(cmd), 0);
    unlink(jpath);

    /* A malformed item names its index. */
    cJSON_AddItemToArray(items, cJSON_CreateString("not an object"));
    ck_assert_int_eq(report_xlsx_from_json(items, &buf, &len, err, sizeof err), EQ_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "item 2"));
    cJSON *bad = cJSON_Parse("[{\"name\":\"a\",\"result\":{\"dates\":[],\"point\":[1]}}]");
    ck_assert_int_eq(report_xlsx_from_json(bad, &buf, &len, err, sizeof err), EQ_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "item 0: result has 0 dates but 1 points"));
    cJSON_Delete(bad);
    cJSON_Delete(items);
}
END_TEST

static Suite *report_json_suite(void) {
    Suite *s = suite_create("report_json");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, series_from_json);
    tcase_add_test(tc, malformed_json);
    tcase_add_test(tc, workbook_from_items);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    SRunner *sr = srunner_create(report_json_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* Forecast jobs over a dataset column, end to end through a real econqd: drift and naive (whose
 * points follow from the CSV by hand), the default method, and the 422s at submit when the
 * dataset or the column is missing or the column cannot be forecast. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/datasets/ds_util.h"

static char qid[32]; /* us_macro_quarterly.csv, uploaded by the fixture */

static void start(void) {
    ds_start();
    cJSON *j = ds_upload_fixture("us_macro_quarterly.csv", "text/csv", qid);
    cJSON_Delete(j);
}

/* A column of us_macro_quarterly.csv read here: first and last value and the count. */
static void csv_ends(const char *column, double *first, double *last, int *n) {
    size_t len;
    char *text = ds_fixture("us_macro_quarterly.csv", &len), *save = NULL;
    int k = -1, row = 0;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *cell = line;
        for (int c = 0; cell; c++) {
            char *comma = strchr(cell, ',');
            if (comma) *comma = '\0';
            if (row == 0 && strcmp(cell, column) == 0) k = c;
            if (row > 0 && c == k) {
                if (row == 1) *first = strtod(cell, NULL);
                *last = strtod(cell, NULL);
            }
            cell = comma ? comma + 1 : NULL;
        }
        row++;
    }
    ck_assert_int_ge(k, 0);
    *n = row - 1;
    free(text);
}

/* Submits, expects 202, waits for the end; returns the job (caller deletes). */
static cJSON *run(const char *body) {
    char id[32];
    ck_assert_int_eq(eqt_submit(ds_d.port, body, id), 202);
    cJSON *j = eqt_wait_terminal(ds_d.port, id, 60);
    ck_assert_ptr_nonnull(j);
    ck_assert_msg(strcmp(eqt_str(j, "state"), "succeeded") == 0, "%s: %s", eqt_str(j, "state"),
                  cJSON_PrintUnformatted(cJSON_GetObjectItem(j, "error")));
    return j;
}

static const cJSON *points(const cJSON *job, int horizon) {
    const cJSON *res = cJSON_GetObjectItemCaseSensitive(job, "result");
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(res, "point");
    ck_assert_int_eq(cJSON_GetArraySize(p), horizon);
    const cJSON *dates = cJSON_GetObjectItemCaseSensitive(res, "dates");
    ck_assert_int_eq(cJSON_GetArraySize(dates), horizon);
    /* The quarter after the last one of the file (2009-07-01). */
    ck_assert_str_eq(cJSON_GetArrayItem(dates, 0)->valuestring, "2009-10-01");
    return p;
}

START_TEST(drift_and_naive) {
    char body[512];
    double first, last;
    int n;
    csv_ends("realgdp", &first, &last, &n);
    snprintf(body, sizeof body,
             "{\"type\":\"forecast\",\"params\":{\"series\":{\"dataset\":\"%s\",\"column\":"
             "\"realgdp\"},\"horizon\":6,\"method\":\"drift\"}}",
             qid);
    cJSON *j = run(body);
    const cJSON *p = points(j, 6);
    double slope = (last - first) / (n - 1);
    for (int h = 1; h <= 6; h++)
        ck_assert_msg(fabs(cJSON_GetArrayItem(p, h - 1)->valuedouble - (last + h * slope)) < 1e-6,
                      "drift h=%d", h);
    const cJSON *res = cJSON_GetObjectItemCaseSensitive(j, "result");
    ck_assert_str_eq(eqt_str(res, "method"), "drift");
    /* The job keeps where its series came from. */
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(j, "params");
    const cJSON *src = cJSON_GetObjectItemCaseSensitive(params, "source");
    ck_assert_str_eq(eqt_str(src, "dataset"), qid);
    ck_assert_str_eq(eqt_str(src, "column"), "realgdp");
    const cJSON *series = cJSON_GetObjectItemCaseSensitive(params, "series");
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(series, "values")), n);
    cJSON_Delete(j);

    csv_ends("unemp", &first, &last, &n);
    snprintf(body, sizeof body,
             "{\"type\":\"forecast\",\"params\":{\"series\":{\"dataset\":\"%s\",\"column\":"
             "\"unemp\"},\"horizon\":3,\"method\":\"naive\",\"levels\":[90]}}",
             qid);
    j = run(body);
    p = points(j, 3);
    for (int h = 0; h < 3; h++)
        ck_assert_double_eq_tol(cJSON_GetArrayItem(p, h)->valuedouble, last, 1e-9);
    res = cJSON_GetObjectItemCaseSensitive(j, "result");
    const cJSON *iv = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItem(res, "intervals"), "90");
    ck_assert_ptr_nonnull(iv);
    /* Naive intervals widen with the horizon. */
    const cJSON *lo = cJSON_GetObjectItem(iv, "lower"), *hi = cJSON_GetObjectItem(iv, "upper");
    ck_assert(cJSON_GetArrayItem(hi, 2)->valuedouble - cJSON_GetArrayItem(lo, 2)->valuedouble >
              cJSON_GetArrayItem(hi, 0)->valuedouble - cJSON_GetArrayItem(lo, 0)->valuedouble);
    cJSON_Delete(j);
}
END_TEST

START_TEST(default_method) {
    char body[512];
    snprintf(body, sizeof body,
             "{\"type\":\"forecast\",\"params\":{\"series\":{\"dataset\":\"%s\",\"column\":"
             "\"cpi\"},\"horizon\":8}}",
             qid);
    cJSON *j = run(body);
    const cJSON *p = points(j, 8);
    const cJSON *res = cJSON_GetObjectItemCaseSensitive(j, "result");
    ck_assert_ptr_nonnull(eqt_str(res, "model"));
    const cJSON *ivs = cJSON_GetObjectItemCaseSensitive(res, "intervals");
    const cJSON *i80 = cJSON_GetObjectItem(ivs, "80"), *i95 = cJSON_GetObjectItem(ivs, "95");
    ck_assert_ptr_nonnull(i80);
    ck_assert_ptr_nonnull(i95);
    for (int h = 0; h < 8; h++) {
        double x = cJSON_GetArrayItem(p, h)->valuedouble;
        ck_assert(isfinite(x) && x > 0);
        double l80 = cJSON_GetArrayItem(cJSON_GetObjectItem(i80, "lower"), h)->valuedouble;
        double u80 = cJSON_GetArrayItem(cJSON_GetObjectItem(i80, "upper"), h)->valuedouble;
        double l95 = cJSON_GetArrayItem(cJSON_GetObjectItem(i95, "lower"), h)->valuedouble;
        double u95 = cJSON_GetArrayItem(cJSON_GetObjectItem(i95, "upper"), h)->valuedouble;
        ck_assert(l95 <= l80 && l80 <= x && x <= u80 && u80 <= u95);
    }
    cJSON_Delete(j);
}
END_TEST

static int job_count(void) {
    cJSON *j = ds_get_json("/v1/jobs?limit=1000", 200);
    int n = cJSON_GetArraySize(cJSON_GetObjectItem(j, "jobs"));
    cJSON_Delete(j);
    return n;
}

static void refuse(const char *dataset, const char *column, int status, const char *slug,
                   const char *field) {
    char body[512];
    http_resp r;
    snprintf(body, sizeof body,
             "{\"type\":\"forecast\",\"params\":{\"series\":{\"dataset\":\"%s\",\"column\":"
             "\"%s\"},\"horizon\":4,\"method\":\"naive\"}}",
             dataset, column);
    int before = job_count();
    ck_assert_int_eq(ds_post_json("/v1/jobs", body, &r), 0);
    ds_expect_problem(&r, status, slug);
    if (field) {
        cJSON *j = http_json(&r);
        ck_assert_str_eq(eqt_str(j, "field"), field);
        cJSON_Delete(j);
    }
    http_resp_free(&r);
    ck_assert_int_eq(job_count(), before);
}

START_TEST(missing_dataset_or_column) {
    refuse(qid, "no_such_column", 422, "column-not-found", "/params/series/column");
    refuse("01M8JTRD61M45QSP12F79N9XHW", "realgdp", 422, "dataset-not-found",
           "/params/series/dataset");
    refuse(qid, "date", 422, "column-not-numeric", "/params/series/column");
    /* Not an id at all: the schema refuses it. */
    refuse("../../etc", "realgdp", 422, "invalid-job", NULL);
    /* A text column, and a table without dates. */
    static const char csv[] = "date,label,x\n2000-01-01,a,1\n2001-01-01,b,2\n2002-01-01,c,3\n";
    http_resp r;
    ck_assert_int_eq(ds_upload_raw("text/csv", NULL, csv, strlen(csv), &r), 0);
    ck_assert_int_eq(r.status, 201);
    cJSON *j = http_json(&r);
    char tid[32];
    snprintf(tid, sizeof tid, "%s", eqt_str(j, "id"));
    cJSON_Delete(j);
    http_resp_free(&r);
    refuse(tid, "label", 422, "column-not-numeric", "/params/series/column");
    static const char nodates[] = "a,b\n1,2\n3,4\n5,6\n";
    ck_assert_int_eq(ds_upload_raw("text/csv", NULL, nodates, strlen(nodates), &r), 0);
    ck_assert_int_eq(r.status, 201);
    j = http_json(&r);
    snprintf(tid, sizeof tid, "%s", eqt_str(j, "id"));
    cJSON_Delete(j);
    http_resp_free(&r);
    refuse(tid, "a", 422, "no-date-column", "/params/series/column");
    /* Deleted: then the dataset is missing. */
    char path[128];
    snprintf(path, sizeof path, "/v1/datasets/%s", qid);
    ck_assert_int_eq(http_do(ds_d.port, "DELETE", path, NULL, NULL, 0, &r), 0);
    ck_assert_int_eq(r.status, 204);
    http_resp_free(&r);
    refuse(qid, "realgdp", 422, "dataset-not-found", "/params/series/dataset");
    ds_expect_alive();
}
END_TEST

int main(void) {
    Suite *s = suite_create("datasets_forecast");
    TCase *tc = tcase_create("forecast");
    tcase_set_timeout(tc, 90);
    tcase_add_checked_fixture(tc, start, ds_stop);
    tcase_add_test(tc, drift_and_naive);
    tcase_add_test(tc, default_method);
    tcase_add_test(tc, missing_dataset_or_column);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

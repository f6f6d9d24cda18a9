/* Tests for workers/chart/report_xlsx.c: workbooks are written, then loaded with openpyxl by
 * tests/chart/check_report.py (run with /usr/bin/python3), which compares sheet names, the
 * Summary, every row of every series sheet, that dates are dates, and the native line charts. */
#include <check.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/chart/chart_test_util.h"
#include "workers/chart/chart.h"
#include "workers/chart/chart_axis.h"
#include "workers/chart/report_xlsx.h"

#define MAX_SERIES 10

/* Test data and the expectations written alongside it. */
typedef struct report_case {
    report_series s[MAX_SERIES];
    size_t n;
    cJSON *exp, *sheets, *summary, *series;
} report_case;

static test_column co2, gdp;
static double co2_fx[12], co2_pt[12], co2_lo[2][12], co2_hi[2][12];
static double gdp_hx[80], gdp_hy[80], gdp_fx[8], gdp_pt[8], gdp_lo[8], gdp_hi[8];
static double old_x[5], old_y[5];
static report_interval co2_iv[2], gdp_iv[1];

static cJSON *num_or_null(double v) {
    return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

static cJSON *str_or_null(const char *s) {
    return s ? cJSON_CreateString(s) : cJSON_CreateNull();
}

static void iso(double days, char *buf) {
    int64_t y;
    int m, d;
    chart__civil_from_days((int64_t)floor(days), &y, &m, &d);
    sprintf(buf, "%04lld-%02d-%02d", (long long)y, m, d);
}

/* Adds the expectations for series `s` whose sheet is `sheet` (NULL: no sheet). */
static void expect(report_case *rc, const report_series *s, const char *sheet, int dates) {
    cJSON *row = cJSON_CreateArray();
    cJSON_AddItemToArray(row, cJSON_CreateString(s->name));
    cJSON_AddItemToArray(row, str_or_null(s->method));
    cJSON_AddItemToArray(row, str_or_null(s->model));
    cJSON_AddItemToArray(row, num_or_null(s->mase));
    cJSON_AddItemToArray(row, num_or_null(s->smape));
    cJSON_AddItemToArray(row, num_or_null(s->rmse));
    cJSON_AddItemToArray(row, str_or_null(s->error));
    cJSON_AddItemToArray(row, str_or_null(sheet));
    cJSON_AddItemToArray(rc->summary, row);
    if (!sheet) return;
    cJSON_AddItemToArray(rc->sheets, cJSON_CreateString(sheet));
    cJSON *sh = cJSON_AddObjectToObject(rc->series, sheet);
    cJSON *head = cJSON_AddArrayToObject(sh, "header");
    cJSON_AddItemToArray(head, cJSON_CreateString("Date"));
    cJSON_AddItemToArray(head, cJSON_CreateString("Actual"));
    cJSON_AddItemToArray(head, cJSON_CreateString("Forecast"));
    /* Expected in ascending level order whatever the input order. */
    size_t order[REPORT_MAX_LEVELS];
    for (size_t k = 0; k < s->nintervals; k++)
        order[k] = k;
    if (s->nintervals == 2 && s->intervals[0].level > s->intervals[1].level)
        order[0] = 1, order[1] = 0;
    for (size_t k = 0; k < s->nintervals; k++) {
        char h[16];
        snprintf(h, sizeof h, "Lo %g", s->intervals[order[k]].level);
        cJSON_AddItemToArray(head, cJSON_CreateString(h));
        snprintf(h, sizeof h, "Hi %g", s->intervals[order[k]].level);
        cJSON_AddItemToArray(head, cJSON_CreateString(h));
    }
    cJSON_AddBoolToObject(sh, "dates_are_dates", dates);
    cJSON_AddNumberToObject(sh, "chart_series", (double)(2 + 2 * s->nintervals));
    cJSON *rows = cJSON_AddArrayToObject(sh, "rows");
    char d[16];
    /* The test data has every history date before every forecast date. */
    for (size_t i = 0; i < s->nhist; i++) {
        cJSON *r = cJSON_CreateArray();
        iso(s->hist_days[i], d);
        cJSON_AddItemToArray(r, cJSON_CreateString(d));
        cJSON_AddItemToArray(r, num_or_null(s->hist_values[i]));
        cJSON_AddItemToArray(rows, r);
    }
    for (size_t i = 0; i < s->nfc; i++) {
        cJSON *r = cJSON_CreateArray();
        iso(s->fc_days[i], d);
        cJSON_AddItemToArray(r, cJSON_CreateString(d));
        cJSON_AddItemToArray(r, cJSON_CreateNull());
        cJSON_AddItemToArray(r, num_or_null(s->point[i]));
        for (size_t k = 0; k < s->nintervals; k++) {
            cJSON_AddItemToArray(r, num_or_null(s->intervals[order[k]].lower[i]));
            cJSON_AddItemToArray(r, num_or_null(s->intervals[order[k]].upper[i]));
        }
        cJSON_AddItemToArray(rows, r);
    }
}

static void case_init(report_case *rc) {
    memset(rc, 0, sizeof *rc);
    rc->exp = cJSON_CreateObject();
    rc->sheets = cJSON_AddArrayToObject(rc->exp, "sheets");
    cJSON_AddItemToArray(rc->sheets, cJSON_CreateString("Summary"));
    rc->summary = cJSON_AddArrayToObject(rc->exp, "summary");
    rc->series = cJSON_AddObjectToObject(rc->exp, "series");
}

static report_series *add(report_case *rc, const char *name) {
    ck_assert_uint_lt(rc->n, MAX_SERIES);
    report_series *s = &rc->s[rc->n++];
    *s = (report_series){.name = name, .mase = NAN, .smape = NAN, .rmse = NAN};
    return s;
}

/* Builds the main test case: real series from the fixtures, awkward names, a failure. */
static void build_case(report_case *rc) {
    case_init(rc);
    test_load_column("co2_monthly.csv", 1, &co2);
    test_load_column("us_macro_quarterly.csv", 1, &gdp);

    report_series *s = add(rc, "CO2 (ppm)");
    s->hist_days = co2.x + co2.n - 60;
    s->hist_values = co2.y + co2.n - 60;
    s->nhist = 60;
    for (int h = 0; h < 12; h++) {
        co2_fx[h] = co2.x[co2.n - 1] + 31.0 * (h + 1) - (h + 1) % 3; /* distinct, increasing */
        co2_pt[h] = co2.y[co2.n - 12 + h] + 1.5;
        for (int k = 0; k < 2; k++) {
            double w = (k == 0 ? 1.96 : 1.28) * 0.5 * sqrt(h + 1.0);
            co2_lo[k][h] = co2_pt[h] - w;
            co2_hi[k][h] = co2_pt[h] + w;
        }
    }
    /* Given widest first; the sheet lists levels in ascending order. */
    co2_iv[0] = (report_interval){.level = 95, .lower = co2_lo[0], .upper = co2_hi[0]};
    co2_iv[1] = (report_interval){.level = 80, .lower = co2_lo[1], .upper = co2_hi[1]};
    s->fc_days = co2_fx, s->point = co2_pt, s->nfc = 12;
    s->intervals = co2_iv, s->nintervals = 2;
    s->method = "ets", s->model = "ETS(A,A,A)";
    s->mase = 0.4123, s->smape = 0.0871, s->rmse = 0.5321;
    expect(rc, s, "CO2 (ppm)", 1);

    s = add(rc, "realgdp");
    for (int i = 0; i < 80; i++) {
        gdp_hx[i] = gdp.x[i];
        gdp_hy[i] = i == 17 ? NAN : gdp.y[i]; /* a missing value stays blank */
    }
    for (int h = 0; h < 8; h++) {
        gdp_fx[h] = gdp.x[80 + h];
        gdp_pt[h] = gdp.y[79] * (1 + 0.008 * (h + 1));
        gdp_lo[h] = gdp_pt[h] - 30.0 * (h + 1);
        gdp_hi[h] = gdp_pt[h] + 30.0 * (h + 1);
    }
    gdp_iv[0] = (report_interval){.level = 80, .lower = gdp_lo, .upper = gdp_hi};
    s->hist_days = gdp_hx, s->hist_values = gdp_hy, s->nhist = 80;
    s->fc_days = gdp_fx, s->point = gdp_pt, s->nfc = 8;
    s->intervals = gdp_iv, s->nintervals = 1;
    s->method = "arima", s->model = "ARIMA(1,1,0)";
    s->mase = 1.25;
    expect(rc, s, "realgdp", 1);

    s = add(rc, "bad/name:[x]*?");
    s->hist_days = gdp_hx, s->hist_values = gdp_hy + 40, s->nhist = 10;
    expect(rc, s, "bad_name__x___", 1);

    s = add(rc, "A very long series name that Excel cannot hold");
    s->hist_days = gdp_hx, s->hist_values = gdp_hy, s->nhist = 3;
    expect(rc, s, "A very long series name that Ex", 1);

    s = add(rc, "REALGDP"); /* clashes with "realgdp" regardless of case */
    s->hist_days = gdp_hx, s->hist_values = gdp_hy, s->nhist = 4;
    expect(rc, s, "REALGDP (2)", 1);

    s = add(rc, "broken");
    s->method = "theta";
    s->error = "series too short: 3 points, need at least 8";
    expect(rc, s, NULL, 1);

    s = add(rc, "History"); /* reserved by Excel */
    s->hist_days = gdp_hx, s->hist_values = gdp_hy, s->nhist = 2;
    expect(rc, s, "History (2)", 1);

    /* Annual data from the 1820s cannot be Excel dates: ISO text instead. */
    static const char *const old_dates[5] = {"1821-01-01", "1822-01-01", "1823-01-01", "1824-01-01",
                                             "1825-01-01"};
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(chart_parse_date(old_dates[i], &old_x[i]), EQ_OK);
        old_y[i] = 269 + 50 * i;
    }
    s = add(rc, "lynx");
    s->hist_days = old_x, s->hist_values = old_y, s->nhist = 5;
    expect(rc, s, "lynx", 0);
}

/* Writes the expectations next to the workbook and runs the openpyxl checker on both. */
static void run_checker(const char *xlsx, cJSON *exp) {
    char json_path[600], cmd[2048];
    snprintf(json_path, sizeof json_path, "%s.expected.json", xlsx);
    char *text = cJSON_Print(exp);
    ck_assert_ptr_nonnull(text);
    FILE *f = fopen(json_path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    free(text);
    const char *root = getenv("ECONQ_SOURCE_DIR");
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s/tests/chart/check_report.py' '%s' '%s'",
             root ? root : ".", xlsx, json_path);
    int st = system(cmd);
    ck_assert_msg(st == 0, "openpyxl check failed (status %d): %s", st, cmd);
    unlink(json_path);
}

static void out_path(const char *name, char *buf, size_t len) {
    const char *dir = getenv("ECONQ_BUILD_DIR");
    snprintf(buf, len, "%s/%s", dir ? dir : ".", name);
}

START_TEST(workbook_file_checked_with_openpyxl) {
    static report_case rc;
    build_case(&rc);
    char path[512], err[160];
    out_path("report_test.xlsx", path, sizeof path);
    eq_err e = report_xlsx_write_file(rc.s, rc.n, path, err, sizeof err);
    ck_assert_msg(e == EQ_OK, "%s", err);
    run_checker(path, rc.exp);
    cJSON_Delete(rc.exp);
}
END_TEST

START_TEST(workbook_in_memory) {
    static report_case rc;
    build_case(&rc);
    unsigned char *buf = NULL;
    size_t len = 0;
    char err[160];
    eq_err e = report_xlsx_write_mem(rc.s, rc.n, &buf, &len, err, sizeof err);
    ck_assert_msg(e == EQ_OK, "%s", err);
    ck_assert_uint_gt(len, 2000);
    ck_assert_mem_eq(buf, "PK\x03\x04", 4);
    char path[512];
    out_path("report_test_mem.xlsx", path, sizeof path);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(buf, 1, len, f), len);
    fclose(f);
    free(buf);
    run_checker(path, rc.exp);
    cJSON_Delete(rc.exp);
}
END_TEST

START_TEST(empty_report_has_only_summary) {
    static report_case rc;
    case_init(&rc);
    char path[512];
    out_path("report_empty.xlsx", path, sizeof path);
    ck_assert_int_eq(report_xlsx_write_file(NULL, 0, path, NULL, 0), EQ_OK);
    run_checker(path, rc.exp);
    cJSON_Delete(rc.exp);
}
END_TEST

START_TEST(sheet_names) {
    char out[128];
    const char *taken[3] = {"Sales", "sales (2)", NULL};
    report_sheet_name("sales", taken, 2, out, sizeof out);
    ck_assert_str_eq(out, "sales (3)");
    report_sheet_name(NULL, taken, 0, out, sizeof out);
    ck_assert_str_eq(out, "Series");
    report_sheet_name("''quoted''", taken, 0, out, sizeof out);
    ck_assert_str_eq(out, "quoted");
    report_sheet_name("'''", taken, 0, out, sizeof out);
    ck_assert_str_eq(out, "Series");
    report_sheet_name("summary", taken, 0, out, sizeof out);
    ck_assert_str_eq(out, "summary (2)");
    report_sheet_name("a\\b/c?d*e[f]g:h", taken, 0, out, sizeof out);
    ck_assert_str_eq(out, "a_b_c_d_e_f_g_h");
    /* 40 two-byte characters are cut to 31 characters, not 31 bytes. */
    char longname[128] = "";
    for (int i = 0; i < 40; i++)
        strcat(longname, "\xc3\xa9");
    report_sheet_name(longname, taken, 0, out, sizeof out);
    ck_assert_uint_eq(strlen(out), 62);
    /* A clash on a full-length name is cut to make room for the suffix. */
    char full[64];
    memset(full, 'x', 31);
    full[31] = '\0';
    const char *t2[1] = {full};
    report_sheet_name(full, t2, 1, out, sizeof out);
    ck_assert_uint_eq(strlen(out), 31);
    ck_assert_str_eq(out + 27, " (2)");
    /* Invalid UTF-8 and control characters become '_'. */
    report_sheet_name("x\xff\x01y", taken, 0, out, sizeof out);
    ck_assert_str_eq(out, "x__y");
}
END_TEST

START_TEST(limits_and_errors) {
    char err[160];
    report_series s = {.name = "x", .mase = NAN, .smape = NAN, .rmse = NAN, .nhist = 3};
    ck_assert_int_eq(report_xlsx_write_file(&s, 1, "/tmp/never.xlsx", err, sizeof err),
                     EQ_EINVAL); /* data arrays missing */
    ck_assert_ptr_nonnull(strstr(err, "missing a data array"));
    double x[3] = {19000, 19001, 19002}, y[3] = {1, 2, 3};
    s.hist_days = x, s.hist_values = y;
    s.nhist = REPORT_MAX_ROWS + 1;
    ck_assert_int_eq(report_xlsx_write_file(&s, 1, "/tmp/never.xlsx", err, sizeof err), EQ_ETOOBIG);
    s.nhist = 3;
    s.nintervals = REPORT_MAX_LEVELS + 1;
    ck_assert_int_eq(report_xlsx_write_file(&s, 1, "/tmp/never.xlsx", err, sizeof err), EQ_ETOOBIG);
    s.nintervals = 0;
    ck_assert_int_eq(
        report_xlsx_write_file(&s, REPORT_MAX_SERIES + 1, "/tmp/never.xlsx", err, sizeof err),
        EQ_ETOOBIG);
    ck_assert_int_eq(report_xlsx_write_file(&s, 1, "", err, sizeof err), EQ_EINVAL);
    ck_assert_int_eq(access("/tmp/never.xlsx", F_OK), -1);
    /* An unwritable path is an I/O error. */
    ck_assert_int_eq(report_xlsx_write_file(&s, 1, "/nonexistent-dir/x.xlsx", err, sizeof err),
                     EQ_EIO);
    ck_assert_ptr_nonnull(strstr(err, "xlsx"));
}
END_TEST

static Suite *report_suite(void) {
    Suite *s = suite_create("report_xlsx");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, workbook_file_checked_with_openpyxl);
    tcase_add_test(tc, workbook_in_memory);
    tcase_add_test(tc, empty_report_has_only_summary);
    tcase_add_test(tc, sheet_names);
    tcase_add_test(tc, limits_and_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    SRunner *sr = srunner_create(report_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

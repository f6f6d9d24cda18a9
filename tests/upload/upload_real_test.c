/* api/upload on the real public files in tests/fixtures/data (written by openpyxl, xlwt and
 * R/pandas, not by us): shapes, names, frequency, dates, values, and that the spreadsheet
 * versions parse to the same numbers as the CSVs. */
#include <math.h>

#include "tests/upload/upload_test_util.h"

static double day(int y, unsigned m, unsigned d)
{
    /* Independent of the library: count days from 1970 by brute force. */
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    long n = 0;
    for (int yy = 1970; yy < y; yy++)
        n += 365 + ((yy % 4 == 0 && yy % 100 != 0) || yy % 400 == 0);
    for (int yy = y; yy < 1970; yy++)
        n -= 365 + ((yy % 4 == 0 && yy % 100 != 0) || yy % 400 == 0);
    for (unsigned mm = 1; mm < m; mm++)
        n += dm[mm - 1] + (mm == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
    return (double)(n + (long)d - 1);
}

static const char *const monthly_names[] = {"date",         "industrial_production",
                                            "unemployment_rate", "fed_funds_rate",
                                            "pce_deflator", "oil_ppi", "commodity_index"};

static void check_monthly(const ds_table *t, const char *kind)
{
    ck_assert_str_eq(t->kind, kind);
    ck_assert_uint_eq(t->nrows, 413);
    ck_assert_uint_eq(t->ncols, 7);
    for (size_t c = 0; c < 7; c++)
        ck_assert_str_eq(t->cols[c].name, monthly_names[c]);
    ck_assert_int_eq(t->date_col, 0);
    ck_assert_int_eq(t->cols[0].type, DS_TYPE_DATE);
    for (size_t c = 1; c < 7; c++)
        ck_assert_int_eq(t->cols[c].type, DS_TYPE_NUMBER);
    ck_assert_str_eq(t->frequency, "monthly");
    /* First and last rows, as in the CSV. */
    ck_assert(t->cols[0].num[0] == day(1959, 8, 1));
    ck_assert(t->cols[0].num[412] == day(1993, 12, 1));
    ck_assert_double_eq_tol(t->cols[1].num[0], 46.6, 1e-12);
    ck_assert_double_eq_tol(t->cols[6].num[1], 56.39999, 1e-12);
    ck_assert_double_eq_tol(t->cols[1].num[412], 148.5211, 1e-12);
    ck_assert_double_eq_tol(t->cols[5].num[412], 39.1, 1e-12);
    /* The last two commodity_index values are missing. */
    ck_assert_uint_eq(t->cols[6].missing, 2);
    ck_assert(isnan(t->cols[6].num[411]) && isnan(t->cols[6].num[412]));
    ck_assert(!isnan(t->cols[6].num[410]));
    for (size_t c = 0; c < 6; c++)
        ck_assert_uint_eq(t->cols[c].missing, 0);
}

START_TEST(monthly_csv)
{
    ds_table *t = fixture_parse("us_macro_monthly.csv", "csv");
    check_monthly(t, "csv");
    ds_table_free(t);
}
END_TEST

START_TEST(monthly_xlsx)
{
    ds_table *t = fixture_parse("us_macro_monthly.xlsx", "xlsx");
    check_monthly(t, "xlsx");
    ds_table_free(t);
}
END_TEST

/* Two tables hold the same values, column by column (relative tolerance for the binary
 * round trip openpyxl made, e.g. 93.9 stored as 93.90000000000001). */
static void assert_same(const ds_table *a, const ds_table *b)
{
    ck_assert_uint_eq(a->nrows, b->nrows);
    ck_assert_uint_eq(a->ncols, b->ncols);
    ck_assert_str_eq(a->frequency, b->frequency);
    ck_assert_int_eq(a->date_col, b->date_col);
    for (size_t c = 0; c < a->ncols; c++) {
        ck_assert_str_eq(a->cols[c].name, b->cols[c].name);
        ck_assert_int_eq(a->cols[c].type, b->cols[c].type);
        ck_assert_uint_eq(a->cols[c].missing, b->cols[c].missing);
        for (size_t r = 0; r < a->nrows; r++) {
            double x = a->cols[c].num[r], y = b->cols[c].num[r];
            if (isnan(x) || isnan(y)) {
                ck_assert_msg(isnan(x) && isnan(y), "column %zu row %zu: %g vs %g", c, r, x, y);
                continue;
            }
            ck_assert_msg(fabs(x - y) <= 1e-12 * fmax(1.0, fabs(x)),
                          "column %s row %zu: %.17g vs %.17g", a->cols[c].name, r, x, y);
        }
    }
}

START_TEST(xlsx_matches_csv)
{
    ds_table *a = fixture_parse("us_macro_monthly.csv", "csv");
    ds_table *b = fixture_parse("us_macro_monthly.xlsx", "xlsx");
    assert_same(a, b);
    ds_table_free(a);
    ds_table_free(b);
}
END_TEST

START_TEST(quarterly_csv_and_xls)
{
    ds_table *a = fixture_parse("us_macro_quarterly.csv", "csv");
    ds_table *b = fixture_parse("us_macro_quarterly.xls", "xls");
    ck_assert_uint_eq(a->nrows, 203);
    ck_assert_uint_eq(a->ncols, 13);
    ck_assert_str_eq(a->frequency, "quarterly");
    ck_assert_str_eq(b->kind, "xls");
    ck_assert_str_eq(a->cols[1].name, "realgdp");
    ck_assert_str_eq(a->cols[12].name, "realint");
    ck_assert(a->cols[0].num[0] == day(1959, 1, 1));
    ck_assert(a->cols[0].num[202] == day(2009, 7, 1));
    ck_assert_double_eq_tol(a->cols[1].num[0], 2710.349, 1e-9);
    ck_assert_double_eq_tol(a->cols[1].num[202], 12990.341, 1e-9);
    ck_assert_double_eq_tol(a->cols[12].num[202], -3.44, 1e-12);
    ck_assert_double_eq_tol(a->cols[11].num[202], 3.56, 1e-12);
    assert_same(a, b);
    ds_table_free(a);
    ds_table_free(b);
}
END_TEST

START_TEST(other_series)
{
    ds_table *t = fixture_parse("lynx_annual.csv", "csv");
    ck_assert_uint_eq(t->nrows, 114);
    ck_assert_str_eq(t->frequency, "annual");
    ck_assert_str_eq(t->cols[1].name, "trappings");
    ck_assert_double_eq(t->cols[1].num[0], 269);
    ck_assert(t->cols[0].num[113] == day(1934, 1, 1));
    ds_table_free(t);

    t = fixture_parse("us_economic_quarterly.csv", "csv");
    ck_assert_uint_eq(t->nrows, 136);
    ck_assert_uint_eq(t->ncols, 5);
    ck_assert_str_eq(t->cols[1].name, "log.M1.");
    ck_assert_str_eq(t->frequency, "quarterly");
    ck_assert_double_eq_tol(t->cols[4].num[0], 0.026133333, 1e-15);
    ds_table_free(t);
}
END_TEST

START_TEST(kind_mismatch_on_real_files)
{
    size_t len;
    unsigned char *b = fixture_read("us_macro_monthly.xlsx", &len);
    expect_refused(b, len, "xls", NULL, "content-mismatch", 415);
    expect_refused(b, len, "csv", NULL, "content-mismatch", 415);
    free(b);
    b = fixture_read("us_macro_quarterly.xls", &len);
    expect_refused(b, len, "xlsx", NULL, "content-mismatch", 415);
    expect_refused(b, len, "csv", NULL, "content-mismatch", 415);
    free(b);
    b = fixture_read("us_macro_quarterly.csv", &len);
    expect_refused(b, len, "xlsx", NULL, "content-mismatch", 415);
    expect_refused(b, len, "pdf", NULL, "unsupported-media-type", 415);
    free(b);
}
END_TEST

START_TEST(size_limit)
{
    size_t len;
    unsigned char *b = fixture_read("us_macro_monthly.csv", &len);
    upload_limits l;
    upload_limits_defaults(&l);
    l.max_bytes = len - 1;
    expect_refused(b, len, "csv", &l, "upload-too-large", 413);
    l.max_bytes = len;
    l.max_rows = 412;
    expect_refused(b, len, "csv", &l, "too-many-rows", 413);
    l.max_rows = 413;
    ds_table *t = NULL;
    ck_assert_int_eq(upload_parse(b, len, "csv", &l, &t, NULL), EQ_OK);
    ds_table_free(t);
    free(b);
    b = fixture_read("us_macro_monthly.xlsx", &len);
    upload_limits_defaults(&l);
    l.max_rows = 100;
    expect_refused(b, len, "xlsx", &l, "too-many-rows", 413);
    free(b);
    b = fixture_read("us_macro_quarterly.xls", &len);
    upload_limits_defaults(&l);
    l.max_cols = 12;
    expect_refused(b, len, "xls", &l, "too-many-columns", 413);
    /* Refused while the XLS reader child is still streaming: it is killed and reaped. */
    upload_limits_defaults(&l);
    l.max_rows = 100;
    expect_refused(b, len, "xls", &l, "too-many-rows", 413);
    upload_limits_defaults(&l);
    l.max_cell_bytes = 3;
    expect_refused(b, len, "xls", &l, "cell-too-long", 413);
    /* A truncated XLS: the OLE signature, then not enough of a compound file. */
    expect_refused(b, 4096, "xls", NULL, "invalid-spreadsheet", 422);
    free(b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("upload_real");
    TCase *tc = tcase_create("real");
    tcase_add_test(tc, monthly_csv);
    tcase_add_test(tc, monthly_xlsx);
    tcase_add_test(tc, xlsx_matches_csv);
    tcase_add_test(tc, quarterly_csv_and_xls);
    tcase_add_test(tc, other_series);
    tcase_add_test(tc, kind_mismatch_on_real_files);
    tcase_add_test(tc, size_limit);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

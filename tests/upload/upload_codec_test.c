/* api/upload storage encoding (round trip, hostile records) and the JSON description. */
#include <math.h>

#include "tests/upload/upload_test_util.h"

static void assert_equal_tables(const ds_table *a, const ds_table *b)
{
    ck_assert_uint_eq(a->nrows, b->nrows);
    ck_assert_uint_eq(a->ncols, b->ncols);
    ck_assert_int_eq(a->date_col, b->date_col);
    ck_assert_str_eq(a->frequency, b->frequency);
    ck_assert_str_eq(a->kind, b->kind);
    for (size_t c = 0; c < a->ncols; c++) {
        const ds_column *x = &a->cols[c], *y = &b->cols[c];
        ck_assert_str_eq(x->name, y->name);
        ck_assert_int_eq(x->type, y->type);
        ck_assert_uint_eq(x->missing, y->missing);
        for (size_t r = 0; r < a->nrows; r++) {
            if (x->type == DS_TYPE_TEXT) {
                if (x->text[r] == NULL)
                    ck_assert_ptr_null(y->text[r]);
                else
                    ck_assert_str_eq(x->text[r], y->text[r]);
            } else {
                /* Bit-exact, NaN included. */
                ck_assert_int_eq(memcmp(&x->num[r], &y->num[r], sizeof(double)), 0);
            }
        }
    }
}

static ds_table *mixed_table(void)
{
    const char s[] = "date,label,value\n2020-01-01,a,1.5\n2020-02-01,,NA\n2020-03-01,\"c,d\",-2\n";
    upload_error e;
    ds_table *t = csv_parse_str(s, &e);
    ck_assert_msg(t != NULL, "%s", e.detail);
    return t;
}

START_TEST(round_trip)
{
    ds_table *tables[] = {fixture_parse("us_macro_monthly.csv", "csv"),
                          fixture_parse("us_macro_quarterly.xls", "xls"), mixed_table()};
    for (size_t i = 0; i < 3; i++) {
        unsigned char *enc = NULL;
        size_t len = 0;
        ck_assert_int_eq(ds_table_encode(tables[i], &enc, &len), EQ_OK);
        ck_assert_uint_eq(enc[0], DS_CODEC_VERSION);
        ds_table *back = NULL;
        ck_assert_int_eq(ds_table_decode(enc, len, &back), EQ_OK);
        assert_equal_tables(tables[i], back);
        /* Encoding is stable: the decoded table encodes to the same bytes. */
        unsigned char *again = NULL;
        size_t len2 = 0;
        ck_assert_int_eq(ds_table_encode(back, &again, &len2), EQ_OK);
        ck_assert_uint_eq(len, len2);
        ck_assert_int_eq(memcmp(enc, again, len), 0);
        free(again);
        ds_table_free(back);
        free(enc);
        ds_table_free(tables[i]);
    }
}
END_TEST

START_TEST(hostile_records)
{
    ds_table *t = mixed_table();
    unsigned char *enc = NULL;
    size_t len = 0;
    ck_assert_int_eq(ds_table_encode(t, &enc, &len), EQ_OK);
    ds_table *out = (ds_table *)1;
    /* Every truncation is refused. */
    for (size_t cut = 0; cut < len; cut++) {
        ck_assert_int_eq(ds_table_decode(enc, cut, &out), EQ_EPROTO);
        ck_assert_ptr_null(out);
    }
    /* Trailing bytes, another version. */
    unsigned char *more = malloc(len + 1);
    ck_assert_ptr_nonnull(more);
    memcpy(more, enc, len);
    more[len] = 0;
    ck_assert_int_eq(ds_table_decode(more, len + 1, &out), EQ_EPROTO);
    more[0] = DS_CODEC_VERSION + 1;
    ck_assert_int_eq(ds_table_decode(more, len, &out), EQ_EPROTO);
    /* Flipping each byte either decodes to a valid table or is refused; never crashes. */
    for (size_t i = 0; i < len; i++) {
        memcpy(more, enc, len);
        more[i] ^= 0xA5;
        if (ds_table_decode(more, len, &out) == EQ_OK)
            ds_table_free(out);
    }
    /* A header claiming 2^60 rows allocates nothing. */
    unsigned char huge[] = {DS_CODEC_VERSION, 3, 'c', 's', 'v', 0, 0xff, 0xff, 0xff, 0xff,
                            0, 0, 0, 0, 0, 0, 0, 0x10, 1, 0, 0, 0};
    ck_assert_int_eq(ds_table_decode(huge, sizeof huge, &out), EQ_EPROTO);
    free(more);
    free(enc);
    ds_table_free(t);
}
END_TEST

START_TEST(describe)
{
    ds_table *t = fixture_parse("us_macro_monthly.csv", "csv");
    cJSON *j = ds_table_describe(t, 1);
    ck_assert_ptr_nonnull(j);
    ck_assert_int_eq(cJSON_GetObjectItem(j, "rows")->valueint, 413);
    ck_assert_str_eq(cJSON_GetObjectItem(j, "frequency")->valuestring, "monthly");
    ck_assert_str_eq(cJSON_GetObjectItem(j, "date_column")->valuestring, "date");
    ck_assert_str_eq(cJSON_GetObjectItem(j, "start")->valuestring, "1959-08-01");
    ck_assert_str_eq(cJSON_GetObjectItem(j, "end")->valuestring, "1993-12-01");
    cJSON *cols = cJSON_GetObjectItem(j, "columns");
    ck_assert_int_eq(cJSON_GetArraySize(cols), 7);
    cJSON *d = cJSON_GetArrayItem(cols, 0);
    ck_assert_str_eq(cJSON_GetObjectItem(d, "type")->valuestring, "date");
    ck_assert_str_eq(cJSON_GetObjectItem(d, "first")->valuestring, "1959-08-01");
    ck_assert_str_eq(cJSON_GetObjectItem(d, "last")->valuestring, "1993-12-01");
    cJSON *ci = cJSON_GetArrayItem(cols, 6);
    ck_assert_str_eq(cJSON_GetObjectItem(ci, "name")->valuestring, "commodity_index");
    ck_assert_int_eq(cJSON_GetObjectItem(ci, "missing")->valueint, 2);
    ck_assert_int_eq(cJSON_GetObjectItem(ci, "count")->valueint, 411);
    /* Mean and sd recomputed here the two-pass way. */
    const ds_column *col = ds_table_column(t, "commodity_index");
    ck_assert_ptr_nonnull(col);
    double sum = 0, ss = 0, mn = INFINITY, mx = -INFINITY;
    size_t n = 0;
    for (size_t r = 0; r < t->nrows; r++)
        if (!isnan(col->num[r])) {
            sum += col->num[r];
            mn = fmin(mn, col->num[r]);
            mx = fmax(mx, col->num[r]);
            n++;
        }
    double mean = sum / (double)n;
    for (size_t r = 0; r < t->nrows; r++)
        if (!isnan(col->num[r]))
            ss += (col->num[r] - mean) * (col->num[r] - mean);
    ck_assert_double_eq_tol(cJSON_GetObjectItem(ci, "mean")->valuedouble, mean, 1e-9);
    ck_assert_double_eq_tol(cJSON_GetObjectItem(ci, "sd")->valuedouble, sqrt(ss / (double)(n - 1)),
                            1e-9);
    ck_assert_double_eq(cJSON_GetObjectItem(ci, "min")->valuedouble, mn);
    ck_assert_double_eq(cJSON_GetObjectItem(ci, "max")->valuedouble, mx);
    cJSON_Delete(j);
    /* Without stats: no per-column statistics. */
    j = ds_table_describe(t, 0);
    ck_assert_ptr_null(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "columns"), 1),
                                           "mean"));
    cJSON_Delete(j);
    ck_assert_ptr_null(ds_table_column(t, "nope"));
    ds_table_free(t);

    /* No date column: nulls, and a one-value column has a null sd. */
    upload_error e;
    t = csv_parse_str("k,v\nx,1\n", &e);
    ck_assert_ptr_nonnull(t);
    j = ds_table_describe(t, 1);
    ck_assert(cJSON_IsNull(cJSON_GetObjectItem(j, "date_column")));
    ck_assert(cJSON_IsNull(cJSON_GetObjectItem(j, "frequency")));
    ck_assert(cJSON_IsNull(cJSON_GetObjectItem(j, "start")));
    ck_assert(cJSON_IsNull(
        cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "columns"), 1), "sd")));
    cJSON_Delete(j);
    ds_table_free(t);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("upload_codec");
    TCase *tc = tcase_create("codec");
    tcase_add_test(tc, round_trip);
    tcase_add_test(tc, hostile_records);
    tcase_add_test(tc, describe);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

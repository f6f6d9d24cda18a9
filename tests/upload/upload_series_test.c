/* api/upload columns as JSON and as a forecast job's inline series. */
#include <math.h>

#include "tests/upload/upload_test_util.h"

START_TEST(series_from_real_file)
{
    ds_table *t = fixture_parse("us_macro_monthly.xlsx", "xlsx");
    cJSON *s = NULL;
    upload_error e = {0};
    ck_assert_int_eq(ds_table_series_json(t, "commodity_index", &s, &e), EQ_OK);
    cJSON *dates = cJSON_GetObjectItem(s, "dates"), *vals = cJSON_GetObjectItem(s, "values");
    ck_assert_int_eq(cJSON_GetArraySize(dates), 413);
    ck_assert_int_eq(cJSON_GetArraySize(vals), 413);
    ck_assert_str_eq(cJSON_GetArrayItem(dates, 0)->valuestring, "1959-08-01");
    ck_assert_str_eq(cJSON_GetArrayItem(dates, 412)->valuestring, "1993-12-01");
    ck_assert_double_eq(cJSON_GetArrayItem(vals, 0)->valuedouble, 56);
    ck_assert(cJSON_IsNull(cJSON_GetArrayItem(vals, 412)));
    cJSON_Delete(s);

    ck_assert_int_eq(ds_table_series_json(t, "nope", &s, &e), EQ_ENOTFOUND);
    ck_assert_ptr_null(s);
    ck_assert_str_eq(e.type, "column-not-found");
    ck_assert_int_eq(e.status, 404);
    ck_assert_int_eq(ds_table_series_json(t, "date", &s, &e), EQ_EINVAL);
    ck_assert_str_eq(e.type, "column-not-numeric");

    cJSON *c = ds_column_json(t, "oil_ppi");
    ck_assert_ptr_nonnull(c);
    ck_assert_str_eq(cJSON_GetObjectItem(c, "type")->valuestring, "number");
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(c, "values")), 413);
    ck_assert_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(c, "dates"), 1)->valuestring,
                     "1959-09-01");
    cJSON_Delete(c);
    c = ds_column_json(t, "date");
    ck_assert_ptr_null(cJSON_GetObjectItem(c, "dates")); /* the date column itself */
    ck_assert_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(c, "values"), 0)->valuestring,
                     "1959-08-01");
    cJSON_Delete(c);
    ck_assert_ptr_null(ds_column_json(t, "nope"));
    ds_table_free(t);
}
END_TEST

START_TEST(series_order_and_refusals)
{
    upload_error e;
    /* Newest first and a row without a date: sorted, and the dateless row left out. */
    ds_table *t = csv_parse_str("date,v,w\n2020-03-01,3,a\n,9,b\n2020-01-01,1,c\n"
                                "2020-02-01,NA,d\n",
                                &e);
    ck_assert_msg(t != NULL, "%s", e.detail);
    cJSON *s = NULL;
    ck_assert_int_eq(ds_table_series_json(t, "v", &s, &e), EQ_OK);
    char *txt = cJSON_PrintUnformatted(s);
    ck_assert_str_eq(txt, "{\"dates\":[\"2020-01-01\",\"2020-02-01\",\"2020-03-01\"],"
                          "\"values\":[1,null,3]}");
    free(txt);
    cJSON_Delete(s);
    cJSON *c = ds_column_json(t, "w");
    txt = cJSON_PrintUnformatted(c);
    ck_assert_str_eq(txt, "{\"name\":\"w\",\"type\":\"text\",\"missing\":0,\"values\":[\"a\","
                          "\"b\",\"c\",\"d\"],\"dates\":[\"2020-03-01\",null,\"2020-01-01\","
                          "\"2020-02-01\"]}");
    free(txt);
    cJSON_Delete(c);
    ds_table_free(t);

    t = csv_parse_str("date,v\n2020-01-01,1\n2020-01-01,2\n", &e);
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(ds_table_series_json(t, "v", &s, &e), EQ_EINVAL);
    ck_assert_str_eq(e.type, "duplicate-dates");
    ds_table_free(t);

    t = csv_parse_str("k,v\nx,1\n", &e);
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(ds_table_series_json(t, "v", &s, &e), EQ_EINVAL);
    ck_assert_str_eq(e.type, "no-date-column");
    ds_table_free(t);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("upload_series");
    TCase *tc = tcase_create("series");
    tcase_add_test(tc, series_from_real_file);
    tcase_add_test(tc, series_order_and_refusals);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

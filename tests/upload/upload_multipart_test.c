/* api/upload helpers for the HTTP handler: multipart/form-data, kind detection, name cleaning. */
#include "tests/upload/upload_test_util.h"

#define CT "multipart/form-data; boundary=----econqBoundary7MA4YWxkTrZu0gW"

static const char BODY[] = "preamble is ignored\r\n"
                           "------econqBoundary7MA4YWxkTrZu0gW\r\n"
                           "Content-Disposition: form-data; name=\"name\"\r\n"
                           "\r\n"
                           "US macro\r\n"
                           "------econqBoundary7MA4YWxkTrZu0gW\r\n"
                           "Content-Disposition: form-data; name=\"file\"; "
                           "filename=\"C:\\\\fakepath\\\\macro.csv\"\r\n"
                           "Content-Type: text/csv\r\n"
                           "\r\n"
                           "date,x\r\n2020-01-01,1\r\n--not-a-boundary\r\n2020-01-02,2\r\n"
                           "------econqBoundary7MA4YWxkTrZu0gW--\r\n"
                           "epilogue";

START_TEST(two_parts)
{
    multipart_part parts[4];
    size_t n = 0;
    upload_error e = {0};
    ck_assert_int_eq(multipart_parse(CT, BODY, sizeof BODY - 1, parts, 4, &n, &e), EQ_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(parts[0].name, "name");
    ck_assert_str_eq(parts[0].filename, "");
    ck_assert_uint_eq(parts[0].len, 8);
    ck_assert_int_eq(memcmp(parts[0].data, "US macro", 8), 0);
    ck_assert_str_eq(parts[1].name, "file");
    ck_assert_str_eq(parts[1].filename, "C:\\fakepath\\macro.csv");
    ck_assert_str_eq(parts[1].content_type, "text/csv");
    const char *want = "date,x\r\n2020-01-01,1\r\n--not-a-boundary\r\n2020-01-02,2";
    ck_assert_uint_eq(parts[1].len, strlen(want));
    ck_assert_int_eq(memcmp(parts[1].data, want, strlen(want)), 0);
    ck_assert_str_eq(upload_kind_from_type(parts[1].content_type, parts[1].filename), "csv");

    /* The file part parses as a dataset, and its filename cleans to a label. */
    ds_table *t = NULL;
    ck_assert_int_eq(upload_parse(parts[1].data, parts[1].len, "csv", NULL, &t, &e), EQ_OK);
    ck_assert_uint_eq(t->nrows, 3); /* the "--not-a-boundary" line is data */
    ds_table_free(t);
    char name[UPLOAD_NAME_MAX + 1];
    ck_assert_int_eq(upload_clean_name(parts[1].filename, name, sizeof name, &e), EQ_OK);
    ck_assert_str_eq(name, "macro.csv");

    /* A quoted boundary parameter, in another case, works the same. */
    ck_assert_int_eq(multipart_parse("Multipart/Form-Data; charset=x; BOUNDARY=\"----econqBoundary"
                                     "7MA4YWxkTrZu0gW\"",
                                     BODY, sizeof BODY - 1, parts, 4, &n, &e),
                     EQ_OK);
    ck_assert_uint_eq(n, 2);
}
END_TEST

static void expect_mp_refused(const char *ct, const char *body, size_t max, const char *type)
{
    multipart_part parts[4];
    size_t n = 99;
    upload_error e = {0};
    ck_assert_int_ne(multipart_parse(ct, body, strlen(body), parts, max, &n, &e), EQ_OK);
    ck_assert_str_eq(e.type, type);
    ck_assert_int_eq(e.status, 400);
}

START_TEST(refusals)
{
    expect_mp_refused("multipart/form-data", BODY, 4, "missing-boundary");
    expect_mp_refused("multipart/form-data; boundary=", BODY, 4, "missing-boundary");
    expect_mp_refused(NULL, BODY, 4, "missing-boundary");
    expect_mp_refused("multipart/form-data; boundary=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                      "xxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                      BODY, 4, "missing-boundary");
    expect_mp_refused("text/csv", BODY, 4, "malformed-multipart");
    expect_mp_refused(CT, BODY, 1, "too-many-parts");
    expect_mp_refused(CT, "no delimiter here", 4, "malformed-multipart");
    /* Cut before the closing delimiter. */
    char cut[sizeof BODY];
    memcpy(cut, BODY, sizeof BODY);
    cut[strstr(BODY, "------econqBoundary7MA4YWxkTrZu0gW--") - BODY - 4] = '\0';
    expect_mp_refused(CT, cut, 4, "malformed-multipart");
    expect_mp_refused(CT,
                      "------econqBoundary7MA4YWxkTrZu0gW\r\nno colon header\r\n\r\nx\r\n"
                      "------econqBoundary7MA4YWxkTrZu0gW--",
                      4, "malformed-multipart");
}
END_TEST

START_TEST(kinds)
{
    ck_assert_str_eq(upload_kind_from_type("text/csv; charset=utf-8", NULL), "csv");
    ck_assert_str_eq(upload_kind_from_type("TEXT/CSV", NULL), "csv");
    ck_assert_str_eq(upload_kind_from_type(
                         "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                         "x.csv"),
                     "xlsx");
    ck_assert_str_eq(upload_kind_from_type("application/vnd.ms-excel", NULL), "xls");
    ck_assert_str_eq(upload_kind_from_type("application/octet-stream", "Data.XLSX"), "xlsx");
    ck_assert_str_eq(upload_kind_from_type(NULL, "old.xls"), "xls");
    ck_assert_ptr_null(upload_kind_from_type("image/png", "x.png"));
    ck_assert_ptr_null(upload_kind_from_type(NULL, NULL));
    ck_assert_ptr_null(upload_kind_from_type("text/csvx", "noext"));
}
END_TEST

static void expect_clean(const char *in, const char *want)
{
    char out[UPLOAD_NAME_MAX + 1];
    upload_error e = {0};
    ck_assert_msg(upload_clean_name(in, out, sizeof out, &e) == EQ_OK, "%s: %s", in, e.detail);
    ck_assert_str_eq(out, want);
}

static void expect_name_refused(const char *in)
{
    char out[UPLOAD_NAME_MAX + 1];
    upload_error e = {0};
    ck_assert_int_eq(upload_clean_name(in, out, sizeof out, &e), EQ_EINVAL);
    ck_assert_str_eq(e.type, "invalid-name");
    ck_assert_int_eq(e.status, 400);
}

START_TEST(names)
{
    expect_clean("US macro (quarterly)", "US macro (quarterly)");
    expect_clean("  spaced \t out  ", "spaced out");
    expect_clean("../../etc/passwd", "passwd");
    expect_clean("a/b\\c.csv", "c.csv");
    expect_clean("..hidden", "hidden");
    expect_clean("data..csv", "data.csv");
    expect_clean("a...b", "a.b");
    expect_clean("Zürich données", "Zürich données");
    expect_name_refused(NULL);
    expect_name_refused("");
    expect_name_refused("..");
    expect_name_refused("dir/");
    expect_name_refused("   ");
    expect_name_refused("bad\nname");
    expect_name_refused("tab\x01");
    expect_name_refused("c1 \xc2\x85 control");
    expect_name_refused("latin1 \xe9");
    /* Over-long names are cut at a character boundary; absurd ones refused. */
    char longname[300];
    for (size_t i = 0; i < 150; i++)
        memcpy(longname + 2 * i, "\xc3\xa9", 2); /* é, two bytes */
    longname[300 - 1] = '\0';
    longname[298] = '\0';
    char out[UPLOAD_NAME_MAX + 1];
    ck_assert_int_eq(upload_clean_name(longname, out, sizeof out, NULL), EQ_OK);
    ck_assert_uint_eq(strlen(out), UPLOAD_NAME_MAX);
    char small[8];
    ck_assert_int_eq(upload_clean_name(longname, small, sizeof small, NULL), EQ_OK);
    ck_assert_uint_eq(strlen(small), 6);
    char *huge = malloc(UPLOAD_NAME_MAX_INPUT + 2);
    ck_assert_ptr_nonnull(huge);
    memset(huge, 'a', UPLOAD_NAME_MAX_INPUT + 1);
    huge[UPLOAD_NAME_MAX_INPUT + 1] = '\0';
    expect_name_refused(huge);
    free(huge);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("upload_multipart");
    TCase *tc = tcase_create("multipart");
    tcase_add_test(tc, two_parts);
    tcase_add_test(tc, refusals);
    tcase_add_test(tc, kinds);
    tcase_add_test(tc, names);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

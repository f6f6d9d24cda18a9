/* api/upload CSV: encodings, delimiters, quoting, inference, limits and refusals, on inputs
 * made by the test. */
#include <math.h>

#include "tests/upload/upload_test_util.h"

START_TEST(elf_renamed_csv)
{
    /* The first bytes of a real x86-64 ELF header, then text: refused by magic. */
    static const unsigned char elf[] = {0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                        2, 0, 0x3e, 0, 'a', ',', 'b', '\n', '1', ',', '2', '\n'};
    expect_refused(elf, sizeof elf, "csv", NULL, "content-mismatch", 415);
    static const unsigned char pe[] = "MZ\x90\0\x03\0\0\0date,x\n";
    expect_refused(pe, sizeof pe - 1, "csv", NULL, "content-mismatch", 415);
    /* A NUL byte in the middle of otherwise plausible text is binary content. */
    static const char nul[] = "date,x\n2020-01-01,1\0\n";
    expect_refused(nul, sizeof nul - 1, "csv", NULL, "content-mismatch", 415);
}
END_TEST

START_TEST(empty_and_headers_only)
{
    expect_refused("", 0, "csv", NULL, "empty-file", 422);
    expect_refused("\n\n\r\n", 4, "csv", NULL, "empty-file", 422);
    expect_refused("date,value\n", 11, "csv", NULL, "no-data-rows", 422);
    const char *s = "name,city\nann,paris\nbob,rome\n";
    expect_refused(s, strlen(s), "csv", NULL, "no-numeric-column", 422);
}
END_TEST

START_TEST(latin1_converted)
{
    /* "année" and "Zürich" in Latin-1: é = 0xE9, ü = 0xFC. */
    const char s[] = "ann\xe9" "e,ville\n2001,Z\xfc" "rich\n2002,Gen\xe8ve\n";
    upload_error e;
    ds_table *t = csv_parse_str(s, &e);
    ck_assert_msg(t != NULL, "%s %s", e.type, e.detail);
    ck_assert_str_eq(t->cols[0].name, "ann\xc3\xa9" "e");
    ck_assert_int_eq(t->cols[1].type, DS_TYPE_TEXT);
    ck_assert_str_eq(t->cols[1].text[0], "Z\xc3\xbcrich");
    ck_assert_str_eq(t->cols[1].text[1], "Gen\xc3\xa8ve");
    /* "année" is not one of the date-ish names, so the years are plain numbers here. */
    ck_assert_int_eq(t->cols[0].type, DS_TYPE_NUMBER);
    ds_table_free(t);
    /* A C1 byte (0x80-0x9F) is Windows-1252 or worse, not Latin-1: refused. */
    const char w[] = "a,b\n1,\x93quoted\x94\n";
    expect_refused(w, strlen(w), "csv", NULL, "invalid-encoding", 422);
    const char u16[] = "\xff\xfe" "d\0a\0";
    expect_refused(u16, sizeof u16 - 1, "csv", NULL, "invalid-encoding", 422);
}
END_TEST

START_TEST(bom_accepted)
{
    const char s[] = "\xef\xbb\xbf" "date,v\n2020-01-01,1\n2020-01-02,2\n";
    upload_error e;
    ds_table *t = csv_parse_str(s, &e);
    ck_assert_msg(t != NULL, "%s %s", e.type, e.detail);
    ck_assert_str_eq(t->cols[0].name, "date"); /* no BOM glued to the first name */
    ck_assert_int_eq(t->date_col, 0);
    ck_assert_str_eq(t->frequency, "daily");
    ds_table_free(t);
}
END_TEST

START_TEST(semicolon_decimal_comma)
{
    const char s[] = "Datum;Wert;Menge\n2020-01;1,5;1.234,5\n2020-02;2,25;2.000\n"
                     "2020-03;NA;-3,5e2\n";
    upload_error e;
    ds_table *t = csv_parse_str(s, &e);
    ck_assert_msg(t != NULL, "%s %s", e.type, e.detail);
    ck_assert_uint_eq(t->ncols, 3);
    ck_assert_str_eq(t->frequency, "monthly");
    ck_assert_int_eq(t->cols[1].type, DS_TYPE_NUMBER);
    ck_assert_double_eq(t->cols[1].num[0], 1.5);
    ck_assert_double_eq(t->cols[1].num[1], 2.25);
    ck_assert(isnan(t->cols[1].num[2]));
    ck_assert_uint_eq(t->cols[1].missing, 1);
    ck_assert_double_eq(t->cols[2].num[0], 1234.5);
    ck_assert_double_eq(t->cols[2].num[1], 2000);
    ck_assert_double_eq(t->cols[2].num[2], -350);
    ds_table_free(t);
    /* With ',' as delimiter a quoted "1,5" is not a number: thousands groups are 3 digits. */
    const char c[] = "k,v,w\n1,\"1,5\",\"1,234.5\"\n2,\"2,5\",\"12,345,678\"\n";
    t = csv_parse_str(c, &e);
    ck_assert_msg(t != NULL, "%s %s", e.type, e.detail);
    ck_assert_int_eq(t->cols[1].type, DS_TYPE_TEXT);
    ck_assert_int_eq(t->cols[2].type, DS_TYPE_NUMBER);
    ck_assert_double_eq(t->cols[2].num[0], 1234.5);
    ck_assert_double_eq(t->cols[2].num[1], 12345678);
    ds_table_free(t);
}
END_TEST

START_TEST(tab_delimited)
{
    const char s[] = "year\tvalue\tnote\n1990\t1.5\t a b \n1991\t2.5\t\n1992\t\t\"x\ty\"\n";
    upload_error e;
    ds_table *t = csv_parse_str(s, &e);
    ck_assert_msg(t != NULL, "%s %s", e.type, e.detail);
    ck_assert_uint_eq(t->ncols, 3);
    ck_assert_int_eq(t->cols[0].type, DS_TYPE_DATE); /* YYYY under a "year" header */
    ck_assert_str_eq(t->frequency, "annual");
    ck_assert_double_eq(t->cols[1].num[1], 2.5);
    ck_assert_uint_eq(t->cols[1].missing, 1);
    ck_assert_str_eq(t->cols[2].text[0], "a b");
    ck_assert_ptr_null(t->cols[2].text[1]);
    ck_assert_str_eq(t->cols[2].text[2], "x\ty");
    ds_table_free(t);
}
END_TEST

START_TEST(quoted_newlines_and_quotes)
{
    const char s[] = "date,comment,value\r\n"
                     "2020-01-01,\"line one\nline two\",1\r\n"
                     "2020-01-08,\"say \"\"hi\"\", ok\",2\r\n"
                     "2020-01-15,plain,3\r\n";
    upload_error e;
    ds_table *t = csv_parse_str(s, &e);
    ck_assert_msg(t != NULL, "%s %s", e.type, e.detail);
    ck_assert_uint_eq(t->nrows, 3);
    ck_assert_str_eq(t->cols[1].text[0], "line one\nline two");
    ck_assert_str_eq(t->cols[1].text[1], "say \"hi\", ok");
    ck_assert_double_eq(t->cols[2].num[2], 3);
    ck_assert_str_eq(t->frequency, "weekly");
    ds_table_free(t);
    const char bad[] = "a,b\n1,\"unterminated\n";
    expect_refused(bad, strlen(bad), "csv", NULL, "malformed-csv", 422);
}
END_TEST

START_TEST(limits)
{
    upload_limits l;
    upload_limits_defaults(&l);
    l.max_cell_bytes = 16;
    const char longcell[] = "a,b\n1,12345678901234567\n";
    expect_refused(longcell, strlen(longcell), "csv", &l, "cell-too-long", 413);
    upload_limits_defaults(&l);
    l.max_cols = 3;
    const char wide[] = "a,b,c,d\n1,2,3,4\n";
    expect_refused(wide, strlen(wide), "csv", &l, "too-many-columns", 413);
    upload_limits_defaults(&l);
    l.max_rows = 2;
    const char tall[] = "a\n1\n2\n3\n";
    expect_refused(tall, strlen(tall), "csv", &l, "too-many-rows", 413);
    upload_limits_defaults(&l);
    l.max_cells = 5;
    const char many[] = "a,b\n1,2\n3,4\n";
    expect_refused(many, strlen(many), "csv", &l, "too-many-cells", 413);
    /* The default cell limit on a 5,000-byte field. */
    char *big = malloc(6000);
    ck_assert_ptr_nonnull(big);
    strcpy(big, "a,b\n1,");
    memset(big + 6, 'x', 5000);
    strcpy(big + 5006, "\n");
    expect_refused(big, strlen(big), "csv", NULL, "cell-too-long", 413);
    free(big);
}
END_TEST

START_TEST(inference)
{
    const char s[] = "period,x,flag,empty,\n"
                     "2001Q1,1,yes,,\n"
                     "2001-Q2,N/A,no,,\n"
                     "2001Q3,null,,,\n"
                     "2001Q4,.,yes,,\n"
                     "2002Q1,  5 ,no,,\n";
    upload_error e;
    ds_table *t = csv_parse_str(s, &e);
    ck_assert_msg(t != NULL, "%s %s", e.type, e.detail);
    ck_assert_uint_eq(t->nrows, 5);
    ck_assert_uint_eq(t->ncols, 4); /* the nameless, empty last column is dropped */
    ck_assert_int_eq(t->cols[0].type, DS_TYPE_DATE);
    ck_assert_str_eq(t->frequency, "quarterly");
    ck_assert_int_eq(t->cols[1].type, DS_TYPE_NUMBER);
    ck_assert_uint_eq(t->cols[1].missing, 3);
    ck_assert_double_eq(t->cols[1].num[4], 5);
    ck_assert_int_eq(t->cols[2].type, DS_TYPE_TEXT);
    ck_assert_uint_eq(t->cols[2].missing, 1);
    ck_assert_str_eq(t->cols[3].name, "empty"); /* a named column with no values is kept */
    ck_assert_uint_eq(t->cols[3].missing, 5);
    ds_table_free(t);

    /* Duplicate and empty header names become unique; YYYY-MM dates; irregular spacing. */
    const char d[] = "when,v,v,\n2020-01,1,2,3\n2020-02,1,2,3\n2020-09,1,2,3\n2021-11,1,2,3\n";
    t = csv_parse_str(d, &e);
    ck_assert_msg(t != NULL, "%s %s", e.type, e.detail);
    ck_assert_str_eq(t->cols[1].name, "v");
    ck_assert_str_eq(t->cols[2].name, "v_2");
    ck_assert_str_eq(t->cols[3].name, "column_4");
    ck_assert_str_eq(t->frequency, "irregular");
    ds_table_free(t);

    /* A column with one non-date value is text, and there is then no date column. */
    const char n[] = "date,v\n2020-01-01,1\nsoon,2\n";
    t = csv_parse_str(n, &e);
    ck_assert_msg(t != NULL, "%s %s", e.type, e.detail);
    ck_assert_int_eq(t->date_col, -1);
    ck_assert_str_eq(t->frequency, "");
    ck_assert_int_eq(t->cols[0].type, DS_TYPE_TEXT);
    ds_table_free(t);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("upload_csv");
    TCase *tc = tcase_create("csv");
    tcase_add_test(tc, elf_renamed_csv);
    tcase_add_test(tc, empty_and_headers_only);
    tcase_add_test(tc, latin1_converted);
    tcase_add_test(tc, bom_accepted);
    tcase_add_test(tc, semicolon_decimal_comma);
    tcase_add_test(tc, tab_delimited);
    tcase_add_test(tc, quoted_newlines_and_quotes);
    tcase_add_test(tc, limits);
    tcase_add_test(tc, inference);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

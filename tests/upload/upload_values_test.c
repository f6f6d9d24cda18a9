/* api/upload cell values: numbers, dates, missing tokens, Excel serials (internal helpers). */
#include <math.h>

#include "api/upload/upload_internal.h"
#include "tests/upload/upload_test_util.h"

START_TEST(numbers)
{
    static const struct {
        const char *s;
        int comma;
        double want;
    } ok[] = {{"1", 0, 1},           {" -2.5 ", 0, -2.5},  {"+.5", 0, 0.5},
              {"1e3", 0, 1000},      {"1.5E-2", 0, 0.015}, {"1,234", 0, 1234},
              {"12,345,678.9", 0, 12345678.9},              {"1,5", 1, 1.5},
              {"1.234,5", 1, 1234.5}, {"-0,25", 1, -0.25},  {"7.", 0, 7}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        double v = NAN;
        ck_assert_msg(upload__parse_number(ok[i].s, ok[i].comma, &v), "%s", ok[i].s);
        ck_assert_double_eq_tol(v, ok[i].want, 1e-12);
    }
    static const char *const bad[] = {"",     "abc",  "1,5",  "1,23", "1234,567", "1.2.3",
                                      "inf",  "nan",  "0x10", "1e",   "--1",      "1 2",
                                      "12%",  "1e999", ",5",  "1,234,56"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        double v;
        ck_assert_msg(!upload__parse_number(bad[i], 0, &v), "accepted %s", bad[i]);
    }
    double v;
    ck_assert(!upload__parse_number("1.5", 1, &v)); /* "1.5" is not a decimal-comma number */
}
END_TEST

START_TEST(dates)
{
    static const struct {
        const char *s;
        int y, m, d;
    } ok[] = {{"1959-08-01", 1959, 8, 1},   {"2020-2-29", 2020, 2, 29},
              {"2001/12/31", 2001, 12, 31}, {"1959-08", 1959, 8, 1},
              {"2001Q3", 2001, 7, 1},       {"2001-Q4", 2001, 10, 1},
              {"2001 q1", 2001, 1, 1},      {"1999M12", 1999, 12, 1},
              {"1999-M3", 1999, 3, 1},      {"2020-01-01 00:00:00", 2020, 1, 1},
              {"2020-01-02T13:45:10Z", 2020, 1, 2}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        double d = NAN;
        ck_assert_msg(upload__parse_date(ok[i].s, 0, &d), "%s", ok[i].s);
        ck_assert_double_eq(d, (double)upload__days_from_civil(ok[i].y, (unsigned)ok[i].m,
                                                               (unsigned)ok[i].d));
    }
    static const char *const bad[] = {"2021-02-29", "2020-13-01", "2020-00-10", "2020Q5",
                                      "20-01-01",   "2020/01",    "2020-01-01x", "1959",
                                      "0999-01-01", "2020-01-01 25:00", "hello"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        double d;
        ck_assert_msg(!upload__parse_date(bad[i], 0, &d), "accepted %s", bad[i]);
    }
    double d;
    ck_assert(upload__parse_date("1959", 1, &d));
    ck_assert_double_eq(d, (double)upload__days_from_civil(1959, 1, 1));
    ck_assert_double_eq(upload__days_from_civil(1970, 1, 1), 0);
    ck_assert_double_eq(upload__days_from_civil(2000, 3, 1), 11017);
    ck_assert_double_eq(upload__days_from_civil(1969, 12, 31), -1);
    char buf[16];
    for (double x = -354000; x < 2900000; x += 997) { /* years 1000-9999 */
        ds_date_format(x, buf, sizeof buf);
        ck_assert_msg(upload__parse_date(buf, 0, &d) && d == x, "%g -> %s", x, buf);
    }
}
END_TEST

START_TEST(missing_and_excel)
{
    static const char *const miss[] = {"", "  ", "NA", "na", "N/A", "#N/A", "null", "NULL",
                                       "NaN", ".", "-", " NA "};
    for (size_t i = 0; i < sizeof miss / sizeof miss[0]; i++)
        ck_assert_msg(upload__is_missing(miss[i]), "'%s'", miss[i]);
    ck_assert(!upload__is_missing("0"));
    ck_assert(!upload__is_missing("none at all"));
    ck_assert_double_eq(upload__excel_days(25569, 0), 0);
    ck_assert_double_eq(upload__excel_days(25569.99, 0), 0);
    ck_assert_double_eq(upload__excel_days(0, 1), -24107);
    ck_assert(isnan(upload__excel_days(-1, 0)));
    ck_assert(isnan(upload__excel_days(3e6, 0)));
    ck_assert(upload__dateish_name("Date"));
    ck_assert(upload__dateish_name("fiscal_year"));
    ck_assert(!upload__dateish_name("value"));
    ck_assert(!upload__dateish_name("update_count"));
    ck_assert(upload__dateish_name("Year End"));
    ck_assert(upload__dateish_name("TIME"));
    ck_assert(!upload__dateish_name(""));
    /* Error details quoting the upload stay printable ASCII. */
    upload_error e;
    ck_assert_int_eq(upload__fail(&e, EQ_EINVAL, 422, "x", "a\nb\xc3\xa9%s", "\x01"), EQ_EINVAL);
    ck_assert_str_eq(e.detail, "a?b???");
    ck_assert_uint_eq(upload__utf8_prefix((const unsigned char *)"ok\xc3\xa9\xc3", 5), 4);
    ck_assert_uint_eq(upload__utf8_prefix((const unsigned char *)"\xed\xa0\x80", 3), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("upload_values");
    TCase *tc = tcase_create("values");
    tcase_add_test(tc, numbers);
    tcase_add_test(tc, dates);
    tcase_add_test(tc, missing_and_excel);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

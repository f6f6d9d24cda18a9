/* Tests for common/buf.c: the growable writer, the bounds-checked reader and JSON escaping. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"

START_TEST(integers_round_trip_little_endian) {
    eq_buf b;
    eq_buf_init(&b);
    eq_buf_u8(&b, 0xab);
    eq_buf_u16(&b, 0x1234);
    eq_buf_u32(&b, 0xdeadbeefu);
    eq_buf_u64(&b, UINT64_C(0x0102030405060708));
    eq_buf_i64(&b, INT64_MIN);
    eq_buf_i64(&b, -1);
    ck_assert(!b.oom);
    ck_assert_uint_eq(b.len, 1 + 2 + 4 + 8 + 8 + 8);
    /* Little-endian on the wire, whatever the host. */
    ck_assert_uint_eq(b.data[1], 0x34);
    ck_assert_uint_eq(b.data[2], 0x12);
    ck_assert_uint_eq(b.data[3], 0xef);
    ck_assert_uint_eq(b.data[7], 0x08);
    ck_assert_uint_eq(b.data[14], 0x01);

    eq_rd r;
    eq_rd_init(&r, b.data, b.len);
    ck_assert_uint_eq(eq_rd_u8(&r), 0xab);
    ck_assert_uint_eq(eq_rd_u16(&r), 0x1234);
    ck_assert_uint_eq(eq_rd_u32(&r), 0xdeadbeefu);
    ck_assert_uint_eq(eq_rd_u64(&r), UINT64_C(0x0102030405060708));
    ck_assert(eq_rd_i64(&r) == INT64_MIN);
    ck_assert(eq_rd_i64(&r) == -1);
    ck_assert(!r.bad);
    ck_assert_ptr_eq(r.p, r.end);
    eq_buf_fini(&b);
}
END_TEST

START_TEST(strings_and_bytes_round_trip) {
    eq_buf b;
    eq_buf_init(&b);
    eq_buf_str(&b, "hello");
    eq_buf_str(&b, "");
    eq_buf_str(&b, NULL);
    eq_buf_bytes(&b, "a\0b", 3);
    eq_buf_str(&b, "after");
    ck_assert(!b.oom);

    eq_rd r;
    eq_rd_init(&r, b.data, b.len);
    char *s = eq_rd_str(&r, 100);
    ck_assert_str_eq(s, "hello");
    free(s);
    s = eq_rd_str(&r, 100);
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s, "");
    free(s);
    /* A NULL string reads back as NULL without marking the reader bad. */
    s = eq_rd_str(&r, 100);
    ck_assert_ptr_null(s);
    ck_assert(!r.bad);
    size_t n = 99;
    const unsigned char *p = eq_rd_bytes(&r, &n, 100);
    ck_assert_uint_eq(n, 3);
    ck_assert_mem_eq(p, "a\0b", 3);
    /* The borrowed bytes point into the writer's buffer. */
    ck_assert(p >= b.data && p + 3 <= b.data + b.len);
    s = eq_rd_str(&r, 100);
    ck_assert_str_eq(s, "after");
    free(s);
    ck_assert(!r.bad);
    ck_assert_ptr_eq(r.p, r.end);
    eq_buf_fini(&b);
}
END_TEST

START_TEST(string_with_nul_inside_is_refused) {
    eq_buf b;
    eq_buf_init(&b);
    eq_buf_bytes(&b, "a\0b", 3);
    eq_rd r;
    eq_rd_init(&r, b.data, b.len);
    ck_assert_ptr_null(eq_rd_str(&r, 100));
    ck_assert(r.bad);
    eq_buf_fini(&b);
}
END_TEST

START_TEST(string_longer_than_max_is_refused) {
    eq_buf b;
    eq_buf_init(&b);
    eq_buf_str(&b, "0123456789");
    eq_rd r;
    eq_rd_init(&r, b.data, b.len);
    ck_assert_ptr_null(eq_rd_str(&r, 9));
    ck_assert(r.bad);
    /* Exactly at the limit is accepted. */
    eq_rd_init(&r, b.data, b.len);
    char *s = eq_rd_str(&r, 10);
    ck_assert_str_eq(s, "0123456789");
    free(s);
    eq_buf_fini(&b);
}
END_TEST

START_TEST(reading_past_the_end_sets_bad_and_returns_zeros) {
    const unsigned char three[3] = {1, 2, 3};
    eq_rd r;
    eq_rd_init(&r, three, sizeof three);
    ck_assert_uint_eq(eq_rd_u16(&r), 0x0201);
    ck_assert(!r.bad);
    /* Two bytes wanted, one left. */
    ck_assert_uint_eq(eq_rd_u16(&r), 0);
    ck_assert(r.bad);
    /* Once bad, every later read returns zero, even one that would fit. */
    ck_assert_uint_eq(eq_rd_u8(&r), 0);
    ck_assert_uint_eq(eq_rd_u32(&r), 0);
    ck_assert_uint_eq(eq_rd_u64(&r), 0);
    ck_assert(eq_rd_i64(&r) == 0);
    ck_assert_ptr_null(eq_rd_str(&r, 100));
    size_t n = 7;
    ck_assert_ptr_null(eq_rd_bytes(&r, &n, 100));
    ck_assert_uint_eq(n, 0);

    /* Each width on an empty reader. */
    eq_rd_init(&r, three, 0);
    ck_assert_uint_eq(eq_rd_u8(&r), 0);
    ck_assert(r.bad);
    eq_rd_init(&r, three, 3);
    ck_assert_uint_eq(eq_rd_u32(&r), 0);
    ck_assert(r.bad);
    eq_rd_init(&r, three, 3);
    ck_assert_uint_eq(eq_rd_u64(&r), 0);
    ck_assert(r.bad);
}
END_TEST

START_TEST(string_length_beyond_the_buffer_is_bad) {
    eq_buf b;
    eq_buf_init(&b);
    eq_buf_u32(&b, 50); /* announces 50 bytes, carries 5 */
    eq_buf_put(&b, "hello", 5);
    eq_rd r;
    eq_rd_init(&r, b.data, b.len);
    ck_assert_ptr_null(eq_rd_str(&r, 1000));
    ck_assert(r.bad);
    /* Every truncation of a valid string fails too. */
    eq_buf_reset(&b);
    eq_buf_str(&b, "hello");
    for (size_t cut = 0; cut < b.len; cut++) {
        eq_rd_init(&r, b.data, cut);
        char *s = eq_rd_str(&r, 1000);
        ck_assert_msg(s == NULL && r.bad, "prefix of %zu bytes accepted", cut);
    }
    eq_buf_fini(&b);
}
END_TEST

START_TEST(growth_keeps_contents) {
    eq_buf b;
    eq_buf_init(&b);
    for (uint32_t i = 0; i < 10000; i++)
        eq_buf_u32(&b, i * 2654435761u);
    ck_assert(!b.oom);
    ck_assert_uint_eq(b.len, 40000);
    ck_assert_uint_ge(b.cap, b.len + 1);
    eq_rd r;
    eq_rd_init(&r, b.data, b.len);
    for (uint32_t i = 0; i < 10000; i++)
        ck_assert_uint_eq(eq_rd_u32(&r), i * 2654435761u);
    ck_assert(!r.bad);
    eq_buf_reset(&b);
    ck_assert_uint_eq(b.len, 0);
    eq_buf_fini(&b);
    ck_assert_ptr_null(b.data);
}
END_TEST

START_TEST(printf_puts_and_take) {
    eq_buf b;
    eq_buf_init(&b);
    eq_buf_puts(&b, "x=");
    eq_buf_printf(&b, "%d,%s", 42, "y");
    /* Longer than the first allocation. */
    char big[1000];
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    eq_buf_printf(&b, "%s", big);
    size_t len = 0;
    char *s = eq_buf_take(&b, &len);
    ck_assert_uint_eq(len, 6 + 999);
    ck_assert_uint_eq(strlen(s), len);
    ck_assert(strncmp(s, "x=42,y", 6) == 0);
    ck_assert_int_eq(s[len - 1], 'z');
    ck_assert_ptr_null(b.data);
    ck_assert_uint_eq(b.len, 0);
    free(s);
    /* take on an empty buffer gives an empty string. */
    eq_buf_init(&b);
    s = eq_buf_take(&b, NULL);
    ck_assert_str_eq(s, "");
    free(s);
}
END_TEST

static char *json(const char *in) {
    eq_buf b;
    eq_buf_init(&b);
    eq_buf_json_str(&b, in);
    return eq_buf_take(&b, NULL);
}

START_TEST(json_str_escapes) {
    struct {
        const char *in, *want;
    } cases[] = {
        {"plain", "\"plain\""},
        {"", "\"\""},
        {"say \"hi\"", "\"say \\\"hi\\\"\""},
        {"back\\slash", "\"back\\\\slash\""},
        {"a\nb\rc\td", "\"a\\nb\\rc\\td\""},
        {"\x01\x1f", "\"\\u0001\\u001f\""},
        {"\b\f", "\"\\u0008\\u000c\""},
        {"\x7f", "\"\x7f\""},               /* DEL needs no escape in JSON */
        {"caf\xc3\xa9", "\"caf\xc3\xa9\""}, /* UTF-8 passes through */
        {"\"", "\"\\\"\""},
        {"end\\", "\"end\\\\\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = json(cases[i].in);
        ck_assert_msg(strcmp(got, cases[i].want) == 0, "case %zu: got %s want %s", i, got,
                      cases[i].want);
        free(got);
    }
    char *got = json(NULL);
    ck_assert_str_eq(got, "null");
    free(got);
}
END_TEST

START_TEST(json_str_escapes_every_control_char) {
    char in[2] = {0, 0};
    for (int c = 1; c < 0x20; c++) {
        in[0] = (char)c;
        char *got = json(in);
        /* No raw control character survives. */
        for (const char *p = got; *p; p++)
            ck_assert_msg((unsigned char)*p >= 0x20, "control 0x%02x left raw", c);
        ck_assert_int_eq(got[0], '"');
        ck_assert_int_eq(got[1], '\\');
        free(got);
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("buf");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, integers_round_trip_little_endian);
    tcase_add_test(tc, strings_and_bytes_round_trip);
    tcase_add_test(tc, string_with_nul_inside_is_refused);
    tcase_add_test(tc, string_longer_than_max_is_refused);
    tcase_add_test(tc, reading_past_the_end_sets_bad_and_returns_zeros);
    tcase_add_test(tc, string_length_beyond_the_buffer_is_bad);
    tcase_add_test(tc, growth_keeps_contents);
    tcase_add_test(tc, printf_puts_and_take);
    tcase_add_test(tc, json_str_escapes);
    tcase_add_test(tc, json_str_escapes_every_control_char);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

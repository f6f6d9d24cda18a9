/* Tests broker/webhook/wh_ssrf.c: URL schemes, refused address ranges, IPv4 inside IPv6 and the
 * allowlist that opens ranges. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "broker/webhook/wh_ssrf.h"

/* Checks the numeric address `text` (IPv4 or IPv6) against `allow`. */
static eq_err check_text(const wh_allowlist *allow, const char *text, const char **why) {
    struct sockaddr_in v4;
    struct sockaddr_in6 v6;
    memset(&v4, 0, sizeof v4);
    memset(&v6, 0, sizeof v6);
    if (inet_pton(AF_INET, text, &v4.sin_addr) == 1) {
        v4.sin_family = AF_INET;
        return wh_ssrf_check(allow, (const struct sockaddr *)&v4, why);
    }
    ck_assert_msg(inet_pton(AF_INET6, text, &v6.sin6_addr) == 1, "bad test address %s", text);
    v6.sin6_family = AF_INET6;
    return wh_ssrf_check(allow, (const struct sockaddr *)&v6, why);
}

static const char *refused[] = {
    "127.0.0.1",
    "127.255.0.9",
    "10.1.2.3",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "169.254.169.254",
    "169.254.1.1",
    "100.64.0.1",
    "100.127.255.254",
    "0.0.0.0",
    "0.1.2.3",
    "224.0.0.1",
    "239.255.255.250",
    "255.255.255.255",
    "240.0.0.1",
    "192.0.0.170",
    "198.18.0.1",
    "::",
    "::1",
    "fc00::1",
    "fd12:3456::1",
    "fe80::1",
    "febf::1",
    "fec0::1",
    "ff02::1",
    /* IPv4 inside IPv6. */
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "::ffff:192.168.0.1",
    "::127.0.0.1",
    "64:ff9b::10.0.0.1",
    "2002:7f00:1::1",
    "2002:a9fe:a9fe::1",
};

static const char *accepted[] = {
    "93.184.216.34",  "8.8.8.8",          "1.1.1.1",           "172.15.255.255",
    "172.32.0.1",     "100.63.255.255",   "100.128.0.0",       "169.255.0.1",
    "192.169.0.1",    "11.0.0.1",         "2606:4700::1111",   "2001:4860:4860::8888",
    "::ffff:8.8.8.8", "64:ff9b::8.8.8.8", "2002:0808:0808::1",
};

START_TEST(test_refused_without_allowlist) {
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        const char *why = NULL;
        ck_assert_msg(check_text(NULL, refused[i], &why) == EQ_EINVAL, "%s accepted", refused[i]);
        ck_assert_ptr_nonnull(why);
    }
    for (size_t i = 0; i < sizeof accepted / sizeof accepted[0]; i++) {
        const char *why = "unset";
        ck_assert_msg(check_text(NULL, accepted[i], &why) == EQ_OK, "%s refused: %s", accepted[i],
                      why);
        ck_assert_ptr_null(why);
    }
    const char *why = NULL;
    check_text(NULL, "169.254.169.254", &why);
    ck_assert(strstr(why, "metadata") != NULL);
    struct sockaddr unix_sa = {.sa_family = AF_UNIX};
    ck_assert_int_eq(wh_ssrf_check(NULL, &unix_sa, &why), EQ_EINVAL);
    ck_assert_int_eq(wh_ssrf_check(NULL, NULL, &why), EQ_EINVAL);
}
END_TEST

START_TEST(test_allowlist_opens_ranges) {
    wh_allowlist allow;
    ck_assert_int_eq(wh_allowlist_parse("127.0.0.0/8, ::1/128,10.1.0.0/16", &allow), EQ_OK);
    ck_assert_uint_eq(allow.n, 3);
    ck_assert_int_eq(check_text(&allow, "127.0.0.1", NULL), EQ_OK);
    ck_assert_int_eq(check_text(&allow, "127.9.9.9", NULL), EQ_OK);
    ck_assert_int_eq(check_text(&allow, "::1", NULL), EQ_OK);
    /* The IPv4-mapped form of an opened IPv4 range is the same host. */
    ck_assert_int_eq(check_text(&allow, "::ffff:127.0.0.1", NULL), EQ_OK);
    ck_assert_int_eq(check_text(&allow, "10.1.200.3", NULL), EQ_OK);
    /* Ranges not opened stay refused. */
    ck_assert_int_eq(check_text(&allow, "10.2.0.1", NULL), EQ_EINVAL);
    ck_assert_int_eq(check_text(&allow, "169.254.169.254", NULL), EQ_EINVAL);
    ck_assert_int_eq(check_text(&allow, "::ffff:192.168.0.1", NULL), EQ_EINVAL);
    ck_assert_int_eq(check_text(&allow, "fe80::1", NULL), EQ_EINVAL);
    /* Public addresses stay accepted. */
    ck_assert_int_eq(check_text(&allow, "8.8.8.8", NULL), EQ_OK);

    /* A bare address is one host; an empty list opens nothing. */
    ck_assert_int_eq(wh_allowlist_parse("192.168.1.5", &allow), EQ_OK);
    ck_assert_int_eq(check_text(&allow, "192.168.1.5", NULL), EQ_OK);
    ck_assert_int_eq(check_text(&allow, "192.168.1.6", NULL), EQ_EINVAL);
    ck_assert_int_eq(wh_allowlist_parse("", &allow), EQ_OK);
    ck_assert_uint_eq(allow.n, 0);
    ck_assert_int_eq(wh_allowlist_parse("fc00::/7", &allow), EQ_OK);
    ck_assert_int_eq(check_text(&allow, "fd00::5", NULL), EQ_OK);
}
END_TEST

START_TEST(test_allowlist_parse_errors) {
    wh_allowlist allow;
    static const char *bad[] = {"127.0.0.0/33", "::1/129",          "127.0.0.1/", "127.0.0.1/x",
                                "localhost",    "1.2.3.4,,5.6.7.8", ",",          "1.2.3.4/8 x",
                                "1.2.3.4/-1",   "300.1.1.1/8"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(wh_allowlist_parse(bad[i], &allow) == EQ_EINVAL, "accepted %s", bad[i]);
    char many[1024] = "";
    for (int i = 0; i <= WH_ALLOW_MAX_ENTRIES; i++)
        strcat(many, i ? ",10.0.0.1" : "10.0.0.1");
    ck_assert_int_eq(wh_allowlist_parse(many, &allow), EQ_ETOOBIG);
    char *huge = malloc(WH_ALLOW_MAX_CHARS + 2);
    ck_assert_ptr_nonnull(huge);
    memset(huge, ' ', WH_ALLOW_MAX_CHARS + 1);
    huge[WH_ALLOW_MAX_CHARS + 1] = '\0';
    ck_assert_int_eq(wh_allowlist_parse(huge, &allow), EQ_ETOOBIG);
    free(huge);
}
END_TEST

START_TEST(test_url_parse) {
    wh_url u;
    ck_assert_int_eq(wh_url_parse("http://example.com/hook", &u), EQ_OK);
    ck_assert_int_eq(u.https, 0);
    ck_assert_str_eq(u.host, "example.com");
    ck_assert_uint_eq(u.port, 80);
    ck_assert_int_eq(u.host_is_ip, 0);
    ck_assert_int_eq(wh_url_parse("HTTPS://Example.com:8443/x?y=1", &u), EQ_OK);
    ck_assert_int_eq(u.https, 1);
    ck_assert_uint_eq(u.port, 8443);
    ck_assert_int_eq(wh_url_parse("http://[::1]:9000/", &u), EQ_OK);
    ck_assert_str_eq(u.host, "::1");
    ck_assert_int_eq(u.host_is_ip, 1);
    ck_assert_uint_eq(u.port, 9000);
    ck_assert_int_eq(wh_url_parse("https://127.0.0.1/", &u), EQ_OK);
    ck_assert_int_eq(u.host_is_ip, 1);
    ck_assert_uint_eq(u.port, 443);
    static const char *unsupported[] = {"ftp://example.com/", "file:///etc/passwd",
                                        "gopher://example.com/", "dict://127.0.0.1:11211/",
                                        "ldap://example.com/"};
    for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++)
        ck_assert_msg(wh_url_parse(unsupported[i], &u) == EQ_EUNSUPPORTED, "accepted %s",
                      unsupported[i]);
    static const char *invalid[] = {"", "example.com/hook", "http://", "not a url",
                                    "http://exa mple.com/"};
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++)
        ck_assert_msg(wh_url_parse(invalid[i], &u) == EQ_EINVAL, "accepted \"%s\"", invalid[i]);
    char *huge = malloc(WH_URL_MAX_CHARS + 2);
    ck_assert_ptr_nonnull(huge);
    memset(huge, 'a', WH_URL_MAX_CHARS + 1);
    memcpy(huge, "http://", 7);
    huge[WH_URL_MAX_CHARS + 1] = '\0';
    ck_assert_int_eq(wh_url_parse(huge, &u), EQ_ETOOBIG);
    free(huge);
}
END_TEST

START_TEST(test_addr_str) {
    struct sockaddr_in6 v6 = {.sin6_family = AF_INET6};
    inet_pton(AF_INET6, "2001:db8::1", &v6.sin6_addr);
    char buf[WH_ADDR_STR_SIZE];
    ck_assert_int_eq(wh_addr_str((const struct sockaddr *)&v6, buf, sizeof buf), EQ_OK);
    ck_assert_str_eq(buf, "2001:db8::1");
}
END_TEST

int main(void) {
    Suite *s = suite_create("wh_ssrf");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_refused_without_allowlist);
    tcase_add_test(tc, test_allowlist_opens_ranges);
    tcase_add_test(tc, test_allowlist_parse_errors);
    tcase_add_test(tc, test_url_parse);
    tcase_add_test(tc, test_addr_str);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

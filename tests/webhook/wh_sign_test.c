/* Tests broker/webhook/wh_sign.c against the Standard Webhooks reference vector and the ways a
 * delivery can fail verification. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/webhook/wh_sign.h"

#define REF_SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define REF_ID "msg_p5jXN8AQM9LWM0D4loKWxJek"
#define REF_TS 1614265330
#define REF_TS_STR "1614265330"
#define REF_BODY "{\"test\": 2432232314}"
#define REF_SIG "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

static wh_delivery_headers ref_headers(const char *sig) {
    wh_delivery_headers h = {
        .id = REF_ID,
        .timestamp = REF_TS_STR,
        .signature = sig,
        .body = REF_BODY,
        .body_len = strlen(REF_BODY),
    };
    return h;
}

START_TEST(test_reference_vector) {
    char sig[WH_SIGNATURE_SIZE];
    ck_assert_int_eq(
        wh_sign_secret(REF_SECRET, REF_ID, REF_TS, REF_BODY, strlen(REF_BODY), sig, sizeof sig),
        EQ_OK);
    ck_assert_str_eq(sig, REF_SIG);
}
END_TEST

START_TEST(test_key_parse) {
    wh_key key;
    ck_assert_int_eq(wh_key_parse(REF_SECRET, &key), EQ_OK);
    ck_assert_uint_eq(key.len, 24);
    /* A raw secret (no prefix) is used byte for byte. */
    ck_assert_int_eq(wh_key_parse("plain-secret", &key), EQ_OK);
    ck_assert_uint_eq(key.len, 12);
    ck_assert_mem_eq(key.bytes, "plain-secret", 12);
    ck_assert_int_eq(wh_key_parse("whsec_not*base64", &key), EQ_EINVAL);
    ck_assert_int_eq(wh_key_parse("whsec_", &key), EQ_EINVAL);
    ck_assert_int_eq(wh_key_parse("", &key), EQ_EINVAL);
    ck_assert_int_eq(wh_key_parse("whsec_A", &key), EQ_EINVAL); /* 6 bits cannot be a byte */
    char big[WH_SECRET_MAX_CHARS + 2];
    memset(big, 'A', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ck_assert_int_eq(wh_key_parse(big, &key), EQ_ETOOBIG);
    /* Padding is accepted: "whsec_" + base64("abcd") = "YWJjZA==". */
    ck_assert_int_eq(wh_key_parse("whsec_YWJjZA==", &key), EQ_OK);
    ck_assert_uint_eq(key.len, 4);
    ck_assert_mem_eq(key.bytes, "abcd", 4);
}
END_TEST

START_TEST(test_verify_reference) {
    const char *secrets[] = {REF_SECRET};
    wh_delivery_headers h = ref_headers(REF_SIG);
    wh_verify_reason why = WH_VERIFY_MALFORMED;
    ck_assert_int_eq(wh_verify(&h, secrets, 1, REF_TS + 10, WH_TOLERANCE_DEFAULT_S, &why), EQ_OK);
    ck_assert_int_eq(why, WH_VERIFY_OK);
}
END_TEST

START_TEST(test_verify_tampered_body) {
    const char *secrets[] = {REF_SECRET};
    wh_delivery_headers h = ref_headers(REF_SIG);
    h.body = "{\"test\": 2432232315}";
    wh_verify_reason why;
    ck_assert_int_eq(wh_verify(&h, secrets, 1, REF_TS, 300, &why), EQ_EPROTO);
    ck_assert_int_eq(why, WH_VERIFY_NO_MATCH);
    /* A changed id or timestamp breaks the signature too. */
    h = ref_headers(REF_SIG);
    h.id = "msg_p5jXN8AQM9LWM0D4loKWxJel";
    ck_assert_int_eq(wh_verify(&h, secrets, 1, REF_TS, 300, &why), EQ_EPROTO);
    ck_assert_int_eq(why, WH_VERIFY_NO_MATCH);
    h = ref_headers(REF_SIG);
    h.timestamp = "1614265331";
    ck_assert_int_eq(wh_verify(&h, secrets, 1, REF_TS, 300, &why), EQ_EPROTO);
    ck_assert_int_eq(why, WH_VERIFY_NO_MATCH);
}
END_TEST

START_TEST(test_verify_wrong_secret) {
    char other[WH_SECRET_SIZE];
    ck_assert_int_eq(wh_secret_new(other, sizeof other), EQ_OK);
    const char *secrets[] = {other};
    wh_delivery_headers h = ref_headers(REF_SIG);
    wh_verify_reason why;
    ck_assert_int_eq(wh_verify(&h, secrets, 1, REF_TS, 300, &why), EQ_EPROTO);
    ck_assert_int_eq(why, WH_VERIFY_NO_MATCH);
    const char *bad[] = {"whsec_!!!"};
    ck_assert_int_eq(wh_verify(&h, bad, 1, REF_TS, 300, &why), EQ_EINVAL);
    ck_assert_int_eq(why, WH_VERIFY_BAD_SECRET);
    ck_assert_int_eq(wh_verify(&h, NULL, 0, REF_TS, 300, &why), EQ_EINVAL);
}
END_TEST

START_TEST(test_verify_timestamp_window) {
    const char *secrets[] = {REF_SECRET};
    wh_delivery_headers h = ref_headers(REF_SIG);
    wh_verify_reason why;
    ck_assert_int_eq(wh_verify(&h, secrets, 1, REF_TS + 301, 300, &why), EQ_ESTALE);
    ck_assert_int_eq(why, WH_VERIFY_TOO_OLD);
    ck_assert_int_eq(wh_verify(&h, secrets, 1, REF_TS - 301, 300, &why), EQ_ESTALE);
    ck_assert_int_eq(why, WH_VERIFY_TOO_NEW);
    /* Extreme clocks and tolerances do not overflow. */
    ck_assert_int_eq(wh_verify(&h, secrets, 1, INT64_MAX, INT64_MAX, &why), EQ_OK);
    ck_assert_int_eq(wh_verify(&h, secrets, 1, INT64_MIN, 300, &why), EQ_ESTALE);
    ck_assert_int_eq(why, WH_VERIFY_TOO_NEW);
    ck_assert_int_eq(wh_verify(&h, secrets, 1, INT64_MAX, 300, &why), EQ_ESTALE);
    ck_assert_int_eq(why, WH_VERIFY_TOO_OLD);
    ck_assert_int_eq(wh_verify(&h, secrets, 1, REF_TS, -5, &why), EQ_OK);
    /* The edges of the window are inside it. */
    ck_assert_int_eq(wh_verify(&h, secrets, 1, REF_TS + 300, 300, &why), EQ_OK);
    ck_assert_int_eq(wh_verify(&h, secrets, 1, REF_TS - 300, 300, &why), EQ_OK);
}
END_TEST

START_TEST(test_verify_rotated_secrets) {
    char old_secret[WH_SECRET_SIZE];
    char old_sig[WH_SIGNATURE_SIZE];
    char header[3 * WH_SIGNATURE_SIZE];
    ck_assert_int_eq(wh_secret_new(old_secret, sizeof old_secret), EQ_OK);
    ck_assert_int_eq(wh_sign_secret(old_secret, REF_ID, REF_TS, REF_BODY, strlen(REF_BODY), old_sig,
                                    sizeof old_sig),
                     EQ_OK);
    /* The sender signs with the old and the new secret; the receiver holds only the new one,
     * so the second signature in the list is the one that matches. */
    snprintf(header, sizeof header, "%s %s", old_sig, REF_SIG);
    const char *new_only[] = {REF_SECRET};
    wh_delivery_headers h = ref_headers(header);
    wh_verify_reason why;
    ck_assert_int_eq(wh_verify(&h, new_only, 1, REF_TS, 300, &why), EQ_OK);
    /* A receiver holding both secrets accepts a delivery signed only with the old one. */
    const char *both[] = {REF_SECRET, old_secret};
    h = ref_headers(old_sig);
    ck_assert_int_eq(wh_verify(&h, both, 2, REF_TS, 300, &why), EQ_OK);
    /* Unknown versions are skipped, not fatal. */
    snprintf(header, sizeof header, "v1a,AAAA %s", REF_SIG);
    h = ref_headers(header);
    ck_assert_int_eq(wh_verify(&h, new_only, 1, REF_TS, 300, &why), EQ_OK);
}
END_TEST

START_TEST(test_verify_malformed) {
    const char *secrets[] = {REF_SECRET};
    wh_verify_reason why;
    static const char *bad_sigs[] = {"", "v1", "v2,abc",
                                     "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="};
    for (size_t i = 0; i < sizeof bad_sigs / sizeof bad_sigs[0]; i++) {
        wh_delivery_headers h = ref_headers(bad_sigs[i]);
        ck_assert_int_eq(wh_verify(&h, secrets, 1, REF_TS, 300, &why), EQ_EPROTO);
        ck_assert_int_eq(why, WH_VERIFY_MALFORMED);
    }
    /* A v1 entry that is not valid base64, or the wrong length, simply does not match. */
    wh_delivery_headers h = ref_headers("v1,****");
    ck_assert_int_eq(wh_verify(&h, secrets, 1, REF_TS, 300, &why), EQ_EPROTO);
    ck_assert_int_eq(why, WH_VERIFY_NO_MATCH);
    h = ref_headers("v1,AAAA");
    ck_assert_int_eq(wh_verify(&h, secrets, 1, REF_TS, 300, &why), EQ_EPROTO);
    ck_assert_int_eq(why, WH_VERIFY_NO_MATCH);
    static const char *bad_ts[] = {
        "", "-1614265330", "1614265330.5", " 1614265330", "99999999999999999999", "abc"};
    for (size_t i = 0; i < sizeof bad_ts / sizeof bad_ts[0]; i++) {
        h = ref_headers(REF_SIG);
        h.timestamp = bad_ts[i];
        ck_assert_int_eq(wh_verify(&h, secrets, 1, REF_TS, 300, &why), EQ_EPROTO);
        ck_assert_int_eq(why, WH_VERIFY_MALFORMED);
    }
    h = ref_headers(REF_SIG);
    h.id = NULL;
    ck_assert_int_eq(wh_verify(&h, secrets, 1, REF_TS, 300, &why), EQ_EPROTO);
    h = ref_headers(REF_SIG);
    h.id = "";
    ck_assert_int_eq(wh_verify(&h, secrets, 1, REF_TS, 300, &why), EQ_EPROTO);
    char *long_sig = malloc(WH_SIGNATURE_HEADER_MAX_CHARS + 2);
    ck_assert_ptr_nonnull(long_sig);
    memset(long_sig, 'v', WH_SIGNATURE_HEADER_MAX_CHARS + 1);
    long_sig[WH_SIGNATURE_HEADER_MAX_CHARS + 1] = '\0';
    h = ref_headers(long_sig);
    ck_assert_int_eq(wh_verify(&h, secrets, 1, REF_TS, 300, &why), EQ_EPROTO);
    ck_assert_int_eq(why, WH_VERIFY_MALFORMED);
    free(long_sig);
    ck_assert_int_eq(wh_verify(NULL, secrets, 1, REF_TS, 300, &why), EQ_EPROTO);
    ck_assert_str_eq(wh_verify_reason_str(WH_VERIFY_TOO_OLD), "timestamp too old");
}
END_TEST

START_TEST(test_generated_ids_and_secrets) {
    char a[WH_MSG_ID_SIZE], b[WH_MSG_ID_SIZE];
    ck_assert_int_eq(wh_msg_id_new(a, sizeof a), EQ_OK);
    ck_assert_int_eq(wh_msg_id_new(b, sizeof b), EQ_OK);
    ck_assert_uint_eq(strlen(a), 4 + 26);
    ck_assert(strncmp(a, "msg_", 4) == 0);
    ck_assert_str_ne(a, b);
    ck_assert_uint_eq(strspn(a + 4, "abcdefghijklmnopqrstuvwxyz234567"), 26);
    ck_assert_int_eq(wh_msg_id_new(a, 8), EQ_EINVAL);

    char s[WH_SECRET_SIZE];
    ck_assert_int_eq(wh_secret_new(s, sizeof s), EQ_OK);
    ck_assert(strncmp(s, "whsec_", 6) == 0);
    wh_key key;
    ck_assert_int_eq(wh_key_parse(s, &key), EQ_OK);
    ck_assert_uint_eq(key.len, 32);
    /* A generated secret signs and verifies a body with NUL bytes in it. */
    static const char body[] = {'{', 0, '}'};
    char sig[WH_SIGNATURE_SIZE];
    ck_assert_int_eq(wh_sign(&key, a, 1700000000, body, sizeof body, sig, sizeof sig), EQ_OK);
    const char *secrets[] = {s};
    wh_delivery_headers h = {.id = a,
                             .timestamp = "1700000000",
                             .signature = sig,
                             .body = body,
                             .body_len = sizeof body};
    ck_assert_int_eq(wh_verify(&h, secrets, 1, 1700000000, 300, NULL), EQ_OK);
    h.body_len = 2;
    ck_assert_int_eq(wh_verify(&h, secrets, 1, 1700000000, 300, NULL), EQ_EPROTO);
    ck_assert_int_eq(wh_sign(&key, "", 1, body, sizeof body, sig, sizeof sig), EQ_EINVAL);
    ck_assert_int_eq(wh_sign(&key, a, 1, body, sizeof body, sig, 10), EQ_EINVAL);
}
END_TEST

int main(void) {
    Suite *s = suite_create("wh_sign");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_reference_vector);
    tcase_add_test(tc, test_key_parse);
    tcase_add_test(tc, test_verify_reference);
    tcase_add_test(tc, test_verify_tampered_body);
    tcase_add_test(tc, test_verify_wrong_secret);
    tcase_add_test(tc, test_verify_timestamp_window);
    tcase_add_test(tc, test_verify_rotated_secrets);
    tcase_add_test(tc, test_verify_malformed);
    tcase_add_test(tc, test_generated_ids_and_secrets);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

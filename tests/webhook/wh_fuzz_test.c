/* Runs the webhook fuzz target (tests/webhook/wh_fuzz.c) over seeds and deterministic random
 * mutations of them, so every ctest run exercises the parsers under the sanitizers. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/webhook/wh_fuzz.h"

/* Mutations tried per seed. */
#define MUTATIONS 10000
/* Longest mutated input. */
#define MAX_LEN 600

static const char *const seeds[] = {
    "\x00"
    "0,5,300,1800,7200,18000,36000,36000",
    "\x00"
    " 1 , 2 ,3",
    "\x01"
    "127.0.0.0/8,::1/128",
    "\x01"
    "10.0.0.0/8, fc00::/7 ,192.168.1.1",
    "\x02"
    "https://example.com:8443/hooks/econq?x=1",
    "\x02"
    "http://[::ffff:127.0.0.1]:9/",
    "\x03"
    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "\x03"
    "whsec_YWJjZA==",
    "\x04"
    "msg_p5jXN8AQM9LWM0D4loKWxJek\n1614265330\n"
    "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=\n{\"test\": 2432232314}",
    "\x04"
    "msg_p5jXN8AQM9LWM0D4loKWxJek\n1614265330\nv1a,xx "
    "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=\n{\"test\": 2432232314}",
    "\x05"
    "{\"id\":\"j1\",\"result\":{\"a\":[1,2,3]}}",
};

static uint64_t next_rand(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

START_TEST(test_seeds_hold_invariants) {
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
        /* The first byte of a seed may be NUL, so its length is counted from byte 1. */
        size_t len = 1 + strlen(seeds[i] + 1);
        ck_assert_msg(wh_fuzz_one((const uint8_t *)seeds[i], len) == 0, "seed %zu", i);
    }
}
END_TEST

START_TEST(test_mutations_hold_invariants) {
    uint64_t state = 0x9e3779b97f4a7c15u;
    uint8_t buf[MAX_LEN];
    static const char interesting[] = "0123456789,./:[]% \n\t=+-_vwhsec{}\"\xff";
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
        size_t seed_len = 1 + strlen(seeds[i] + 1);
        for (int m = 0; m < MUTATIONS; m++) {
            size_t len = seed_len;
            memcpy(buf, seeds[i], len);
            int edits = 1 + (int)(next_rand(&state) % 4);
            for (int e = 0; e < edits; e++) {
                uint64_t r = next_rand(&state);
                size_t pos = 1 + (size_t)(r % (len > 1 ? len - 1 : 1));
                switch ((r >> 32) % 4) {
                case 0: /* replace a byte */
                    if (pos < len)
                        buf[pos] = (uint8_t)interesting[(r >> 40) % (sizeof interesting - 1)];
                    break;
                case 1: /* random byte */
                    if (pos < len) buf[pos] = (uint8_t)(r >> 48);
                    break;
                case 2: /* delete a byte */
                    if (pos < len) {
                        memmove(buf + pos, buf + pos + 1, len - pos - 1);
                        len--;
                    }
                    break;
                default: /* duplicate a span */
                    if (len + 8 < MAX_LEN && pos + 8 <= len) {
                        memmove(buf + pos + 8, buf + pos, len - pos);
                        len += 8;
                    }
                    break;
                }
            }
            ck_assert_msg(wh_fuzz_one(buf, len) == 0, "seed %zu mutation %d", i, m);
        }
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("wh_fuzz");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_seeds_hold_invariants);
    tcase_add_test(tc, test_mutations_hold_invariants);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

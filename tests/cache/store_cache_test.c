/* The result cache in LMDB: hits, expiry, LRU eviction per type, sweeps. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/lifecycle.h"
#include "store/store.h"
#include "tests/support/eqtest.h"

static store *st;
static char dir[256];

static void setup(void) {
    store_opts o;
    store_opts_defaults(&o);
    o.map_size = 64 << 20;
    o.nosync = 1;
    eqt_tmpdir(dir, sizeof dir);
    ck_assert_int_eq(store_open(dir, &o, &st), EQ_OK);
}

static void teardown(void) {
    store_close(st);
    eqt_rmdir(dir);
}

static void key_of(int i, unsigned char *k) {
    char params[32];
    snprintf(params, sizeof params, "{\"i\":%d}", i);
    lc_cache_key("forecast", params, 0, k);
}

START_TEST(put_get_expire) {
    store_txn *t;
    unsigned char k[STORE_CACHE_KEY_LEN];
    size_t ev;
    char *res = NULL;
    key_of(1, k);
    ck_assert_int_eq(store_txn_begin(st, 1, &t), EQ_OK);
    ck_assert_int_eq(store_cache_put(t, k, "forecast", "{\"x\":1}", 1000, 500, 10, &ev), EQ_OK);
    ck_assert_int_eq(store_cache_get(t, k, 1200, &res), EQ_OK);
    ck_assert_str_eq(res, "{\"x\":1}");
    free(res);
    /* Expired at created + ttl: a miss, and the entry is gone. */
    ck_assert_int_eq(store_cache_get(t, k, 1500, &res), EQ_ENOTFOUND);
    ck_assert_int_eq(store_cache_get(t, k, 1100, &res), EQ_ENOTFOUND);
    ck_assert_int_eq(store_txn_commit(t), EQ_OK);
}
END_TEST

START_TEST(lru_evicts_least_recently_used) {
    store_txn *t;
    unsigned char k[5][STORE_CACHE_KEY_LEN];
    size_t ev;
    for (int i = 0; i < 5; i++)
        key_of(i, k[i]);
    ck_assert_int_eq(store_txn_begin(st, 1, &t), EQ_OK);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(store_cache_put(t, k[i], "forecast", "{}", 100 + i, 100000, 3, &ev), EQ_OK);
    /* Touch 0: 1 is now the least recently used. */
    ck_assert_int_eq(store_cache_get(t, k[0], 200, NULL), EQ_OK);
    ck_assert_int_eq(store_cache_put(t, k[3], "forecast", "{}", 300, 100000, 3, &ev), EQ_OK);
    ck_assert_uint_eq(ev, 1);
    ck_assert_int_eq(store_cache_get(t, k[1], 301, NULL), EQ_ENOTFOUND);
    ck_assert_int_eq(store_cache_get(t, k[0], 302, NULL), EQ_OK);
    ck_assert_int_eq(store_cache_get(t, k[2], 303, NULL), EQ_OK);
    ck_assert_int_eq(store_cache_get(t, k[3], 304, NULL), EQ_OK);
    /* Another type has its own bound. */
    ck_assert_int_eq(store_cache_put(t, k[4], "search", "{}", 305, 100000, 1, &ev), EQ_OK);
    ck_assert_uint_eq(ev, 0);
    ck_assert_int_eq(store_cache_get(t, k[0], 306, NULL), EQ_OK);
    ck_assert_int_eq(store_txn_commit(t), EQ_OK);
}
END_TEST

START_TEST(sweep_removes_only_expired) {
    store_txn *t;
    unsigned char k[STORE_CACHE_KEY_LEN];
    size_t ev, removed;
    ck_assert_int_eq(store_txn_begin(st, 1, &t), EQ_OK);
    for (int i = 0; i < 600; i++) {
        key_of(i, k);
        /* Even entries expire at 1100, odd ones much later. */
        ck_assert_int_eq(store_cache_put(t, k, "forecast", "{}", 1000, i % 2 ? 100000 : 100, 1000, &ev), EQ_OK);
    }
    size_t total = 0;
    do {
        ck_assert_int_eq(store_cache_sweep(t, 2000, 100000, &removed), EQ_OK);
        total += removed;
    } while (removed > 0);
    ck_assert_uint_eq(total, 300);
    for (int i = 0; i < 600; i++) {
        key_of(i, k);
        ck_assert_int_eq(store_cache_get(t, k, 2000, NULL), i % 2 ? EQ_OK : EQ_ENOTFOUND);
    }
    ck_assert_int_eq(store_txn_commit(t), EQ_OK);
}
END_TEST

int main(void) {
    Suite *s = suite_create("store_cache");
    TCase *tc = tcase_create("cache");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, put_get_expire);
    tcase_add_test(tc, lru_evicts_least_recently_used);
    tcase_add_test(tc, sweep_removes_only_expired);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

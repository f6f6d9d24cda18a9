/* A checked fixture for the store tests: a fresh LMDB environment in a temporary directory
 * (64 MB map, no fsync), reopened by open_store(). Include from one file per executable. */
#ifndef ECONQ_TESTS_STORE_FIXTURE_H
#define ECONQ_TESTS_STORE_FIXTURE_H
#include <check.h>

#include "store/store.h"
#include "tests/store/store_test_util.h"

#define T0 INT64_C(1795926190000) /* 2026-11-29T04:23:10Z */

static char dir[256];
static store *st;

static inline void open_store(void) {
    store_opts o;
    store_opts_defaults(&o);
    o.map_size = 64u << 20;
    o.nosync = 1;
    ck_assert_int_eq(store_open(dir, &o, &st), EQ_OK);
}

static inline void setup(void) {
    tmpdir_make(dir, sizeof dir);
    open_store();
}

static inline void teardown(void) {
    store_close(st);
    st = NULL;
    tmpdir_remove(dir);
}

static inline store_txn *wtxn(void) {
    store_txn *t;
    ck_assert_int_eq(store_txn_begin(st, 1, &t), EQ_OK);
    return t;
}

static inline store_txn *rtxn(void) {
    store_txn *t;
    ck_assert_int_eq(store_txn_begin(st, 0, &t), EQ_OK);
    return t;
}

#endif

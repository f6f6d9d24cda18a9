/* Helpers shared by the store and broker tests: a temporary data directory removed at the end. */
#ifndef ECONQ_TESTS_STORE_TEST_UTIL_H
#define ECONQ_TESTS_STORE_TEST_UTIL_H
#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int tmpdir_rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Makes a fresh directory under $TMPDIR (or /tmp) and writes its path into path. */
static inline void tmpdir_make(char *path, size_t len) {
    const char *base = getenv("TMPDIR");
    snprintf(path, len, "%s/econq-unit-XXXXXX", base && base[0] ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(path));
}

/* Removes the directory and everything in it. */
static inline void tmpdir_remove(const char *path) {
    ck_assert_int_eq(nftw(path, tmpdir_rm_one, 8, FTW_DEPTH | FTW_PHYS), 0);
}

#endif

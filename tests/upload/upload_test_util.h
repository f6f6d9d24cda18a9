/* Helpers shared by the api/upload tests: fixture loading and in-memory XLSX building. */
#ifndef ECONQ_TESTS_UPLOAD_UPLOAD_TEST_UTIL_H
#define ECONQ_TESTS_UPLOAD_UPLOAD_TEST_UTIL_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/upload/upload.h"

/* Reads tests/fixtures/data/<name> into a new buffer (caller frees). */
static inline unsigned char *fixture_read(const char *name, size_t *len)
{
    const char *root = getenv("ECONQ_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/fixtures/data/%s", root ? root : ".", name);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    ck_assert_int_ge(n, 0);
    rewind(f);
    unsigned char *b = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

/* Parses a fixture as `kind`, failing the test on error. */
static inline ds_table *fixture_parse(const char *name, const char *kind)
{
    size_t len;
    unsigned char *b = fixture_read(name, &len);
    ds_table *t = NULL;
    upload_error e = {0};
    eq_err rc = upload_parse(b, len, kind, NULL, &t, &e);
    free(b);
    ck_assert_msg(rc == EQ_OK, "%s: %s (%s)", name, e.type, e.detail);
    return t;
}

/* Parses a string as CSV with the default limits; on failure returns NULL and fills e. */
static inline ds_table *csv_parse_str(const char *s, upload_error *e)
{
    ds_table *t = NULL;
    memset(e, 0, sizeof *e);
    upload_parse(s, strlen(s), "csv", NULL, &t, e);
    return t;
}

/* Expects parsing `len` bytes as `kind` to fail with `type`. */
#define expect_refused(buf, len, kind, lim, want_type, want_status)                        \
    do {                                                                                   \
        ds_table *t_ = NULL;                                                               \
        upload_error e_ = {0};                                                             \
        eq_err rc_ = upload_parse((buf), (len), (kind), (lim), &t_, &e_);                  \
        ck_assert_msg(rc_ != EQ_OK, "expected %s, parsed instead", (want_type));           \
        ck_assert_ptr_null(t_);                                                            \
        ck_assert_str_eq(e_.type, (want_type));                                            \
        ck_assert_int_eq(e_.status, (want_status));                                        \
        ck_assert_msg(e_.detail[0] != '\0', "no detail for %s", e_.type);                  \
    } while (0)

#endif

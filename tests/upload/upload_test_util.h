/* Helpers shared by the api/upload tests: fixture loading and in-memory XLSX building. */
#ifndef ECONQ_TESTS_UPLOAD_UPLOAD_TEST_UTIL_H
#define ECONQ_TESTS_UPLOAD_UPLOAD_TEST_UTIL_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zip.h>

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

typedef struct xentry {
    const char *name;
    const void *data;
    size_t len; /* 0: strlen(data) */
} xentry;

/* Builds a ZIP archive in memory from the entries (deflated). Caller frees. */
static inline unsigned char *zip_build(const xentry *e, size_t n, size_t *len)
{
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(NULL, 0, 0, &ze);
    ck_assert_ptr_nonnull(src);
    zip_source_keep(src);
    zip_t *z = zip_open_from_source(src, ZIP_TRUNCATE, &ze);
    ck_assert_ptr_nonnull(z);
    for (size_t i = 0; i < n; i++) {
        size_t l = e[i].len ? e[i].len : strlen(e[i].data);
        zip_source_t *s = zip_source_buffer(z, e[i].data, l, 0);
        ck_assert_ptr_nonnull(s);
        ck_assert_int_ge(zip_file_add(z, e[i].name, s, ZIP_FL_OVERWRITE), 0);
    }
    ck_assert_int_eq(zip_close(z), 0);
    zip_stat_t st;
    ck_assert_int_eq(zip_source_open(src), 0);
    ck_assert_int_eq(zip_source_stat(src, &st), 0);
    unsigned char *buf = malloc(st.size);
    ck_assert_ptr_nonnull(buf);
    ck_assert_int_eq(zip_source_read(src, buf, st.size), (zip_int64_t)st.size);
    zip_source_close(src);
    zip_source_free(src);
    *len = st.size;
    return buf;
}

#endif

/* Uploads econqd must refuse, each with its own problem+json type, storing nothing (the list
 * stays as it was) and still serving afterwards: the size limit, content that does not match
 * its claimed kind, a zip bomb and an XLSX with a DOCTYPE (both made here with libzip),
 * multipart without a file, unsupported media types, unsafe names, bad encodings. And the ones
 * it must accept after cleaning: Latin-1 CSV converted to UTF-8, a path as a name. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zip.h>

#include "tests/datasets/ds_util.h"

/* Uploads raw bytes and asserts the refusal, that nothing was stored and the server lives. */
static void refuse_raw(const char *ctype, const char *query, const void *data, size_t len,
                       int status, const char *slug) {
    int before = ds_count();
    http_resp r;
    ck_assert_int_eq(ds_upload_raw(ctype, query, data, len, &r), 0);
    ds_expect_problem(&r, status, slug);
    http_resp_free(&r);
    ck_assert_int_eq(ds_count(), before);
    ds_expect_alive();
}

static const char small_csv[] = "date,value\n2000-01-01,1\n2001-01-01,2\n2002-01-01,3.5\n";

/* A CSV of at least `min` bytes (caller frees). */
static char *big_csv(size_t min, size_t *len) {
    size_t cap = min + 64, n = 0;
    char *s = malloc(cap);
    n += (size_t)snprintf(s, cap, "date,value\n");
    for (int day = 0; n + 32 < cap && n < min; day++)
        n += (size_t)snprintf(s + n, cap - n, "%04d-%02d-01,%d\n", 1000 + day / 12, day % 12 + 1,
                              day);
    *len = n;
    return s;
}

START_TEST(size_limit) {
    size_t len;
    char *csv = big_csv(100 * 1024, &len); /* over 65536, under the body limit around it */
    refuse_raw("text/csv", NULL, csv, len, 413, "upload-too-large");
    int before = ds_count();
    http_resp r;
    ck_assert_int_eq(ds_upload_multipart("file", "big.csv", "text/csv", csv, len, "big", &r), 0);
    ds_expect_problem(&r, 413, "upload-too-large");
    http_resp_free(&r);
    ck_assert_int_eq(ds_count(), before);
    free(csv);
    /* Far over: the HTTP layer stops reading the body; still a 413, still serving. */
    csv = big_csv(600 * 1024, &len);
    ck_assert_int_eq(ds_upload_raw("text/csv", NULL, csv, len, &r), 0);
    ck_assert_int_eq(r.status, 413);
    http_resp_free(&r);
    ck_assert_int_eq(ds_count(), before);
    ds_expect_alive();
    free(csv);
    /* Under the limit is fine. */
    csv = big_csv(60 * 1024, &len);
    ck_assert_int_eq(ds_upload_raw("text/csv", NULL, csv, len, &r), 0);
    ck_assert_msg(r.status == 201, "%d %s", r.status, r.body);
    http_resp_free(&r);
    ck_assert_int_eq(ds_count(), before + 1);
    free(csv);
}
END_TEST

static void start_small_limit(void) {
    static const char *const args[] = {"--upload-max-bytes", "65536", NULL};
    ds_start_with(args);
}

START_TEST(content_must_match_kind) {
    /* An executable renamed .csv. */
    unsigned char elf[256] = {0x7f, 'E', 'L', 'F', 2, 1, 1, 0};
    for (size_t i = 16; i < sizeof elf; i++)
        elf[i] = (unsigned char)('a' + i % 26);
    refuse_raw("text/csv", "?name=data.csv", elf, sizeof elf, 415, "content-mismatch");
    /* The same as a multipart file with a .csv name. */
    http_resp r;
    ck_assert_int_eq(ds_upload_multipart("file", "data.csv", NULL, elf, sizeof elf, "data", &r), 0);
    ds_expect_problem(&r, 415, "content-mismatch");
    http_resp_free(&r);
    /* A Windows executable. */
    char mz[] = "MZ\x90\0\3\0\0\0date,value\n";
    refuse_raw("text/csv", NULL, mz, sizeof mz - 1, 415, "content-mismatch");
    /* XLSX claimed, CSV bytes; XLS claimed, CSV bytes; XLS claimed, XLSX bytes. */
    refuse_raw(DS_XLSX_TYPE, NULL, small_csv, strlen(small_csv), 415, "content-mismatch");
    refuse_raw(DS_XLS_TYPE, NULL, small_csv, strlen(small_csv), 415, "content-mismatch");
    size_t len;
    char *xlsx = ds_fixture("us_macro_monthly.xlsx", &len);
    refuse_raw(DS_XLS_TYPE, NULL, xlsx, len, 415, "content-mismatch");
    /* And a ZIP as CSV. */
    refuse_raw("text/csv", NULL, xlsx, len, 415, "content-mismatch");
    free(xlsx);
    ck_assert_int_eq(ds_count(), 0);
}
END_TEST

/* Copies the fixture XLSX into a temporary file, lets `edit` change it through libzip, and
 * returns the new archive's bytes (caller frees). */
static char *xlsx_edited(void (*edit)(zip_t *za), size_t *len) {
    char path[] = "/tmp/econq-dstest-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    size_t n;
    char *orig = ds_fixture("us_macro_monthly.xlsx", &n);
    ck_assert_int_eq(write(fd, orig, n), (ssize_t)n);
    close(fd);
    free(orig);
    int err = 0;
    zip_t *za = zip_open(path, 0, &err);
    ck_assert_ptr_nonnull(za);
    edit(za);
    ck_assert_int_eq(zip_close(za), 0);
    char *out = ds_fixture(path, len);
    unlink(path);
    return out;
}

#define BOMB_BYTES (8u << 20) /* inflates 8 MiB from a few KiB: over 100:1 */

static void add_bomb(zip_t *za) {
    char *zeros = calloc(1, BOMB_BYTES);
    ck_assert_ptr_nonnull(zeros);
    /* freep = 1: libzip frees the buffer after zip_close. */
    zip_source_t *src = zip_source_buffer(za, zeros, BOMB_BYTES, 1);
    ck_assert_ptr_nonnull(src);
    ck_assert_int_ge(zip_file_add(za, "xl/media/image1.bin", src, ZIP_FL_ENC_UTF_8), 0);
}

static void add_doctype(zip_t *za) {
    zip_int64_t idx = zip_name_locate(za, "xl/workbook.xml", 0);
    ck_assert_int_ge(idx, 0);
    zip_stat_t st;
    ck_assert_int_eq(zip_stat_index(za, (zip_uint64_t)idx, 0, &st), 0);
    static const char dtd[] = "<?xml version=\"1.0\"?>\n<!DOCTYPE workbook [<!ENTITY xxe SYSTEM "
                              "\"file:///etc/passwd\">]>\n";
    size_t dl = strlen(dtd);
    char *buf = malloc(dl + st.size);
    memcpy(buf, dtd, dl);
    zip_file_t *f = zip_fopen_index(za, (zip_uint64_t)idx, 0);
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(zip_fread(f, buf + dl, st.size), (zip_int64_t)st.size);
    zip_fclose(f);
    zip_source_t *src = zip_source_buffer(za, buf, dl + st.size, 1);
    ck_assert_int_eq(zip_file_replace(za, (zip_uint64_t)idx, src, 0), 0);
}

START_TEST(zip_bomb) {
    size_t len;
    char *bomb = xlsx_edited(add_bomb, &len);
    ck_assert_uint_lt(len, 200 * 1024); /* small on the wire */
    refuse_raw(DS_XLSX_TYPE, NULL, bomb, len, 422, "archive-bomb");
    http_resp r;
    ck_assert_int_eq(ds_upload_multipart("file", "bomb.xlsx", NULL, bomb, len, "bomb", &r), 0);
    ds_expect_problem(&r, 422, "archive-bomb");
    http_resp_free(&r);
    /* Truncated: not a readable archive. */
    refuse_raw(DS_XLSX_TYPE, NULL, bomb, len / 2, 422, "invalid-archive");
    free(bomb);
    ck_assert_int_eq(ds_count(), 0);
}
END_TEST

START_TEST(xlsx_doctype) {
    size_t len;
    char *x = xlsx_edited(add_doctype, &len);
    refuse_raw(DS_XLSX_TYPE, "?name=xxe.xlsx", x, len, 422, "xml-dtd-forbidden");
    free(x);
    ck_assert_int_eq(ds_count(), 0);
}
END_TEST

START_TEST(latin1_converted) {
    /* "café" and "Zürich" in Latin-1: bytes E9 and FC, not UTF-8. */
    static const char csv[] = "date,caf\xe9,city\n2000-01-01,1.5,Z\xfcrich\n2000-02-01,2.5,"
                              "Z\xfcrich\n2000-03-01,3.5,Gen\xe8ve\n";
    http_resp r;
    ck_assert_int_eq(ds_upload_raw("text/csv; charset=iso-8859-1", NULL, csv, sizeof csv - 1, &r),
                     0);
    ck_assert_msg(r.status == 201, "%d %s", r.status, r.body);
    cJSON *j = http_json(&r);
    const cJSON *cols = cJSON_GetObjectItemCaseSensitive(j, "columns");
    ck_assert_str_eq(eqt_str(cJSON_GetArrayItem(cols, 1), "name"), "caf\xc3\xa9");
    ck_assert_str_eq(eqt_str(cJSON_GetArrayItem(cols, 1), "type"), "number");
    ck_assert_str_eq(eqt_str(cJSON_GetArrayItem(cols, 2), "type"), "text");
    ck_assert_str_eq(eqt_str(j, "frequency"), "monthly");
    char path[200];
    snprintf(path, sizeof path, "/v1/datasets/%s/columns/city", eqt_str(j, "id"));
    cJSON_Delete(j);
    http_resp_free(&r);
    j = ds_get_json(path, 200);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "values");
    ck_assert_str_eq(cJSON_GetArrayItem(v, 0)->valuestring, "Z\xc3\xbcrich");
    ck_assert_str_eq(cJSON_GetArrayItem(v, 2)->valuestring, "Gen\xc3\xa8ve");
    cJSON_Delete(j);
    /* A UTF-8 BOM is accepted and not part of the first header. */
    static const char bom[] = "\xef\xbb\xbf"
                              "date,x\n2000-01-01,1\n2001-01-01,2\n";
    ck_assert_int_eq(ds_upload_raw("text/csv", NULL, bom, sizeof bom - 1, &r), 0);
    ck_assert_int_eq(r.status, 201);
    j = http_json(&r);
    ck_assert_str_eq(eqt_str(j, "date_column"), "date");
    cJSON_Delete(j);
    http_resp_free(&r);
    /* UTF-16 is refused; C1 bytes in non-UTF-8 text are neither UTF-8 nor Latin-1 text. */
    static const char utf16[] = "\xff\xfe"
                                "d\0a\0t\0e\0\n\0";
    refuse_raw("text/csv", NULL, utf16, sizeof utf16 - 1, 422, "invalid-encoding");
    static const char c1[] = "date,x\x85y\n2000-01-01,1\n2001-01-01,2\n";
    refuse_raw("text/csv", NULL, c1, sizeof c1 - 1, 422, "invalid-encoding");
    ck_assert_int_eq(ds_count(), 2);
}
END_TEST

static void expect_name(const char *query, const char *want) {
    http_resp r;
    /* Different content each time, so no upload is recognised as an earlier one. */
    char csv[128];
    static int n;
    snprintf(csv, sizeof csv, "date,v\n2000-01-01,%d\n2001-01-01,2\n", ++n);
    ck_assert_int_eq(ds_upload_raw("text/csv", query, csv, strlen(csv), &r), 0);
    ck_assert_msg(r.status == 201, "%s: %d %s", query, r.status, r.body);
    cJSON *j = http_json(&r);
    ck_assert_str_eq(eqt_str(j, "name"), want);
    cJSON_Delete(j);
    http_resp_free(&r);
}

START_TEST(names_cleaned_or_refused) {
    expect_name("?name=..%2F..%2Fetc%2Fpasswd", "passwd");
    expect_name("?name=C%3A%5Cfakepath%5Creport.csv", "report.csv");
    expect_name("?name=..hidden....csv", "hidden.csv");
    expect_name("?name=%20%20two%20%20%20words%20", "two words");
    /* A long name is cut to 100 bytes. */
    char q[400] = "?name=";
    for (int i = 0; i < 300; i++)
        strcat(q, "a");
    char want[101];
    memset(want, 'a', 100);
    want[100] = '\0';
    expect_name(q, want);
    /* The multipart name part the same way (a file name without it: ds_upload_test's pending
     * multipart_file_name_is_the_name). */
    http_resp r;
    ck_assert_int_eq(ds_upload_multipart("file", "x.csv", "text/csv", small_csv, strlen(small_csv),
                                         "../../../tmp/evil..csv", &r),
                     0);
    ck_assert_int_eq(r.status, 201);
    cJSON *j = http_json(&r);
    ck_assert_str_eq(eqt_str(j, "name"), "evil.csv");
    cJSON_Delete(j);
    http_resp_free(&r);
    /* Refused: control characters, nothing left, over 1024 bytes. */
    static const char other[] = "date,w\n2000-01-01,7\n2001-01-01,8\n";
    refuse_raw("text/csv", "?name=a%01b", other, strlen(other), 400, "invalid-name");
    refuse_raw("text/csv", "?name=..%2F..", other, strlen(other), 400, "invalid-name");
    char longq[1200] = "?name=";
    for (int i = 0; i < 1100; i++)
        strcat(longq, "b");
    refuse_raw("text/csv", longq, other, strlen(other), 400, "invalid-name");
    ck_assert_int_eq(ds_count(), 6);
}
END_TEST

START_TEST(multipart_and_media_types) {
    /* A multipart body with only a name part. */
    int before = ds_count();
    http_resp r;
    ck_assert_int_eq(ds_upload_multipart(NULL, NULL, NULL, NULL, 0, "n", &r), 0);
    ds_expect_problem(&r, 400, "missing-file");
    http_resp_free(&r);
    /* A file under another field name. */
    ck_assert_int_eq(
        ds_upload_multipart("upload", "a.csv", "text/csv", small_csv, strlen(small_csv), "a", &r),
        0);
    ds_expect_problem(&r, 400, "missing-file");
    http_resp_free(&r);
    /* No boundary, or a body that does not use it. */
    refuse_raw("multipart/form-data", NULL, small_csv, strlen(small_csv), 400, "missing-boundary");
    refuse_raw("multipart/form-data; boundary=xyz", NULL, small_csv, strlen(small_csv), 400,
               "malformed-multipart");
    /* Unsupported media types, and none at all. */
    refuse_raw("application/pdf", NULL, small_csv, strlen(small_csv), 415,
               "unsupported-media-type");
    refuse_raw("application/json", NULL, "{}", 2, 415, "unsupported-media-type");
    refuse_raw(NULL, NULL, small_csv, strlen(small_csv), 415, "unsupported-media-type");
    /* A multipart file whose type and name say nothing usable (.txt would be read as CSV). */
    ck_assert_int_eq(ds_upload_multipart("file", "notes.pdf", "application/octet-stream", small_csv,
                                         strlen(small_csv), "notes", &r),
                     0);
    ds_expect_problem(&r, 415, "unsupported-media-type");
    http_resp_free(&r);
    ck_assert_int_eq(ds_count(), before);
}
END_TEST

/* Sends an upload and closes the connection without reading the answer. */
static void send_and_leave(const char *ctype, const void *data, size_t len) {
    char head[256], out[16];
    int hl = snprintf(head, sizeof head,
                      "POST /v1/datasets HTTP/1.1\r\nHost: t\r\nContent-Type: %s\r\n"
                      "Content-Length: %zu\r\n\r\n",
                      ctype, len);
    char *req = malloc((size_t)hl + len);
    memcpy(req, head, (size_t)hl);
    memcpy(req + hl, data, len);
    http_raw(ds_d.port, req, (size_t)hl + len, out, sizeof out, 0);
    free(req);
}

/* Clients that send whole uploads and leave before the answer: each parse runs off the loop
 * with its request's body, the server stores them, and neither crashes nor leaks (ds_stop). */
START_TEST(client_leaves_during_parse) {
    size_t len;
    char *csv = big_csv(1u << 20, &len);
    for (int i = 0; i < 5; i++) {
        csv[len - 2] = (char)('0' + i); /* five different contents */
        send_and_leave("text/csv", csv, len);
    }
    free(csv);
    long long deadline = eqt_now_ms() + 30000;
    while (ds_count() < 5 && eqt_now_ms() < deadline)
        eqt_sleep_ms(50);
    ck_assert_int_eq(ds_count(), 5);
    ds_expect_alive();
}
END_TEST

/* BUG (api/http/http_server.c server_maybe_done, with api/api.c http_stopped): on SIGTERM the
 * HTTP server reports itself stopped once its connections are closed, although handlers still
 * hold detached requests (dispatched, unanswered, connection gone). api's http_stopped then
 * frees the api while an upload parse is on the threadpool; upload_after() calls
 * api_call_broker() on the freed api: ASan heap-use-after-free (api.c api_call_broker, freed in
 * async_closed). Fix: count detached unanswered requests in the server (++ in conn_close for
 * each r->dispatched && !r->responded, -- in http_respond for a closed request) and let
 * server_maybe_done wait for zero; or count queued uv work in api and free it only when the
 * last after-callback ran (answering 503 without the broker when a->stopping). Runs with
 * ECONQ_PENDING_FIXES=1. */
START_TEST(sigterm_during_upload_parse) {
    size_t len;
    char *csv = big_csv(8u << 20, &len); /* seconds of parsing under ASan */
    for (int i = 0; i < 2; i++) {
        csv[len - 2] = (char)('0' + i);
        send_and_leave("text/csv", csv, len);
    }
    free(csv);
    eqt_sleep_ms(300); /* read and dispatched, still parsing */
    /* ds_stop (the fixture) sends SIGTERM now and asserts a clean exit. */
}
END_TEST

START_TEST(malformed_content) {
    refuse_raw("text/csv", NULL, "", 0, 422, "empty-file");
    refuse_raw("text/csv", NULL, "date,value\n", 11, 422, "no-data-rows");
    static const char text_only[] = "date,city\n2000-01-01,Oslo\n2001-01-01,Rome\n";
    refuse_raw("text/csv", NULL, text_only, strlen(text_only), 422, "no-numeric-column");
    static const char quote[] = "date,value\n2000-01-01,\"1\n2001-01-01,2\n";
    refuse_raw("text/csv", NULL, quote, strlen(quote), 422, "malformed-csv");
    /* 1,001 columns; a cell of 4,097 bytes. */
    size_t cap = 1002 * 8 + 64, n = 0;
    char *wide = malloc(cap);
    n += (size_t)snprintf(wide, cap, "date");
    for (int c = 0; c < 1001; c++)
        n += (size_t)snprintf(wide + n, cap - n, ",c%d", c);
    n += (size_t)snprintf(wide + n, cap - n, "\n2000-01-01");
    for (int c = 0; c < 1001; c++)
        n += (size_t)snprintf(wide + n, cap - n, ",1");
    refuse_raw("text/csv", NULL, wide, n, 413, "too-many-columns");
    free(wide);
    char *longcell = malloc(8192);
    n = (size_t)snprintf(longcell, 8192, "date,v,note\n2000-01-01,1,");
    memset(longcell + n, 'x', 4097);
    n += 4097;
    n += (size_t)snprintf(longcell + n, 8192 - n, "\n2001-01-01,2,y\n");
    refuse_raw("text/csv", NULL, longcell, n, 413, "cell-too-long");
    free(longcell);
    /* An OLE header and then rubbish: freexl cannot read it. */
    unsigned char ole[4096] = {0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1};
    for (size_t i = 8; i < sizeof ole; i++)
        ole[i] = (unsigned char)(i * 37);
    refuse_raw(DS_XLS_TYPE, NULL, ole, sizeof ole, 422, "invalid-spreadsheet");
    ck_assert_int_eq(ds_count(), 0);
}
END_TEST

int main(void) {
    Suite *s = suite_create("datasets_validation");
    TCase *tl = tcase_create("limit");
    tcase_set_timeout(tl, 60);
    tcase_add_checked_fixture(tl, start_small_limit, ds_stop);
    tcase_add_test(tl, size_limit);
    suite_add_tcase(s, tl);
    TCase *tc = tcase_create("refusals");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, ds_start, ds_stop);
    tcase_add_test(tc, content_must_match_kind);
    tcase_add_test(tc, zip_bomb);
    tcase_add_test(tc, xlsx_doctype);
    tcase_add_test(tc, latin1_converted);
    tcase_add_test(tc, names_cleaned_or_refused);
    tcase_add_test(tc, multipart_and_media_types);
    tcase_add_test(tc, malformed_content);
    tcase_add_test(tc, client_leaves_during_parse);
    suite_add_tcase(s, tc);
    const char *pending = getenv("ECONQ_PENDING_FIXES");
    if (pending && strcmp(pending, "1") == 0) {
        TCase *tp = tcase_create("pending_fixes");
        tcase_set_timeout(tp, 60);
        tcase_add_checked_fixture(tp, ds_start, ds_stop);
        tcase_add_test(tp, sigterm_during_upload_parse);
        suite_add_tcase(s, tp);
    }
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#include "tests/datasets/ds_util.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

eqd ds_d;
char ds_dir[256];

void ds_start_with(const char *const *extra) {
    const char *args[32];
    size_t n = 0;
    args[n++] = "--durability";
    args[n++] = "nosync";
    args[n++] = "--log-level";
    args[n++] = "warn";
    for (size_t i = 0; extra && extra[i] && n < 31; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    eqt_tmpdir(ds_dir, sizeof ds_dir);
    ck_assert_int_eq(eqd_start(&ds_d, "serve", ds_dir, args), 0);
}

void ds_start(void) {
    ds_start_with(NULL);
}

void ds_stop(void) {
    eqd_signal(&ds_d, SIGTERM);
    int st = eqd_wait(&ds_d);
    if (st != 0) {
        /* The sanitizer's report without the library frames, before the directory goes. */
        char cmd[400];
        snprintf(cmd, sizeof cmd,
                 "grep -v -e '^ *#[0-9]* .*lib[a-z]*[.]so' -e '^  0x' '%s' | head -n 80 >&2",
                 ds_d.log);
        if (system(cmd) != 0) fprintf(stderr, "no log\n");
    }
    eqt_rmdir(ds_dir);
    ck_assert_int_eq(st, 0);
}

char *ds_fixture(const char *name, size_t *len) {
    char path[1024];
    const char *src = getenv("ECONQ_SOURCE_DIR");
    if (name[0] == '/')
        snprintf(path, sizeof path, "%s", name);
    else
        snprintf(path, sizeof path, "%s/tests/fixtures/data/%s", src ? src : ".", name);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_int_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

int ds_upload_raw(const char *ctype, const char *query, const void *data, size_t len,
                  http_resp *r) {
    char path[2048], h[256] = "";
    snprintf(path, sizeof path, "/v1/datasets%s", query ? query : "");
    if (ctype) snprintf(h, sizeof h, "Content-Type: %s\r\n", ctype);
    return http_do(ds_d.port, "POST", path, h, data, len, r);
}

#define DS_BOUNDARY "----econqtestboundary7MA4YWxkTrZu0gW"

int ds_upload_multipart(const char *file_field, const char *filename, const char *part_ctype,
                        const void *data, size_t len, const char *name, http_resp *r) {
    size_t cap = len + 4096, n = 0;
    char *body = malloc(cap);
    ck_assert_ptr_nonnull(body);
    if (name)
        n += (size_t)snprintf(body + n, cap - n,
                              "--" DS_BOUNDARY "\r\nContent-Disposition: form-data; "
                              "name=\"name\"\r\n\r\n%s\r\n",
                              name);
    if (file_field) {
        n += (size_t)snprintf(body + n, cap - n,
                              "--" DS_BOUNDARY "\r\nContent-Disposition: form-data; name=\"%s\"",
                              file_field);
        if (filename) n += (size_t)snprintf(body + n, cap - n, "; filename=\"%s\"", filename);
        n += (size_t)snprintf(body + n, cap - n, "\r\n");
        if (part_ctype)
            n += (size_t)snprintf(body + n, cap - n, "Content-Type: %s\r\n", part_ctype);
        n += (size_t)snprintf(body + n, cap - n, "\r\n");
        memcpy(body + n, data, len);
        n += len;
        n += (size_t)snprintf(body + n, cap - n, "\r\n");
    }
    n += (size_t)snprintf(body + n, cap - n, "--" DS_BOUNDARY "--\r\n");
    int rc = http_do(ds_d.port, "POST", "/v1/datasets",
                     "Content-Type: multipart/form-data; boundary=" DS_BOUNDARY "\r\n", body, n, r);
    free(body);
    return rc;
}

cJSON *ds_upload_fixture(const char *file, const char *ctype, char *id_out) {
    size_t len;
    char *data = ds_fixture(file, &len);
    http_resp r;
    ck_assert_int_eq(ds_upload_raw(ctype, NULL, data, len, &r), 0);
    ck_assert_msg(r.status == 201, "upload of %s: %d %s", file, r.status, r.body);
    cJSON *j = http_json(&r);
    ck_assert_ptr_nonnull(j);
    ck_assert_ptr_nonnull(eqt_str(j, "id"));
    if (id_out) snprintf(id_out, 27, "%s", eqt_str(j, "id"));
    http_resp_free(&r);
    free(data);
    return j;
}

void ds_expect_problem(const http_resp *r, int status, const char *slug) {
    char ct[128], type[128];
    ck_assert_msg(r->status == status, "want %d %s, got %d: %s", status, slug, r->status,
                  r->body ? r->body : "");
    ck_assert_ptr_nonnull(http_header(r, "Content-Type", ct, sizeof ct));
    ck_assert_str_eq(ct, "application/problem+json");
    cJSON *j = http_json(r);
    ck_assert_ptr_nonnull(j);
    snprintf(type, sizeof type, "/problems/%s", slug);
    ck_assert_str_eq(eqt_str(j, "type"), type);
    ck_assert_int_eq((int)eqt_num(j, "status"), status);
    cJSON_Delete(j);
}

cJSON *ds_get_json(const char *path, int want_status) {
    http_resp r;
    ck_assert_int_eq(http_do(ds_d.port, "GET", path, NULL, NULL, 0, &r), 0);
    ck_assert_msg(r.status == want_status, "GET %s: want %d, got %d: %.300s", path, want_status,
                  r.status, r.body);
    cJSON *j = http_json(&r);
    ck_assert_msg(j != NULL, "GET %s: not JSON", path);
    http_resp_free(&r);
    return j;
}

int ds_post_json(const char *path, const char *body, http_resp *r) {
    return http_do(ds_d.port, "POST", path, "Content-Type: application/json\r\n", body,
                   strlen(body), r);
}

int ds_count(void) {
    cJSON *j = ds_get_json("/v1/datasets", 200);
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(j, "datasets");
    ck_assert(cJSON_IsArray(list));
    int n = cJSON_GetArraySize(list);
    cJSON_Delete(j);
    return n;
}

void ds_expect_alive(void) {
    http_resp r;
    ck_assert_int_eq(http_do(ds_d.port, "GET", "/health", NULL, NULL, 0, &r), 0);
    ck_assert_int_eq(r.status, 200);
    http_resp_free(&r);
}

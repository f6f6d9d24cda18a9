/* Shared helpers of the dataset and batch integration tests: one real `econqd serve` per test
 * (started by ds_start in a checked fixture), fixture files, uploads and problem checks. */
#ifndef ECONQ_TESTS_DATASETS_DS_UTIL_H
#define ECONQ_TESTS_DATASETS_DS_UTIL_H
#include <stddef.h>

#include "tests/support/eqtest.h"

#define DS_XLSX_TYPE "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#define DS_XLS_TYPE "application/vnd.ms-excel"

/* The server of the running test (set by ds_start). */
extern eqd ds_d;
extern char ds_dir[256];

/* Starts econqd serve (nosync) with the extra flags (NULL-terminated, may be NULL). */
void ds_start_with(const char *const *extra);
void ds_start(void);
/* SIGTERM, asserts a clean exit (no leak, no crash) and removes the data directory. */
void ds_stop(void);

/* Reads a file of tests/fixtures/data (or any path when `name` starts with '/'). Caller frees. */
char *ds_fixture(const char *name, size_t *len);

/* POST /v1/datasets with a raw body; `query` is appended to the path (e.g. "?name=x") or NULL;
 * ctype NULL sends no Content-Type. 0 on success (an answer was read). */
int ds_upload_raw(const char *ctype, const char *query, const void *data, size_t len, http_resp *r);
/* POST /v1/datasets as multipart/form-data: a part "file" (filename and part Content-Type may be
 * NULL) and, when `name` is not NULL, a part "name". With file_field NULL no file part is sent. */
int ds_upload_multipart(const char *file_field, const char *filename, const char *part_ctype,
                        const void *data, size_t len, const char *name, http_resp *r);
/* Uploads a fixture and asserts 201; copies the id (27 bytes). Returns the parsed body (caller
 * cJSON_Delete()s). */
cJSON *ds_upload_fixture(const char *file, const char *ctype, char *id_out);

/* Asserts a problem+json answer with this status and type slug; frees nothing. */
void ds_expect_problem(const http_resp *r, int status, const char *slug);
/* The number of datasets GET /v1/datasets lists. */
int ds_count(void);
/* Asserts that the server still answers GET /health with 200. */
void ds_expect_alive(void);

/* GET path and parse the JSON body; asserts the status. Caller cJSON_Delete()s. */
cJSON *ds_get_json(const char *path, int want_status);
/* POST a JSON body; asserts nothing. */
int ds_post_json(const char *path, const char *body, http_resp *r);

#endif

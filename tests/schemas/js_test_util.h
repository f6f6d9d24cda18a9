/* Runs files in the JSON Schema Test Suite's format:
 * [{"description", "schema", "tests": [{"description", "data", "valid"}]}]. */
#ifndef ECONQ_TESTS_SCHEMAS_JS_TEST_UTIL_H
#define ECONQ_TESTS_SCHEMAS_JS_TEST_UTIL_H

#include <cjson/cJSON.h>

typedef struct jt_counts {
    int passed, failed, skipped;
} jt_counts;

/* Returns why a case is skipped, or NULL to run it. */
typedef const char *(*jt_skip_fn)(const void *ctx, const char *group, const char *test);

/* Rewrites a schema in place before it is compiled (may be NULL). */
typedef void (*jt_translate_fn)(cJSON *schema);

/* Reads the file (caller-owned text, malloc'd; NULL on error). */
char *jt_read_file(const char *path);

/* Runs every case of the suite file at `path`, adding to *n. A group whose schema does not
 * compile counts each of its cases as failed. Failures are printed. Returns -1 if the file
 * cannot be read or parsed (counted as one failure). */
int jt_run_file(const char *path, jt_translate_fn translate, const void *ctx, jt_skip_fn skip,
                jt_counts *n);

#endif

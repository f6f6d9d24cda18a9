/* Helpers shared by the forecast tests: load a column of a fixture CSV and build job params. */
#ifndef ECONQ_TESTS_FORECAST_FC_TEST_UTIL_H
#define ECONQ_TESTS_FORECAST_FC_TEST_UTIL_H

#include <cjson/cJSON.h>
#include <stddef.h>

/* Fixture CSV files are small; anything longer is a broken fixture. */
#define FC_TEST_MAX_ROWS 5000

typedef struct fc_test_series {
    char (*dates)[11];
    double *values; /* NAN for empty cells */
    size_t n;
} fc_test_series;

/* Loads column `column` of tests/fixtures/data/<file> (relative to ECONQ_SOURCE_DIR). Aborts the
 * test on failure. */
void fc_test_load(const char *file, const char *column, fc_test_series *out);
void fc_test_free(fc_test_series *s);
/* Reads a whole file under ECONQ_SOURCE_DIR as a parsed JSON document (caller frees). */
cJSON *fc_test_load_json(const char *relpath);
/* Builds {"series": {"dates", "values"}} from the first `n` points of `s` (caller frees). */
cJSON *fc_test_params(const fc_test_series *s, size_t n);

#endif

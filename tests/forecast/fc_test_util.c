#include "tests/forecast/fc_test_util.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static FILE *fc__open(const char *relpath)
{
    const char *root = getenv("ECONQ_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", root ? root : ".", relpath);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    return f;
}

void fc_test_load(const char *file, const char *column, fc_test_series *out)
{
    char rel[512];
    snprintf(rel, sizeof rel, "tests/fixtures/data/%s", file);
    FILE *f = fc__open(rel);
    char line[4096];
    ck_assert(fgets(line, sizeof line, f) != NULL);
    int col = -1, c = 0;
    for (char *tok = strtok(line, ",\r\n"); tok; tok = strtok(NULL, ",\r\n"), c++)
        if (strcmp(tok, column) == 0)
            col = c;
    ck_assert_msg(col > 0, "no column %s in %s", column, file);
    out->dates = malloc(FC_TEST_MAX_ROWS * sizeof *out->dates);
    out->values = malloc(FC_TEST_MAX_ROWS * sizeof *out->values);
    out->n = 0;
    while (fgets(line, sizeof line, f)) {
        ck_assert(out->n < FC_TEST_MAX_ROWS);
        char *p = line;
        for (c = 0; c <= col; c++) {
            char *end = p + strcspn(p, ",\r\n");
            char save = *end;
            *end = '\0';
            if (c == 0)
                snprintf(out->dates[out->n], 11, "%.10s", p);
            if (c == col)
                out->values[out->n] = *p ? strtod(p, NULL) : NAN;
            if (save != ',')
                break;
            p = end + 1;
        }
        out->n++;
    }
    fclose(f);
}

void fc_test_free(fc_test_series *s)
{
    free(s->dates);
    free(s->values);
}

cJSON *fc_test_load_json(const char *relpath)
{
    FILE *f = fc__open(relpath);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)len + 1);
    ck_assert(fread(buf, 1, (size_t)len, f) == (size_t)len);
    buf[len] = '\0';
    fclose(f);
    cJSON *j = cJSON_Parse(buf);
    free(buf);
    ck_assert_msg(j != NULL, "bad JSON in %s", relpath);
    return j;
}

cJSON *fc_test_params(const fc_test_series *s, size_t n)
{
    cJSON *p = cJSON_CreateObject();
    cJSON *series = cJSON_AddObjectToObject(p, "series");
    cJSON *dates = cJSON_AddArrayToObject(series, "dates");
    cJSON *values = cJSON_AddArrayToObject(series, "values");
    for (size_t i = 0; i < n; i++) {
        cJSON_AddItemToArray(dates, cJSON_CreateString(s->dates[i]));
        cJSON_AddItemToArray(values, isnan(s->values[i]) ? cJSON_CreateNull()
                                                         : cJSON_CreateNumber(s->values[i]));
    }
    return p;
}

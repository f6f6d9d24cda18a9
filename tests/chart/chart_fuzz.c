/* The fuzz target of the chart JSON front ends; see chart_fuzz.h. Built into
 * chart_render_test, and with clang as a libFuzzer binary (-DECONQ_LIBFUZZER=ON). */
#include "tests/chart/chart_fuzz.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "workers/chart/chart.h"
#include "workers/chart/report_xlsx.h"

/* Inputs larger than this are ignored: job params are capped long before. */
#define CHART_FUZZ_MAX_INPUT (1u << 16)

/* 1 if a call's outcome is inconsistent: success without output or failure without a message. */
static int chart__fuzz_bad(eq_err rc, unsigned char *img, size_t len, const char *err) {
    int bad = rc == EQ_OK ? (img == NULL || len == 0) : err[0] == '\0';
    free(rc == EQ_OK ? img : NULL);
    return bad;
}

int chart_fuzz_one(const uint8_t *data, size_t size) {
    if (size > CHART_FUZZ_MAX_INPUT) return 0;
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    cJSON *j = cJSON_Parse(text);
    free(text);
    if (!j) return 0;
    int bad = 0;
    char err[256];
    unsigned char *img = NULL;
    size_t len = 0;
    /* Small images keep each run cheap; the layout code is the same at every size. */
    chart_opts opts = {.width = CHART_MIN_WIDTH, .height = CHART_MIN_HEIGHT};
    err[0] = '\0';
    eq_err rc = chart_forecast_from_json(cJSON_GetObjectItem(j, "history"), j, &opts, &img, &len,
                                         err, sizeof err);
    bad |= chart__fuzz_bad(rc, img, len, err);
    img = NULL, err[0] = '\0';
    rc = chart_lines_from_json(j, &opts, &img, &len, err, sizeof err);
    bad |= chart__fuzz_bad(rc, img, len, err);
    chart_opts o;
    err[0] = '\0';
    rc = chart_opts_from_json(j, &o, err, sizeof err);
    bad |= rc != EQ_OK && err[0] == '\0';
    report_json_series js;
    err[0] = '\0';
    rc = report_series_from_json("fuzz", cJSON_GetObjectItem(j, "history"), j, NULL, &js, err,
                                 sizeof err);
    if (rc == EQ_OK)
        report_json_series_fini(&js);
    else
        bad |= err[0] == '\0';
    cJSON_Delete(j);
    return bad;
}

#ifdef ECONQ_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (chart_fuzz_one(data, size)) abort();
    return 0;
}
#endif

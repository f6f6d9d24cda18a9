/* The chart worker kind: `chart` jobs render a PNG or SVG, `report` jobs write an Excel
 * workbook. Workers are stateless: the api resolved what the job draws into params.resolved at
 * submit (api/charts.c), and the bytes go back base64-encoded in the result; the broker stores
 * them as a file with an index entry and rewrites the result to {chart_id, url, ...}
 * (broker/chart_store.c). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "workers/chart/chart.h"
#include "workers/chart/report_xlsx.h"
#include "workers/runtime.h"

#define XLSX_TYPE "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

static eq_err bad(worker_error *err, const char *code, const char *msg) {
    snprintf(err->code, sizeof err->code, "%s", code);
    snprintf(err->message, sizeof err->message, "%s", msg);
    err->retryable = 0;
    return EQ_EINVAL;
}

/* {"format", "content_type", "ext", "bytes", "data_b64"}: the broker looks for data_b64. */
static char *encode_result(const char *format, const char *ctype, const unsigned char *p,
                           size_t n) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    eq_buf b;
    eq_buf_init(&b);
    eq_buf_printf(&b,
                  "{\"format\":\"%s\",\"content_type\":\"%s\",\"ext\":\"%s\",\"bytes\":%zu,"
                  "\"data_b64\":\"",
                  format, ctype, format, n);
    eq_buf_reserve(&b, (n + 2) / 3 * 4 + 4);
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        char q[4] = {tab[v >> 18 & 63], tab[v >> 12 & 63], i + 1 < n ? tab[v >> 6 & 63] : '=',
                     i + 2 < n ? tab[v & 63] : '='};
        eq_buf_put(&b, q, 4);
    }
    eq_buf_puts(&b, "\"}");
    return eq_buf_take(&b, NULL);
}

static eq_err chart_job(const cJSON *params, char **result, worker_error *err) {
    const cJSON *res = cJSON_GetObjectItemCaseSensitive(params, "resolved");
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(res, "kind");
    chart_opts o;
    char msg[256] = "";
    unsigned char *out = NULL;
    size_t len = 0;
    if (!cJSON_IsString(kind))
        return bad(err, "bad_params", "the chart's data was not resolved by the api");
    if (chart_opts_from_json(params, &o, msg, sizeof msg) != EQ_OK)
        return bad(err, "bad_params", msg);
    eq_err rc;
    if (strcmp(kind->valuestring, "forecast") == 0)
        rc = chart_forecast_from_json(cJSON_GetObjectItemCaseSensitive(res, "history"),
                                      cJSON_GetObjectItemCaseSensitive(res, "forecast"), &o, &out,
                                      &len, msg, sizeof msg);
    else
        rc = chart_lines_from_json(cJSON_GetObjectItemCaseSensitive(res, "data"), &o, &out, &len,
                                   msg, sizeof msg);
    if (rc != EQ_OK) {
        snprintf(err->code, sizeof err->code, "chart_failed");
        snprintf(err->message, sizeof err->message, "%s", msg[0] ? msg : eq_strerror(rc));
        err->retryable = rc == EQ_ENOMEM;
        return rc;
    }
    int svg = o.format && strcmp(o.format, "svg") == 0;
    *result = encode_result(svg ? "svg" : "png", svg ? "image/svg+xml" : "image/png", out, len);
    free(out);
    return *result ? EQ_OK : EQ_ENOMEM;
}

static eq_err report_job(const cJSON *params, char **result, worker_error *err) {
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(params, "resolved"), "items");
    char msg[256] = "";
    unsigned char *out = NULL;
    size_t len = 0;
    if (!cJSON_IsArray(items))
        return bad(err, "bad_params", "the report's jobs were not resolved by the api");
    eq_err rc = report_xlsx_from_json(items, &out, &len, msg, sizeof msg);
    if (rc != EQ_OK) {
        snprintf(err->code, sizeof err->code, "report_failed");
        snprintf(err->message, sizeof err->message, "%s", msg[0] ? msg : eq_strerror(rc));
        err->retryable = rc == EQ_ENOMEM || rc == EQ_EIO;
        return rc;
    }
    *result = encode_result("xlsx", XLSX_TYPE, out, len);
    free(out);
    return *result ? EQ_OK : EQ_ENOMEM;
}

eq_err worker_chart_run(const worker_job *job, worker_ctx *ctx, char **result, worker_error *err) {
    (void)ctx;
    cJSON *params = cJSON_Parse(job->params);
    if (!cJSON_IsObject(params)) {
        cJSON_Delete(params);
        return bad(err, "bad_params", "params are not a JSON object");
    }
    eq_err rc = strcmp(job->type, "report") == 0 ? report_job(params, result, err)
                                                 : chart_job(params, result, err);
    cJSON_Delete(params);
    return rc;
}

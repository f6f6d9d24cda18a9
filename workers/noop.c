/* The noop job: sleeps, fails on request, echoes its params. For diagnostics and benchmarks. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "workers/runtime.h"

#define NOOP_SLEEP_SLICE_MS 20 /* how often a sleeping noop looks for cancellation */

eq_err worker_noop_run(const worker_job *job, worker_ctx *ctx, char **result, worker_error *err) {
    cJSON *p = cJSON_Parse(job->params);
    if (!p || !cJSON_IsObject(p)) {
        cJSON_Delete(p);
        snprintf(err->code, sizeof err->code, "bad_params");
        snprintf(err->message, sizeof err->message, "params are not a JSON object");
        err->retryable = 0;
        return EQ_EINVAL;
    }
    const cJSON *sl = cJSON_GetObjectItemCaseSensitive(p, "sleep_ms");
    const cJSON *fail = cJSON_GetObjectItemCaseSensitive(p, "fail");
    long sleep_ms = cJSON_IsNumber(sl) && sl->valuedouble > 0 ? (long)sl->valuedouble : 0;
    long slept = 0;
    while (slept < sleep_ms) {
        if (worker_ctx_cancelled(ctx)) {
            cJSON_Delete(p);
            snprintf(err->code, sizeof err->code, "%s",
                     worker_ctx_stopping(ctx) ? "shutdown" : "cancelled");
            snprintf(err->message, sizeof err->message, "stopped after %ld ms", slept);
            err->retryable = 1;
            return EQ_ECLOSED;
        }
        long step = sleep_ms - slept < NOOP_SLEEP_SLICE_MS ? sleep_ms - slept : NOOP_SLEEP_SLICE_MS;
        struct timespec ts = {step / 1000, (step % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        slept += step;
    }
    if (cJSON_IsString(fail)) {
        int retryable = strcmp(fail->valuestring, "retryable") == 0;
        snprintf(err->code, sizeof err->code, "%s", retryable ? "noop_retryable" : "noop_permanent");
        snprintf(err->message, sizeof err->message, "failed on request (attempt %u)", job->attempt);
        err->retryable = retryable;
        cJSON_Delete(p);
        return EQ_EINVAL;
    }
    eq_buf b;
    eq_buf_init(&b);
    eq_buf_printf(&b, "{\"slept_ms\":%ld,\"attempt\":%u,\"echo\":", slept, job->attempt);
    eq_buf_puts(&b, job->params);
    eq_buf_puts(&b, "}");
    cJSON_Delete(p);
    *result = eq_buf_take(&b, NULL);
    return *result ? EQ_OK : EQ_ENOMEM;
}

/* The worker kinds of this build, and the glue from each kind to its library. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workers/chart_kind.h"
#include "workers/embed_kind.h"
#include "workers/llm_kind.h"
#include "workers/forecast/forecast_job.h"
#include "workers/runtime.h"

static eq_err forecast_run(const worker_job *job, worker_ctx *ctx, char **result,
                           worker_error *err) {
    (void)ctx;
    cJSON *params = cJSON_Parse(job->params), *res = NULL;
    fc_job_error fe;
    memset(&fe, 0, sizeof fe);
    if (!params) {
        snprintf(err->code, sizeof err->code, "bad_params");
        snprintf(err->message, sizeof err->message, "params are not valid JSON");
        return EQ_EINVAL;
    }
    eq_err rc = forecast_job_run(params, &res, &fe);
    cJSON_Delete(params);
    if (rc != EQ_OK) {
        snprintf(err->code, sizeof err->code, "%s", fe.code[0] ? fe.code : "forecast_failed");
        snprintf(err->message, sizeof err->message, "%s", fe.message[0] ? fe.message : eq_strerror(rc));
        err->retryable = rc == EQ_ENOMEM;
        return rc;
    }
    *result = cJSON_PrintUnformatted(res);
    cJSON_Delete(res);
    return *result ? EQ_OK : EQ_ENOMEM;
}

static const char *const forecast_types[] = {"forecast", NULL};
static const worker_kind forecast_kind = {
    .name = "forecast", .types = forecast_types, .run = forecast_run, .default_threads = 2};

static const char *const chart_types[] = {"chart", "report", NULL};
static const worker_kind chart_kind = {
    .name = "chart", .types = chart_types, .run = worker_chart_run, .default_threads = 1};

/* embed jobs need no store (the broker writes the vectors); search jobs read collections. */
static const char *const embed_types[] = {"embed", NULL};
static const char *const embed_source_types[] = {"search", NULL};
static const worker_kind embed_kind = {.name = "embed",
                                       .types = embed_types,
                                       .source_types = embed_source_types,
                                       .run = worker_embed_run,
                                       .default_threads = 2,
                                       .pause_ms = worker_embed_pause_ms};

/* Answers take seconds and mostly wait on the server; a local Ollama answers one or a few
 * requests at a time, so two threads keep it busy (raise --worker-threads for a bigger one). */
static const char *const llm_types[] = {"llm", NULL};
static const worker_kind llm_kind = {.name = "llm",
                                     .types = llm_types,
                                     .run = worker_llm_run,
                                     .default_threads = 2,
                                     .status = worker_llm_status_text,
                                     .pause_ms = worker_llm_pause_ms};

const worker_kind *const worker_kinds[] = {&forecast_kind, &chart_kind, &embed_kind, &llm_kind,
                                           NULL};

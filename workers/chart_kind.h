/* The chart worker kind (workers/chart_kind.c): serves `chart` and `report` jobs. */
#ifndef ECONQ_WORKERS_CHART_KIND_H
#define ECONQ_WORKERS_CHART_KIND_H
#include "workers/runtime.h"

/* Renders params.resolved (filled by the api) and returns {format, content_type, ext, bytes,
 * data_b64} as the result (caller frees). */
eq_err worker_chart_run(const worker_job *job, worker_ctx *ctx, char **result, worker_error *err);

#endif

/* The llm kind's run function (workers/llm_kind.c) and its circuit breaker's state. */
#ifndef ECONQ_WORKERS_LLM_KIND_H
#define ECONQ_WORKERS_LLM_KIND_H
#include "workers/llm/breaker.h"
#include "workers/runtime.h"

eq_err worker_llm_run(const worker_job *job, worker_ctx *ctx, char **result, worker_error *err);

/* The breaker of the process's LLM server (workers/backends.h; set up on first use from
 * ECONQ_LLM_*) and the server it guards. Returns -1 when it could not be set up. */
int worker_llm_status(breaker_status *out, const char **url);
/* While the server's breaker is open, llm threads stop leasing (runtime pause_ms). */
uint32_t worker_llm_pause_ms(void);
/* The kind's status for lease requests: "llm_breaker=closed|open|half_open". */
void worker_llm_status_text(char *buf, size_t len);

#endif

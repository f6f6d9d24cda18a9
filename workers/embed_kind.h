/* The embed kind's run function (workers/embed_kind.c): `embed` and `search` jobs. */
#ifndef ECONQ_WORKERS_EMBED_KIND_H
#define ECONQ_WORKERS_EMBED_KIND_H
#include "workers/runtime.h"

eq_err worker_embed_run(const worker_job *job, worker_ctx *ctx, char **result, worker_error *err);
/* With a server's embedding model: no leasing while that server's breaker is open. */
uint32_t worker_embed_pause_ms(void);

#endif

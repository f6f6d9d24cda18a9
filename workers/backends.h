/* One circuit breaker per outside backend (an LLM server's base URL), shared by every kind in
 * the process: the llm kind's chat requests and the embed kind's remote embeddings to the same
 * server open and close one breaker. Thresholds come from ECONQ_LLM_BREAKER_THRESHOLD and
 * ECONQ_LLM_BREAKER_COOLDOWN_MS. */
#ifndef ECONQ_WORKERS_BACKENDS_H
#define ECONQ_WORKERS_BACKENDS_H
#include <stddef.h>

#include "common/eq_err.h"
#include "workers/embed/embed_backend.h"
#include "workers/llm/breaker.h"
#include "workers/runtime.h"

/* Backends a process tracks at most (a chat server and an embedding server, with room). */
#define BACKENDS_MAX 8

/* The breaker of base URL `url` (a trailing '/' does not matter), made on first use. NULL when
 * BACKENDS_MAX are tracked already or memory runs out (callers then go without one). */
breaker *backend_breaker(const char *url);

/* How long workers that need backend `url` should wait before leasing more jobs: the rest of
 * the cool-down while its breaker is open, a moment while a half-open probe is out, else 0. */
uint32_t backend_pause_ms(const char *url);

/* Embeds texts with be through its backend's breaker (the built-in embedder needs none). While
 * the breaker is open nothing is sent: EQ_EBUSY with err filled as llm_unavailable and
 * err->retry_after_ms set, so the job waits without using an attempt. Other failures fill err
 * as embed_backend_run() classes them. */
eq_err backend_embed(const embed_backend *be, const char *const *texts, size_t n, float **vecs,
                     uint32_t *dim, llm_failure *fail, worker_error *err);

#endif

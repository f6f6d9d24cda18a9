/* One question to the model, end to end, for the llm worker: asks the circuit breaker, sends
 * the built prompt, reports the outcome to the breaker, and shapes the job's result.
 *
 * The caller builds the prompt first (llm_prompt_build) so that it can look the answer up
 * in its cache under llm_prompt_hash() before calling llm_ask(). */
#ifndef ECONQ_WORKERS_LLM_LLM_ASK_H
#define ECONQ_WORKERS_LLM_LLM_ASK_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "common/eq_err.h"
#include "workers/llm/breaker.h"
#include "workers/llm/llm_client.h"
#include "workers/llm/llm_prompt.h"

typedef struct llm_ask_failure {
    llm_failure f;           /* code ("llm_unavailable", ...), HTTP status, message */
    bool retryable;          /* worth retrying later (unavailable, bad response) */
    uint64_t retry_after_ms; /* set when the breaker failed the call fast */
} llm_ask_failure;

/* Sends prompt p (built from secs[0..n)) to cfg's server and model, through breaker b (may be
 * NULL). On EQ_OK, *result is a new cJSON object (caller deletes):
 *
 *   {"answer": "...", "model": "...", "prompt_tokens": 812, "completion_tokens": 95,
 *    "prompt_hash": "<32 hex>", "context_truncated": false,
 *    "context": [{"title": "...", "text": "<the part that was sent>", "truncated": false}]}
 *
 * (token counts are left out when the server does not report them; sections left out of the
 * prompt are left out of "context"). Errors: EQ_EBUSY (breaker open: failed fast, nothing
 * sent; code llm_unavailable, retry_after_ms set), and those of llm_chat(). */
eq_err llm_ask(const llm_config *cfg, breaker *b, const llm_prompt *p, const llm_section *secs,
               size_t n, cJSON **result, llm_ask_failure *fail);

#endif

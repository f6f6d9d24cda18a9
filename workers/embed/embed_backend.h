/* Which embedder a collection uses, and embedding a batch of texts with it: the built-in
 * embedder (EMBED_NAME) by default, or a server's embedding model (Ollama /api/embed or
 * OpenAI-compatible /v1/embeddings) when ECONQ_EMBED_MODEL is set. The backend's name is what
 * a collection stores, so that it can refuse vectors from another embedder. */
#ifndef ECONQ_WORKERS_EMBED_EMBED_BACKEND_H
#define ECONQ_WORKERS_EMBED_EMBED_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/eq_err.h"
#include "workers/embed/vrecord.h"
#include "workers/llm/llm_client.h"

/* Text bytes sent in one remote embedding request at most; JSON escaping can grow text, and
 * LLM_MAX_REQUEST_BYTES bounds the request itself. */
#define EMBED_BACKEND_BATCH_BYTES (LLM_MAX_REQUEST_BYTES / 8u)

typedef struct embed_backend {
    char name[VRECORD_MAX_NAME + 1]; /* "econq-hash-v1/384", "ollama:nomic-embed-text", ... */
    bool remote;
    llm_config llm; /* the server, when remote (its model is the embedding model) */
} embed_backend;

/* The built-in embedder. */
void embed_backend_builtin(embed_backend *be);

/* A server's embedding model: named "<api>:<model>" ("ollama:..." or "openai:..."). cfg's
 * strings are borrowed for the backend's life. Errors: EQ_EINVAL (no model, or the name would
 * exceed VRECORD_MAX_NAME). */
eq_err embed_backend_remote(embed_backend *be, const llm_config *cfg);

/* From the environment: built-in unless ECONQ_EMBED_MODEL is set, in which case the server
 * is configured as by llm_config_from_env() (ECONQ_LLM_URL, ECONQ_LLM_API, ...) with that
 * model. Errors: those of llm_config_from_env() and embed_backend_remote(). */
eq_err embed_backend_from_env(embed_backend *be);

/* Embeds n NUL-terminated texts; on EQ_OK *vecs holds n * *dim floats, row i for texts[i]
 * (caller frees). Remote calls go out in batches of at most LLM_MAX_EMBED_INPUTS texts and
 * EMBED_BACKEND_BATCH_BYTES bytes, and every batch must give the same dimension.
 * On failure *fail (may be NULL) says why; for the built-in embedder, a text with nothing to
 * embed fails with EQ_EINVAL (llm_error) and names its index.
 * Errors: EQ_EINVAL, EQ_ETOOBIG (a text over EMBED_MAX_TEXT_BYTES or the batch limit),
 * EQ_ENOMEM, and those of llm_embed(); EQ_EPROTO also when batches disagree on dimension. */
eq_err embed_backend_run(const embed_backend *be, const char *const *texts, size_t n, float **vecs,
                         uint32_t *dim, llm_failure *fail);

#endif

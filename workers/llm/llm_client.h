/* A blocking client for LLM servers: Ollama (/api/chat, /api/embed) and any
 * OpenAI-compatible server (/v1/chat/completions, /v1/embeddings), over libcurl's easy
 * interface. Meant for the llm worker's own thread, which may block for a whole answer.
 *
 * Every failure is classified for the job's error code and for the circuit breaker:
 *   llm_unavailable  - could not connect, timed out, connection dropped, HTTP 5xx or 429
 *                      (returned as EQ_ENET, or EQ_ETIMEDOUT for timeouts);
 *   llm_bad_response - the body is not the JSON the API promises, or exceeds the size cap
 *                      (EQ_EPROTO);
 *   llm_error        - the server refused the request, HTTP 4xx (EQ_EINVAL).
 *
 * Call llm_global_init() once at start-up, before any thread uses the client. */
#ifndef ECONQ_WORKERS_LLM_LLM_CLIENT_H
#define ECONQ_WORKERS_LLM_LLM_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/eq_err.h"

#define LLM_DEFAULT_URL "http://127.0.0.1:11434"
#define LLM_DEFAULT_MODEL "qwen2.5:14b"
#define LLM_DEFAULT_CONNECT_TIMEOUT_MS 5000L
#define LLM_DEFAULT_TIMEOUT_MS 120000L
/* Largest chat response body accepted by default (a long answer is ~10 KiB). */
#define LLM_DEFAULT_MAX_RESPONSE_BYTES (8u * 1024u * 1024u)
/* Largest embeddings response accepted by default: LLM_MAX_EMBED_INPUTS vectors of
 * LLM_MAX_EMBED_DIM numbers at up to ~24 bytes of JSON each is 24 MiB; with room. */
#define LLM_DEFAULT_MAX_EMBED_RESPONSE_BYTES (64u * 1024u * 1024u)
/* Largest request body sent (a chat prompt is capped far below this by llm_prompt; a batch of
 * long documents to embed is not: split it). */
#define LLM_MAX_REQUEST_BYTES (32u * 1024u * 1024u)
/* Longest base URL. */
#define LLM_MAX_URL_BYTES 2048u
/* Most messages in one chat request and inputs in one embedding request. */
#define LLM_MAX_MESSAGES 64u
#define LLM_MAX_EMBED_INPUTS 256u
/* Largest embedding dimension accepted from a server (as VINDEX_MAX_DIM). */
#define LLM_MAX_EMBED_DIM 4096u

typedef enum llm_api { LLM_API_OLLAMA, LLM_API_OPENAI } llm_api;

typedef enum llm_code { LLM_OK = 0, LLM_UNAVAILABLE, LLM_BAD_RESPONSE, LLM_ERROR } llm_code;

/* Where and how to talk to the server. Strings are borrowed for the duration of a call. */
typedef struct llm_config {
    llm_api api;
    const char *base_url; /* e.g. "http://127.0.0.1:11434"; a trailing '/' is fine */
    const char *model;
    const char *api_key;       /* sent as "Authorization: Bearer ..." when not NULL/empty */
    long connect_timeout_ms;   /* 0 = LLM_DEFAULT_CONNECT_TIMEOUT_MS */
    long timeout_ms;           /* whole request; 0 = LLM_DEFAULT_TIMEOUT_MS */
    size_t max_response_bytes; /* 0 = LLM_DEFAULT_MAX_RESPONSE_BYTES for chat,
                                  LLM_DEFAULT_MAX_EMBED_RESPONSE_BYTES for embeddings */
    /* Ollama only: the context window to ask for ("options": {"num_ctx": N}); 0 = the
     * server's default, which may be smaller than a prompt with context (Ollama then
     * silently drops the start of the prompt). */
    long num_ctx;
} llm_config;

typedef struct llm_message {
    const char *role; /* "system", "user" or "assistant" */
    const char *content;
} llm_message;

/* A chat answer. Fields are owned: release with llm_reply_fini(). */
typedef struct llm_reply {
    char *content;
    char *model;            /* as the server names it (falls back to the requested model) */
    long prompt_tokens;     /* -1 when the server does not say */
    long completion_tokens; /* -1 when the server does not say */
} llm_reply;

/* Why a call failed. */
typedef struct llm_failure {
    llm_code code;
    long http_status; /* 0 when no HTTP answer arrived */
    char message[256];
} llm_failure;

/* Initialises libcurl for the process (curl_global_init). Not thread-safe: call once at
 * start-up. Errors: EQ_EIO. */
eq_err llm_global_init(void);
void llm_global_cleanup(void);

/* Fills cfg from the environment: ECONQ_LLM_URL, ECONQ_LLM_API ("ollama" or "openai"),
 * ECONQ_LLM_MODEL, ECONQ_LLM_API_KEY, ECONQ_LLM_CONNECT_TIMEOUT_MS, ECONQ_LLM_TIMEOUT_MS,
 * ECONQ_LLM_NUM_CTX, with the defaults above. Strings are borrowed from the environment.
 * Errors: EQ_EINVAL (an unknown API or a malformed number; cfg then holds defaults). */
eq_err llm_config_from_env(llm_config *cfg);

/* "ok", "llm_unavailable", "llm_bad_response" or "llm_error". */
const char *llm_code_name(llm_code code);

/* Whether a failure of this class should count against the circuit breaker. */
bool llm_code_is_backend_failure(llm_code code);

/* Sends a non-streaming chat request and waits for the answer. On EQ_OK, *out is filled
 * (caller releases with llm_reply_fini()); otherwise *out is empty (fini is harmless) and
 * *fail (may be NULL) says why.
 * Errors: as in the header comment, plus EQ_EINVAL for bad arguments (code llm_error)
 * and EQ_ENOMEM. */
eq_err llm_chat(const llm_config *cfg, const llm_message *msgs, size_t n, llm_reply *out,
                llm_failure *fail);
void llm_reply_fini(llm_reply *r);

/* Embeds n texts with the configured model (Ollama /api/embed, OpenAI /v1/embeddings).
 * A request body above LLM_MAX_REQUEST_BYTES fails with EQ_ETOOBIG (llm_error).
 * On EQ_OK, *vecs holds n * *dim floats, row i for inputs[i] (caller frees). */
eq_err llm_embed(const llm_config *cfg, const char *const *inputs, size_t n, float **vecs,
                 uint32_t *dim, llm_failure *fail);

/* Pure parsers of the response bodies, exposed for tests and fuzzing. Errors: EQ_EPROTO. */
eq_err llm_parse_chat(llm_api api, const char *body, size_t len, llm_reply *out);
eq_err llm_parse_embed(llm_api api, const char *body, size_t len, size_t n, float **vecs,
                       uint32_t *dim);

#endif

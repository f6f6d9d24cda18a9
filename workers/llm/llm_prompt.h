/* Builds the messages of an llm job: a system prompt, then one user message holding the
 * context sections (a dataset summary, search results, ...) and the question.
 *
 *   Context:
 *
 *   ### <title>
 *   <text>
 *
 *   Question: <question>
 *
 * The whole prompt (system + user) is kept under a byte cap. The system prompt and the
 * question are never cut (if they alone pass the cap, the context is left out); the sections
 * share what is left fairly (a short section keeps all of its text, long ones are cut at a
 * UTF-8 boundary and marked "[truncated]"). */
#ifndef ECONQ_WORKERS_LLM_LLM_PROMPT_H
#define ECONQ_WORKERS_LLM_LLM_PROMPT_H

#include <stdbool.h>
#include <stddef.h>

#include "common/eq_err.h"

/* Default cap on a prompt: ~6,000 tokens, which fits an 8k-context model with room to answer. */
#define LLM_PROMPT_DEFAULT_MAX_BYTES (24u * 1024u)
/* Largest cap a caller may ask for. */
#define LLM_PROMPT_MAX_BYTES_LIMIT (4u * 1024u * 1024u)
/* Longest question accepted: the llm schema's 8,192 characters at up to 4 bytes each. */
#define LLM_PROMPT_MAX_QUESTION_BYTES 32768u
/* Most context sections. */
#define LLM_PROMPT_MAX_SECTIONS 16u
/* Longest section title. */
#define LLM_PROMPT_MAX_TITLE_BYTES 200u
/* The system prompt used when the caller gives none. */
#define LLM_PROMPT_DEFAULT_SYSTEM                                                                  \
    "You are econq's economic data assistant. Answer the question using the context "              \
    "provided (dataset summaries and documents). Quote the figures you rely on. If the "           \
    "context does not contain the answer, say so plainly instead of guessing."

typedef struct llm_section {
    const char *title; /* e.g. "Dataset cpi (monthly, 2015-01..2024-06)" */
    const char *text;
} llm_section;

/* A built prompt; both strings owned, release with llm_prompt_fini(). */
typedef struct llm_prompt {
    char *system;
    char *user;
    bool truncated;                         /* some section text was cut or dropped */
    bool included[LLM_PROMPT_MAX_SECTIONS]; /* section i is in the prompt */
    size_t kept[LLM_PROMPT_MAX_SECTIONS];   /* bytes of its text included (a prefix) */
} llm_prompt;

/* Builds the prompt. system may be NULL (LLM_PROMPT_DEFAULT_SYSTEM); max_bytes 0 means
 * LLM_PROMPT_DEFAULT_MAX_BYTES. Errors: EQ_EINVAL (empty question, NULL section fields,
 * too many sections, over-long title, max_bytes above LLM_PROMPT_MAX_BYTES_LIMIT),
 * EQ_ETOOBIG (question over LLM_PROMPT_MAX_QUESTION_BYTES), EQ_ENOMEM. */
eq_err llm_prompt_build(const char *system, const llm_section *secs, size_t n, const char *question,
                        size_t max_bytes, llm_prompt *out);
void llm_prompt_fini(llm_prompt *p);

/* A key for caching answers: 32 lower-case hex digits (XXH3-128) of the model name and the
 * prompt's two messages, written to out (33 bytes with the NUL). */
void llm_prompt_hash(const char *model, const llm_prompt *p, char out[33]);

#endif

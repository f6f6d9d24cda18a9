/* The fuzz target of the llm library's parsers and prompt builder, shared by llm_prompt_test
 * and the libFuzzer binary (tests/fuzz: eq_add_fuzz(llm SOURCES .../llm/llm_fuzz.c LIBS
 * eq_llm cjson DEFINES ECONQ_LIBFUZZER)). */
#ifndef ECONQ_TESTS_LLM_FUZZ_H
#define ECONQ_TESTS_LLM_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* The first byte picks what to fuzz: a chat or embeddings response body of either API
 * (the rest of the input), or the prompt builder (the rest split at NUL bytes into a
 * question and sections, with a cap taken from the second byte). Checks the parsers' outputs
 * and that a prompt stays within its cap. Returns 0 when all holds, 1 otherwise. */
int llm_fuzz_one(const uint8_t *data, size_t size);

#endif

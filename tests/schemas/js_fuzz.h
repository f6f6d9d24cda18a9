/* The validator's fuzz target, shared by js_fuzz_test and the libFuzzer build. */
#ifndef ECONQ_TESTS_SCHEMAS_JS_FUZZ_H
#define ECONQ_TESTS_SCHEMAS_JS_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* Runs one input (see js_fuzz.c). Needs schemas_init(). Returns 0, or -1 if an invariant
 * broke (a result other than 0 or 1, a malformed error, a refused schema without a message). */
int js_fuzz_one(const uint8_t *data, size_t size);

#endif

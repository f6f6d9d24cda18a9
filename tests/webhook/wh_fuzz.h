/* The fuzz target of the webhook parsers: the schedule, the allowlist, URLs, secrets,
 * verification of received headers and event bodies. Built into wh_fuzz_test, and with clang as
 * a libFuzzer binary (-DECONQ_LIBFUZZER=ON, see tests/webhook/CMakeLists.txt). */
#ifndef ECONQ_TESTS_WEBHOOK_WH_FUZZ_H
#define ECONQ_TESTS_WEBHOOK_WH_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* Feeds one input to the parser chosen by its first byte; returns 0, or 1 if an invariant of
 * the result is broken (the libFuzzer build aborts then). */
int wh_fuzz_one(const uint8_t *data, size_t size);

#endif

/* The fuzz target of the cron parser, shared by cron_test and the libFuzzer binary. */
#ifndef ECONQ_TESTS_CRON_FUZZ_H
#define ECONQ_TESTS_CRON_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* Parses `data` as an expression; if it parses, checks that cron_next() and cron_prev() give
 * matching minutes on the right side of a start derived from the input. Returns 0 when all
 * holds (including a clean refusal with a message), 1 on a violated property. */
int cron_fuzz_one(const uint8_t *data, size_t size);

#endif

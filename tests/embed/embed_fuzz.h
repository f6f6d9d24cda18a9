/* The fuzz target of the embed library's parsers, shared by vindex_test and the libFuzzer
 * binary (tests/fuzz: eq_add_fuzz(embed SOURCES .../embed/embed_fuzz.c LIBS eq_embed
 * DEFINES ECONQ_LIBFUZZER)). */
#ifndef ECONQ_TESTS_EMBED_FUZZ_H
#define ECONQ_TESTS_EMBED_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* Embeds `data` as text and decodes it as a vector record; checks that an embedding is a
 * unit vector (or a clean EQ_EINVAL with zeros) and that a decoded record is consistent.
 * Returns 0 when all holds, 1 on a violated property. */
int embed_fuzz_one(const uint8_t *data, size_t size);

#endif

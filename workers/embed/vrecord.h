/* The stored form of a document's vector (the value the lead keeps in LMDB):
 *
 *   u8  version (VRECORD_VERSION)
 *   u8  embedder name length n (1..VRECORD_MAX_NAME)
 *   n   bytes of embedder name ("econq-hash-v1/384", "ollama:nomic-embed-text")
 *   u32 dim, little-endian (1..VINDEX_MAX_DIM)
 *   dim x f32, little-endian IEEE-754
 *
 * The name travels with every vector so a collection can refuse to mix embedders. */
#ifndef ECONQ_WORKERS_EMBED_VRECORD_H
#define ECONQ_WORKERS_EMBED_VRECORD_H

#include <stddef.h>
#include <stdint.h>

#include "common/eq_err.h"

#define VRECORD_VERSION 1
/* Longest embedder name a record carries: "ollama:" and a model name of up to 128 bytes
 * (the llm schema's limit), with room to spare; it must fit the u8 length. */
#define VRECORD_MAX_NAME 200u

/* A decoded record. `raw` borrows the encoded floats from the decoded buffer: copy them out
 * with vrecord_copy_vec() before that buffer goes away (e.g. before an LMDB txn ends). */
typedef struct vrecord {
    char embedder[VRECORD_MAX_NAME + 1];
    uint32_t dim;
    const unsigned char *raw;
} vrecord;

/* Bytes needed to encode a record with a name of name_len bytes and dim floats. */
size_t vrecord_size(size_t name_len, uint32_t dim);

/* Encodes into buf (cap bytes; at least vrecord_size()); *len is the bytes written.
 * Errors: EQ_EINVAL (bad name or dim, non-finite value), EQ_ETOOBIG (buf too small). */
eq_err vrecord_encode(const char *embedder, const float *vec, uint32_t dim, unsigned char *buf,
                      size_t cap, size_t *len);

/* Parses an encoded record without copying. Errors: EQ_EUNSUPPORTED (another version),
 * EQ_EPROTO (truncated, trailing bytes, bad name or dim, non-finite value). */
eq_err vrecord_decode(const void *buf, size_t len, vrecord *out);

/* Copies the record's r->dim floats to out. */
void vrecord_copy_vec(const vrecord *r, float *out);

#endif

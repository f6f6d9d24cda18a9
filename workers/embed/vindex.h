/* An in-memory index for exact top-k cosine search over a collection's document vectors.
 *
 * Vectors are stored unit-normalised and contiguously (float32, plus an int8 copy used to
 * skip documents that provably cannot make the top k), so a query is one pass over the
 * arrays with a k-sized heap: no allocation per query. Scores are exact float32 cosines.
 * Memory: about 5 * dim bytes per document plus its id.
 * Documents are named by string ids and can be added, replaced and deleted; a delete moves
 * the last slot into the hole, so slot order is not insertion order.
 *
 * Not thread-safe for writers: any number of concurrent vindex_search() calls are safe
 * together, but a put or del must be exclusive (the caller holds a read/write lock). */
#ifndef ECONQ_WORKERS_EMBED_VINDEX_H
#define ECONQ_WORKERS_EMBED_VINDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/eq_err.h"

/* Largest vector dimension an index accepts (an Ollama model's vectors are 384..4096).
 * A search keeps 5 bytes per dimension on the stack. */
#define VINDEX_MAX_DIM 4096u
/* Longest document id (bytes, without the NUL): the schema's 256 characters, 4 bytes each. */
#define VINDEX_MAX_ID_BYTES 1024u
/* Most documents one index holds: 4M x 384 floats is already 6 GiB. */
#define VINDEX_MAX_DOCS (4u * 1024u * 1024u)
/* Largest k a search accepts. */
#define VINDEX_MAX_K 1000u

typedef struct vindex vindex;

/* One search result. `id` is borrowed from the index: valid until its next put, del or free. */
typedef struct vindex_hit {
    const char *id;
    float score; /* cosine similarity, in [-1, 1] */
} vindex_hit;

/* Creates an empty index of `dim`-dimensional vectors (1..VINDEX_MAX_DIM).
 * Caller frees with vindex_free(). Errors: EQ_EINVAL, EQ_ENOMEM. */
eq_err vindex_new(uint32_t dim, vindex **out);
void vindex_free(vindex *vi);

uint32_t vindex_dim(const vindex *vi);
size_t vindex_count(const vindex *vi);

/* Adds the document `id`, or replaces its vector if it exists (*replaced tells which; may be
 * NULL). Copies both; the vector is normalised on the way in, so it needs no unit length.
 * Errors: EQ_EINVAL (empty or over-long id, zero or non-finite vector), EQ_EFULL (the index
 * holds VINDEX_MAX_DOCS), EQ_ENOMEM (the index is unchanged). */
eq_err vindex_put(vindex *vi, const char *id, const float *vec, bool *replaced);

/* Makes room for n documents in all, so that loading a collection of known size allocates
 * once. Errors: EQ_EFULL (n above VINDEX_MAX_DOCS), EQ_ENOMEM (the index is unchanged, but
 * may hold some of the room). */
eq_err vindex_reserve(vindex *vi, size_t n);

/* Removes the document `id`. Errors: EQ_ENOTFOUND. */
eq_err vindex_del(vindex *vi, const char *id);

/* Points *vec at the stored (unit) vector of `id`, borrowed like a hit's id.
 * Errors: EQ_ENOTFOUND. */
eq_err vindex_get(const vindex *vi, const char *id, const float **vec);

/* Finds the k documents most similar to `query` (dim floats, any non-zero length) and writes
 * them to hits[0..*n) best first; *n = min(k, count). Equal scores are ordered by id
 * (bytewise), so results are deterministic. Errors: EQ_EINVAL (k is 0 or above
 * VINDEX_MAX_K, zero or non-finite query). */
eq_err vindex_search(const vindex *vi, const float *query, size_t k, vindex_hit *hits, size_t *n);

#endif

/* Searching a vector collection from a worker: the query is embedded with the collection's
 * embedder and matched against an in-memory exact index (workers/embed/vindex) of the
 * collection, loaded through the process's worker_source and brought up to date whenever the
 * collection's generation changes: from its change log, or by loading it whole. Used by
 * `search` jobs and by the llm job's search context.
 *
 * Up to COLLSEARCH_MAX_CACHED indexes are kept (the least recently used that no search is
 * using goes first). Thread-safe: each collection has its own lock; searches of it share the
 * read side, a catch-up or load takes the write side, and other collections are not held up. */
#ifndef ECONQ_WORKERS_COLLSEARCH_H
#define ECONQ_WORKERS_COLLSEARCH_H
#include <cjson/cJSON.h>
#include <stddef.h>

#include "common/eq_err.h"
#include "workers/embed/embed_backend.h"
#include "workers/runtime.h"

/* Collections whose index stays in memory at once. */
#define COLLSEARCH_MAX_CACHED 16

/* The process's embedder (ECONQ_EMBED_MODEL, else the built-in one), read once. */
const embed_backend *collsearch_backend(void);

/* Searches `coll` for `query` and returns the k best documents:
 *   {"collection", "generation", "embedder", "count", "hits": [{"id", "score", "text",
 *    "metadata"}]}
 * On failure fills err: unknown_collection, embedder_mismatch, no_source (permanent);
 * llm_unavailable (remote embedder down; retryable) ... */
eq_err collsearch_query(const char *coll, const char *query, size_t k, cJSON **result,
                        worker_error *err);

/* Drops every cached index (tests, shutdown). */
void collsearch_reset(void);

#endif

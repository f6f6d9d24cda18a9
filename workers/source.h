/* What a worker may read from the broker host's store: vector collections (for `search` jobs
 * and the llm job's search context). The process that has the store (econqd serve, or a
 * worker started with --data-dir on the broker's host) registers an implementation at
 * start-up; workers never include the store. A worker without a source does not serve the
 * job types that need one.
 *
 * Every function is called from worker threads at the same time; the implementation opens its
 * own read transaction per call. Strings are copied out before it returns. */
#ifndef ECONQ_WORKERS_SOURCE_H
#define ECONQ_WORKERS_SOURCE_H
#include <stddef.h>
#include <stdint.h>

#include "common/eq_err.h"

typedef struct worker_coll_info {
    char embedder[201];
    uint32_t dim;
    uint64_t count, generation;
} worker_coll_info;

/* Called for each document while a collection loads: vec is dim float32 little-endian values,
 * not aligned, borrowed for the call (NULL in coll_changes for a deleted document). Returns
 * non-zero to stop. */
typedef int (*worker_coll_doc_fn)(void *arg, const char *id, const unsigned char *vec,
                                  uint32_t dim);

typedef struct worker_source {
    void *ctx;
    /* EQ_ENOTFOUND when there is no such collection. */
    eq_err (*coll_info)(void *ctx, const char *name, worker_coll_info *out);
    /* Reads the record and every document of a collection in one snapshot: *info first, then
     * fn per document. EQ_ENOTFOUND when there is no such collection. */
    eq_err (*coll_load)(void *ctx, const char *name, worker_coll_info *info,
                        worker_coll_doc_fn fn, void *arg);
    /* What changed after generation `from`, in one snapshot: fn per changed document with its
     * current vector, or vec NULL when it is gone; *info is the collection then. EQ_ESTALE
     * when the changes are no longer known (load the collection whole), EQ_ENOTFOUND when the
     * collection is gone. May be NULL (then only whole loads). */
    eq_err (*coll_changes)(void *ctx, const char *name, uint64_t from, worker_coll_info *info,
                           worker_coll_doc_fn fn, void *arg);
    /* One document's text and metadata JSON ("" when none); new strings, caller frees.
     * EQ_ENOTFOUND when it is gone. */
    eq_err (*coll_doc)(void *ctx, const char *name, const char *id, char **text, char **meta);
    /* Several documents at once (a search's hits): texts[i] and metas[i] are new strings, or
     * NULL for a document that is gone. May be NULL (then coll_doc per document). */
    eq_err (*coll_docs)(void *ctx, const char *name, const char *const *ids, size_t n,
                        char **texts, char **metas);
} worker_source;

/* Registers the process's source (NULL to remove it); call before starting worker pools. */
void worker_source_set(const worker_source *src);
/* The registered source, or NULL. */
const worker_source *worker_source_get(void);

#endif

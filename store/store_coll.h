/* Vector collections (store/store_coll.c): the documents of the `embed` and `search` jobs.
 *
 *   colls      name → version, embedder str, dim u32, count u64, generation u64,
 *                     created i64, updated i64 (unix ms)
 *   coll_docs  name NUL id → version, dim u32, dim x f32 LE (the unit vector),
 *                     text (u32 length + bytes), metadata (u32 length + JSON object text,
 *                     length 0 when none)
 *
 * The generation goes up by one with every change to a collection's documents, so caches of
 * search results (and in-memory indexes) keyed by it are never stale. Written only by the
 * broker; the search worker reads it through read transactions. */
#ifndef ECONQ_STORE_STORE_COLL_H
#define ECONQ_STORE_STORE_COLL_H
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define STORE_COLL_NAME_MAX 64        /* bytes of a collection name (schemas/params/embed.json) */
#define STORE_COLL_EMBEDDER_MAX 200   /* bytes of an embedder name (VRECORD_MAX_NAME) */
/* Bytes of a document id. The coll_docs key (name NUL id) must fit LMDB's 511-byte key limit,
 * so this is 511 - 65, not the 1024 bytes 256 four-byte characters could take: callers check
 * the id's bytes against it (EQ_EINVAL from store_coll_doc_put otherwise). */
#define STORE_COLL_DOC_ID_MAX 446
#define STORE_COLL_DIM_MAX 4096u      /* vector dimensions (VINDEX_MAX_DIM) */
#define STORE_COLL_TEXT_MAX 400000u   /* bytes of a document's text (EMBED_MAX_TEXT_BYTES) */
#define STORE_COLL_META_MAX 65536u    /* bytes of a document's metadata JSON */

typedef struct store_coll {
    char embedder[STORE_COLL_EMBEDDER_MAX + 1];
    uint32_t dim;
    uint64_t count;      /* documents */
    uint64_t generation; /* 1 after the first documents; +1 per change */
    int64_t created_ms, updated_ms;
} store_coll;

/* A stored document, borrowed from the transaction: valid until it ends (or the next write). */
typedef struct store_coll_doc {
    const char *id;
    size_t id_len;
    const unsigned char *vec; /* dim float32 little-endian values; not aligned */
    uint32_t dim;
    const char *text;
    size_t text_len;
    const char *meta; /* JSON object text, not NUL-terminated; meta_len 0 when none */
    size_t meta_len;
} store_coll_doc;

/* EQ_ENOTFOUND when no such collection. */
eq_err store_coll_get(store_txn *t, const char *name, store_coll *out);
/* Creates or replaces the record (the broker keeps count and generation right).
 * EQ_EINVAL for a name or embedder past the limits above. */
eq_err store_coll_put(store_txn *t, const char *name, const store_coll *c);
/* Calls fn for each collection in name order; c is borrowed. fn returns non-zero to stop. */
eq_err store_coll_each(store_txn *t, int (*fn)(void *arg, const char *name, const store_coll *c),
                       void *arg);

/* Adds or replaces document d->id of collection `coll` (*replaced, when not NULL, says which).
 * Does not touch the collection record. EQ_EINVAL for sizes past the limits above. */
eq_err store_coll_doc_put(store_txn *t, const char *coll, const store_coll_doc *d, int *replaced);
/* Reads one document into *d (borrowed). EQ_ENOTFOUND when absent; EQ_ESTORE when the record
 * does not decode. */
eq_err store_coll_doc_get(store_txn *t, const char *coll, const char *id, store_coll_doc *d);
/* EQ_ENOTFOUND when absent. */
eq_err store_coll_doc_del(store_txn *t, const char *coll, const char *id);
/* Calls fn for each document of `coll` in id order, starting after `after` (NULL: from the
 * first); d is borrowed for the call. fn returns non-zero to stop. */
eq_err store_coll_docs_each(store_txn *t, const char *coll, const char *after,
                            int (*fn)(void *arg, const store_coll_doc *d), void *arg);
/* Deletes up to max documents of `coll`, and the collection record once none are left;
 * *n is the documents deleted. Call again while *n == max. */
eq_err store_coll_drop(store_txn *t, const char *coll, size_t max, size_t *n);

/* The change log (store/store_coll_log.c): per collection, the ids each generation put or
 * deleted, chained by the previous generation; the last STORE_COLL_LOG_KEEP are kept. */
#define STORE_COLL_PUT 1
#define STORE_COLL_DEL 2
#define STORE_COLL_LOG_KEEP 64
#define STORE_COLL_LOG_MAX_IDS 1000 /* ids in one entry (an embed job's documents) */
/* Records that generation gen (following prev, 0 for a new collection) put or deleted ids. */
eq_err store_coll_log_add(store_txn *t, const char *coll, uint64_t gen, uint64_t prev, int op,
                          const char *const *ids, size_t n);
/* Calls fn for every id changed after generation `from`, oldest change first (an id may come
 * more than once); *last is the generation reached. EQ_ESTALE when the log cannot bring `from`
 * up to date (trimmed, or the collection was dropped and made again): load it whole instead. */
eq_err store_coll_log_since(store_txn *t, const char *coll, uint64_t from,
                            int (*fn)(void *arg, int op, const char *id, size_t len), void *arg,
                            uint64_t *last);
/* Deletes a collection's log. */
eq_err store_coll_log_drop(store_txn *t, const char *coll);

/* Pure decoders of the three records, for tests and fuzzing: a colls value; a coll_docs key
 * (name_len bytes of name, NUL, id) and value, d borrowing from both; a coll_log value, fn
 * (may be NULL) called per id. EQ_ESTORE when a record does not decode. */
eq_err store_coll_decode(const void *buf, size_t len, store_coll *out);
eq_err store_coll_doc_decode(const void *key, size_t klen, size_t name_len, const void *val,
                             size_t vlen, store_coll_doc *d);
eq_err store_coll_log_decode(const void *val, size_t len, uint64_t *prev, int *op,
                             int (*fn)(void *arg, int op, const char *id, size_t len),
                             void *arg);

#endif

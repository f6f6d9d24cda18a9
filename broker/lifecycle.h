/* Job lifecycle operations. Each runs inside the broker's current write transaction and changes
 * a job and its indexes together; nothing here talks to nng. */
#ifndef ECONQ_BROKER_LIFECYCLE_H
#define ECONQ_BROKER_LIFECYCLE_H
#include <stdint.h>
#include "common/buf.h"
#include "common/proto.h"
#include "store/store.h"

/* Result caching for one job type: an identical submit (same type and canonical params) within
 * the TTL is answered from the cache, with no worker involved. */
typedef struct lc_cache_policy {
    const char *type;
    int64_t ttl_ms;
    uint64_t max_entries;
} lc_cache_policy;

#define LC_MAX_CACHED_TYPES 8

typedef struct lc_policy {
    int64_t lease_ms;         /* a lease lasts this long unless extended */
    int64_t backoff_base_ms;  /* first retry delay; doubles per attempt */
    int64_t backoff_max_ms;
    int64_t idem_ttl_ms;      /* how long an Idempotency-Key is remembered */
    lc_cache_policy caches[LC_MAX_CACHED_TYPES];
    size_t ncaches;
    const char *webhook_secret;                 /* signs webhooks that name no secret */
    const struct wh_schedule *webhook_schedule; /* retry delays of webhook deliveries */
} lc_policy;

/* What a group of operations did, for the caller to act on after the commit. */
typedef struct lc_effects {
    int queue_changed;        /* a job became queued: parked leases may be served */
    int deliveries_added;     /* webhook deliveries were written: wake the dispatcher */
    char (*done_ids)[EQ_ID_LEN + 2]; /* id then state byte, for terminal events */
    size_t ndone, cap_done;
} lc_effects;

typedef struct lc_ctx {
    store_txn *txn;
    int64_t now;
    uint64_t *seq;            /* the submit sequence; the caller persists it */
    const lc_policy *policy;
    lc_effects *fx;
} lc_ctx;

/* Creates a job (or finds the one an Idempotency-Key names) and appends its JSON to out (when
 * not NULL) and its id to id_out (when not NULL; EQ_ID_LEN + 1 bytes).
 * EQ_ECONFLICT when the key was used with a different body (message in *why). */
eq_err lc_submit(lc_ctx *c, const proto_submit_job *s, eq_buf *out, char *id_out,
                 const char **why);
eq_err lc_cancel(lc_ctx *c, const char *id, eq_buf *out, const char **why);
eq_err lc_retry(lc_ctx *c, const char *id, eq_buf *out, const char **why);
/* Leases up to max ready jobs of the given types, appending each as a leased-job record to out;
 * *n is how many. *next_ms is lowered to the earliest not-yet-ready job seen. */
eq_err lc_lease(lc_ctx *c, const proto_lease_req *r, eq_buf *out, uint32_t *n, int64_t *next_ms);
eq_err lc_heartbeat(lc_ctx *c, const char *id, uint16_t attempt, proto_hb_verdict *v);
eq_err lc_complete(lc_ctx *c, const proto_outcome *o, const char **why);
eq_err lc_fail(lc_ctx *c, const proto_outcome *o, const char **why);
/* Re-queues or fails jobs whose lease ended; returns how many were handled (at most max). */
eq_err lc_reap(lc_ctx *c, size_t max, size_t *n);
/* Re-queues at once jobs leased by in-process workers of an earlier run (names starting with
 * prefix): they cannot be alive after a restart. */
eq_err lc_recover_local(lc_ctx *c, const char *prefix, size_t *n);
/* Datasets (broker/datasets.c): stores an upload unless the same content exists (EQ_EEXIST:
 * *id names it). Batches: creates the batch and its jobs; appends the batch reply body. */
eq_err lc_dataset_put(lc_ctx *c, const proto_req *r, char *id, int64_t *created);
eq_err lc_dataset_del(lc_ctx *c, const char *id);
/* A succeeded forecast of a dataset's column becomes that column's latest forecast. */
eq_err lc_dataset_forecast(lc_ctx *c, const eq_job *j);
eq_err lc_batch_create(lc_ctx *c, const proto_req *r, eq_buf *out);

/* Removes expired cache entries, examining at most max. */
eq_err lc_cache_sweep(lc_ctx *c, size_t max, size_t *n);
/* The cache key of a job type, its params text and the generation of the collection it reads
 * (0 when none). */
void lc_cache_key(const char *type, const char *params, uint64_t generation, unsigned char *key);

/* Collections (broker/collections.c). An embed job's result (vectors from the worker) becomes
 * documents; *slim is the result kept for the client (caller frees). EQ_EINVAL: the job must
 * fail permanently with code and msg (embedder_mismatch, bad_result, ...); other errors are
 * the store's. */
eq_err lc_embed_apply(lc_ctx *c, const eq_job *j, const char *result, char **slim, char *code,
                      size_t code_cap, char *msg, size_t msg_cap);
/* The collection generation a search or llm job's cached result is keyed by: the one its
 * result says it read, or (result NULL) the collection's current one. 0 for other types. */
uint64_t lc_coll_generation(lc_ctx *c, const char *type, const char *params, const char *result);
/* Answers a PROTO_COLL_READ (proto.h) into out: the reply header and body. Returns store
 * errors only. */
eq_err lc_coll_read(lc_ctx *c, const proto_req *r, eq_buf *out);
/* Deletes a document (doc_id) or the whole collection (doc_id NULL or ""). EQ_ENOTFOUND. */
eq_err lc_coll_del(lc_ctx *c, const char *name, const char *doc_id);
/* Deletes finished jobs (and their results) that finished before `before`; at most max. */
eq_err lc_retain(lc_ctx *c, int64_t before, size_t max, size_t *n);

void lc_effects_reset(lc_effects *fx);
void lc_effects_fini(lc_effects *fx);

#endif

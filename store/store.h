/* econq's durable state in one LMDB environment with named databases. The only code that
 * includes <lmdb.h>. Every record starts with a format version byte; values read from LMDB are
 * copied before the transaction ends.
 *
 * Tables (key → value):
 *   meta      name → u64                      (submit sequence, format version)
 *   jobs      id → job record
 *   queue     type NUL prio u8 run_at be64 seq be64 → id      (ready and delayed jobs)
 *   leases    deadline be64 id → ""                            (running jobs by lease end)
 *   by_state  state u8 id → ""                                 (listing by state)
 *   done      finished be64 id → ""                            (retention of finished jobs)
 *   results   id → version, JSON text
 *   idem      key → version, body hash, created, job id       (Idempotency-Key, kept 24 h)
 *   workers   name → version, kinds, last seen                 (for /health)
 *   cache, cache_lru   result cache with expiry and per-type LRU (store_cache.c)
 *   datasets, dataset_files, dataset_hash, dataset_fc, batches, batch_jobs   (store_dataset.c)
 *   outbox, outbox_due, deliveries, delivery_log   webhook deliveries (store_outbox.c)
 *   colls, coll_docs   vector collections and their documents (store/store_coll.h)
 *
 * One writer at a time (the broker's writer thread); readers never block it. */
#ifndef ECONQ_STORE_STORE_H
#define ECONQ_STORE_STORE_H
#include <stddef.h>
#include <stdint.h>
#include "common/eq_err.h"
#include "common/job.h"

typedef struct store store;
typedef struct store_txn store_txn;

typedef struct store_opts {
    uint64_t map_size;   /* bytes; the most the store may grow to; 0: keep the size the
                            environment has (a worker reading the server's store) */
    int nosync;          /* 1: commits do not fsync (a crash may lose the last commits) */
    unsigned max_readers;
} store_opts;

#define STORE_DEFAULT_MAP_SIZE (8ull << 30)

void store_opts_defaults(store_opts *o);
/* Opens (creating) the environment in directory dir. */
eq_err store_open(const char *dir, const store_opts *o, store **out);
void store_close(store *s);
/* Flushes to disk (for nosync mode at shutdown). */
eq_err store_sync(store *s);

eq_err store_txn_begin(store *s, int write, store_txn **out);
eq_err store_txn_commit(store_txn *t);
void store_txn_abort(store_txn *t);

typedef struct store_info {
    uint64_t map_size, used_bytes, last_txn;
    unsigned readers, max_readers;
    uint64_t jobs, queued, running;
} store_info;
eq_err store_stat(store *s, store_info *out);
/* 1 when the directory can take a write (checked by creating and removing a file). */
int store_dir_writable(store *s);
/* The bytes in use (pages written minus free pages, counted only near the end of the map), the
 * map size, and the reserve kept for deletes (5% of the map, at least 2 MiB). */
void store_space(store *s, uint64_t *used, uint64_t *map, uint64_t *reserve);
/* 1 when the data in use leaves less than the reserve free: writes that only add data should be
 * refused so that deletes can still run. */
int store_space_low(store *s);
const char *store_path(const store *s);

/* meta */
eq_err store_meta_get(store_txn *t, const char *name, uint64_t *v);
eq_err store_meta_put(store_txn *t, const char *name, uint64_t v);

/* jobs: get fills j (caller calls eq_job_fini); EQ_ENOTFOUND when absent. */
eq_err store_job_get(store_txn *t, const char *id, eq_job *j);
eq_err store_job_put(store_txn *t, const eq_job *j);
eq_err store_job_del(store_txn *t, const char *id);
/* Encodes and decodes a job record (pure; exposed for tests and fuzzing). */
void store_job_encode(const eq_job *j, eq_buf *out);
eq_err store_job_decode(const void *buf, size_t len, eq_job *j);

/* Indexes kept in step with a job's state by the broker. */
eq_err store_queue_put(store_txn *t, const eq_job *j);
eq_err store_queue_del(store_txn *t, const eq_job *j);
/* The best ready job of `type` at `now`: *id is filled (EQ_ID_LEN + 1 bytes) and *prio set;
 * EQ_ENOTFOUND when none is ready; *next_ms (when not NULL) is lowered to the run_at of the
 * earliest job that is not ready yet. */
eq_err store_queue_peek(store_txn *t, const char *type, int64_t now, char *id, int *prio,
                        int64_t *run_at, uint64_t *seq, int64_t *next_ms);
/* Number of queued entries of a type (ready or delayed) and the run_at of the oldest ready one. */
eq_err store_queue_depth(store_txn *t, const char *type, uint64_t *n, int64_t *oldest_ms);

eq_err store_lease_put(store_txn *t, int64_t deadline, const char *id);
eq_err store_lease_del(store_txn *t, int64_t deadline, const char *id);
/* Up to max ids whose lease ended before now (ids: max * (EQ_ID_LEN + 1) bytes). */
eq_err store_lease_expired(store_txn *t, int64_t now, char *ids, size_t max, size_t *n);

eq_err store_state_put(store_txn *t, int state, const char *id);
eq_err store_state_del(store_txn *t, int state, const char *id);
eq_err store_done_put(store_txn *t, int64_t finished, const char *id);
eq_err store_done_del(store_txn *t, int64_t finished, const char *id);
eq_err store_done_older(store_txn *t, int64_t before, char *ids, size_t max, size_t *n);

/* results: get returns a new NUL-terminated string (caller frees). */
eq_err store_result_put(store_txn *t, const char *id, const char *json, size_t len);
eq_err store_result_get(store_txn *t, const char *id, char **json);
eq_err store_result_del(store_txn *t, const char *id);

typedef struct store_idem {
    uint64_t hash;
    int64_t created_ms;
    char job_id[EQ_ID_LEN + 1];
} store_idem;
eq_err store_idem_get(store_txn *t, const char *key, store_idem *out);
eq_err store_idem_put(store_txn *t, const char *key, const store_idem *v);
/* Deletes up to max keys created before `before`, scanning from *cursor (a key, or "" to start);
 * *cursor is updated ("" when the scan wrapped). Bounded work per call. */
eq_err store_idem_sweep(store_txn *t, int64_t before, char *cursor, size_t cursor_len, size_t max,
                        size_t *deleted);

eq_err store_worker_seen(store_txn *t, const char *name, const char *kinds, int64_t now);
/* Calls fn for each known worker. */
eq_err store_workers_each(store_txn *t,
                          void (*fn)(void *arg, const char *name, const char *kinds, int64_t seen),
                          void *arg);

/* The result cache. Keys are STORE_CACHE_KEY_LEN bytes. get: EQ_ENOTFOUND when absent or
 * expired (an expired entry is deleted when t is a write transaction, and a hit refreshes the
 * entry's LRU position); *result (when result is not NULL) is a new string, caller frees.
 * put: replaces an entry with the same key and evicts the least recently used entries of the
 * type beyond max_entries. sweep: removes expired entries, examining at most max. */
#define STORE_CACHE_KEY_LEN 16
eq_err store_cache_get(store_txn *t, const unsigned char *key, int64_t now, char **result);
eq_err store_cache_put(store_txn *t, const unsigned char *key, const char *type,
                       const char *result, int64_t now, int64_t ttl_ms, uint64_t max_entries,
                       size_t *evicted);
eq_err store_cache_sweep(store_txn *t, int64_t now, size_t max, size_t *removed);
/* Adds delta to a u64 counter kept in meta (e.g. "cache.hits.forecast"). */
eq_err store_counter_add(store_txn *t, const char *name, uint64_t delta);

/* Datasets: metadata, the parsed table (encoded by api/upload) and the uploaded bytes. */
typedef struct store_dataset {
    int64_t created_ms;
    uint64_t bytes;            /* size of the uploaded file */
    char *hash, *name, *kind;  /* content hash (hex), label, "csv" | "xlsx" | "xls" */
    char *description;         /* JSON: rows, columns, frequency, date range */
    unsigned char *table;      /* encoded table; only when asked for */
    size_t table_len;
} store_dataset;
void store_dataset_fini(store_dataset *d);
eq_err store_dataset_get(store_txn *t, const char *id, int with_table, store_dataset *d);
eq_err store_dataset_by_hash(store_txn *t, const char *hash, char *id);
eq_err store_dataset_put(store_txn *t, const char *id, const store_dataset *d, const void *file,
                         size_t file_len);
eq_err store_dataset_del(store_txn *t, const char *id);
/* The latest succeeded forecast job of a dataset's column (kept by the broker, for the llm
 * job's dataset summary). get: EQ_ENOTFOUND when none; job_id holds EQ_ID_LEN + 1 bytes.
 * put: EQ_EINVAL when the key would pass LMDB's limit (a very long column name). Deleting the
 * dataset deletes them. */
eq_err store_dataset_forecast_put(store_txn *t, const char *dataset, const char *column,
                                  const char *job_id);
eq_err store_dataset_forecast_get(store_txn *t, const char *dataset, const char *column,
                                  char *job_id);
/* Newest first; fn returns non-zero to stop. d is borrowed for the call (no table). */
eq_err store_datasets_each(store_txn *t, int (*fn)(void *arg, const char *id, const store_dataset *d),
                           void *arg);

/* Batches: a record with counts, and the batch's jobs in submit order. */
typedef struct store_batch {
    int64_t created_ms, done_ms;   /* done_ms: when the last job finished, 0 before */
    uint32_t total, finished;
    char *webhook_url, *webhook_secret;
} store_batch;
void store_batch_fini(store_batch *b);
eq_err store_batch_get(store_txn *t, const char *id, store_batch *b);
eq_err store_batch_put(store_txn *t, const char *id, const store_batch *b);
eq_err store_batch_add_job(store_txn *t, const char *batch, uint32_t index, const char *job);
/* Calls fn for the jobs from index `from`, at most max; fn returns non-zero to stop. */
eq_err store_batch_jobs(store_txn *t, const char *batch, uint32_t from, size_t max,
                        int (*fn)(void *arg, uint32_t index, const char *job_id), void *arg);

/* Webhook deliveries (the outbox). */
typedef enum store_delivery_state {
    STORE_DELIVERY_PENDING = 1,
    STORE_DELIVERY_DELIVERED,
    STORE_DELIVERY_FAILED,
} store_delivery_state;

typedef struct store_delivery {
    char id[48];              /* webhook-id: the same on every attempt */
    uint8_t state;
    uint16_t attempts;        /* attempts in the current round (for the retry schedule) */
    uint32_t tries;           /* attempts ever made (the delivery log's key) */
    int64_t created_ms, next_ms, last_ms;
    int32_t last_status;      /* HTTP status of the last attempt, 0 if none */
    char *event, *subject;    /* "job.succeeded", the job or batch id */
    char *url, *secret, *body;
    char *last_error;
} store_delivery;

typedef struct store_delivery_id {
    char id[48];
} store_delivery_id;

void store_delivery_fini(store_delivery *d);
eq_err store_delivery_get(store_txn *t, const char *id, store_delivery *d);
/* Writes d; old_next is the next_ms it was due at before (-1 when new or not pending), so the
 * due index follows. */
eq_err store_delivery_put(store_txn *t, const store_delivery *d, int64_t old_next);
/* Up to max pending deliveries due at now, oldest first; *next_due is the next later due time
 * (0 when none). */
eq_err store_delivery_due(store_txn *t, int64_t now, size_t max, store_delivery_id *ids, size_t *n,
                          int64_t *next_due);
eq_err store_delivery_log_add(store_txn *t, const char *id, uint32_t try_no, int64_t at,
                              int status, uint32_t latency_ms, const char *error);
eq_err store_delivery_log_each(store_txn *t, const char *id,
                               void (*fn)(void *arg, uint32_t try_no, int64_t at, int status,
                                          uint32_t latency_ms, const char *error),
                               void *arg);
eq_err store_deliveries_for(store_txn *t, const char *subject,
                            int (*fn)(void *arg, const store_delivery *d), void *arg);
eq_err store_delivery_backlog(store_txn *t, uint64_t *pending);
/* Deletes up to max finished deliveries (delivered or failed) last active before `before`, with
 * their logs and index entries. */
eq_err store_delivery_retain(store_txn *t, int64_t before, size_t max, size_t *n);

/* Lists jobs newest first: from the by_state index when state != 0, else the whole jobs table;
 * `type` (when not NULL) filters; `after` (an id, or NULL) continues a previous page. Calls fn
 * for each match until it returns non-zero or `limit` matches; examines at most `scan_max`
 * records. *next is set to the last id examined when more may follow, else "". */
eq_err store_jobs_list(store_txn *t, int state, const char *type, const char *after, size_t limit,
                       size_t scan_max, int (*fn)(void *arg, const eq_job *j), void *arg,
                       char *next);

#endif

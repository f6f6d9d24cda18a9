/* The broker's message protocol: the one contract that the api, the broker and the workers share.
 * Messages travel over nng req/rep. Every message starts with a version byte and an op byte;
 * integers are little-endian, strings are length-prefixed (see common/buf.h).
 *
 *   request  = u8 PROTO_VERSION, u8 op, body
 *   reply    = u8 PROTO_VERSION, u8 PROTO_REPLY, u32 status (eq_err), str message, body
 *
 * Decoders are pure functions over a buffer; they copy what they return (caller frees with the
 * matching _fini) and reject anything malformed or past a limit with EQ_EPROTO. */
#ifndef ECONQ_COMMON_PROTO_H
#define ECONQ_COMMON_PROTO_H
#include <stddef.h>
#include <stdint.h>
#include "common/buf.h"
#include "common/eq_err.h"

#define PROTO_VERSION 2
#define PROTO_MAX_MSG_BYTES (64u << 20)   /* one nng message: a batch of 10,000 jobs fits */
#define PROTO_MAX_STR (16u << 20)          /* one string inside a message (params, results) */
#define PROTO_MAX_JOBS 10000               /* jobs in one submit or lease */
#define PROTO_MAX_TYPES 32                 /* job types in one lease request */
#define PROTO_MAX_STATUS 128               /* a worker's status string in a lease request */

typedef enum proto_op {
    PROTO_SUBMIT = 1,
    PROTO_CANCEL,
    PROTO_RETRY,
    PROTO_LEASE,
    PROTO_HEARTBEAT,
    PROTO_COMPLETE,
    PROTO_FAIL,
    PROTO_REPLY,
    PROTO_DATASET_PUT,
    PROTO_DATASET_DEL,
    PROTO_BATCH,
    PROTO_SCHEDULE_PUT,      /* name (id), cron, one submit job: creates or replaces */
    PROTO_SCHEDULE_DEL,      /* name (id) */
    PROTO_REDELIVER,         /* id of a webhook delivery: a new round of attempts */
    PROTO_COLL_DEL,          /* a collection's name (id) and a document id ("": all of it) */
    PROTO_COLL_READ,         /* a worker without the store reads a collection (see below) */
    PROTO_OP_MAX
} proto_op;

/* One job to submit. All strings owned by the struct after decoding. */
typedef struct proto_submit_job {
    char *type, *params;
    uint8_t priority;
    uint16_t max_attempts;
    int64_t run_at_ms;       /* 0 = now */
    char *idem_key;          /* NULL when none */
    uint64_t idem_hash;      /* hash of the request body, to tell a replay from a conflict */
    char *batch_id, *schedule, *webhook_url, *webhook_secret;
} proto_submit_job;

typedef struct proto_outcome {
    char *worker, *id;
    uint16_t attempt;
    uint8_t failed;          /* 0: complete (result), 1: fail (code, message, retryable) */
    char *result;            /* complete: the result JSON */
    char *code, *message;    /* fail */
    uint8_t retryable;       /* fail */
    uint32_t retry_after_ms; /* fail: >0 when the worker could not try (an outside service is
                                known to be down): re-queue after this long, no attempt used */
} proto_outcome;

/* A lease request may carry the outcomes of the jobs the worker finished since its last
 * request, so that one round trip reports and asks for more. */
typedef struct proto_lease_req {
    proto_outcome *outs;
    uint32_t nouts;
    char *worker;
    char *types[PROTO_MAX_TYPES];
    uint16_t ntypes;
    uint16_t max;            /* at most this many jobs */
    uint32_t wait_ms;        /* park the request this long when nothing is ready */
    char *status;            /* the worker's state for /health, "" when none */
} proto_lease_req;

typedef struct proto_leased_job {
    char *id, *type, *params;
    uint16_t attempt;
    int64_t lease_deadline_ms;
} proto_leased_job;

typedef struct proto_hb_item {
    char *id;
    uint16_t attempt;
} proto_hb_item;

typedef enum proto_hb_verdict { PROTO_HB_OK = 0, PROTO_HB_CANCEL = 1, PROTO_HB_LOST = 2 } proto_hb_verdict;

/* A decoded request. */
typedef struct proto_req {
    uint8_t op;
    /* submit */
    proto_submit_job *jobs;
    uint32_t njobs;
    /* cancel, retry */
    char *id;
    /* lease */
    proto_lease_req lease;
    /* heartbeat */
    char *worker;
    proto_hb_item *hb;
    uint32_t nhb;
    /* complete, fail */
    proto_outcome out;
    /* dataset put (the uploaded bytes and the parsed table are borrowed from the message) */
    char *ds_name, *ds_kind, *ds_hash, *ds_description;
    uint64_t ds_bytes;
    const void *ds_table, *ds_file;
    size_t ds_table_len, ds_file_len;
    /* batch: jobs as for submit, plus the batch's webhook */
    char *batch_webhook_url, *batch_webhook_secret;
    /* schedule put: the name is in id, the job in jobs[0] */
    char *sched_cron;
    /* collection delete: the name is in id; a document id, or "" for the whole collection */
    char *doc_id;
    /* collection read: what (proto_coll_what), the name in id, a key in doc_id (the id to
     * page after, or the document to read), a generation to read changes from, a page size */
    uint8_t coll_what;
    uint64_t coll_from;
    uint32_t coll_max;
    char **coll_ids; /* DOCS: coll_max ids */
} proto_req;

eq_err proto_decode_req(const void *buf, size_t len, proto_req *out);
void proto_req_fini(proto_req *r);

/* Encoders append one whole request to b. */
void proto_enc_submit(eq_buf *b, const proto_submit_job *jobs, uint32_t n);
/* A dataset upload: the parsed table (encoded) and the original bytes. */
void proto_enc_dataset_put(eq_buf *b, const char *name, const char *kind, const char *hash,
                           uint64_t bytes, const char *description, const void *table,
                           size_t table_len, const void *file, size_t file_len);
/* A batch: the head, then each job with proto_enc_submit_job (batch_id is set by the broker). */
void proto_enc_batch_head(eq_buf *b, uint32_t n, const char *webhook_url,
                          const char *webhook_secret);
/* A submit built in pieces: the head with the job count, then each job. */
void proto_enc_submit_head(eq_buf *b, uint32_t n);
void proto_enc_submit_job(eq_buf *b, const proto_submit_job *j);
void proto_enc_id(eq_buf *b, uint8_t op, const char *id); /* cancel, retry, schedule del */
/* Deletes document doc_id of collection name, or the whole collection when doc_id is "". */
void proto_enc_coll_del(eq_buf *b, const char *name, const char *doc_id);

/* Collection reads for workers that cannot open the store (remote search and llm workers).
 * Every reply body starts with the collection: str embedder, u32 dim, u64 count,
 * u64 generation; then
 *   INFO     nothing more;
 *   PAGE     u32 n, n x (str id, bytes vector), u8 more: up to `max` documents after `key`
 *            (the id order), within PROTO_COLL_PAGE_BYTES;
 *   CHANGES  u64 last generation, u32 n, n x (str id, u8 present, bytes vector if present):
 *            the documents changed after generation `from` (status EQ_ESTALE when the change
 *            log cannot say, or the changes pass PROTO_COLL_PAGE_BYTES: load whole instead);
 *   DOC      bytes text, bytes metadata JSON (empty when none) of document `key`;
 *   DOCS     per id asked for (the request carries `max` ids, up to PROTO_COLL_DOCS_MAX):
 *            u8 present, then if present bytes text, bytes metadata.
 * Status EQ_ENOTFOUND when there is no such collection (or document). */
typedef enum proto_coll_what {
    PROTO_COLL_INFO = 1,
    PROTO_COLL_PAGE,
    PROTO_COLL_CHANGES,
    PROTO_COLL_DOC,
    PROTO_COLL_DOCS,
} proto_coll_what;
#define PROTO_COLL_DOCS_MAX 100 /* documents one DOCS read asks for (a search's k) */
#define PROTO_COLL_PAGE_BYTES (8u << 20) /* vectors in one reply at most */
#define PROTO_COLL_PAGE_MAX 4096         /* documents in one page at most */
void proto_enc_coll_read(eq_buf *b, uint8_t what, const char *name, const char *key,
                         uint64_t from, uint32_t max);
/* A DOCS read of n documents. */
void proto_enc_coll_docs(eq_buf *b, const char *name, const char *const *ids, uint32_t n);
/* A schedule: submit `job` (its schedule field is set by the broker) at every tick of cron. */
void proto_enc_schedule_put(eq_buf *b, const char *name, const char *cron,
                            const proto_submit_job *job);
/* outs may be NULL when nouts is 0; an outcome's worker field is not sent (the request's is). */
/* status: the worker's own state for /health (e.g. "llm_breaker=open"), "" or NULL if none. */
void proto_enc_lease(eq_buf *b, const char *worker, const char *const *types, uint16_t ntypes,
                     uint16_t max, uint32_t wait_ms, const char *status, const proto_outcome *outs,
                     uint32_t nouts);
void proto_enc_heartbeat(eq_buf *b, const char *worker, const proto_hb_item *items, uint32_t n);
void proto_enc_complete(eq_buf *b, const char *worker, const char *id, uint16_t attempt,
                        const char *result);
void proto_enc_fail(eq_buf *b, const char *worker, const char *id, uint16_t attempt,
                    const char *code, const char *message, int retryable,
                    uint32_t retry_after_ms);

/* Replies: a header, then a body written by the caller with eq_buf_* calls:
 *   submit:    u32 n, then per job: u32 status, str message, str job JSON
 *   cancel/retry: str job JSON (or NULL)
 *   lease:     u32 n, then per job: str id, str type, u16 attempt, i64 deadline, str params;
 *              then u32 m and a u32 status per carried outcome
 *   heartbeat: u32 n, then a u8 verdict per item
 *   complete/fail: nothing
 *   dataset put: str id, i64 created (status EQ_EEXIST: the same content exists under id)
 *   batch:     str batch id, i64 created, u32 n, then per job: u32 status, str message, str id
 *   schedule put: i64 next tick (unix ms); status EQ_EINVAL with a message for a bad cron
 *   schedule del: nothing (status EQ_ENOTFOUND when absent) */
void proto_enc_reply(eq_buf *b, eq_err status, const char *message);
/* Reads the reply header; *message is a new string or NULL (caller frees). Leaves rd at the body. */
eq_err proto_dec_reply(eq_rd *rd, eq_err *status, char **message);
void proto_leased_job_fini(proto_leased_job *j);
eq_err proto_dec_leased(eq_rd *rd, proto_leased_job *j);

#endif

/* Fuzz target: the broker's request decoder (proto_decode_req, common/proto.h), which reads
 * every message the api and the workers send over nng.
 *
 * Beyond "no crash, no leak", a message that decodes must be canonical: encoding the decoded
 * request again with the matching proto_enc_* call gives back exactly the input bytes. Otherwise
 * two senders could mean different things by one message, or a field would be silently lost.
 * The one allowed difference is FAIL's `retryable` byte (before its retry_after_ms), which the
 * decoder accepts as any non-zero value and the encoder writes as 1. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Re-encodes a decoded request into b. */
static void fuzz_proto_reencode(const proto_req *r, eq_buf *b) {
    switch (r->op) {
    case PROTO_SUBMIT:
        proto_enc_submit(b, r->jobs, r->njobs);
        break;
    case PROTO_CANCEL:
    case PROTO_RETRY:
    case PROTO_DATASET_DEL:
    case PROTO_SCHEDULE_DEL:
    case PROTO_REDELIVER:
        proto_enc_id(b, r->op, r->id);
        break;
    case PROTO_COLL_DEL:
        proto_enc_coll_del(b, r->id, r->doc_id);
        break;
    case PROTO_COLL_READ:
        if (r->coll_what == PROTO_COLL_DOCS) {
            proto_enc_coll_read(b, r->coll_what, r->id, r->doc_id, r->coll_from, r->coll_max);
            for (uint32_t i = 0; i < r->coll_max; i++)
                eq_buf_str(b, r->coll_ids[i]);
        } else {
            proto_enc_coll_read(b, r->coll_what, r->id, r->doc_id, r->coll_from, r->coll_max);
        }
        break;
    case PROTO_SCHEDULE_PUT:
        if (r->njobs != 1)
            abort();
        proto_enc_schedule_put(b, r->id, r->sched_cron, &r->jobs[0]);
        break;
    case PROTO_DATASET_PUT:
        proto_enc_dataset_put(b, r->ds_name, r->ds_kind, r->ds_hash, r->ds_bytes,
                              r->ds_description, r->ds_table, r->ds_table_len, r->ds_file,
                              r->ds_file_len);
        break;
    case PROTO_BATCH:
        proto_enc_batch_head(b, r->njobs, r->batch_webhook_url, r->batch_webhook_secret);
        for (uint32_t i = 0; i < r->njobs; i++)
            proto_enc_submit_job(b, &r->jobs[i]);
        break;
    case PROTO_LEASE:
        proto_enc_lease(b, r->lease.worker, (const char *const *)r->lease.types, r->lease.ntypes,
                        r->lease.max, r->lease.wait_ms, r->lease.status, r->lease.outs,
                        r->lease.nouts);
        break;
    case PROTO_HEARTBEAT:
        proto_enc_heartbeat(b, r->worker, r->hb, r->nhb);
        break;
    case PROTO_COMPLETE:
        proto_enc_complete(b, r->out.worker, r->out.id, r->out.attempt, r->out.result);
        break;
    case PROTO_FAIL:
        proto_enc_fail(b, r->out.worker, r->out.id, r->out.attempt, r->out.code, r->out.message,
                       r->out.retryable, r->out.retry_after_ms);
        break;
    default:
        abort(); /* the decoder accepted an op it does not know */
    }
}

/* The decoder's promises about what it returns. */
/* 1 when [p, p + n) lies inside the message [data, data + size). */
static int fuzz_proto_inside(const void *p, size_t n, const uint8_t *data, size_t size) {
    const uint8_t *q = p;
    return q >= data && q <= data + size && n <= (size_t)(data + size - q);
}

static void fuzz_proto_check_fields(const proto_req *r, const uint8_t *data, size_t size) {
    if (r->op == PROTO_SUBMIT || r->op == PROTO_BATCH || r->op == PROTO_SCHEDULE_PUT) {
        if (r->njobs == 0 || r->njobs > PROTO_MAX_JOBS || !r->jobs)
            abort();
        for (uint32_t i = 0; i < r->njobs; i++) {
            const proto_submit_job *j = &r->jobs[i];
            if (!j->type || !j->params || j->priority > 9 || j->max_attempts == 0)
                abort();
        }
    } else if (r->op == PROTO_LEASE) {
        if (r->lease.ntypes == 0 || r->lease.ntypes > PROTO_MAX_TYPES || !r->lease.worker ||
            r->lease.max > PROTO_MAX_JOBS || r->lease.nouts > PROTO_MAX_JOBS)
            abort();
        for (uint16_t i = 0; i < r->lease.ntypes; i++)
            if (!r->lease.types[i])
                abort();
        for (uint32_t i = 0; i < r->lease.nouts; i++)
            if (!r->lease.outs[i].id || r->lease.outs[i].failed > 1)
                abort();
    } else if (r->op == PROTO_DATASET_PUT) {
        if (!r->ds_name || !r->ds_kind || !r->ds_hash || !r->ds_description || !r->ds_table ||
            !r->ds_file)
            abort();
        /* The borrowed byte strings lie inside the message. */
        if (!fuzz_proto_inside(r->ds_table, r->ds_table_len, data, size) ||
            !fuzz_proto_inside(r->ds_file, r->ds_file_len, data, size))
            abort();
    } else if (r->op == PROTO_COMPLETE || r->op == PROTO_FAIL) {
        if (!r->out.worker || !r->out.id || r->out.failed != (r->op == PROTO_FAIL))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    proto_req r;
    if (proto_decode_req(data, size, &r) != EQ_OK)
        return 0;
    fuzz_proto_check_fields(&r, data, size);
    eq_buf b;
    eq_buf_init(&b);
    fuzz_proto_reencode(&r, &b);
    if (b.oom)
        abort();
    int same = b.len == size && memcmp(b.data, data, size) == 0;
    /* FAIL ends in its retryable byte and a u32 retry_after_ms; any non-zero retryable byte
     * reads as "retryable". */
    if (!same && r.op == PROTO_FAIL && b.len == size && size >= 5 && data[size - 5] != 0 &&
        memcmp(b.data, data, size - 5) == 0 && memcmp(b.data + size - 4, data + size - 4, 4) == 0)
        same = 1;
    if (!same)
        abort();
    eq_buf_fini(&b);
    proto_req_fini(&r);
    return 0;
}

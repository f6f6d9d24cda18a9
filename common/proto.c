#include "common/proto.h"

#include "common/job.h"

#include <stdlib.h>
#include <string.h>

static void enc_head(eq_buf *b, uint8_t op) {
    eq_buf_u8(b, PROTO_VERSION);
    eq_buf_u8(b, op);
}

void proto_enc_submit_head(eq_buf *b, uint32_t n) {
    enc_head(b, PROTO_SUBMIT);
    eq_buf_u32(b, n);
}

void proto_enc_submit_job(eq_buf *b, const proto_submit_job *j) {
    eq_buf_str(b, j->type);
    eq_buf_str(b, j->params);
    eq_buf_u8(b, j->priority);
    eq_buf_u16(b, j->max_attempts);
    eq_buf_i64(b, j->run_at_ms);
    eq_buf_str(b, j->idem_key);
    eq_buf_u64(b, j->idem_hash);
    eq_buf_str(b, j->batch_id);
    eq_buf_str(b, j->schedule);
    eq_buf_str(b, j->webhook_url);
    eq_buf_str(b, j->webhook_secret);
}

void proto_enc_submit(eq_buf *b, const proto_submit_job *jobs, uint32_t n) {
    proto_enc_submit_head(b, n);
    for (uint32_t i = 0; i < n; i++)
        proto_enc_submit_job(b, &jobs[i]);
}

void proto_enc_dataset_put(eq_buf *b, const char *name, const char *kind, const char *hash,
                           uint64_t bytes, const char *description, const void *table,
                           size_t table_len, const void *file, size_t file_len) {
    enc_head(b, PROTO_DATASET_PUT);
    eq_buf_str(b, name);
    eq_buf_str(b, kind);
    eq_buf_str(b, hash);
    eq_buf_u64(b, bytes);
    eq_buf_str(b, description);
    eq_buf_bytes(b, table, table_len);
    eq_buf_bytes(b, file, file_len);
}

void proto_enc_batch_head(eq_buf *b, uint32_t n, const char *webhook_url,
                          const char *webhook_secret) {
    enc_head(b, PROTO_BATCH);
    eq_buf_str(b, webhook_url);
    eq_buf_str(b, webhook_secret);
    eq_buf_u32(b, n);
}

void proto_enc_id(eq_buf *b, uint8_t op, const char *id) {
    enc_head(b, op);
    eq_buf_str(b, id);
}

void proto_enc_coll_del(eq_buf *b, const char *name, const char *doc_id) {
    enc_head(b, PROTO_COLL_DEL);
    eq_buf_str(b, name);
    eq_buf_str(b, doc_id);
}

void proto_enc_coll_read(eq_buf *b, uint8_t what, const char *name, const char *key,
                         uint64_t from, uint32_t max) {
    enc_head(b, PROTO_COLL_READ);
    eq_buf_u8(b, what);
    eq_buf_str(b, name);
    eq_buf_str(b, key ? key : "");
    eq_buf_u64(b, from);
    eq_buf_u32(b, max);
}

void proto_enc_coll_docs(eq_buf *b, const char *name, const char *const *ids, uint32_t n) {
    proto_enc_coll_read(b, PROTO_COLL_DOCS, name, "", 0, n);
    for (uint32_t i = 0; i < n; i++)
        eq_buf_str(b, ids[i]);
}

void proto_enc_schedule_put(eq_buf *b, const char *name, const char *cron,
                            const proto_submit_job *job) {
    enc_head(b, PROTO_SCHEDULE_PUT);
    eq_buf_str(b, name);
    eq_buf_str(b, cron);
    eq_buf_u32(b, 1);
    proto_enc_submit_job(b, job);
}

static void enc_outcome(eq_buf *b, const proto_outcome *o) {
    eq_buf_str(b, o->id);
    eq_buf_u16(b, o->attempt);
    eq_buf_u8(b, o->failed);
    if (o->failed) {
        eq_buf_str(b, o->code);
        eq_buf_str(b, o->message);
        eq_buf_u8(b, o->retryable);
        eq_buf_u32(b, o->retry_after_ms);
    } else {
        eq_buf_str(b, o->result);
    }
}

void proto_enc_lease(eq_buf *b, const char *worker, const char *const *types, uint16_t ntypes,
                     uint16_t max, uint32_t wait_ms, const char *status, const proto_outcome *outs,
                     uint32_t nouts) {
    enc_head(b, PROTO_LEASE);
    eq_buf_str(b, worker);
    eq_buf_u16(b, ntypes);
    for (uint16_t i = 0; i < ntypes; i++)
        eq_buf_str(b, types[i]);
    eq_buf_u16(b, max);
    eq_buf_u32(b, wait_ms);
    eq_buf_str(b, status ? status : "");
    eq_buf_u32(b, nouts);
    for (uint32_t i = 0; i < nouts; i++)
        enc_outcome(b, &outs[i]);
}

void proto_enc_heartbeat(eq_buf *b, const char *worker, const proto_hb_item *items, uint32_t n) {
    enc_head(b, PROTO_HEARTBEAT);
    eq_buf_str(b, worker);
    eq_buf_u32(b, n);
    for (uint32_t i = 0; i < n; i++) {
        eq_buf_str(b, items[i].id);
        eq_buf_u16(b, items[i].attempt);
    }
}

void proto_enc_complete(eq_buf *b, const char *worker, const char *id, uint16_t attempt,
                        const char *result) {
    enc_head(b, PROTO_COMPLETE);
    proto_outcome o = {.id = (char *)id, .attempt = attempt, .result = (char *)result};
    eq_buf_str(b, worker);
    enc_outcome(b, &o);
}

void proto_enc_fail(eq_buf *b, const char *worker, const char *id, uint16_t attempt,
                    const char *code, const char *message, int retryable,
                    uint32_t retry_after_ms) {
    proto_outcome o = {.id = (char *)id, .attempt = attempt, .failed = 1, .code = (char *)code,
                       .message = (char *)message, .retryable = retryable ? 1 : 0,
                       .retry_after_ms = retry_after_ms};
    enc_head(b, PROTO_FAIL);
    eq_buf_str(b, worker);
    enc_outcome(b, &o);
}

void proto_enc_reply(eq_buf *b, eq_err status, const char *message) {
    enc_head(b, PROTO_REPLY);
    eq_buf_u32(b, (uint32_t)status);
    eq_buf_str(b, message);
}

eq_err proto_dec_reply(eq_rd *rd, eq_err *status, char **message) {
    *message = NULL;
    if (eq_rd_u8(rd) != PROTO_VERSION || eq_rd_u8(rd) != PROTO_REPLY)
        return EQ_EPROTO;
    uint32_t st = eq_rd_u32(rd);
    *message = eq_rd_str(rd, PROTO_MAX_STR);
    if (rd->bad || st >= EQ_ERR_MAX) {
        free(*message);
        *message = NULL;
        return EQ_EPROTO;
    }
    *status = (eq_err)st;
    return EQ_OK;
}

void proto_leased_job_fini(proto_leased_job *j) {
    free(j->id);
    free(j->type);
    free(j->params);
    memset(j, 0, sizeof *j);
}

eq_err proto_dec_leased(eq_rd *rd, proto_leased_job *j) {
    memset(j, 0, sizeof *j);
    j->id = eq_rd_str(rd, 64);
    j->type = eq_rd_str(rd, 64);
    j->attempt = eq_rd_u16(rd);
    j->lease_deadline_ms = eq_rd_i64(rd);
    j->params = eq_rd_str(rd, PROTO_MAX_STR);
    if (rd->bad || !j->id || !j->type || !j->params) {
        proto_leased_job_fini(j);
        return EQ_EPROTO;
    }
    return EQ_OK;
}

/* A required string: present (not NULL) and within max bytes. */
static char *req_str(eq_rd *rd, size_t max) {
    char *s = eq_rd_str(rd, max);
    if (!s)
        rd->bad = 1;
    return s;
}

static void outcome_fini(proto_outcome *o) {
    free(o->worker);
    free(o->id);
    free(o->result);
    free(o->code);
    free(o->message);
}

static void dec_outcome(eq_rd *rd, proto_outcome *o) {
    o->id = req_str(rd, 64);
    o->attempt = eq_rd_u16(rd);
    o->failed = eq_rd_u8(rd);
    if (o->failed > 1) {
        rd->bad = 1;
    } else if (o->failed) {
        o->code = req_str(rd, 64);
        o->message = req_str(rd, 4096);
        o->retryable = eq_rd_u8(rd);
        o->retry_after_ms = eq_rd_u32(rd);
    } else {
        o->result = req_str(rd, PROTO_MAX_STR);
    }
}

static void submit_job_fini(proto_submit_job *j) {
    free(j->type);
    free(j->params);
    free(j->idem_key);
    free(j->batch_id);
    free(j->schedule);
    free(j->webhook_url);
    free(j->webhook_secret);
}

void proto_req_fini(proto_req *r) {
    for (uint32_t i = 0; r->jobs && i < r->njobs; i++)
        submit_job_fini(&r->jobs[i]);
    free(r->jobs);
    free(r->id);
    free(r->doc_id);
    for (uint32_t i = 0; r->coll_ids && i < r->coll_max; i++)
        free(r->coll_ids[i]);
    free(r->coll_ids);
    free(r->lease.worker);
    free(r->lease.status);
    for (uint16_t i = 0; i < r->lease.ntypes; i++)
        free(r->lease.types[i]);
    free(r->worker);
    for (uint32_t i = 0; r->hb && i < r->nhb; i++)
        free(r->hb[i].id);
    free(r->hb);
    outcome_fini(&r->out);
    for (uint32_t i = 0; r->lease.outs && i < r->lease.nouts; i++)
        outcome_fini(&r->lease.outs[i]);
    free(r->lease.outs);
    free(r->ds_name);
    free(r->ds_kind);
    free(r->ds_hash);
    free(r->ds_description);
    free(r->batch_webhook_url);
    free(r->batch_webhook_secret);
    free(r->sched_cron);
    memset(r, 0, sizeof *r);
}

static void dec_submit(eq_rd *rd, proto_req *r) {
    uint32_t n = eq_rd_u32(rd);
    if (rd->bad || n == 0 || n > PROTO_MAX_JOBS || (size_t)(rd->end - rd->p) < (size_t)n * 8) {
        rd->bad = 1;
        return;
    }
    r->jobs = calloc(n, sizeof *r->jobs);
    if (!r->jobs) {
        rd->bad = 1;
        return;
    }
    for (uint32_t i = 0; i < n && !rd->bad; i++) {
        proto_submit_job *j = &r->jobs[i];
        r->njobs = i + 1;
        j->type = req_str(rd, JOB_TYPE_MAX - 1);
        j->params = req_str(rd, PROTO_MAX_STR);
        j->priority = eq_rd_u8(rd);
        j->max_attempts = eq_rd_u16(rd);
        j->run_at_ms = eq_rd_i64(rd);
        j->idem_key = eq_rd_str(rd, 256);
        j->idem_hash = eq_rd_u64(rd);
        j->batch_id = eq_rd_str(rd, 64);
        j->schedule = eq_rd_str(rd, 128);
        j->webhook_url = eq_rd_str(rd, 4096);
        j->webhook_secret = eq_rd_str(rd, 512);
        if (j->priority > 9 || j->max_attempts == 0)
            rd->bad = 1;
    }
}

eq_err proto_decode_req(const void *buf, size_t len, proto_req *r) {
    eq_rd rd;
    memset(r, 0, sizeof *r);
    if (len > PROTO_MAX_MSG_BYTES)
        return EQ_EPROTO;
    eq_rd_init(&rd, buf, len);
    if (eq_rd_u8(&rd) != PROTO_VERSION)
        return EQ_EPROTO;
    r->op = eq_rd_u8(&rd);
    switch (r->op) {
    case PROTO_SUBMIT:
        dec_submit(&rd, r);
        break;
    case PROTO_CANCEL:
    case PROTO_RETRY:
    case PROTO_DATASET_DEL:
    case PROTO_SCHEDULE_DEL:
    case PROTO_REDELIVER:
        r->id = req_str(&rd, 64);
        break;
    case PROTO_COLL_DEL:
        r->id = req_str(&rd, 64);
        r->doc_id = req_str(&rd, 1024);
        break;
    case PROTO_COLL_READ:
        r->coll_what = eq_rd_u8(&rd);
        r->id = req_str(&rd, 64);
        r->doc_id = req_str(&rd, 1024);
        r->coll_from = eq_rd_u64(&rd);
        r->coll_max = eq_rd_u32(&rd);
        if (r->coll_what < PROTO_COLL_INFO || r->coll_what > PROTO_COLL_DOCS ||
            r->coll_max > PROTO_COLL_PAGE_MAX ||
            (r->coll_what == PROTO_COLL_DOCS && r->coll_max > PROTO_COLL_DOCS_MAX)) {
            rd.bad = 1;
            break;
        }
        if (r->coll_what == PROTO_COLL_DOCS && r->coll_max) {
            r->coll_ids = calloc(r->coll_max, sizeof *r->coll_ids);
            if (!r->coll_ids) {
                rd.bad = 1;
                break;
            }
            for (uint32_t i = 0; i < r->coll_max && !rd.bad; i++)
                r->coll_ids[i] = req_str(&rd, 1024);
        }
        break;
    case PROTO_SCHEDULE_PUT:
        r->id = req_str(&rd, 64);
        r->sched_cron = req_str(&rd, 256);
        dec_submit(&rd, r);
        if (r->njobs != 1)
            rd.bad = 1;
        break;
    case PROTO_DATASET_PUT:
        r->ds_name = req_str(&rd, 1024);
        r->ds_kind = req_str(&rd, 16);
        r->ds_hash = req_str(&rd, 256);
        r->ds_bytes = eq_rd_u64(&rd);
        r->ds_description = req_str(&rd, PROTO_MAX_STR);
        r->ds_table = eq_rd_bytes(&rd, &r->ds_table_len, PROTO_MAX_MSG_BYTES);
        r->ds_file = eq_rd_bytes(&rd, &r->ds_file_len, PROTO_MAX_MSG_BYTES);
        if (!r->ds_table || !r->ds_file)
            rd.bad = 1;
        break;
    case PROTO_BATCH:
        r->batch_webhook_url = eq_rd_str(&rd, 4096);
        r->batch_webhook_secret = eq_rd_str(&rd, 512);
        dec_submit(&rd, r);
        break;
    case PROTO_LEASE:
        r->lease.worker = req_str(&rd, 256);
        r->lease.ntypes = eq_rd_u16(&rd);
        if (r->lease.ntypes == 0 || r->lease.ntypes > PROTO_MAX_TYPES) {
            r->lease.ntypes = 0;
            rd.bad = 1;
            break;
        }
        for (uint16_t i = 0; i < r->lease.ntypes; i++)
            r->lease.types[i] = req_str(&rd, JOB_TYPE_MAX - 1);
        r->lease.max = eq_rd_u16(&rd);
        r->lease.wait_ms = eq_rd_u32(&rd);
        r->lease.status = req_str(&rd, PROTO_MAX_STATUS);
        if (r->lease.max > PROTO_MAX_JOBS) {
            rd.bad = 1;
            break;
        }
        {
            uint32_t n = eq_rd_u32(&rd);
            if (n > PROTO_MAX_JOBS || (size_t)(rd.end - rd.p) < (size_t)n * 8) {
                rd.bad = 1;
                break;
            }
            if (n) {
                r->lease.outs = calloc(n, sizeof *r->lease.outs);
                if (!r->lease.outs) {
                    rd.bad = 1;
                    break;
                }
            }
            for (uint32_t i = 0; i < n && !rd.bad; i++) {
                r->lease.nouts = i + 1;
                dec_outcome(&rd, &r->lease.outs[i]);
            }
            if (r->lease.max == 0 && n == 0)
                rd.bad = 1; /* asks for nothing and reports nothing */
        }
        break;
    case PROTO_HEARTBEAT: {
        r->worker = req_str(&rd, 256);
        uint32_t n = eq_rd_u32(&rd);
        if (n > PROTO_MAX_JOBS || (size_t)(rd.end - rd.p) < (size_t)n * 6) {
            rd.bad = 1;
            break;
        }
        r->hb = calloc(n ? n : 1, sizeof *r->hb);
        if (!r->hb) {
            rd.bad = 1;
            break;
        }
        for (uint32_t i = 0; i < n && !rd.bad; i++) {
            r->nhb = i + 1;
            r->hb[i].id = req_str(&rd, 64);
            r->hb[i].attempt = eq_rd_u16(&rd);
        }
        break;
    }
    case PROTO_COMPLETE:
    case PROTO_FAIL:
        r->out.worker = req_str(&rd, 256);
        dec_outcome(&rd, &r->out);
        if (r->out.failed != (r->op == PROTO_FAIL))
            rd.bad = 1;
        break;
    default:
        rd.bad = 1;
    }
    if (rd.bad || rd.p != rd.end) {
        proto_req_fini(r);
        return EQ_EPROTO;
    }
    return EQ_OK;
}

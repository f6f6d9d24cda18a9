/* Writes the binary seed corpora of the fuzz targets whose inputs are our own encodings:
 * broker requests and replies (common/proto.h) and stored job records (store/store.h).
 * The seeds are committed under tests/fuzz/corpus/; run this again after a format change:
 *
 *   fuzz_seeds tests/fuzz/corpus
 *
 * Every seed is produced by the real encoders, so the fuzzer starts from valid messages. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/job.h"
#include "common/proto.h"
#include "store/store.h"
#ifdef FUZZ_SEEDS_UPLOAD
#include "api/upload/upload.h"
#endif
#ifdef FUZZ_SEEDS_EMBED
#include "workers/embed/embedder.h"
#include "workers/embed/vrecord.h"
#endif

static int seeds_write(const char *root, const char *target, const char *name, eq_buf *b) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s/%s", root, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || b->oom || fwrite(b->data, 1, b->len, f) != b->len || fclose(f) != 0) {
        fprintf(stderr, "fuzz_seeds: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    eq_buf_reset(b);
    return 0;
}

static int seeds_proto_req(const char *root, eq_buf *b) {
    int rc = 0;
    proto_submit_job jobs[2] = {
        {.type = "forecast",
         .params = "{\"series\":[1,2,3,4,5,6],\"horizon\":3,\"method\":\"ets\"}",
         .priority = 5,
         .max_attempts = 5},
        {.type = "noop",
         .params = "{}",
         .priority = 0,
         .max_attempts = 1,
         .run_at_ms = 1767225600000,
         .idem_key = "order-42",
         .idem_hash = 0x0123456789abcdefu,
         .batch_id = "01JB8ZB6ZQ9V3M0C0Y8V2K4W1X",
         .schedule = "nightly",
         .webhook_url = "https://example.com/hooks/econq",
         .webhook_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
    };
    proto_enc_submit(b, jobs, 1);
    rc |= seeds_write(root, "proto_req", "submit_one", b);
    proto_enc_submit(b, jobs, 2);
    rc |= seeds_write(root, "proto_req", "submit_two", b);
    proto_enc_id(b, PROTO_CANCEL, "01JB8ZB6ZQ9V3M0C0Y8V2K4W1X");
    rc |= seeds_write(root, "proto_req", "cancel", b);
    proto_enc_id(b, PROTO_RETRY, "01JB8ZB6ZQ9V3M0C0Y8V2K4W1Y");
    rc |= seeds_write(root, "proto_req", "retry", b);
    const char *types[] = {"forecast", "embed", "chart"};
    proto_enc_lease(b, "worker-a:1234", types, 3, 8, 5000, NULL, NULL, 0);
    rc |= seeds_write(root, "proto_req", "lease", b);
    proto_outcome outs[2] = {
        {.id = "01JB8ZB6ZQ9V3M0C0Y8V2K4W1X", .attempt = 1, .result = "{\"ok\":true}"},
        {.id = "01JB8ZB6ZQ9V3M0C0Y8V2K4W1Y",
         .attempt = 2,
         .failed = 1,
         .code = "timeout",
         .message = "the model did not answer",
         .retryable = 1},
    };
    proto_enc_lease(b, "worker-b", types, 1, 0, 0, "llm_breaker=open", outs, 2);
    rc |= seeds_write(root, "proto_req", "lease_with_outcomes", b);
    proto_hb_item hb[2] = {{"01JB8ZB6ZQ9V3M0C0Y8V2K4W1X", 1}, {"01JB8ZB6ZQ9V3M0C0Y8V2K4W1Y", 3}};
    proto_enc_heartbeat(b, "worker-a:1234", hb, 2);
    rc |= seeds_write(root, "proto_req", "heartbeat", b);
    proto_enc_complete(b, "worker-a:1234", "01JB8ZB6ZQ9V3M0C0Y8V2K4W1X", 1,
                       "{\"forecast\":[1.5,2.5],\"method\":\"ets\"}");
    rc |= seeds_write(root, "proto_req", "complete", b);
    proto_enc_fail(b, "worker-a:1234", "01JB8ZB6ZQ9V3M0C0Y8V2K4W1X", 2, "invalid-params",
                   "horizon must be positive", 0, 0);
    rc |= seeds_write(root, "proto_req", "fail", b);
    proto_enc_fail(b, "local:host:1:llm-1", "01JB8ZB6ZQ9V3M0C0Y8V2K4W1X", 3, "llm_unavailable",
                   "circuit open", 1, 300000);
    rc |= seeds_write(root, "proto_req", "fail_deferred", b);
    proto_enc_id(b, PROTO_DATASET_DEL, "us_macro_monthly");
    rc |= seeds_write(root, "proto_req", "dataset_del", b);
    eq_buf_reset(b);
    proto_enc_coll_del(b, "notes", "imports-2023");
    rc |= seeds_write(root, "proto_req", "coll_del", b);
    proto_enc_coll_read(b, PROTO_COLL_PAGE, "notes", "imports-2023", 0, 1000);
    rc |= seeds_write(root, "proto_req", "coll_read", b);
    static const char *const doc_ids[] = {"imports-2023", "cpi-2022"};
    proto_enc_coll_docs(b, "notes", doc_ids, 2);
    rc |= seeds_write(root, "proto_req", "coll_docs", b);
    /* Collection records (store/store_coll.h): a selector byte, then the value. */
    eq_buf_u8(b, 0);
    eq_buf_u8(b, 1);
    eq_buf_str(b, "econq-hash-v1/384");
    eq_buf_u32(b, 384);
    eq_buf_u64(b, 41);
    eq_buf_u64(b, 7);
    eq_buf_i64(b, 1795926190000);
    eq_buf_i64(b, 1795926199000);
    rc |= seeds_write(root, "store_coll", "collection", b);
    eq_buf_u8(b, 1);
    eq_buf_u8(b, 12); /* the id's length, then the id */
    eq_buf_put(b, "imports-2023", 12);
    eq_buf_u8(b, 1);
    eq_buf_u32(b, 4);
    static const float vec[4] = {0.5f, -0.5f, 0.5f, 0.5f};
    eq_buf_put(b, vec, sizeof vec);
    eq_buf_u32(b, 24);
    eq_buf_put(b, "US imports rose 5% 2023", 24);
    eq_buf_u32(b, 17);
    eq_buf_put(b, "{\"source\":\"BEA\"}", 17);
    rc |= seeds_write(root, "store_coll", "document", b);
    eq_buf_u8(b, 2);
    eq_buf_u8(b, 1);
    eq_buf_u64(b, 5);
    eq_buf_u8(b, 1);
    eq_buf_u32(b, 2);
    eq_buf_u16(b, 1);
    eq_buf_put(b, "a", 1);
    eq_buf_u16(b, 12);
    eq_buf_put(b, "imports-2023", 12);
    rc |= seeds_write(root, "store_coll", "log", b);
    proto_enc_id(b, PROTO_SCHEDULE_DEL, "nightly");
    rc |= seeds_write(root, "proto_req", "schedule_del", b);
    proto_enc_id(b, PROTO_REDELIVER, "msg_p5jXN8AQM9LWM0D4loKWxJek");
    rc |= seeds_write(root, "proto_req", "redeliver", b);
    proto_enc_schedule_put(b, "nightly", "0 2 * * *", &jobs[0]);
    rc |= seeds_write(root, "proto_req", "schedule_put", b);
    proto_enc_batch_head(b, 2, "https://example.com/hooks/batch", NULL);
    proto_enc_submit_job(b, &jobs[0]);
    proto_enc_submit_job(b, &jobs[1]);
    rc |= seeds_write(root, "proto_req", "batch", b);
    static const char csv[] = "date,v\n2020-01-01,1.5\n2020-02-01,2\n";
    static const unsigned char table[] = {1, 2, 0, 0, 0, 1, 0, 0, 0};
    proto_enc_dataset_put(b, "macro", "csv", "xxh3:0123456789abcdef", sizeof csv - 1,
                          "monthly macro series", table, sizeof table, csv, sizeof csv - 1);
    rc |= seeds_write(root, "proto_req", "dataset_put", b);
    return rc;
}

static int seeds_proto_reply(const char *root, eq_buf *b) {
    int rc = 0;
    proto_enc_reply(b, EQ_OK, NULL);
    rc |= seeds_write(root, "proto_reply", "ok_empty", b);
    proto_enc_reply(b, EQ_ENOTFOUND, "no job has this id");
    rc |= seeds_write(root, "proto_reply", "not_found", b);
    /* A lease reply with two jobs and one outcome status. */
    proto_enc_reply(b, EQ_OK, NULL);
    eq_buf_u32(b, 2);
    const char *ids[] = {"01JB8ZB6ZQ9V3M0C0Y8V2K4W1X", "01JB8ZB6ZQ9V3M0C0Y8V2K4W1Y"};
    for (int i = 0; i < 2; i++) {
        eq_buf_str(b, ids[i]);
        eq_buf_str(b, i ? "embed" : "forecast");
        eq_buf_u16(b, (uint16_t)(i + 1));
        eq_buf_i64(b, 1767225630000 + i);
        eq_buf_str(b, i ? "{\"texts\":[\"a\",\"b\"]}" : "{\"series\":[1,2,3],\"horizon\":2}");
    }
    eq_buf_u32(b, 1);
    eq_buf_u32(b, EQ_ESTALE);
    rc |= seeds_write(root, "proto_reply", "lease_two", b);
    /* A submit reply: one status, message and job JSON. */
    proto_enc_reply(b, EQ_OK, "");
    eq_buf_u32(b, 1);
    eq_buf_u32(b, EQ_OK);
    eq_buf_str(b, NULL);
    eq_buf_str(b, "{\"id\":\"01JB8ZB6ZQ9V3M0C0Y8V2K4W1X\",\"state\":\"queued\"}");
    rc |= seeds_write(root, "proto_reply", "submit", b);
    return rc;
}

static int seeds_store_job(const char *root, eq_buf *b) {
    int rc = 0;
    eq_job j;
    eq_job_init(&j);
    memcpy(j.id, "01JB8ZB6ZQ9V3M0C0Y8V2K4W1X", EQ_ID_LEN + 1);
    strcpy(j.type, "forecast");
    j.state = JOB_QUEUED;
    j.priority = 5;
    j.max_attempts = 5;
    j.seq = 17;
    j.created_ms = j.updated_ms = j.run_at_ms = 1767225600000;
    j.params = strdup("{\"series\":[1,2,3,4],\"horizon\":2}");
    store_job_encode(&j, b);
    rc |= seeds_write(root, "store_job", "queued", b);
    j.state = JOB_FAILED;
    j.attempt = 5;
    j.started_ms = 1767225601000;
    j.finished_ms = 1767225602000;
    j.cancel_requested = 1;
    j.error_code = strdup("timeout");
    j.error_message = strdup("the worker did not finish in time");
    j.worker = strdup("worker-a:1234");
    j.idem_key = strdup("order-42");
    j.batch_id = strdup("01JB8ZB6ZQ9V3M0C0Y8V2K4W1Y");
    j.schedule = strdup("nightly");
    j.webhook_url = strdup("https://example.com/hooks/econq");
    j.webhook_secret = strdup("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    store_job_encode(&j, b);
    rc |= seeds_write(root, "store_job", "failed_full", b);
    j.state = JOB_SUCCEEDED;
    j.cached = 1;
    store_job_encode(&j, b);
    rc |= seeds_write(root, "store_job", "succeeded_cached", b);
    eq_job_fini(&j);
    return rc;
}

#ifdef FUZZ_SEEDS_EMBED
/* Stored vectors (vrecord) of two texts, beside the texts themselves in the embed corpus. */
static int seeds_embed(const char *root, eq_buf *b) {
    static const char *const texts[] = {"Unemployment rose to 14.7% in April 2020",
                                        "CO2 at Mauna Loa: 412 ppm"};
    int rc = 0;
    for (int i = 0; i < 2; i++) {
        float v[EMBED_DIM];
        unsigned char rec[8192];
        size_t len;
        if (embed_text(texts[i], strlen(texts[i]), v) != EQ_OK ||
            vrecord_encode(EMBED_NAME, v, EMBED_DIM, rec, sizeof rec, &len) != EQ_OK)
            return -1;
        eq_buf_put(b, rec, len);
        rc |= seeds_write(root, "embed", i ? "vrecord_co2" : "vrecord_unrate", b);
        eq_buf_puts(b, texts[i]);
        rc |= seeds_write(root, "embed", i ? "text_co2" : "text_unrate", b);
    }
    return rc;
}
#endif

#ifdef FUZZ_SEEDS_UPLOAD
/* A stored dataset table (ds_table_encode) behind the upload target's mode byte 4. */
static int seeds_upload(const char *root, eq_buf *b) {
    static const char csv[] = "date,unrate,cpi,note\n2020-01-01,3.5,258.8,a\n"
                              "2020-02-01,3.6,259.0,\n2020-03-01,4.4,,c\n";
    ds_table *t = NULL;
    unsigned char *enc = NULL;
    size_t len;
    if (upload_parse(csv, sizeof csv - 1, "csv", NULL, &t, NULL) != EQ_OK ||
        ds_table_encode(t, &enc, &len) != EQ_OK) {
        ds_table_free(t);
        return -1;
    }
    eq_buf_u8(b, 4);
    eq_buf_put(b, enc, len);
    free(enc);
    ds_table_free(t);
    return seeds_write(root, "upload", "codec_table", b);
}
#endif

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_ROOT\n", argv[0]);
        return 2;
    }
    eq_buf b;
    eq_buf_init(&b);
    int rc = seeds_proto_req(argv[1], &b) | seeds_proto_reply(argv[1], &b) |
             seeds_store_job(argv[1], &b);
#ifdef FUZZ_SEEDS_EMBED
    rc |= seeds_embed(argv[1], &b);
#endif
#ifdef FUZZ_SEEDS_UPLOAD
    rc |= seeds_upload(argv[1], &b);
#endif
    eq_buf_fini(&b);
    return rc ? 1 : 0;
}

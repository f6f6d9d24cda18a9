/* Collections in the broker (broker/collections.c) and deferred failures: an embed job's
 * vectors become documents, a bad or mismatched result fails the job and writes nothing, the
 * change log follows, deletes, cache generations; a fail with retry_after re-queues the job
 * without using up an attempt. */
#include <check.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_coll.h"
#include "tests/broker/lifecycle_util.h"

#define DOCS "{\"collection\":\"notes\",\"documents\":[{\"id\":\"a\",\"text\":\"imports rose\"," \
             "\"metadata\":{\"k\":1}},{\"id\":\"b\",\"text\":\"rents fell\"}]}"

/* An embed result for ids a and b with 4-dimension vectors (v[0] may be made bad). */
static char *embed_result(const char *embedder, float first, const char *id2) {
    float v[8] = {first, 0.5f, 0, 0, 0, 0, 1, 0};
    unsigned char b64[64];
    EVP_EncodeBlock(b64, (const unsigned char *)v, sizeof v);
    char *out = malloc(512);
    snprintf(out, 512,
             "{\"collection\":\"notes\",\"embedder\":\"%s\",\"dim\":4,\"ids\":[\"a\",\"%s\"],"
             "\"vectors\":\"%s\"}",
             embedder, id2, b64);
    return out;
}

/* Submits an embed job of DOCS, leases it and completes it with result; returns the job. */
static void run_embed(const char *result, char *id) {
    leased l;
    ck_assert_int_eq(submit_ex("embed", (sub_opts){.prio = 5, .params = DOCS}, id), EQ_OK);
    ck_assert_int_eq(lease1("embed", "w", &l), 1);
    ck_assert_int_eq(complete(id, l.attempt, result), EQ_OK);
}

static int get_coll(store_coll *c) {
    store_txn *t;
    ck_assert_int_eq(store_txn_begin(st, 0, &t), EQ_OK);
    eq_err e = store_coll_get(t, "notes", c);
    store_txn_abort(t);
    return e == EQ_OK;
}

START_TEST(embed_result_becomes_documents) {
    char id[EQ_ID_LEN + 1];
    char *res = embed_result("econq-hash-v1/384", 1.0f, "b");
    run_embed(res, id);
    free(res);
    ck_assert_int_eq(state_of(id), JOB_SUCCEEDED);
    store_coll c;
    ck_assert(get_coll(&c));
    ck_assert_str_eq(c.embedder, "econq-hash-v1/384");
    ck_assert_uint_eq(c.dim, 4);
    ck_assert_uint_eq(c.count, 2);
    ck_assert_uint_gt(c.generation, 0);
    store_txn *t;
    ck_assert_int_eq(store_txn_begin(st, 0, &t), EQ_OK);
    store_coll_doc d;
    ck_assert_int_eq(store_coll_doc_get(t, "notes", "a", &d), EQ_OK);
    ck_assert_int_eq((int)d.text_len, 12);
    ck_assert_int_eq(memcmp(d.text, "imports rose", 12), 0);
    ck_assert_int_eq(memcmp(d.meta, "{\"k\":1}", d.meta_len), 0);
    float x;
    memcpy(&x, d.vec, sizeof x);
    ck_assert(x == 1.0f);
    /* The client's result is short: no vectors. */
    char *kept = NULL;
    ck_assert_int_eq(store_result_get(t, id, &kept), EQ_OK);
    ck_assert_ptr_null(strstr(kept, "vectors"));
    ck_assert_ptr_nonnull(strstr(kept, "\"added\":2"));
    free(kept);
    store_txn_abort(t);
    /* The same documents again replace them: count stays, generation moves, the log chains. */
    uint64_t g1 = c.generation;
    res = embed_result("econq-hash-v1/384", 2.0f, "b");
    run_embed(res, id);
    free(res);
    ck_assert(get_coll(&c));
    ck_assert_uint_eq(c.count, 2);
    ck_assert_uint_gt(c.generation, g1);
    /* Search and llm results are cached under the collection's generation. */
    lc_ctx cx = begin();
    ck_assert_uint_eq(lc_coll_generation(&cx, "search", "{\"collection\":\"notes\",\"query\":\"x\"}",
                                         NULL),
                      c.generation);
    ck_assert_uint_eq(lc_coll_generation(&cx, "search", "{}", "{\"generation\":7}"), 7);
    ck_assert_uint_eq(lc_coll_generation(&cx, "forecast", "{\"collection\":\"notes\"}", NULL), 0);
    /* Deleting a document moves the generation too; deleting the collection removes it. */
    ck_assert_int_eq(lc_coll_del(&cx, "notes", "a"), EQ_OK);
    ck_assert_int_eq(lc_coll_del(&cx, "notes", "a"), EQ_ENOTFOUND);
    end(&cx);
    store_coll c2;
    ck_assert(get_coll(&c2));
    ck_assert_uint_eq(c2.count, 1);
    ck_assert_uint_gt(c2.generation, c.generation);
    cx = begin();
    ck_assert_int_eq(lc_coll_del(&cx, "notes", NULL), EQ_OK);
    ck_assert_int_eq(lc_coll_del(&cx, "notes", NULL), EQ_ENOTFOUND);
    end(&cx);
    ck_assert(!get_coll(&c2));
}
END_TEST

/* Runs one PROTO_COLL_READ; returns the reply's status, rd after the collection head. */
static eq_err coll_read(eq_buf *out, eq_rd *rd, uint8_t what, const char *key, uint64_t from,
                        uint32_t max, uint64_t *gen) {
    eq_buf req;
    eq_buf_init(&req);
    proto_enc_coll_read(&req, what, "notes", key, from, max);
    proto_req r;
    ck_assert_int_eq(proto_decode_req(req.data, req.len, &r), EQ_OK);
    eq_buf_fini(&req);
    eq_buf_reset(out);
    lc_ctx c = begin();
    ck_assert_int_eq(lc_coll_read(&c, &r, out), EQ_OK);
    end(&c);
    proto_req_fini(&r);
    eq_rd_init(rd, out->data, out->len);
    eq_err status;
    char *msg = NULL;
    ck_assert_int_eq(proto_dec_reply(rd, &status, &msg), EQ_OK);
    free(msg);
    if (status == EQ_OK) {
        char *emb = eq_rd_str(rd, 256);
        ck_assert_str_eq(emb, "econq-hash-v1/384");
        free(emb);
        ck_assert_uint_eq(eq_rd_u32(rd), 4);
        eq_rd_u64(rd); /* count */
        *gen = eq_rd_u64(rd);
    }
    return status;
}

START_TEST(reads_for_workers_without_the_store) {
    char id[EQ_ID_LEN + 1];
    char *res = embed_result("econq-hash-v1/384", 1.0f, "b");
    run_embed(res, id);
    free(res);
    eq_buf out;
    eq_buf_init(&out);
    eq_rd rd;
    uint64_t g1 = 0, g;
    ck_assert_int_eq(coll_read(&out, &rd, PROTO_COLL_INFO, NULL, 0, 0, &g1), EQ_OK);
    /* Pages of one document: a, then b, then nothing more. */
    ck_assert_int_eq(coll_read(&out, &rd, PROTO_COLL_PAGE, "", 0, 1, &g), EQ_OK);
    ck_assert_uint_eq(eq_rd_u32(&rd), 1);
    char *s = eq_rd_str(&rd, 64);
    ck_assert_str_eq(s, "a");
    free(s);
    size_t vl;
    const float *v = eq_rd_bytes(&rd, &vl, 1 << 20);
    ck_assert_uint_eq(vl, 16);
    float x;
    memcpy(&x, v, sizeof x);
    ck_assert(x == 1.0f);
    ck_assert_uint_eq(eq_rd_u8(&rd), 1); /* more */
    ck_assert_int_eq(coll_read(&out, &rd, PROTO_COLL_PAGE, "a", 0, 1, &g), EQ_OK);
    ck_assert_uint_eq(eq_rd_u32(&rd), 1);
    s = eq_rd_str(&rd, 64);
    ck_assert_str_eq(s, "b");
    free(s);
    eq_rd_bytes(&rd, &vl, 1 << 20);
    ck_assert_uint_eq(eq_rd_u8(&rd), 0); /* b was the last */
    ck_assert_int_eq(coll_read(&out, &rd, PROTO_COLL_PAGE, "b", 0, 1, &g), EQ_OK);
    ck_assert_uint_eq(eq_rd_u32(&rd), 0);
    ck_assert_uint_eq(eq_rd_u8(&rd), 0);
    /* Changes after g1: a deleted, so absent. */
    lc_ctx cx = begin();
    ck_assert_int_eq(lc_coll_del(&cx, "notes", "a"), EQ_OK);
    end(&cx);
    ck_assert_int_eq(coll_read(&out, &rd, PROTO_COLL_CHANGES, NULL, g1, 0, &g), EQ_OK);
    ck_assert_uint_gt(g, g1);
    ck_assert_uint_eq(eq_rd_u64(&rd), g); /* reached the current generation */
    ck_assert_uint_eq(eq_rd_u32(&rd), 1);
    s = eq_rd_str(&rd, 64);
    ck_assert_str_eq(s, "a");
    free(s);
    ck_assert_uint_eq(eq_rd_u8(&rd), 0);
    /* From a generation the log does not chain from: load whole. */
    ck_assert_int_eq(coll_read(&out, &rd, PROTO_COLL_CHANGES, NULL, g1 + 1000, 0, &g), EQ_ESTALE);
    /* One document's text and metadata; a missing one. */
    ck_assert_int_eq(coll_read(&out, &rd, PROTO_COLL_DOC, "b", 0, 0, &g), EQ_OK);
    size_t tl, ml;
    const char *t = eq_rd_bytes(&rd, &tl, 1 << 20);
    ck_assert_int_eq(memcmp(t, "rents fell", tl), 0);
    eq_rd_bytes(&rd, &ml, 1 << 20);
    ck_assert_uint_eq(ml, 0);
    ck_assert_int_eq(coll_read(&out, &rd, PROTO_COLL_DOC, "a", 0, 0, &g), EQ_ENOTFOUND);
    /* Several at once: b is there, a is gone. */
    static const char *const two[] = {"b", "a"};
    eq_buf req;
    eq_buf_init(&req);
    proto_enc_coll_docs(&req, "notes", two, 2);
    proto_req r;
    ck_assert_int_eq(proto_decode_req(req.data, req.len, &r), EQ_OK);
    eq_buf_fini(&req);
    eq_buf_reset(&out);
    lc_ctx c2 = begin();
    ck_assert_int_eq(lc_coll_read(&c2, &r, &out), EQ_OK);
    end(&c2);
    proto_req_fini(&r);
    eq_rd_init(&rd, out.data, out.len);
    eq_err status;
    char *msg = NULL;
    ck_assert_int_eq(proto_dec_reply(&rd, &status, &msg), EQ_OK);
    free(msg);
    ck_assert_int_eq(status, EQ_OK);
    char *emb = eq_rd_str(&rd, 256);
    free(emb);
    eq_rd_u32(&rd);
    eq_rd_u64(&rd);
    eq_rd_u64(&rd);
    ck_assert_uint_eq(eq_rd_u8(&rd), 1);
    t = eq_rd_bytes(&rd, &tl, 1 << 20);
    ck_assert_int_eq(memcmp(t, "rents fell", tl), 0);
    eq_rd_bytes(&rd, &ml, 1 << 20);
    ck_assert_uint_eq(eq_rd_u8(&rd), 0);
    ck_assert_ptr_eq(rd.p, rd.end);
    eq_buf_fini(&out);
}
END_TEST

START_TEST(bad_results_fail_the_job_and_write_nothing) {
    char id[EQ_ID_LEN + 1];
    const float nan = __builtin_nanf("");
    char *res = embed_result("econq-hash-v1/384", nan, "b"); /* a NaN in a vector */
    run_embed(res, id);
    free(res);
    ck_assert_int_eq(state_of(id), JOB_FAILED);
    eq_job j;
    get_job(id, &j);
    ck_assert_str_eq(j.error_code, "bad_result");
    eq_job_fini(&j);
    store_coll c;
    ck_assert(!get_coll(&c));
    res = embed_result("econq-hash-v1/384", 1.0f, "zzz"); /* ids that are not the job's */
    run_embed(res, id);
    free(res);
    get_job(id, &j);
    ck_assert_str_eq(j.error_code, "bad_result");
    eq_job_fini(&j);
    run_embed("not json", id);
    ck_assert_int_eq(state_of(id), JOB_FAILED);
    ck_assert(!get_coll(&c));
    /* Another embedder's vectors for an existing collection. */
    res = embed_result("econq-hash-v1/384", 1.0f, "b");
    run_embed(res, id);
    free(res);
    ck_assert_int_eq(state_of(id), JOB_SUCCEEDED);
    res = embed_result("ollama:nomic-embed-text", 1.0f, "b");
    run_embed(res, id);
    free(res);
    get_job(id, &j);
    ck_assert_int_eq(j.state, JOB_FAILED);
    ck_assert_str_eq(j.error_code, "embedder_mismatch");
    eq_job_fini(&j);
    ck_assert(get_coll(&c));
    ck_assert_str_eq(c.embedder, "econq-hash-v1/384");
}
END_TEST

START_TEST(deferred_failure_uses_no_attempt) {
    char id[EQ_ID_LEN + 1];
    leased l;
    ck_assert_int_eq(submit_ex("llm", (sub_opts){.prio = 5, .max_attempts = 1}, id), EQ_OK);
    for (int round = 0; round < 3; round++) {
        ck_assert_int_eq(lease1("llm", "w", &l), 1);
        proto_outcome o = {.id = id, .attempt = l.attempt, .failed = 1, .code = "llm_unavailable",
                           .message = "circuit open", .retryable = 1, .retry_after_ms = 5000};
        const char *why = NULL;
        lc_ctx c = begin();
        ck_assert_int_eq(lc_fail(&c, &o, &why), EQ_OK);
        end(&c);
        eq_job j;
        get_job(id, &j);
        ck_assert_int_eq(j.state, JOB_QUEUED);
        ck_assert_int_eq(j.run_at_ms, now + 5000);
        ck_assert_str_eq(j.error_code, "llm_unavailable");
        eq_job_fini(&j);
        ck_assert_int_eq(lease1("llm", "w", &l), 0); /* not before the wait */
        now += 5000;
    }
    /* Its one real attempt is still there: a plain retryable failure now ends it. */
    ck_assert_int_eq(lease1("llm", "w", &l), 1);
    ck_assert_int_eq(fail_job(id, l.attempt, "llm_unavailable", 1), EQ_OK);
    ck_assert_int_eq(state_of(id), JOB_FAILED);
}
END_TEST

int main(void) {
    Suite *s = suite_create("collections");
    TCase *tc = tcase_create("collections");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, embed_result_becomes_documents);
    tcase_add_test(tc, bad_results_fail_the_job_and_write_nothing);
    tcase_add_test(tc, deferred_failure_uses_no_attempt);
    tcase_add_test(tc, reads_for_workers_without_the_store);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

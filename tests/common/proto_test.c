/* Tests for common/proto.c: every request kind survives encode → decode; anything truncated,
 * padded, mis-versioned or past a limit is refused with EQ_EPROTO. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/id.h"
#include "common/proto.h"

#define ID1 "01JDQ3ZQ7Y0000000000000001"
#define ID2 "01JDQ3ZQ7Y0000000000000002"

/* Decodes must refuse every strict prefix of a valid message and one with a byte appended. */
static void check_prefixes_and_trailing(const eq_buf *b) {
    proto_req r;
    for (size_t cut = 0; cut < b->len; cut++) {
        /* A fresh heap copy of exactly `cut` bytes, so ASan catches any read past the end. */
        unsigned char *copy = malloc(cut ? cut : 1);
        memcpy(copy, b->data, cut);
        eq_err rc = proto_decode_req(copy, cut, &r);
        free(copy);
        ck_assert_msg(rc == EQ_EPROTO, "prefix of %zu/%zu bytes: %s", cut, b->len, eq_strerror(rc));
        ck_assert_ptr_null(r.jobs);
        ck_assert_ptr_null(r.id);
    }
    unsigned char *longer = malloc(b->len + 1);
    memcpy(longer, b->data, b->len);
    longer[b->len] = 0;
    ck_assert_int_eq(proto_decode_req(longer, b->len + 1, &r), EQ_EPROTO);
    free(longer);
    /* The whole message still decodes. */
    ck_assert_int_eq(proto_decode_req(b->data, b->len, &r), EQ_OK);
    proto_req_fini(&r);
}

static void check_wrong_version(const eq_buf *b) {
    proto_req r;
    unsigned char *copy = malloc(b->len);
    memcpy(copy, b->data, b->len);
    copy[0] = PROTO_VERSION + 1;
    ck_assert_int_eq(proto_decode_req(copy, b->len, &r), EQ_EPROTO);
    copy[0] = 0;
    ck_assert_int_eq(proto_decode_req(copy, b->len, &r), EQ_EPROTO);
    free(copy);
}

static void fill_submit(proto_submit_job jobs[3]) {
    memset(jobs, 0, 3 * sizeof jobs[0]);
    jobs[0] = (proto_submit_job){.type = "forecast",
                                 .params = "{\"series\":[1,2,3],\"h\":4}",
                                 .priority = 0,
                                 .max_attempts = 3,
                                 .run_at_ms = INT64_C(1795926190000),
                                 .idem_key = "key-1",
                                 .idem_hash = UINT64_C(0xfedcba9876543210),
                                 .batch_id = ID1,
                                 .schedule = "nightly",
                                 .webhook_url = "https://example.org/hook",
                                 .webhook_secret = "whsec_abc"};
    jobs[1] = (proto_submit_job){
        .type = "embed", .params = "{}", .priority = 9, .max_attempts = 65535, .run_at_ms = -5};
    jobs[2] = (proto_submit_job){.type = "llm",
                                 .params = "{\"q\":\"\\u00e9\"}",
                                 .priority = 5,
                                 .max_attempts = 1,
                                 .idem_key = "",
                                 .idem_hash = 1,
                                 .webhook_url = "http://h/"};
}

static void assert_str_eq_or_null(const char *got, const char *want) {
    if (!want)
        ck_assert_ptr_null(got);
    else
        ck_assert_str_eq(got, want);
}

START_TEST(submit_round_trip) {
    proto_submit_job in[3];
    fill_submit(in);
    eq_buf b;
    eq_buf_init(&b);
    proto_enc_submit(&b, in, 3);
    proto_req r;
    ck_assert_int_eq(proto_decode_req(b.data, b.len, &r), EQ_OK);
    ck_assert_int_eq(r.op, PROTO_SUBMIT);
    ck_assert_uint_eq(r.njobs, 3);
    for (int i = 0; i < 3; i++) {
        const proto_submit_job *g = &r.jobs[i], *w = &in[i];
        ck_assert_str_eq(g->type, w->type);
        ck_assert_str_eq(g->params, w->params);
        ck_assert_uint_eq(g->priority, w->priority);
        ck_assert_uint_eq(g->max_attempts, w->max_attempts);
        ck_assert(g->run_at_ms == w->run_at_ms);
        assert_str_eq_or_null(g->idem_key, w->idem_key);
        ck_assert_uint_eq(g->idem_hash, w->idem_hash);
        assert_str_eq_or_null(g->batch_id, w->batch_id);
        assert_str_eq_or_null(g->schedule, w->schedule);
        assert_str_eq_or_null(g->webhook_url, w->webhook_url);
        assert_str_eq_or_null(g->webhook_secret, w->webhook_secret);
    }
    proto_req_fini(&r);
    check_prefixes_and_trailing(&b);
    check_wrong_version(&b);
    eq_buf_fini(&b);
}
END_TEST

START_TEST(cancel_and_retry_round_trip) {
    uint8_t ops[2] = {PROTO_CANCEL, PROTO_RETRY};
    for (int i = 0; i < 2; i++) {
        eq_buf b;
        eq_buf_init(&b);
        proto_enc_id(&b, ops[i], ID2);
        proto_req r;
        ck_assert_int_eq(proto_decode_req(b.data, b.len, &r), EQ_OK);
        ck_assert_int_eq(r.op, ops[i]);
        ck_assert_str_eq(r.id, ID2);
        proto_req_fini(&r);
        check_prefixes_and_trailing(&b);
        check_wrong_version(&b);
        /* The id is required. */
        eq_buf_reset(&b);
        proto_enc_id(&b, ops[i], NULL);
        ck_assert_int_eq(proto_decode_req(b.data, b.len, &r), EQ_EPROTO);
        eq_buf_fini(&b);
    }
}
END_TEST

START_TEST(lease_round_trip_with_outcomes) {
    const char *types[2] = {"forecast", "chart"};
    proto_outcome outs[2] = {
        {.id = ID1, .attempt = 2, .failed = 0, .result = "{\"ok\":true}"},
        {.id = ID2,
         .attempt = 7,
         .failed = 1,
         .code = "bad_input",
         .message = "no series",
         .retryable = 1,
         .retry_after_ms = 300000},
    };
    eq_buf b;
    eq_buf_init(&b);
    proto_enc_lease(&b, "w-1", types, 2, 16, 25000, "llm_breaker=open", outs, 2);
    proto_req r;
    ck_assert_int_eq(proto_decode_req(b.data, b.len, &r), EQ_OK);
    ck_assert_int_eq(r.op, PROTO_LEASE);
    ck_assert_str_eq(r.lease.worker, "w-1");
    ck_assert_uint_eq(r.lease.ntypes, 2);
    ck_assert_str_eq(r.lease.types[0], "forecast");
    ck_assert_str_eq(r.lease.types[1], "chart");
    ck_assert_uint_eq(r.lease.max, 16);
    ck_assert_uint_eq(r.lease.wait_ms, 25000);
    ck_assert_str_eq(r.lease.status, "llm_breaker=open");
    ck_assert_uint_eq(r.lease.nouts, 2);
    const proto_outcome *o = r.lease.outs;
    ck_assert_str_eq(o[0].id, ID1);
    ck_assert_uint_eq(o[0].attempt, 2);
    ck_assert_uint_eq(o[0].failed, 0);
    ck_assert_str_eq(o[0].result, "{\"ok\":true}");
    ck_assert_ptr_null(o[0].code);
    ck_assert_str_eq(o[1].id, ID2);
    ck_assert_uint_eq(o[1].attempt, 7);
    ck_assert_uint_eq(o[1].failed, 1);
    ck_assert_str_eq(o[1].code, "bad_input");
    ck_assert_str_eq(o[1].message, "no series");
    ck_assert_uint_eq(o[1].retryable, 1);
    ck_assert_uint_eq(o[1].retry_after_ms, 300000);
    ck_assert_uint_eq(o[0].retry_after_ms, 0);
    ck_assert_ptr_null(o[1].result);
    proto_req_fini(&r);
    check_prefixes_and_trailing(&b);
    check_wrong_version(&b);
    eq_buf_fini(&b);
}
END_TEST

START_TEST(lease_without_outcomes) {
    const char *types[1] = {"embed"};
    eq_buf b;
    eq_buf_init(&b);
    proto_enc_lease(&b, "w", types, 1, 1, 0, NULL, NULL, 0);
    proto_req r;
    ck_assert_int_eq(proto_decode_req(b.data, b.len, &r), EQ_OK);
    ck_assert_uint_eq(r.lease.nouts, 0);
    ck_assert_ptr_null(r.lease.outs);
    proto_req_fini(&r);
    check_prefixes_and_trailing(&b);
    /* Asking for nothing and reporting nothing is refused. */
    eq_buf_reset(&b);
    proto_enc_lease(&b, "w", types, 1, 0, 0, NULL, NULL, 0);
    ck_assert_int_eq(proto_decode_req(b.data, b.len, &r), EQ_EPROTO);
    /* Reporting only (max 0) is fine. */
    proto_outcome one = {.id = ID1, .attempt = 1, .result = "1"};
    eq_buf_reset(&b);
    proto_enc_lease(&b, "w", types, 1, 0, 0, NULL, &one, 1);
    ck_assert_int_eq(proto_decode_req(b.data, b.len, &r), EQ_OK);
    ck_assert_uint_eq(r.lease.nouts, 1);
    proto_req_fini(&r);
    eq_buf_fini(&b);
}
END_TEST

START_TEST(heartbeat_round_trip) {
    proto_hb_item items[3] = {
        {.id = ID1, .attempt = 1}, {.id = ID2, .attempt = 65535}, {.id = "x", .attempt = 0}};
    eq_buf b;
    eq_buf_init(&b);
    proto_enc_heartbeat(&b, "local-3", items, 3);
    proto_req r;
    ck_assert_int_eq(proto_decode_req(b.data, b.len, &r), EQ_OK);
    ck_assert_int_eq(r.op, PROTO_HEARTBEAT);
    ck_assert_str_eq(r.worker, "local-3");
    ck_assert_uint_eq(r.nhb, 3);
    for (int i = 0; i < 3; i++) {
        ck_assert_str_eq(r.hb[i].id, items[i].id);
        ck_assert_uint_eq(r.hb[i].attempt, items[i].attempt);
    }
    proto_req_fini(&r);
    check_prefixes_and_trailing(&b);
    check_wrong_version(&b);
    /* An empty heartbeat is a valid keep-alive. */
    eq_buf_reset(&b);
    proto_enc_heartbeat(&b, "w", NULL, 0);
    ck_assert_int_eq(proto_decode_req(b.data, b.len, &r), EQ_OK);
    ck_assert_uint_eq(r.nhb, 0);
    proto_req_fini(&r);
    eq_buf_fini(&b);
}
END_TEST

START_TEST(complete_round_trip) {
    eq_buf b;
    eq_buf_init(&b);
    proto_enc_complete(&b, "w-9", ID1, 3, "{\"forecast\":[1.5,2.5]}");
    proto_req r;
    ck_assert_int_eq(proto_decode_req(b.data, b.len, &r), EQ_OK);
    ck_assert_int_eq(r.op, PROTO_COMPLETE);
    ck_assert_str_eq(r.out.worker, "w-9");
    ck_assert_str_eq(r.out.id, ID1);
    ck_assert_uint_eq(r.out.attempt, 3);
    ck_assert_uint_eq(r.out.failed, 0);
    ck_assert_str_eq(r.out.result, "{\"forecast\":[1.5,2.5]}");
    proto_req_fini(&r);
    check_prefixes_and_trailing(&b);
    check_wrong_version(&b);
    eq_buf_fini(&b);
}
END_TEST

START_TEST(fail_round_trip) {
    for (int retryable = 0; retryable <= 1; retryable++) {
        eq_buf b;
        eq_buf_init(&b);
        proto_enc_fail(&b, "w-2", ID2, 4, "timeout", "model took too long", retryable,
                       retryable ? 60000 : 0);
        proto_req r;
        ck_assert_int_eq(proto_decode_req(b.data, b.len, &r), EQ_OK);
        ck_assert_int_eq(r.op, PROTO_FAIL);
        ck_assert_str_eq(r.out.worker, "w-2");
        ck_assert_str_eq(r.out.id, ID2);
        ck_assert_uint_eq(r.out.attempt, 4);
        ck_assert_uint_eq(r.out.failed, 1);
        ck_assert_str_eq(r.out.code, "timeout");
        ck_assert_str_eq(r.out.message, "model took too long");
        ck_assert_uint_eq(r.out.retryable, retryable);
        ck_assert_uint_eq(r.out.retry_after_ms, retryable ? 60000u : 0u);
        proto_req_fini(&r);
        check_prefixes_and_trailing(&b);
        check_wrong_version(&b);
        eq_buf_fini(&b);
    }
}
END_TEST

START_TEST(complete_and_fail_ops_must_match_their_body) {
    /* A complete op carrying a fail outcome (and the reverse) is refused. */
    eq_buf b;
    eq_buf_init(&b);
    proto_enc_fail(&b, "w", ID1, 1, "c", "m", 0, 0);
    b.data[1] = PROTO_COMPLETE;
    proto_req r;
    ck_assert_int_eq(proto_decode_req(b.data, b.len, &r), EQ_EPROTO);
    eq_buf_reset(&b);
    proto_enc_complete(&b, "w", ID1, 1, "{}");
    b.data[1] = PROTO_FAIL;
    ck_assert_int_eq(proto_decode_req(b.data, b.len, &r), EQ_EPROTO);
    eq_buf_fini(&b);
}
END_TEST

START_TEST(unknown_ops_are_refused) {
    unsigned char msg[2] = {PROTO_VERSION, 0};
    proto_req r;
    int ops[] = {0, PROTO_REPLY, PROTO_OP_MAX, 200, 255};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        msg[1] = (unsigned char)ops[i];
        ck_assert_int_eq(proto_decode_req(msg, sizeof msg, &r), EQ_EPROTO);
    }
    ck_assert_int_eq(proto_decode_req(msg, 0, &r), EQ_EPROTO);
}
END_TEST

/* Writes a submit header announcing n jobs followed by `real` real jobs. */
static void submit_with_count(eq_buf *b, uint32_t n, uint32_t real) {
    proto_submit_job j = {.type = "t", .params = "{}", .priority = 5, .max_attempts = 1};
    eq_buf_u8(b, PROTO_VERSION);
    eq_buf_u8(b, PROTO_SUBMIT);
    eq_buf_u32(b, n);
    for (uint32_t i = 0; i < real; i++) {
        eq_buf tmp;
        eq_buf_init(&tmp);
        proto_enc_submit(&tmp, &j, 1);
        eq_buf_put(b, tmp.data + 6, tmp.len - 6); /* the job without the header and count */
        eq_buf_fini(&tmp);
    }
}

START_TEST(submit_counts_beyond_limits) {
    eq_buf b;
    eq_buf_init(&b);
    proto_req r;
    submit_with_count(&b, 2, 2);
    ck_assert_int_eq(proto_decode_req(b.data, b.len, &r), EQ_OK);
    ck_assert_uint_eq(r.njobs, 2);
    proto_req_fini(&r);
    /* Zero jobs. */
    eq_buf_reset(&b);
    submit_with_count(&b, 0, 0);
    ck_assert_int_eq(proto_decode_req(b.data, b.len, &r), EQ_EPROTO);
    /* One past the limit, with enough bytes behind it that only the count is wrong. */
    eq_buf_reset(&b);
    submit_with_count(&b, PROTO_MAX_JOBS + 1, PROTO_MAX_JOBS + 1);
    ck_assert_int_eq(proto_decode_req(b.data, b.len, &r), EQ_EPROTO);
    /* Exactly the limit is accepted. */
    eq_buf_reset(&b);
    submit_with_count(&b, PROTO_MAX_JOBS, PROTO_MAX_JOBS);
    ck_assert_int_eq(proto_decode_req(b.data, b.len, &r), EQ_OK);
    ck_assert_uint_eq(r.njobs, PROTO_MAX_JOBS);
    proto_req_fini(&r);
    /* A huge count on a tiny message must not allocate for it. */
    eq_buf_reset(&b);
    submit_with_count(&b, 0xffffffffu, 1);
    ck_assert_int_eq(proto_decode_req(b.data, b.len, &r), EQ_EPROTO);
    eq_buf_fini(&b);
}
END_TEST

START_TEST(submit_field_limits) {
    proto_submit_job j = {.type = "t", .params = "{}", .priority = 10, .max_attempts = 1};
    eq_buf b;
    eq_buf_init(&b);
    proto_req r;
    proto_enc_submit(&b, &j, 1);
    ck_assert_int_eq(proto_decode_req(b.data, b.len, &r), EQ_EPROTO); /* priority > 9 */
    j.priority = 9;
    j.max_attempts = 0;
    eq_buf_reset(&b);
    proto_enc_submit(&b, &j, 1);
    ck_assert_int_eq(proto_decode_req(b.data, b.len, &r), EQ_EPROTO); /* no attempts */
    j.max_attempts = 1;
    j.params = NULL;
    eq_buf_reset(&b);
    proto_enc_submit(&b, &j, 1);
    ck_assert_int_eq(proto_decode_req(b.data, b.len, &r), EQ_EPROTO); /* params required */
    j.params = "{}";
    j.type = NULL;
    eq_buf_reset(&b);
    proto_enc_submit(&b, &j, 1);
    ck_assert_int_eq(proto_decode_req(b.data, b.len, &r), EQ_EPROTO); /* type required */
    char longtype[70];
    memset(longtype, 'a', sizeof longtype - 1);
    longtype[sizeof longtype - 1] = '\0';
    j.type = longtype;
    eq_buf_reset(&b);
    proto_enc_submit(&b, &j, 1);
    ck_assert_int_eq(proto_decode_req(b.data, b.len, &r), EQ_EPROTO); /* type too long */
    eq_buf_fini(&b);
}
END_TEST

START_TEST(lease_counts_beyond_limits) {
    const char *types[PROTO_MAX_TYPES + 1];
    for (int i = 0; i <= PROTO_MAX_TYPES; i++)
        types[i] = "t";
    eq_buf b;
    eq_buf_init(&b);
    proto_req r;
    proto_enc_lease(&b, "w", types, PROTO_MAX_TYPES, 1, 0, NULL, NULL, 0);
    ck_assert_int_eq(proto_decode_req(b.data, b.len, &r), EQ_OK);
    ck_assert_uint_eq(r.lease.ntypes, PROTO_MAX_TYPES);
    proto_req_fini(&r);
    eq_buf_reset(&b);
    proto_enc_lease(&b, "w", types, PROTO_MAX_TYPES + 1, 1, 0, NULL, NULL, 0);
    ck_assert_int_eq(proto_decode_req(b.data, b.len, &r), EQ_EPROTO);
    eq_buf_reset(&b);
    proto_enc_lease(&b, "w", types, 0, 1, 0, NULL, NULL, 0);
    ck_assert_int_eq(proto_decode_req(b.data, b.len, &r), EQ_EPROTO);
    eq_buf_reset(&b);
    proto_enc_lease(&b, "w", types, 1, PROTO_MAX_JOBS + 1, 0, NULL, NULL, 0);
    ck_assert_int_eq(proto_decode_req(b.data, b.len, &r), EQ_EPROTO);
    /* An outcome count past the limit, and one past the bytes present. */
    eq_buf_reset(&b);
    proto_enc_lease(&b, "w", types, 1, 1, 0, NULL, NULL, 0);
    b.len -= 4;
    eq_buf_u32(&b, PROTO_MAX_JOBS + 1);
    ck_assert_int_eq(proto_decode_req(b.data, b.len, &r), EQ_EPROTO);
    b.len -= 4;
    eq_buf_u32(&b, 3);
    ck_assert_int_eq(proto_decode_req(b.data, b.len, &r), EQ_EPROTO);
    eq_buf_fini(&b);
}
END_TEST

START_TEST(heartbeat_count_beyond_limit) {
    eq_buf b;
    eq_buf_init(&b);
    proto_req r;
    eq_buf_u8(&b, PROTO_VERSION);
    eq_buf_u8(&b, PROTO_HEARTBEAT);
    eq_buf_str(&b, "w");
    eq_buf_u32(&b, PROTO_MAX_JOBS + 1);
    for (uint32_t i = 0; i <= PROTO_MAX_JOBS; i++) {
        eq_buf_str(&b, "x");
        eq_buf_u16(&b, 1);
    }
    ck_assert_int_eq(proto_decode_req(b.data, b.len, &r), EQ_EPROTO);
    eq_buf_fini(&b);
}
END_TEST

START_TEST(outcome_failed_flag_must_be_0_or_1) {
    eq_buf b;
    eq_buf_init(&b);
    proto_enc_complete(&b, "w", ID1, 1, "{}");
    /* head 2, worker 4+1, id 4+26, attempt 2: the failed byte follows. */
    size_t at = 2 + 5 + 4 + EQ_ID_LEN + 2;
    ck_assert_uint_eq(b.data[at], 0);
    b.data[at] = 2;
    proto_req r;
    ck_assert_int_eq(proto_decode_req(b.data, b.len, &r), EQ_EPROTO);
    eq_buf_fini(&b);
}
END_TEST

START_TEST(reply_header_round_trip) {
    eq_err statuses[] = {EQ_OK, EQ_ENOTFOUND, EQ_ESTALE, EQ_EBUSY};
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
        eq_buf b;
        eq_buf_init(&b);
        proto_enc_reply(&b, statuses[i], i % 2 ? "why it failed" : NULL);
        eq_buf_u32(&b, 77); /* a body */
        eq_rd rd;
        eq_rd_init(&rd, b.data, b.len);
        eq_err st = EQ_EIO;
        char *msg = (char *)"unset";
        ck_assert_int_eq(proto_dec_reply(&rd, &st, &msg), EQ_OK);
        ck_assert_int_eq(st, statuses[i]);
        if (i % 2)
            ck_assert_str_eq(msg, "why it failed");
        else
            ck_assert_ptr_null(msg);
        free(msg);
        /* Left at the body. */
        ck_assert_uint_eq(eq_rd_u32(&rd), 77);
        ck_assert(!rd.bad);
        /* Every truncation of the header is refused and leaves no message. */
        size_t head = b.len - 4;
        for (size_t cut = 0; cut < head; cut++) {
            eq_rd_init(&rd, b.data, cut);
            msg = (char *)"unset";
            ck_assert_int_eq(proto_dec_reply(&rd, &st, &msg), EQ_EPROTO);
            ck_assert_ptr_null(msg);
        }
        eq_buf_fini(&b);
    }
}
END_TEST

START_TEST(reply_bad_header) {
    eq_buf b;
    eq_buf_init(&b);
    proto_enc_reply(&b, EQ_OK, "m");
    eq_rd rd;
    eq_err st;
    char *msg;
    b.data[0] = PROTO_VERSION + 1;
    eq_rd_init(&rd, b.data, b.len);
    ck_assert_int_eq(proto_dec_reply(&rd, &st, &msg), EQ_EPROTO);
    ck_assert_ptr_null(msg);
    b.data[0] = PROTO_VERSION;
    b.data[1] = PROTO_SUBMIT; /* a request op where a reply belongs */
    eq_rd_init(&rd, b.data, b.len);
    ck_assert_int_eq(proto_dec_reply(&rd, &st, &msg), EQ_EPROTO);
    b.data[1] = PROTO_REPLY;
    /* A status outside the eq_err range. */
    b.data[2] = EQ_ERR_MAX;
    eq_rd_init(&rd, b.data, b.len);
    ck_assert_int_eq(proto_dec_reply(&rd, &st, &msg), EQ_EPROTO);
    ck_assert_ptr_null(msg);
    eq_buf_fini(&b);
}
END_TEST

START_TEST(leased_job_round_trip) {
    eq_buf b;
    eq_buf_init(&b);
    eq_buf_str(&b, ID1);
    eq_buf_str(&b, "forecast");
    eq_buf_u16(&b, 3);
    eq_buf_i64(&b, INT64_C(1795926190123));
    eq_buf_str(&b, "{\"h\":2}");
    eq_rd rd;
    eq_rd_init(&rd, b.data, b.len);
    proto_leased_job j;
    ck_assert_int_eq(proto_dec_leased(&rd, &j), EQ_OK);
    ck_assert_str_eq(j.id, ID1);
    ck_assert_str_eq(j.type, "forecast");
    ck_assert_uint_eq(j.attempt, 3);
    ck_assert(j.lease_deadline_ms == INT64_C(1795926190123));
    ck_assert_str_eq(j.params, "{\"h\":2}");
    proto_leased_job_fini(&j);
    for (size_t cut = 0; cut < b.len; cut++) {
        eq_rd_init(&rd, b.data, cut);
        ck_assert_int_eq(proto_dec_leased(&rd, &j), EQ_EPROTO);
        ck_assert_ptr_null(j.id);
        ck_assert_ptr_null(j.params);
    }
    eq_buf_fini(&b);
}
END_TEST

START_TEST(oversized_message_is_refused_before_reading) {
    /* The length check comes first: the buffer is never read, so a tiny one suffices. */
    unsigned char msg[2] = {PROTO_VERSION, PROTO_CANCEL};
    proto_req r;
    ck_assert_int_eq(proto_decode_req(msg, (size_t)PROTO_MAX_MSG_BYTES + 1, &r), EQ_EPROTO);
}
END_TEST

/* Decodes a mutated copy (exact-size heap block); anything but OK or EPROTO fails the test. */
static int decode_mutant(const unsigned char *msg, size_t len) {
    unsigned char *copy = malloc(len ? len : 1);
    memcpy(copy, msg, len);
    proto_req r;
    eq_err rc = proto_decode_req(copy, len, &r);
    free(copy);
    if (rc == EQ_OK)
        proto_req_fini(&r);
    else if (rc != EQ_EPROTO)
        ck_abort_msg("decode returned %s", eq_strerror(rc));
    return rc == EQ_OK;
}

START_TEST(mutated_messages_decode_or_fail_cleanly) {
    /* Every byte of each valid message set to a few values: no crash, no leak (ASan), only OK
     * or EPROTO. */
    proto_submit_job jobs[3];
    fill_submit(jobs);
    const char *types[2] = {"forecast", "chart"};
    proto_outcome outs[2] = {
        {.id = ID1, .attempt = 2, .result = "{}"},
        {.id = ID2, .attempt = 7, .failed = 1, .code = "c", .message = "m", .retryable = 1},
    };
    proto_hb_item items[2] = {{.id = ID1, .attempt = 1}, {.id = ID2, .attempt = 2}};
    eq_buf msgs[6];
    for (int i = 0; i < 6; i++)
        eq_buf_init(&msgs[i]);
    proto_enc_submit(&msgs[0], jobs, 3);
    proto_enc_id(&msgs[1], PROTO_CANCEL, ID1);
    proto_enc_lease(&msgs[2], "w", types, 2, 4, 100, NULL, outs, 2);
    proto_enc_heartbeat(&msgs[3], "w", items, 2);
    proto_enc_complete(&msgs[4], "w", ID1, 1, "{\"a\":1}");
    proto_enc_fail(&msgs[5], "w", ID1, 1, "code", "message", 1, 0);
    int accepted = 0, total = 0;
    for (int m = 0; m < 6; m++) {
        unsigned char *msg = msgs[m].data;
        for (size_t i = 0; i < msgs[m].len; i++) {
            unsigned char orig = msg[i];
            unsigned char vals[5] = {0, 0xff, (unsigned char)(orig ^ 1), (unsigned char)(orig + 1),
                                     0x80};
            for (int v = 0; v < 5; v++) {
                msg[i] = vals[v];
                accepted += decode_mutant(msg, msgs[m].len);
                total++;
            }
            msg[i] = orig;
        }
        eq_buf_fini(&msgs[m]);
    }
    /* Some mutations (a byte inside a string) are still valid messages; most are not. */
    ck_assert_int_gt(accepted, 0);
    ck_assert_int_lt(accepted, total);
}
END_TEST

START_TEST(random_bytes_decode_or_fail_cleanly) {
    uint64_t x = 0x9e3779b97f4a7c15ull;
    unsigned char buf[256];
    for (int iter = 0; iter < 20000; iter++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        size_t len = (size_t)(x % sizeof buf);
        for (size_t i = 0; i < len; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            /* Mostly small bytes, so that counts and lengths are often plausible. */
            buf[i] = (unsigned char)(x % 4 ? x % 8 : x >> 56);
        }
        if (len > 0) buf[0] = PROTO_VERSION;
        if (len > 1) buf[1] = (unsigned char)(1 + iter % (PROTO_OP_MAX - 1));
        decode_mutant(buf, len);
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("proto");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, submit_round_trip);
    tcase_add_test(tc, cancel_and_retry_round_trip);
    tcase_add_test(tc, lease_round_trip_with_outcomes);
    tcase_add_test(tc, lease_without_outcomes);
    tcase_add_test(tc, heartbeat_round_trip);
    tcase_add_test(tc, complete_round_trip);
    tcase_add_test(tc, fail_round_trip);
    tcase_add_test(tc, complete_and_fail_ops_must_match_their_body);
    tcase_add_test(tc, unknown_ops_are_refused);
    tcase_add_test(tc, submit_counts_beyond_limits);
    tcase_add_test(tc, submit_field_limits);
    tcase_add_test(tc, lease_counts_beyond_limits);
    tcase_add_test(tc, heartbeat_count_beyond_limit);
    tcase_add_test(tc, outcome_failed_flag_must_be_0_or_1);
    tcase_add_test(tc, reply_header_round_trip);
    tcase_add_test(tc, reply_bad_header);
    tcase_add_test(tc, leased_job_round_trip);
    tcase_add_test(tc, oversized_message_is_refused_before_reading);
    tcase_add_test(tc, mutated_messages_decode_or_fail_cleanly);
    tcase_add_test(tc, random_bytes_decode_or_fail_cleanly);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* Fuzz target: the reply decoders the api and the workers run on what the broker sends back
 * (proto_dec_reply for the header, proto_dec_leased for each job of a lease reply; see
 * common/proto.h for the layout).
 *
 * A header that decodes must re-encode (proto_enc_reply) to the same bytes; each leased job
 * that decodes must re-encode field by field to the bytes it was read from. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads a lease reply body: u32 n, n jobs, then u32 m and m statuses. */
static void fuzz_reply_lease_body(eq_rd *rd) {
    uint32_t n = eq_rd_u32(rd);
    /* A leased job takes at least 26 bytes (three empty strings, u16, i64): the same bound
     * a reader uses before it allocates per job. */
    if (rd->bad || n > PROTO_MAX_JOBS || (size_t)(rd->end - rd->p) < (size_t)n * 26)
        return;
    for (uint32_t i = 0; i < n; i++) {
        const unsigned char *from = rd->p;
        proto_leased_job j;
        if (proto_dec_leased(rd, &j) != EQ_OK) {
            if (j.id || j.type || j.params)
                abort(); /* a failed decode must leave nothing to free */
            return;
        }
        eq_buf b;
        eq_buf_init(&b);
        eq_buf_str(&b, j.id);
        eq_buf_str(&b, j.type);
        eq_buf_u16(&b, j.attempt);
        eq_buf_i64(&b, j.lease_deadline_ms);
        eq_buf_str(&b, j.params);
        if (b.oom || b.len != (size_t)(rd->p - from) || memcmp(b.data, from, b.len) != 0)
            abort();
        eq_buf_fini(&b);
        proto_leased_job_fini(&j);
    }
    uint32_t m = eq_rd_u32(rd);
    for (uint32_t i = 0; i < m && !rd->bad; i++)
        if (eq_rd_u32(rd) >= EQ_ERR_MAX)
            break;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    eq_rd rd;
    eq_rd_init(&rd, data, size);
    eq_err status = EQ_OK;
    char *message = (char *)1;
    if (proto_dec_reply(&rd, &status, &message) != EQ_OK) {
        if (message)
            abort(); /* the message is NULL after a failure */
        return 0;
    }
    if ((unsigned)status >= EQ_ERR_MAX || eq_strerror(status) == NULL)
        abort();
    eq_buf b;
    eq_buf_init(&b);
    proto_enc_reply(&b, status, message);
    if (b.oom || b.len != (size_t)(rd.p - (const unsigned char *)data) ||
        memcmp(b.data, data, b.len) != 0)
        abort();
    eq_buf_fini(&b);
    free(message);
    fuzz_reply_lease_body(&rd);
    return 0;
}

/* Fuzz target: the decoders of the vector collections' stored records (store/store_coll.h):
 * a collection record, a document (key and value) and a change-log entry. A record read from
 * LMDB may be from an older build or damaged on disk; decoding must never crash, and whatever
 * decodes must lie inside the bytes given and within the store's limits.
 *
 * Input: byte 0 picks the record (0 collection, 1 document, 2 log entry); for a document,
 * byte 1 is the id length L and bytes 2..2+L the id, under the collection name "c"; the rest is
 * the value. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_coll.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct span {
    const uint8_t *lo, *hi;
    size_t ids;
} span;

static void inside(const span *s, const void *p, size_t n) {
    const uint8_t *q = p;
    if (n && (!q || q < s->lo || q > s->hi || n > (size_t)(s->hi - q)))
        abort();
}

static int each_id(void *arg, int op, const char *id, size_t len) {
    span *s = arg;
    if ((op != STORE_COLL_PUT && op != STORE_COLL_DEL) || len == 0 || len > STORE_COLL_DOC_ID_MAX)
        abort();
    inside(s, id, len);
    s->ids++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    const uint8_t *v = data + 1;
    size_t vlen = size - 1;
    if (data[0] % 3 == 0) {
        store_coll c;
        if (store_coll_decode(v, vlen, &c) == EQ_OK &&
            (!memchr(c.embedder, '\0', sizeof c.embedder) || c.dim > STORE_COLL_DIM_MAX))
            abort();
    } else if (data[0] % 3 == 1) {
        if (size < 2)
            return 0;
        size_t idl = data[1] < size - 2 ? data[1] : size - 2;
        unsigned char key[2 + 256];
        key[0] = 'c';
        key[1] = '\0';
        memcpy(key + 2, data + 2, idl);
        v = data + 2 + idl;
        vlen = size - 2 - idl;
        store_coll_doc d;
        if (store_coll_doc_decode(key, 2 + idl, 1, v, vlen, &d) == EQ_OK) {
            span sk = {key, key + 2 + idl, 0}, sv = {v, v + vlen, 0};
            if (d.id_len == 0 || d.dim == 0 || d.dim > STORE_COLL_DIM_MAX ||
                d.text_len > STORE_COLL_TEXT_MAX || d.meta_len > STORE_COLL_META_MAX)
                abort();
            inside(&sk, d.id, d.id_len);
            inside(&sv, d.vec, (size_t)d.dim * 4);
            inside(&sv, d.text, d.text_len);
            inside(&sv, d.meta, d.meta_len);
        }
    } else {
        span s = {v, v + vlen, 0};
        uint64_t prev;
        int op;
        eq_err e = store_coll_log_decode(v, vlen, &prev, &op, each_id, &s);
        if (e == EQ_OK && s.ids > STORE_COLL_LOG_MAX_IDS)
            abort();
    }
    return 0;
}

/* Vector collections in the broker: an embed job's vectors become documents when the job
 * completes, deletes, and the generation that keys cached search and llm results. */
#include <cjson/cJSON.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/lifecycle.h"
#include "store/store_coll.h"

/* Documents removed per store call while a collection is dropped. */
#define COLL_DROP_STEP 1024

/* Generations come from one store-wide counter, so that a collection dropped and made again
 * never repeats a generation that cached results were keyed by. */
static eq_err next_generation(lc_ctx *c, uint64_t *gen) {
    uint64_t g = 0;
    eq_err err = store_meta_get(c->txn, "coll.generation", &g);
    if (err && err != EQ_ENOTFOUND)
        return err;
    *gen = g + 1;
    return store_meta_put(c->txn, "coll.generation", *gen);
}

static eq_err refuse(char *code, size_t code_cap, char *msg, size_t msg_cap, const char *c,
                     const char *fmt, ...) {
    snprintf(code, code_cap, "%s", c);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, msg_cap, fmt, ap);
    va_end(ap);
    return EQ_EINVAL;
}

/* Decodes the base64 vectors of an embed result into n x dim floats (caller frees). */
static float *decode_vectors(const char *b64, size_t n, uint32_t dim) {
    size_t len = strlen(b64), want = n * dim * sizeof(float);
    if (len % 4 || len / 4 * 3 < want || len / 4 * 3 > want + 2)
        return NULL;
    unsigned char *raw = malloc(len / 4 * 3 + 1);
    if (!raw)
        return NULL;
    int got = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)len);
    /* EVP_DecodeBlock counts the padding as data bytes. */
    if (got < 0 || (size_t)got < want) {
        free(raw);
        return NULL;
    }
    /* Every vector finite and not all zeros, or no index could take it. */
    const float *v = (const float *)(void *)raw;
    for (size_t i = 0; i < n; i++) {
        double norm = 0;
        for (uint32_t k = 0; k < dim; k++) {
            float x = v[i * dim + k];
            if (!isfinite(x)) {
                free(raw);
                return NULL;
            }
            norm += (double)x * x;
        }
        if (norm == 0) {
            free(raw);
            return NULL;
        }
    }
    return (float *)(void *)raw;
}

/* The change log entry of an embed job: the ids of its documents. */
static eq_err log_ids(lc_ctx *c, const char *coll, uint64_t gen, uint64_t prev,
                      const cJSON *docs) {
    int n = cJSON_GetArraySize(docs), i = 0;
    const char **ids = calloc((size_t)n, sizeof *ids);
    if (!ids)
        return EQ_ENOMEM;
    const cJSON *d;
    cJSON_ArrayForEach(d, docs) {
        ids[i++] = cJSON_GetObjectItemCaseSensitive(d, "id")->valuestring;
    }
    eq_err err = store_coll_log_add(c->txn, coll, gen, prev, STORE_COLL_PUT, ids, (size_t)n);
    free(ids);
    return err;
}

eq_err lc_embed_apply(lc_ctx *c, const eq_job *j, const char *result, char **slim, char *code,
                      size_t code_cap, char *msg, size_t msg_cap) {
    *slim = NULL;
    cJSON *res = cJSON_Parse(result), *params = cJSON_Parse(j->params), *out = NULL;
    float *vecs = NULL;
    eq_err err = EQ_OK;
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(res, "collection");
    const cJSON *emb = cJSON_GetObjectItemCaseSensitive(res, "embedder");
    const cJSON *dimv = cJSON_GetObjectItemCaseSensitive(res, "dim");
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(res, "ids");
    const cJSON *b64 = cJSON_GetObjectItemCaseSensitive(res, "vectors");
    const cJSON *docs = cJSON_GetObjectItemCaseSensitive(params, "documents");
    const cJSON *pname = cJSON_GetObjectItemCaseSensitive(params, "collection");
    int n = cJSON_GetArraySize(docs);
    uint32_t dim = cJSON_IsNumber(dimv) && dimv->valuedouble >= 1 &&
                           dimv->valuedouble <= STORE_COLL_DIM_MAX
                       ? (uint32_t)dimv->valuedouble
                       : 0;
    if (!cJSON_IsString(name) || !cJSON_IsString(emb) || !dim || !cJSON_IsString(b64) ||
        !cJSON_IsString(pname) || strcmp(name->valuestring, pname->valuestring) != 0 || n <= 0 ||
        cJSON_GetArraySize(ids) != n || strlen(emb->valuestring) > STORE_COLL_EMBEDDER_MAX ||
        !(vecs = decode_vectors(b64->valuestring, (size_t)n, dim))) {
        err = refuse(code, code_cap, msg, msg_cap, "bad_result",
                     "the worker's embed result does not match the job");
        goto out;
    }
    store_coll coll;
    int exists = 0;
    err = store_coll_get(c->txn, pname->valuestring, &coll);
    if (err == EQ_OK)
        exists = 1;
    else if (err != EQ_ENOTFOUND)
        goto out;
    if (exists && (strcmp(coll.embedder, emb->valuestring) != 0 || coll.dim != dim)) {
        err = refuse(code, code_cap, msg, msg_cap, "embedder_mismatch",
                     "collection %s holds %u-dimension vectors of %s; these are %u of %s",
                     pname->valuestring, coll.dim, coll.embedder, dim, emb->valuestring);
        goto out;
    }
    if (!exists) {
        memset(&coll, 0, sizeof coll);
        snprintf(coll.embedder, sizeof coll.embedder, "%s", emb->valuestring);
        coll.dim = dim;
        coll.created_ms = c->now;
    }
    uint64_t added = 0, replaced = 0;
    int i = 0;
    const cJSON *d;
    cJSON_ArrayForEach(d, docs) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(d, "id");
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(d, "text");
        const cJSON *rid = cJSON_GetArrayItem(ids, i);
        if (!cJSON_IsString(id) || !cJSON_IsString(text) || !cJSON_IsString(rid) ||
            strcmp(id->valuestring, rid->valuestring) != 0) {
            err = refuse(code, code_cap, msg, msg_cap, "bad_result",
                         "the worker's embed result does not match the job");
            goto out;
        }
        const cJSON *meta = cJSON_GetObjectItemCaseSensitive(d, "metadata");
        char *mtext = cJSON_IsObject(meta) ? cJSON_PrintUnformatted(meta) : NULL;
        store_coll_doc sd = {.id = id->valuestring,
                             .id_len = strlen(id->valuestring),
                             .vec = (const unsigned char *)(vecs + (size_t)i * dim),
                             .dim = dim,
                             .text = text->valuestring,
                             .text_len = strlen(text->valuestring),
                             .meta = mtext,
                             .meta_len = mtext ? strlen(mtext) : 0};
        int was = 0;
        err = store_coll_doc_put(c->txn, pname->valuestring, &sd, &was);
        free(mtext);
        if (err == EQ_EINVAL) {
            err = refuse(code, code_cap, msg, msg_cap, "document_too_large",
                         "document %d (%.64s) is past the store's limits", i, id->valuestring);
            goto out;
        }
        if (err)
            goto out;
        was ? replaced++ : added++;
        i++;
    }
    coll.count += added;
    coll.updated_ms = c->now;
    uint64_t prev = coll.generation;
    if ((err = next_generation(c, &coll.generation)) ||
        (err = log_ids(c, pname->valuestring, coll.generation, prev, docs)) ||
        (err = store_coll_put(c->txn, pname->valuestring, &coll)))
        goto out;
    out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "collection", pname->valuestring);
    cJSON_AddStringToObject(out, "embedder", coll.embedder);
    cJSON_AddNumberToObject(out, "dim", dim);
    cJSON_AddNumberToObject(out, "added", (double)added);
    cJSON_AddNumberToObject(out, "replaced", (double)replaced);
    cJSON_AddNumberToObject(out, "count", (double)coll.count);
    cJSON_AddNumberToObject(out, "generation", (double)coll.generation);
    cJSON_AddItemReferenceToObject(out, "ids", (cJSON *)ids);
    *slim = cJSON_PrintUnformatted(out);
    if (!*slim)
        err = EQ_ENOMEM;
out:
    cJSON_Delete(out);
    cJSON_Delete(res);
    cJSON_Delete(params);
    free(vecs);
    return err;
}

uint64_t lc_coll_generation(lc_ctx *c, const char *type, const char *params,
                            const char *result) {
    if (strcmp(type, "search") != 0 && strcmp(type, "llm") != 0)
        return 0;
    if (result) { /* the generation the worker read */
        cJSON *r = cJSON_Parse(result);
        const cJSON *g = cJSON_GetObjectItemCaseSensitive(r, "generation");
        uint64_t gen = cJSON_IsNumber(g) ? (uint64_t)g->valuedouble : 0;
        cJSON_Delete(r);
        return gen;
    }
    cJSON *p = cJSON_Parse(params);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(p, "collection");
    store_coll coll;
    uint64_t gen = cJSON_IsString(name) && store_coll_get(c->txn, name->valuestring, &coll) == EQ_OK
                       ? coll.generation
                       : 0;
    cJSON_Delete(p);
    return gen;
}

eq_err lc_coll_del(lc_ctx *c, const char *name, const char *doc_id) {
    store_coll coll;
    eq_err err = store_coll_get(c->txn, name, &coll);
    if (err)
        return err;
    if (!doc_id || !*doc_id) {
        size_t n;
        do {
            if ((err = store_coll_drop(c->txn, name, COLL_DROP_STEP, &n)))
                return err;
        } while (n == COLL_DROP_STEP);
        return store_coll_log_drop(c->txn, name);
    }
    if ((err = store_coll_doc_del(c->txn, name, doc_id)))
        return err;
    coll.count = coll.count ? coll.count - 1 : 0;
    coll.updated_ms = c->now;
    uint64_t prev = coll.generation;
    if ((err = next_generation(c, &coll.generation)) ||
        (err = store_coll_log_add(c->txn, name, coll.generation, prev, STORE_COLL_DEL, &doc_id, 1)))
        return err;
    return store_coll_put(c->txn, name, &coll);
}

/* ---- Reads for workers without the store (PROTO_COLL_READ) ---- */

static void put_coll(eq_buf *out, const store_coll *c) {
    eq_buf_str(out, c->embedder);
    eq_buf_u32(out, c->dim);
    eq_buf_u64(out, c->count);
    eq_buf_u64(out, c->generation);
}

typedef struct page_ctx {
    eq_buf *out;
    uint32_t n, max;
    size_t bytes;
    int more;
} page_ctx;

static int page_one(void *arg, const store_coll_doc *d) {
    page_ctx *p = arg;
    size_t vb = (size_t)d->dim * 4;
    if (p->n == p->max || (p->n && p->bytes + vb > PROTO_COLL_PAGE_BYTES)) {
        p->more = 1;
        return 1;
    }
    char id[STORE_COLL_DOC_ID_MAX + 1];
    memcpy(id, d->id, d->id_len);
    id[d->id_len] = '\0';
    eq_buf_str(p->out, id);
    eq_buf_bytes(p->out, d->vec, vb);
    p->bytes += vb + d->id_len;
    p->n++;
    return 0;
}

typedef struct changes_ctx {
    lc_ctx *c;
    const char *name;
    eq_buf *out;
    uint32_t n;
    size_t bytes;
    int over;
} changes_ctx;

static int change_one(void *arg, int op, const char *idp, size_t len) {
    changes_ctx *x = arg;
    (void)op; /* the document's state now is what counts */
    char id[STORE_COLL_DOC_ID_MAX + 1];
    memcpy(id, idp, len);
    id[len] = '\0';
    store_coll_doc d;
    int present = store_coll_doc_get(x->c->txn, x->name, id, &d) == EQ_OK;
    size_t vb = present ? (size_t)d.dim * 4 : 0;
    if (x->n == PROTO_COLL_PAGE_MAX || x->bytes + vb > PROTO_COLL_PAGE_BYTES) {
        x->over = 1; /* too many for one reply: the worker loads whole */
        return 1;
    }
    eq_buf_str(x->out, id);
    eq_buf_u8(x->out, (uint8_t)present);
    if (present)
        eq_buf_bytes(x->out, d.vec, vb);
    x->bytes += vb + len;
    x->n++;
    return 0;
}

eq_err lc_coll_read(lc_ctx *c, const proto_req *r, eq_buf *out) {
    store_coll coll;
    eq_err err = store_coll_get(c->txn, r->id, &coll);
    if (err == EQ_ENOTFOUND || err == EQ_EINVAL) {
        proto_enc_reply(out, EQ_ENOTFOUND, "no such collection");
        return EQ_OK;
    }
    if (err)
        return err;
    eq_buf body;
    eq_buf_init(&body);
    eq_err status = EQ_OK;
    put_coll(&body, &coll);
    if (r->coll_what == PROTO_COLL_PAGE) {
        size_t at = body.len;
        eq_buf_u32(&body, 0);
        page_ctx p = {.out = &body, .max = r->coll_max ? r->coll_max : PROTO_COLL_PAGE_MAX};
        err = store_coll_docs_each(c->txn, r->id, r->doc_id && *r->doc_id ? r->doc_id : NULL,
                                   page_one, &p);
        for (int k = 0; k < 4; k++)
            body.data[at + k] = (unsigned char)(p.n >> (8 * k));
        eq_buf_u8(&body, (uint8_t)p.more);
    } else if (r->coll_what == PROTO_COLL_CHANGES) {
        size_t at = body.len;
        eq_buf_u64(&body, 0);
        eq_buf_u32(&body, 0);
        changes_ctx x = {.c = c, .name = r->id, .out = &body};
        uint64_t last = r->coll_from;
        err = store_coll_log_since(c->txn, r->id, r->coll_from, change_one, &x, &last);
        if (err == EQ_ECLOSED || err == EQ_ESTALE || (!err && last != coll.generation) || x.over) {
            err = EQ_OK;
            status = EQ_ESTALE;
        }
        for (int k = 0; k < 8; k++)
            body.data[at + k] = (unsigned char)(last >> (8 * k));
        for (int k = 0; k < 4; k++)
            body.data[at + 8 + k] = (unsigned char)(x.n >> (8 * k));
    } else if (r->coll_what == PROTO_COLL_DOCS) {
        for (uint32_t i = 0; !err && i < r->coll_max; i++) {
            store_coll_doc d;
            eq_err e = store_coll_doc_get(c->txn, r->id, r->coll_ids[i] ? r->coll_ids[i] : "", &d);
            if (e && e != EQ_ENOTFOUND && e != EQ_EINVAL) {
                err = e;
                break;
            }
            eq_buf_u8(&body, e == EQ_OK);
            if (e == EQ_OK) {
                eq_buf_bytes(&body, d.text ? d.text : "", d.text_len);
                eq_buf_bytes(&body, d.meta ? d.meta : "", d.meta_len);
            }
        }
    } else if (r->coll_what == PROTO_COLL_DOC) {
        store_coll_doc d;
        err = store_coll_doc_get(c->txn, r->id, r->doc_id ? r->doc_id : "", &d);
        if (err == EQ_ENOTFOUND || err == EQ_EINVAL) {
            err = EQ_OK;
            status = EQ_ENOTFOUND;
        } else if (!err) {
            eq_buf_bytes(&body, d.text ? d.text : "", d.text_len);
            eq_buf_bytes(&body, d.meta ? d.meta : "", d.meta_len);
        }
    }
    if (!err && body.oom)
        err = EQ_ENOMEM;
    if (!err) {
        proto_enc_reply(out, status, NULL);
        if (status == EQ_OK)
            eq_buf_put(out, body.data, body.len);
    }
    eq_buf_fini(&body);
    return err;
}

/* The embed kind: `embed` jobs (documents to vectors) and `search` jobs (top-k over a
 * collection).
 *
 * An embed job's result carries the vectors to the broker, which writes the documents (text and
 * metadata from the job's params, vectors from here) into the collection when it records the
 * completion, and keeps a short result for the client:
 *   {"collection", "embedder", "dim", "ids": [...], "vectors": "<base64 of n x dim float32 LE>"}
 * So the worker needs no store: embed jobs run on any machine. */
#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workers/backends.h"
#include "workers/collsearch.h"
#include "workers/embed_kind.h"
#include "workers/embed/embedder.h"
#include "workers/embed/vindex.h"
#include "workers/source.h"

static eq_err bad(worker_error *err, const char *code, const char *msg) {
    snprintf(err->code, sizeof err->code, "%s", code);
    snprintf(err->message, sizeof err->message, "%s", msg);
    err->retryable = 0;
    return EQ_EINVAL;
}

/* The search job's default k (schemas/params/search.json). */
#define SEARCH_DEFAULT_K 5

static eq_err search_run(const cJSON *params, char **result, worker_error *err) {
    const cJSON *coll = cJSON_GetObjectItemCaseSensitive(params, "collection");
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(params, "query");
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(params, "k");
    if (!cJSON_IsString(coll) || !cJSON_IsString(q))
        return bad(err, "bad_params", "search needs a collection and a query");
    size_t kk = cJSON_IsNumber(k) && k->valuedouble >= 1 ? (size_t)k->valuedouble
                                                        : SEARCH_DEFAULT_K;
    cJSON *res;
    eq_err rc = collsearch_query(coll->valuestring, q->valuestring, kk, &res, err);
    if (rc != EQ_OK)
        return rc;
    cJSON_AddStringToObject(res, "query", q->valuestring);
    *result = cJSON_PrintUnformatted(res);
    cJSON_Delete(res);
    return *result ? EQ_OK : EQ_ENOMEM;
}

static char *base64(const float *v, size_t nfloats) {
    size_t bytes = nfloats * sizeof *v;
    char *out = malloc(4 * ((bytes + 2) / 3) + 1);
    if (out)
        EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)v, (int)bytes);
    return out;
}

static eq_err embed_run(const cJSON *params, worker_ctx *ctx, char **result, worker_error *err) {
    const cJSON *coll = cJSON_GetObjectItemCaseSensitive(params, "collection");
    const cJSON *docs = cJSON_GetObjectItemCaseSensitive(params, "documents");
    int n = cJSON_GetArraySize(docs);
    if (!cJSON_IsString(coll) || !cJSON_IsArray(docs) || n <= 0)
        return bad(err, "bad_params", "embed needs a collection and documents");
    const embed_backend *be = collsearch_backend();
    /* Refuse early when the collection was made by another embedder (the broker checks again
     * when it writes, so a worker without a source is still safe). */
    const worker_source *src = worker_source_get();
    worker_coll_info info;
    if (src && src->coll_info(src->ctx, coll->valuestring, &info) == EQ_OK &&
        strcmp(info.embedder, be->name) != 0) {
        snprintf(err->code, sizeof err->code, "embedder_mismatch");
        snprintf(err->message, sizeof err->message,
                 "collection %s was embedded with %s; this worker embeds with %s",
                 coll->valuestring, info.embedder, be->name);
        return EQ_EINVAL;
    }
    const char **texts = calloc((size_t)n, sizeof *texts);
    if (!texts)
        return EQ_ENOMEM;
    int i = 0;
    const cJSON *d;
    cJSON_ArrayForEach(d, docs) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(d, "text");
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(d, "id");
        if (!cJSON_IsString(t) || !cJSON_IsString(id)) {
            free(texts);
            return bad(err, "bad_params", "every document needs an id and a text");
        }
        texts[i++] = t->valuestring;
    }
    float *vecs = NULL;
    uint32_t dim = 0;
    llm_failure lf;
    memset(&lf, 0, sizeof lf);
    eq_err rc = worker_ctx_cancelled(ctx)
                    ? EQ_ECLOSED
                    : backend_embed(be, texts, (size_t)n, &vecs, &dim, &lf, err);
    free(texts);
    if (rc != EQ_OK) {
        if (rc == EQ_ECLOSED || rc == EQ_EBUSY) /* EQ_EBUSY: the breaker is open, err says so */
            return rc;
        int remote_down = be->remote && lf.code == LLM_UNAVAILABLE;
        snprintf(err->code, sizeof err->code, "%s",
                 !be->remote && rc == EQ_EINVAL ? "empty_text"
                 : lf.code                      ? llm_code_name(lf.code)
                                                : "embed_failed");
        snprintf(err->message, sizeof err->message, "%s",
                 lf.message[0] ? lf.message : eq_strerror(rc));
        err->retryable = remote_down || rc == EQ_ENOMEM || lf.code == LLM_BAD_RESPONSE;
        return rc;
    }
    char *b64 = base64(vecs, (size_t)n * dim);
    free(vecs);
    cJSON *res = cJSON_CreateObject(), *ids = NULL;
    cJSON_AddStringToObject(res, "collection", coll->valuestring);
    cJSON_AddStringToObject(res, "embedder", be->name);
    cJSON_AddNumberToObject(res, "dim", dim);
    ids = cJSON_AddArrayToObject(res, "ids");
    cJSON_ArrayForEach(d, docs) {
        cJSON_AddItemToArray(ids, cJSON_CreateString(
                                      cJSON_GetObjectItemCaseSensitive(d, "id")->valuestring));
    }
    if (b64)
        cJSON_AddStringToObject(res, "vectors", b64);
    free(b64);
    *result = b64 ? cJSON_PrintUnformatted(res) : NULL;
    cJSON_Delete(res);
    return *result ? EQ_OK : EQ_ENOMEM;
}

uint32_t worker_embed_pause_ms(void) {
    const embed_backend *be = collsearch_backend();
    return be->remote ? backend_pause_ms(be->llm.base_url) : 0;
}

eq_err worker_embed_run(const worker_job *job, worker_ctx *ctx, char **result,
                        worker_error *err) {
    cJSON *params = cJSON_Parse(job->params);
    if (!params)
        return bad(err, "bad_params", "params are not valid JSON");
    eq_err rc = strcmp(job->type, "search") == 0 ? search_run(params, result, err)
                                                 : embed_run(params, ctx, result, err);
    cJSON_Delete(params);
    return rc;
}

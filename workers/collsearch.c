/* Collection search with cached in-memory indexes; see collsearch.h. */
#include "workers/collsearch.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/metrics.h"
#include "workers/embed/embedder.h"
#include "workers/embed/vindex.h"
#include "workers/source.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "stored vectors are little-endian float32; add a byte swap for this machine"
#endif

typedef struct cs_entry {
    char name[65];
    char embedder[201];
    uint64_t generation;
    uint64_t used; /* LRU tick */
    vindex *vi;
} cs_entry;

static pthread_rwlock_t cs_lock = PTHREAD_RWLOCK_INITIALIZER;
static cs_entry cs_cache[COLLSEARCH_MAX_CACHED];
static uint64_t cs_tick;
static pthread_mutex_t cs_tick_mu = PTHREAD_MUTEX_INITIALIZER;

static pthread_once_t be_once = PTHREAD_ONCE_INIT;
static embed_backend be;
static eq_err be_err;

static void be_init(void) {
    be_err = embed_backend_from_env(&be);
    if (be_err != EQ_OK)
        embed_backend_builtin(&be);
}

const embed_backend *collsearch_backend(void) {
    pthread_once(&be_once, be_init);
    return &be;
}

static eq_err fail(worker_error *err, eq_err rc, int retryable, const char *code,
                   const char *fmt, ...) {
    snprintf(err->code, sizeof err->code, "%s", code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    err->retryable = retryable;
    return rc;
}

/* Counts an index load: "whole" or "changes" (caught up from the change log). */
static void count_load(const char *how) {
    metrics_counter_add(metrics_counter("econq_search_index_loads_total",
                                        "Collection indexes loaded by search workers: whole, or "
                                        "by catching up on the collection's changes.",
                                        "how"),
                        (const char *const[]){how}, 1);
}

static cs_entry *find(const char *name) {
    for (size_t i = 0; i < COLLSEARCH_MAX_CACHED; i++)
        if (cs_cache[i].vi && strcmp(cs_cache[i].name, name) == 0)
            return &cs_cache[i];
    return NULL;
}

static void touch(cs_entry *e) {
    pthread_mutex_lock(&cs_tick_mu);
    e->used = ++cs_tick;
    pthread_mutex_unlock(&cs_tick_mu);
}

typedef struct load_arg {
    vindex *vi;
    eq_err err;
    float vec[VINDEX_MAX_DIM];
} load_arg;

static int load_doc(void *arg, const char *id, const unsigned char *raw, uint32_t dim) {
    load_arg *la = arg;
    if (dim != vindex_dim(la->vi)) {
        la->err = EQ_ESTORE;
        return 1;
    }
    memcpy(la->vec, raw, (size_t)dim * sizeof(float));
    la->err = vindex_put(la->vi, id, la->vec, NULL);
    return la->err != EQ_OK;
}

/* Loads `name` into a cache slot; the caller holds the write lock. */
static eq_err load(const worker_source *src, const char *name, cs_entry **out,
                   worker_error *err) {
    worker_coll_info info;
    eq_err rc = src->coll_info(src->ctx, name, &info);
    if (rc == EQ_ENOTFOUND)
        return fail(err, rc, 0, "unknown_collection", "no collection is named \"%s\"", name);
    if (rc != EQ_OK)
        return fail(err, rc, 1, "store_unavailable", "the collection cannot be read: %s",
                    eq_strerror(rc));
    vindex *vi = NULL;
    load_arg *la = malloc(sizeof *la);
    if (!la || vindex_new(info.dim, &vi) != EQ_OK || vindex_reserve(vi, info.count) != EQ_OK) {
        free(la);
        vindex_free(vi);
        return fail(err, EQ_ENOMEM, 1, "out_of_memory", "no memory for the collection's index");
    }
    la->vi = vi;
    la->err = EQ_OK;
    rc = src->coll_load(src->ctx, name, &info, load_doc, la);
    if (rc == EQ_OK && la->err != EQ_OK)
        rc = la->err;
    free(la);
    if (rc != EQ_OK) {
        vindex_free(vi);
        if (rc == EQ_ENOTFOUND)
            return fail(err, rc, 0, "unknown_collection", "no collection is named \"%s\"", name);
        return fail(err, rc, 1, "store_unavailable", "the collection cannot be loaded: %s",
                    eq_strerror(rc));
    }
    cs_entry *e = find(name);
    if (!e) { /* a free slot, else the least recently used */
        e = &cs_cache[0];
        for (size_t i = 0; i < COLLSEARCH_MAX_CACHED; i++) {
            if (!cs_cache[i].vi) {
                e = &cs_cache[i];
                break;
            }
            if (cs_cache[i].used < e->used)
                e = &cs_cache[i];
        }
    }
    vindex_free(e->vi);
    memset(e, 0, sizeof *e);
    snprintf(e->name, sizeof e->name, "%s", name);
    snprintf(e->embedder, sizeof e->embedder, "%s", info.embedder);
    e->generation = info.generation;
    e->vi = vi;
    touch(e);
    *out = e;
    count_load("whole");
    return EQ_OK;
}

static int apply_change(void *arg, const char *id, const unsigned char *raw, uint32_t dim) {
    load_arg *la = arg;
    if (!raw) {
        eq_err e = vindex_del(la->vi, id);
        la->err = e == EQ_ENOTFOUND ? EQ_OK : e;
    } else if (dim != vindex_dim(la->vi)) {
        la->err = EQ_ESTALE;
    } else {
        memcpy(la->vec, raw, (size_t)dim * sizeof(float));
        la->err = vindex_put(la->vi, id, la->vec, NULL);
    }
    return la->err != EQ_OK;
}

/* Brings a cached index up to date from the collection's change log; the caller holds the
 * write lock. Any failure leaves the entry for a whole load (its generation is reset). */
static eq_err catch_up(const worker_source *src, cs_entry *e) {
    if (!src->coll_changes)
        return EQ_ESTALE;
    load_arg *la = malloc(sizeof *la);
    if (!la)
        return EQ_ENOMEM;
    la->vi = e->vi;
    la->err = EQ_OK;
    worker_coll_info info;
    eq_err rc = src->coll_changes(src->ctx, e->name, e->generation, &info, apply_change, la);
    if (rc == EQ_OK && la->err != EQ_OK)
        rc = la->err;
    if (rc == EQ_OK && strcmp(info.embedder, e->embedder) != 0)
        rc = EQ_ESTALE;
    free(la);
    if (rc == EQ_OK) {
        e->generation = info.generation;
        count_load("changes");
    } else
        e->generation = 0; /* partly applied: only a whole load will do */
    return rc;
}

static eq_err embed_query(const char *embedder, const char *query, float **vec, uint32_t *dim,
                          worker_error *err) {
    const embed_backend *b = collsearch_backend();
    if (strcmp(embedder, b->name) != 0)
        return fail(err, EQ_EINVAL, 0, "embedder_mismatch",
                    "the collection was embedded with %s; this worker embeds with %s", embedder,
                    b->name);
    llm_failure lf;
    memset(&lf, 0, sizeof lf);
    const char *texts[1] = {query};
    eq_err rc = embed_backend_run(b, texts, 1, vec, dim, &lf);
    if (rc == EQ_OK)
        return EQ_OK;
    if (rc == EQ_EINVAL && !b->remote)
        return fail(err, rc, 0, "empty_query", "the query has no words to search for");
    return fail(err, rc, lf.code == LLM_UNAVAILABLE, lf.code ? llm_code_name(lf.code) : "embed_failed",
                "embedding the query failed: %s", lf.message[0] ? lf.message : eq_strerror(rc));
}

typedef struct hit_copy {
    char *id;
    float score;
} hit_copy;

static void add_hit(const worker_source *src, const char *coll, const hit_copy *h, cJSON *hits) {
    char *text = NULL, *meta = NULL;
    if (src->coll_doc(src->ctx, coll, h->id, &text, &meta) != EQ_OK)
        return; /* deleted since the index was read */
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", h->id);
    cJSON_AddNumberToObject(o, "score", round((double)h->score * 1e6) / 1e6);
    cJSON_AddStringToObject(o, "text", text);
    cJSON *m = meta && *meta ? cJSON_Parse(meta) : NULL;
    cJSON_AddItemToObject(o, "metadata", m ? m : cJSON_CreateObject());
    cJSON_AddItemToArray(hits, o);
    free(text);
    free(meta);
}

eq_err collsearch_query(const char *coll, const char *query, size_t k, cJSON **result,
                        worker_error *err) {
    const worker_source *src = worker_source_get();
    *result = NULL;
    if (!src)
        return fail(err, EQ_EUNSUPPORTED, 0, "no_source",
                    "this worker cannot read collections (run it with --data-dir on the "
                    "broker's host)");
    if (k == 0 || k > VINDEX_MAX_K)
        return fail(err, EQ_EINVAL, 0, "invalid_k", "k must be 1 to %u", VINDEX_MAX_K);
    worker_coll_info info;
    eq_err rc = src->coll_info(src->ctx, coll, &info);
    if (rc == EQ_ENOTFOUND)
        return fail(err, rc, 0, "unknown_collection", "no collection is named \"%s\"", coll);
    if (rc != EQ_OK)
        return fail(err, rc, 1, "store_unavailable", "the collection cannot be read");
    float *qvec = NULL;
    uint32_t qdim = 0;
    if ((rc = embed_query(info.embedder, query, &qvec, &qdim, err)) != EQ_OK)
        return rc;

    /* Find a current index under the read lock; (re)load under the write lock. */
    pthread_rwlock_rdlock(&cs_lock);
    cs_entry *e = find(coll);
    if (!e || e->generation != info.generation) {
        pthread_rwlock_unlock(&cs_lock);
        pthread_rwlock_wrlock(&cs_lock);
        e = find(coll);
        /* A known index catches up on the changes; an unknown or stale one loads whole. */
        if (e && e->generation && e->generation < info.generation && catch_up(src, e) == EQ_OK)
            rc = EQ_OK;
        else if (!e || e->generation < info.generation)
            rc = load(src, coll, &e, err);
        pthread_rwlock_unlock(&cs_lock);
        if (rc != EQ_OK) {
            free(qvec);
            return rc;
        }
        pthread_rwlock_rdlock(&cs_lock);
        e = find(coll); /* another thread may have evicted it meanwhile: rare, say so */
        if (!e) {
            pthread_rwlock_unlock(&cs_lock);
            free(qvec);
            return fail(err, EQ_EBUSY, 1, "index_evicted", "the collection's index was evicted");
        }
    }
    touch(e);
    if (qdim != vindex_dim(e->vi)) {
        uint32_t have = vindex_dim(e->vi);
        pthread_rwlock_unlock(&cs_lock);
        free(qvec);
        return fail(err, EQ_EINVAL, 0, "embedder_mismatch",
                    "the query has %u dimensions and the collection %u", qdim, have);
    }
    vindex_hit hits[VINDEX_MAX_K < 100 ? VINDEX_MAX_K : 100];
    size_t n = 0;
    if (k > sizeof hits / sizeof hits[0])
        k = sizeof hits / sizeof hits[0];
    rc = vindex_count(e->vi) ? vindex_search(e->vi, qvec, k, hits, &n) : EQ_OK;
    hit_copy copies[sizeof hits / sizeof hits[0]];
    for (size_t i = 0; rc == EQ_OK && i < n; i++)
        copies[i] = (hit_copy){.id = strdup(hits[i].id), .score = hits[i].score};
    uint64_t generation = e->generation, count = vindex_count(e->vi);
    char embedder[sizeof e->embedder];
    snprintf(embedder, sizeof embedder, "%s", e->embedder);
    pthread_rwlock_unlock(&cs_lock);
    free(qvec);
    if (rc != EQ_OK)
        return fail(err, rc, 0, "search_failed", "%s", eq_strerror(rc));

    cJSON *res = cJSON_CreateObject();
    cJSON_AddStringToObject(res, "collection", coll);
    cJSON_AddNumberToObject(res, "generation", (double)generation);
    cJSON_AddStringToObject(res, "embedder", embedder);
    cJSON_AddNumberToObject(res, "count", (double)count);
    cJSON *arr = cJSON_AddArrayToObject(res, "hits");
    for (size_t i = 0; i < n; i++) {
        if (copies[i].id)
            add_hit(src, coll, &copies[i], arr);
        free(copies[i].id);
    }
    *result = res;
    return EQ_OK;
}

void collsearch_reset(void) {
    pthread_rwlock_wrlock(&cs_lock);
    for (size_t i = 0; i < COLLSEARCH_MAX_CACHED; i++) {
        vindex_free(cs_cache[i].vi);
        memset(&cs_cache[i], 0, sizeof cs_cache[i]);
    }
    pthread_rwlock_unlock(&cs_lock);
}

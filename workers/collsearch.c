/* Collection search with cached in-memory indexes; see collsearch.h. */
#include "workers/collsearch.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/metrics.h"
#include "workers/backends.h"
#include "workers/embed/embedder.h"
#include "workers/embed/vindex.h"
#include "workers/source.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "stored vectors are little-endian float32; add a byte swap for this machine"
#endif

/* One collection's index. The table (under cs_mu) holds entries by name; a search holds a
 * reference while it uses one, so an entry evicted meanwhile is freed by its last user. Each
 * entry has its own lock: loading one collection never holds up searches of another. */
typedef struct cs_entry {
    pthread_rwlock_t lock; /* guards generation, embedder and vi */
    char name[65];
    char embedder[201];
    uint64_t generation; /* 0: not loaded (or left half caught up) */
    vindex *vi;
    unsigned refs;       /* under cs_mu */
    int in_table;        /* under cs_mu */
    uint64_t used;       /* LRU tick, under cs_mu */
} cs_entry;

static pthread_mutex_t cs_mu = PTHREAD_MUTEX_INITIALIZER;
static cs_entry *cs_table[COLLSEARCH_MAX_CACHED];
static uint64_t cs_tick;

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

static void entry_free(cs_entry *e) {
    pthread_rwlock_destroy(&e->lock);
    vindex_free(e->vi);
    free(e);
}

/* The entry of `name`, with a reference: the cached one, or a new empty one put in the table
 * (evicting the least recently used entry nobody is using), or, when every entry is in use, a
 * new one outside the table that its user frees. NULL when out of memory. */
static cs_entry *acquire(const char *name) {
    pthread_mutex_lock(&cs_mu);
    cs_entry *e = NULL;
    size_t slot = COLLSEARCH_MAX_CACHED;
    for (size_t i = 0; i < COLLSEARCH_MAX_CACHED; i++) {
        if (cs_table[i] && strcmp(cs_table[i]->name, name) == 0) {
            e = cs_table[i];
            break;
        }
        if (!cs_table[i]) {
            if (slot == COLLSEARCH_MAX_CACHED || cs_table[slot])
                slot = i;
        } else if (!cs_table[i]->refs &&
                   (slot == COLLSEARCH_MAX_CACHED ||
                    (cs_table[slot] && cs_table[i]->used < cs_table[slot]->used))) {
            slot = i;
        }
    }
    if (!e && (e = calloc(1, sizeof *e)) != NULL) {
        pthread_rwlock_init(&e->lock, NULL);
        snprintf(e->name, sizeof e->name, "%s", name);
        if (slot < COLLSEARCH_MAX_CACHED) {
            if (cs_table[slot]) { /* evicted: unused, so freed now */
                cs_table[slot]->in_table = 0;
                entry_free(cs_table[slot]);
            }
            cs_table[slot] = e;
            e->in_table = 1;
        }
    }
    if (e) {
        e->refs++;
        e->used = ++cs_tick;
    }
    pthread_mutex_unlock(&cs_mu);
    return e;
}

static void release(cs_entry *e) {
    pthread_mutex_lock(&cs_mu);
    int gone = --e->refs == 0 && !e->in_table;
    pthread_mutex_unlock(&cs_mu);
    if (gone)
        entry_free(e);
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

/* Loads the whole collection into e; the caller holds e's write lock. */
static eq_err load(const worker_source *src, cs_entry *e, worker_error *err) {
    worker_coll_info info;
    const char *name = e->name;
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
    vindex_free(e->vi);
    e->vi = vi;
    snprintf(e->embedder, sizeof e->embedder, "%s", info.embedder);
    e->generation = info.generation;
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
    eq_err rc = backend_embed(b, texts, 1, vec, dim, &lf, err);
    if (rc == EQ_OK || rc == EQ_EBUSY) /* EQ_EBUSY: the breaker is open, err says so */
        return rc;
    if (rc == EQ_EINVAL && !b->remote)
        return fail(err, rc, 0, "empty_query", "the query has no words to search for");
    return fail(err, rc, lf.code == LLM_UNAVAILABLE, lf.code ? llm_code_name(lf.code) : "embed_failed",
                "embedding the query failed: %s", lf.message[0] ? lf.message : eq_strerror(rc));
}

typedef struct hit_copy {
    char *id;
    float score;
} hit_copy;

/* Adds a hit with its text and metadata (both taken over, freed here). */
static void add_hit(const hit_copy *h, char *text, char *meta, cJSON *hits) {
    if (!text) { /* deleted since the index was read */
        free(meta);
        return;
    }
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
                    "this worker cannot read collections (run it with --store-dir on the "
                    "server's host)");
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

    cs_entry *e = acquire(coll);
    if (!e) {
        free(qvec);
        return fail(err, EQ_ENOMEM, 1, "out_of_memory", "no memory for the collection's index");
    }
    /* A current index under the read lock; catch up or load under the write lock. */
    pthread_rwlock_rdlock(&e->lock);
    while (e->generation < info.generation || !e->vi) {
        pthread_rwlock_unlock(&e->lock);
        pthread_rwlock_wrlock(&e->lock);
        /* Another search may have brought it up to date meanwhile. */
        int current = e->vi && e->generation >= info.generation;
        rc = EQ_OK;
        if (!current && !(e->vi && e->generation && catch_up(src, e) == EQ_OK))
            rc = load(src, e, err);
        pthread_rwlock_unlock(&e->lock);
        if (rc != EQ_OK) {
            release(e);
            free(qvec);
            return rc;
        }
        pthread_rwlock_rdlock(&e->lock);
    }
    if (qdim != vindex_dim(e->vi)) {
        uint32_t have = vindex_dim(e->vi);
        pthread_rwlock_unlock(&e->lock);
        release(e);
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
    pthread_rwlock_unlock(&e->lock);
    release(e);
    free(qvec);
    if (rc != EQ_OK)
        return fail(err, rc, 0, "search_failed", "%s", eq_strerror(rc));

    cJSON *res = cJSON_CreateObject();
    cJSON_AddStringToObject(res, "collection", coll);
    cJSON_AddNumberToObject(res, "generation", (double)generation);
    cJSON_AddStringToObject(res, "embedder", embedder);
    cJSON_AddNumberToObject(res, "count", (double)count);
    cJSON *arr = cJSON_AddArrayToObject(res, "hits");
    /* The hits' texts: in one read when the source can (one round trip to a remote broker). */
    char *texts[sizeof hits / sizeof hits[0]] = {0}, *metas[sizeof hits / sizeof hits[0]] = {0};
    const char *ids[sizeof hits / sizeof hits[0]];
    size_t nid = 0;
    for (size_t i = 0; i < n; i++)
        ids[nid++] = copies[i].id ? copies[i].id : "";
    if (!src->coll_docs || src->coll_docs(src->ctx, coll, ids, nid, texts, metas) != EQ_OK) {
        for (size_t i = 0; i < n; i++) {
            texts[i] = metas[i] = NULL;
            if (copies[i].id && src->coll_doc(src->ctx, coll, copies[i].id, &texts[i],
                                              &metas[i]) != EQ_OK)
                texts[i] = metas[i] = NULL;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (copies[i].id)
            add_hit(&copies[i], texts[i], metas[i], arr);
        else {
            free(texts[i]);
            free(metas[i]);
        }
        free(copies[i].id);
    }
    *result = res;
    return EQ_OK;
}

void collsearch_reset(void) {
    pthread_mutex_lock(&cs_mu);
    for (size_t i = 0; i < COLLSEARCH_MAX_CACHED; i++) {
        cs_entry *e = cs_table[i];
        cs_table[i] = NULL;
        if (!e)
            continue;
        e->in_table = 0;
        if (!e->refs) /* else its last user frees it */
            entry_free(e);
    }
    pthread_mutex_unlock(&cs_mu);
}

/* The worker_source over the store (workers/source.h): what search and llm workers read from
 * collections, through read transactions of the process's store. */
#include <stdlib.h>
#include <string.h>

#include "cmd/econqd/source.h"
#include "store/store_coll.h"

static void info_from(const store_coll *c, worker_coll_info *out) {
    memset(out, 0, sizeof *out);
    memcpy(out->embedder, c->embedder, sizeof out->embedder);
    out->embedder[sizeof out->embedder - 1] = '\0';
    out->dim = c->dim;
    out->count = c->count;
    out->generation = c->generation;
}

/* A read transaction with the collection's record in *c (and *info); the caller aborts it. */
static eq_err open_coll(void *ctx, const char *name, store_txn **t, store_coll *c,
                        worker_coll_info *info) {
    eq_err err = store_txn_begin(ctx, 0, t);
    if (err)
        return err;
    if ((err = store_coll_get(*t, name, c)) != EQ_OK) {
        store_txn_abort(*t);
        return err;
    }
    info_from(c, info);
    return EQ_OK;
}

static eq_err coll_info(void *ctx, const char *name, worker_coll_info *out) {
    store_txn *t;
    store_coll c;
    eq_err err = open_coll(ctx, name, &t, &c, out);
    if (!err)
        store_txn_abort(t);
    return err;
}

typedef struct load_ctx {
    worker_coll_doc_fn fn;
    void *arg;
    char id[STORE_COLL_DOC_ID_MAX + 1];
} load_ctx;

static int load_one(void *arg, const store_coll_doc *d) {
    load_ctx *l = arg;
    memcpy(l->id, d->id, d->id_len);
    l->id[d->id_len] = '\0';
    return l->fn(l->arg, l->id, d->vec, d->dim);
}

static eq_err coll_load(void *ctx, const char *name, worker_coll_info *info,
                        worker_coll_doc_fn fn, void *arg) {
    store_txn *t;
    store_coll c;
    eq_err err = open_coll(ctx, name, &t, &c, info);
    if (err)
        return err;
    load_ctx *l = malloc(sizeof *l);
    if (!l) {
        err = EQ_ENOMEM;
    } else {
        *l = (load_ctx){.fn = fn, .arg = arg};
        err = store_coll_docs_each(t, name, NULL, load_one, l);
        free(l);
    }
    store_txn_abort(t);
    return err;
}

typedef struct changes_ctx {
    store_txn *t;
    const char *name;
    worker_coll_doc_fn fn;
    void *arg;
    char id[STORE_COLL_DOC_ID_MAX + 1];
} changes_ctx;

static int change_one(void *arg, int op, const char *id, size_t len) {
    changes_ctx *x = arg;
    store_coll_doc d;
    memcpy(x->id, id, len);
    x->id[len] = '\0';
    /* The current vector, whatever this entry did: later entries may have changed it again. */
    (void)op;
    if (store_coll_doc_get(x->t, x->name, x->id, &d) == EQ_OK)
        return x->fn(x->arg, x->id, d.vec, d.dim);
    return x->fn(x->arg, x->id, NULL, 0);
}

static eq_err coll_changes(void *ctx, const char *name, uint64_t from, worker_coll_info *info,
                           worker_coll_doc_fn fn, void *arg) {
    store_txn *t;
    store_coll c;
    eq_err err = open_coll(ctx, name, &t, &c, info);
    if (err)
        return err;
    changes_ctx *x = malloc(sizeof *x);
    uint64_t last = from;
    if (!x) {
        err = EQ_ENOMEM;
    } else {
        *x = (changes_ctx){.t = t, .name = name, .fn = fn, .arg = arg};
        err = store_coll_log_since(t, name, from, change_one, x, &last);
        free(x);
    }
    /* The log must reach the collection's generation, or something went unlogged. */
    if (!err && last != c.generation)
        err = EQ_ESTALE;
    store_txn_abort(t);
    return err;
}

static char *dupn(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (d) {
        if (n)
            memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static eq_err coll_doc(void *ctx, const char *name, const char *id, char **text, char **meta) {
    store_txn *t;
    store_coll_doc d;
    *text = *meta = NULL;
    eq_err err = store_txn_begin(ctx, 0, &t);
    if (err)
        return err;
    if ((err = store_coll_doc_get(t, name, id, &d)) == EQ_OK) {
        *text = dupn(d.text, d.text_len);
        *meta = dupn(d.meta, d.meta_len);
        if (!*text || !*meta) {
            free(*text);
            free(*meta);
            *text = *meta = NULL;
            err = EQ_ENOMEM;
        }
    }
    store_txn_abort(t);
    return err == EQ_EINVAL ? EQ_ENOTFOUND : err;
}

/* Several documents in one read transaction. */
static eq_err coll_docs(void *ctx, const char *name, const char *const *ids, size_t n,
                        char **texts, char **metas) {
    store_txn *t;
    for (size_t i = 0; i < n; i++)
        texts[i] = metas[i] = NULL;
    eq_err err = store_txn_begin(ctx, 0, &t);
    if (err)
        return err;
    for (size_t i = 0; i < n && !err; i++) {
        store_coll_doc d;
        if (store_coll_doc_get(t, name, ids[i], &d) != EQ_OK)
            continue; /* gone */
        texts[i] = dupn(d.text, d.text_len);
        metas[i] = dupn(d.meta, d.meta_len);
        if (!texts[i] || !metas[i])
            err = EQ_ENOMEM;
    }
    store_txn_abort(t);
    if (err) {
        for (size_t i = 0; i < n; i++) {
            free(texts[i]);
            free(metas[i]);
            texts[i] = metas[i] = NULL;
        }
    }
    return err;
}

void econqd_source_init(worker_source *src, store *st) {
    *src = (worker_source){
        .ctx = st,
        .coll_info = coll_info,
        .coll_load = coll_load,
        .coll_changes = coll_changes,
        .coll_doc = coll_doc,
        .coll_docs = coll_docs};
}

/* Vector collections and their documents (see store/store_coll.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_coll.h"
#include "store/store_internal.h"

/* LMDB's default MDB_MAXKEYSIZE; a coll_docs key is name NUL id. */
#define COLL_KEY_MAX 511
_Static_assert(STORE_COLL_NAME_MAX + 1 + STORE_COLL_DOC_ID_MAX <= COLL_KEY_MAX,
               "a coll_docs key must fit LMDB's key limit");

/* Writes "name NUL id" into key (COLL_KEY_MAX bytes); returns its length, 0 when too long. */
static size_t doc_key(unsigned char *key, const char *coll, const char *id, size_t id_len) {
    size_t n = strlen(coll);
    if (n == 0 || n > STORE_COLL_NAME_MAX || id_len > STORE_COLL_DOC_ID_MAX) return 0;
    memcpy(key, coll, n);
    key[n] = '\0';
    if (id_len) memcpy(key + n + 1, id, id_len);
    return n + 1 + id_len;
}

static int name_ok(const char *name) {
    size_t n = strlen(name);
    return n > 0 && n <= STORE_COLL_NAME_MAX;
}

static eq_err coll_decode(const MDB_val *v, store_coll *c) {
    eq_rd rd;
    memset(c, 0, sizeof *c);
    eq_rd_init(&rd, v->mv_data, v->mv_size);
    if (eq_rd_u8(&rd) != STORE_REC_VERSION) return EQ_ESTORE;
    char *emb = eq_rd_str(&rd, STORE_COLL_EMBEDDER_MAX);
    c->dim = eq_rd_u32(&rd);
    c->count = eq_rd_u64(&rd);
    c->generation = eq_rd_u64(&rd);
    c->created_ms = eq_rd_i64(&rd);
    c->updated_ms = eq_rd_i64(&rd);
    eq_err err =
        rd.bad || !emb || rd.p != rd.end || c->dim > STORE_COLL_DIM_MAX ? EQ_ESTORE : EQ_OK;
    if (!err) snprintf(c->embedder, sizeof c->embedder, "%s", emb);
    free(emb);
    return err;
}

eq_err store_coll_get(store_txn *t, const char *name, store_coll *out) {
    if (!name_ok(name)) return EQ_ENOTFOUND;
    MDB_val k = {strlen(name), (void *)name}, v;
    int rc = mdb_get(t->txn, t->s->dbi[DBI_COLLS], &k, &v);
    if (rc) return store__err(rc);
    return coll_decode(&v, out);
}

eq_err store_coll_put(store_txn *t, const char *name, const store_coll *c) {
    if (!name_ok(name) || strnlen(c->embedder, sizeof c->embedder) > STORE_COLL_EMBEDDER_MAX ||
        c->dim > STORE_COLL_DIM_MAX)
        return EQ_EINVAL;
    eq_buf b;
    eq_buf_init(&b);
    eq_buf_u8(&b, STORE_REC_VERSION);
    eq_buf_str(&b, c->embedder);
    eq_buf_u32(&b, c->dim);
    eq_buf_u64(&b, c->count);
    eq_buf_u64(&b, c->generation);
    eq_buf_i64(&b, c->created_ms);
    eq_buf_i64(&b, c->updated_ms);
    if (b.oom) {
        eq_buf_fini(&b);
        return EQ_ENOMEM;
    }
    MDB_val k = {strlen(name), (void *)name}, v = {b.len, b.data};
    int rc = mdb_put(t->txn, t->s->dbi[DBI_COLLS], &k, &v, 0);
    eq_buf_fini(&b);
    return store__err(rc);
}

eq_err store_coll_each(store_txn *t, int (*fn)(void *arg, const char *name, const store_coll *c),
                       void *arg) {
    MDB_cursor *cur;
    MDB_val k, v;
    char name[STORE_COLL_NAME_MAX + 1];
    int rc = mdb_cursor_open(t->txn, t->s->dbi[DBI_COLLS], &cur);
    if (rc) return store__err(rc);
    eq_err err = EQ_OK;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        store_coll c;
        if (k.mv_size == 0 || k.mv_size > STORE_COLL_NAME_MAX ||
            memchr(k.mv_data, '\0', k.mv_size)) {
            err = EQ_ESTORE;
            break;
        }
        memcpy(name, k.mv_data, k.mv_size);
        name[k.mv_size] = '\0';
        if ((err = coll_decode(&v, &c))) break;
        if (fn(arg, name, &c)) break;
    }
    if (!err && rc != 0 && rc != MDB_NOTFOUND) err = store__err(rc);
    mdb_cursor_close(cur);
    return err;
}

/* A u32 length then that many bytes, at most max; *p is NULL for length 0. */
static void rd_blob(eq_rd *rd, size_t max, const char **p, size_t *n) {
    uint32_t len = eq_rd_u32(rd);
    *p = NULL;
    *n = 0;
    if (rd->bad) return;
    if (len > max || len > (size_t)(rd->end - rd->p)) {
        rd->bad = 1;
        return;
    }
    if (len) *p = (const char *)rd->p;
    *n = len;
    rd->p += len;
}

/* Decodes a coll_docs record whose key k is the collection name (name_len bytes), NUL, id. */
static eq_err doc_decode(const MDB_val *k, size_t name_len, const MDB_val *v, store_coll_doc *d) {
    eq_rd rd;
    memset(d, 0, sizeof *d);
    if (k->mv_size <= name_len + 1 || k->mv_size - name_len - 1 > STORE_COLL_DOC_ID_MAX)
        return EQ_ESTORE;
    d->id = (const char *)k->mv_data + name_len + 1;
    d->id_len = k->mv_size - name_len - 1;
    eq_rd_init(&rd, v->mv_data, v->mv_size);
    if (eq_rd_u8(&rd) != STORE_REC_VERSION) return EQ_ESTORE;
    d->dim = eq_rd_u32(&rd);
    if (rd.bad || d->dim == 0 || d->dim > STORE_COLL_DIM_MAX ||
        (size_t)(rd.end - rd.p) < (size_t)d->dim * 4)
        return EQ_ESTORE;
    d->vec = rd.p;
    rd.p += (size_t)d->dim * 4;
    rd_blob(&rd, STORE_COLL_TEXT_MAX, &d->text, &d->text_len);
    rd_blob(&rd, STORE_COLL_META_MAX, &d->meta, &d->meta_len);
    if (rd.bad || rd.p != rd.end) return EQ_ESTORE;
    return EQ_OK;
}

/* The vector is copied as given: the caller already hands over little-endian float32 bytes,
 * so the store never interprets the values and the record is the same on any host. */
eq_err store_coll_doc_put(store_txn *t, const char *coll, const store_coll_doc *d, int *replaced) {
    unsigned char key[COLL_KEY_MAX];
    if (!d->id || d->id_len == 0 || !d->vec || d->dim == 0 || d->dim > STORE_COLL_DIM_MAX ||
        d->text_len > STORE_COLL_TEXT_MAX || (d->text_len && !d->text) ||
        d->meta_len > STORE_COLL_META_MAX || (d->meta_len && !d->meta))
        return EQ_EINVAL;
    size_t klen = doc_key(key, coll, d->id, d->id_len);
    if (!klen) return EQ_EINVAL;
    MDB_val k = {klen, key}, v;
    if (replaced) {
        int rc = mdb_get(t->txn, t->s->dbi[DBI_COLL_DOCS], &k, &v);
        if (rc && rc != MDB_NOTFOUND) return store__err(rc);
        *replaced = rc == 0;
    }
    eq_buf b;
    eq_buf_init(&b);
    eq_buf_u8(&b, STORE_REC_VERSION);
    eq_buf_u32(&b, d->dim);
    eq_buf_put(&b, d->vec, (size_t)d->dim * 4);
    eq_buf_bytes(&b, d->text, d->text_len);
    eq_buf_bytes(&b, d->meta, d->meta_len);
    if (b.oom) {
        eq_buf_fini(&b);
        return EQ_ENOMEM;
    }
    v.mv_size = b.len;
    v.mv_data = b.data;
    int rc = mdb_put(t->txn, t->s->dbi[DBI_COLL_DOCS], &k, &v, 0);
    eq_buf_fini(&b);
    return store__err(rc);
}

eq_err store_coll_doc_get(store_txn *t, const char *coll, const char *id, store_coll_doc *d) {
    unsigned char key[COLL_KEY_MAX];
    size_t id_len = strnlen(id, STORE_COLL_DOC_ID_MAX + 1);
    memset(d, 0, sizeof *d);
    if (id_len == 0) return EQ_ENOTFOUND;
    size_t klen = doc_key(key, coll, id, id_len);
    if (!klen) return EQ_ENOTFOUND;
    /* Through a cursor so that d->id, too, points into the transaction's pages. */
    MDB_cursor *cur;
    MDB_val k = {klen, key}, v;
    int rc = mdb_cursor_open(t->txn, t->s->dbi[DBI_COLL_DOCS], &cur);
    if (rc) return store__err(rc);
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_KEY);
    eq_err err = rc ? store__err(rc) : doc_decode(&k, strlen(coll), &v, d);
    mdb_cursor_close(cur);
    return err;
}

eq_err store_coll_doc_del(store_txn *t, const char *coll, const char *id) {
    unsigned char key[COLL_KEY_MAX];
    size_t id_len = strnlen(id, STORE_COLL_DOC_ID_MAX + 1);
    size_t klen = id_len ? doc_key(key, coll, id, id_len) : 0;
    if (!klen) return EQ_ENOTFOUND;
    MDB_val k = {klen, key};
    return store__err(mdb_del(t->txn, t->s->dbi[DBI_COLL_DOCS], &k, NULL));
}

/* 1 when key k lies in the collection whose "name NUL" prefix is p (plen bytes). */
static int in_coll(const MDB_val *k, const unsigned char *p, size_t plen) {
    return k->mv_size > plen && memcmp(k->mv_data, p, plen) == 0;
}

eq_err store_coll_docs_each(store_txn *t, const char *coll, const char *after,
                            int (*fn)(void *arg, const store_coll_doc *d), void *arg) {
    unsigned char key[COLL_KEY_MAX];
    size_t after_len = after ? strlen(after) : 0;
    if (!name_ok(coll)) return EQ_OK;
    size_t plen = strlen(coll) + 1;
    /* An `after` too long to be an id sorts after every id that starts with its first
     * STORE_COLL_DOC_ID_MAX bytes; seeking there and skipping them gives the same answer. */
    size_t seek_len = after_len > STORE_COLL_DOC_ID_MAX ? STORE_COLL_DOC_ID_MAX : after_len;
    size_t klen = doc_key(key, coll, after, seek_len);
    MDB_cursor *cur;
    MDB_val k = {klen, key}, v;
    int rc = mdb_cursor_open(t->txn, t->s->dbi[DBI_COLL_DOCS], &cur);
    if (rc) return store__err(rc);
    eq_err err = EQ_OK;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (!in_coll(&k, key, plen)) break;
        /* Skip ids <= after (the exact match, or the prefixes of an overlong `after`). */
        if (after_len) {
            size_t id_len = k.mv_size - plen, m = id_len < after_len ? id_len : after_len;
            int cmp = memcmp((const char *)k.mv_data + plen, after, m);
            if (cmp < 0 || (cmp == 0 && id_len <= after_len)) continue;
        }
        store_coll_doc d;
        if ((err = doc_decode(&k, plen - 1, &v, &d))) break;
        if (fn(arg, &d)) break;
    }
    if (!err && rc != 0 && rc != MDB_NOTFOUND) err = store__err(rc);
    mdb_cursor_close(cur);
    return err;
}

eq_err store_coll_drop(store_txn *t, const char *coll, size_t max, size_t *n) {
    unsigned char key[COLL_KEY_MAX];
    *n = 0;
    if (!name_ok(coll)) return EQ_EINVAL;
    size_t plen = doc_key(key, coll, NULL, 0);
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = mdb_cursor_open(t->txn, t->s->dbi[DBI_COLL_DOCS], &cur);
    if (rc) return store__err(rc);
    /* Seek afresh after each delete: the first key of the collection is the next to go. */
    for (;;) {
        k.mv_size = plen;
        k.mv_data = key;
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        if (rc || !in_coll(&k, key, plen) || *n == max) break;
        if ((rc = mdb_cursor_del(cur, 0)) != 0) break;
        (*n)++;
    }
    int left = rc == 0 && in_coll(&k, key, plen);
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND) return store__err(rc);
    if (left) return EQ_OK;
    MDB_val ck = {plen - 1, key};
    rc = mdb_del(t->txn, t->s->dbi[DBI_COLLS], &ck, NULL);
    return rc == MDB_NOTFOUND ? EQ_OK : store__err(rc);
}

eq_err store_coll_decode(const void *buf, size_t len, store_coll *out) {
    MDB_val v = {len, (void *)buf};
    return coll_decode(&v, out);
}

eq_err store_coll_doc_decode(const void *key, size_t klen, size_t name_len, const void *val,
                             size_t vlen, store_coll_doc *d) {
    MDB_val k = {klen, (void *)key}, v = {vlen, (void *)val};
    return doc_decode(&k, name_len, &v, d);
}

/* The result cache: key (a 128-bit hash of a job's type and canonical params) → result, with an
 * expiry and a per-type LRU bound.
 *
 *   cache      key[16] → version u8, created i64, expires i64, last_used i64, type str, result
 *   cache_lru  type NUL last_used be64 key[16] → ""   (oldest first, for eviction and sweeps)
 *   meta       "cache.n.<type>" → entries of that type */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"

#define CACHE_HDR (1 + 8 + 8 + 8)

static size_t lru_key(unsigned char *k, const char *type, int64_t used, const unsigned char *key) {
    size_t tl = strlen(type);
    memcpy(k, type, tl);
    k[tl] = '\0';
    store__put_be64(k + tl + 1, (uint64_t)used);
    memcpy(k + tl + 9, key, STORE_CACHE_KEY_LEN);
    return tl + 9 + STORE_CACHE_KEY_LEN;
}

static eq_err count_add(store_txn *t, const char *type, int64_t delta) {
    char name[96];
    uint64_t n = 0;
    snprintf(name, sizeof name, "cache.n.%s", type);
    eq_err err = store_meta_get(t, name, &n);
    if (err && err != EQ_ENOTFOUND)
        return err;
    n = (int64_t)n + delta < 0 ? 0 : (uint64_t)((int64_t)n + delta);
    return store_meta_put(t, name, n);
}

/* Reads the record header and type; *type points into the record (typelen bytes). */
static int parse_rec(const MDB_val *d, int64_t *created, int64_t *expires, int64_t *used,
                     const char **type, size_t *typelen, const char **result, size_t *rlen) {
    const unsigned char *p = d->mv_data;
    eq_rd rd;
    if (d->mv_size < CACHE_HDR + 4 || p[0] != STORE_REC_VERSION)
        return 0;
    memcpy(created, p + 1, 8);
    memcpy(expires, p + 9, 8);
    memcpy(used, p + 17, 8);
    eq_rd_init(&rd, p + CACHE_HDR, d->mv_size - CACHE_HDR);
    *type = eq_rd_bytes(&rd, typelen, JOB_TYPE_MAX - 1);
    *result = (const char *)rd.p;
    *rlen = (size_t)(rd.end - rd.p);
    return !rd.bad && *type;
}

static eq_err delete_entry(store_txn *t, const unsigned char *key, const char *type, int64_t used) {
    unsigned char kb[JOB_TYPE_MAX + 9 + STORE_CACHE_KEY_LEN];
    MDB_val k = {STORE_CACHE_KEY_LEN, (void *)key};
    int rc = mdb_del(t->txn, t->s->dbi[DBI_CACHE], &k, NULL);
    if (rc && rc != MDB_NOTFOUND)
        return store__err(rc);
    MDB_val lk = {lru_key(kb, type, used, key), kb};
    rc = mdb_del(t->txn, t->s->dbi[DBI_CACHE_LRU], &lk, NULL);
    if (rc && rc != MDB_NOTFOUND)
        return store__err(rc);
    return count_add(t, type, -1);
}

eq_err store_cache_get(store_txn *t, const unsigned char *key, int64_t now, char **result) {
    MDB_val k = {STORE_CACHE_KEY_LEN, (void *)key}, d;
    int64_t created, expires, used;
    const char *type, *res;
    size_t tl, rl;
    int rc = mdb_get(t->txn, t->s->dbi[DBI_CACHE], &k, &d);
    if (rc)
        return store__err(rc);
    if (!parse_rec(&d, &created, &expires, &used, &type, &tl, &res, &rl))
        return EQ_ESTORE;
    if (expires <= now) {
        if (t->write) {
            char ty[JOB_TYPE_MAX];
            memcpy(ty, type, tl);
            ty[tl] = '\0';
            eq_err err = delete_entry(t, key, ty, used);
            if (err)
                return err;
        }
        return EQ_ENOTFOUND;
    }
    if (result) {
        *result = malloc(rl + 1);
        if (!*result)
            return EQ_ENOMEM;
        memcpy(*result, res, rl);
        (*result)[rl] = '\0';
    }
    if (t->write && used != now) {
        /* Least recently used: move the entry to the young end. The record is copied first:
         * LMDB values are only valid until the next write. */
        unsigned char kb[JOB_TYPE_MAX + 9 + STORE_CACHE_KEY_LEN];
        char ty[JOB_TYPE_MAX];
        unsigned char *copy = malloc(d.mv_size);
        eq_err err = EQ_OK;
        if (!copy) {
            err = EQ_ENOMEM;
            goto fail;
        }
        memcpy(copy, d.mv_data, d.mv_size);
        memcpy(copy + 17, &now, 8);
        memcpy(ty, type, tl);
        ty[tl] = '\0';
        MDB_val lk = {lru_key(kb, ty, used, key), kb}, e = {0, ""};
        MDB_val nd = {d.mv_size, copy};
        rc = mdb_del(t->txn, t->s->dbi[DBI_CACHE_LRU], &lk, NULL);
        if (rc == 0 || rc == MDB_NOTFOUND) {
            lk.mv_size = lru_key(kb, ty, now, key);
            rc = mdb_put(t->txn, t->s->dbi[DBI_CACHE_LRU], &lk, &e, 0);
        }
        if (rc == 0)
            rc = mdb_put(t->txn, t->s->dbi[DBI_CACHE], &k, &nd, 0);
        free(copy);
        if (rc)
            err = store__err(rc);
    fail:
        if (err && result) {
            free(*result);
            *result = NULL;
        }
        return err;
    }
    return EQ_OK;
}

/* Evicts the least recently used entries of `type` until it has fewer than max. */
static eq_err evict(store_txn *t, const char *type, uint64_t max, size_t *evicted) {
    char name[96];
    uint64_t n = 0;
    snprintf(name, sizeof name, "cache.n.%s", type);
    eq_err err = store_meta_get(t, name, &n);
    if (err && err != EQ_ENOTFOUND)
        return err;
    size_t tl = strlen(type);
    while (n >= max) {
        MDB_cursor *c;
        unsigned char kb[JOB_TYPE_MAX + 9 + STORE_CACHE_KEY_LEN];
        int rc = mdb_cursor_open(t->txn, t->s->dbi[DBI_CACHE_LRU], &c);
        if (rc)
            return store__err(rc);
        memcpy(kb, type, tl);
        kb[tl] = '\0';
        MDB_val k = {tl + 1, kb}, d;
        rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
        int found = rc == 0 && k.mv_size == tl + 9 + STORE_CACHE_KEY_LEN &&
                    memcmp(k.mv_data, kb, tl + 1) == 0;
        unsigned char key[STORE_CACHE_KEY_LEN];
        int64_t used = 0;
        if (found) {
            memcpy(key, (const unsigned char *)k.mv_data + tl + 9, STORE_CACHE_KEY_LEN);
            used = (int64_t)store__get_be64((const unsigned char *)k.mv_data + tl + 1);
        }
        mdb_cursor_close(c);
        if (!found) {
            /* The count drifted from the index: trust the index. */
            return store_meta_put(t, name, 0);
        }
        if ((err = delete_entry(t, key, type, used)))
            return err;
        n--;
        (*evicted)++;
    }
    return EQ_OK;
}

eq_err store_cache_put(store_txn *t, const unsigned char *key, const char *type,
                       const char *result, int64_t now, int64_t ttl_ms, uint64_t max_entries,
                       size_t *evicted) {
    MDB_val k = {STORE_CACHE_KEY_LEN, (void *)key}, d;
    eq_err err;
    *evicted = 0;
    if (max_entries == 0)
        return EQ_OK;
    /* Replace an existing entry for the same key. */
    int rc = mdb_get(t->txn, t->s->dbi[DBI_CACHE], &k, &d);
    if (rc == 0) {
        int64_t created, expires, used;
        const char *ty, *res;
        size_t tl, rl;
        char tyb[JOB_TYPE_MAX];
        if (parse_rec(&d, &created, &expires, &used, &ty, &tl, &res, &rl)) {
            memcpy(tyb, ty, tl);
            tyb[tl] = '\0';
            if ((err = delete_entry(t, key, tyb, used)))
                return err;
        }
    } else if (rc != MDB_NOTFOUND) {
        return store__err(rc);
    }
    if ((err = evict(t, type, max_entries, evicted)))
        return err;
    eq_buf b;
    eq_buf_init(&b);
    int64_t expires = now + ttl_ms;
    eq_buf_u8(&b, STORE_REC_VERSION);
    eq_buf_i64(&b, now);
    eq_buf_i64(&b, expires);
    eq_buf_i64(&b, now);
    eq_buf_str(&b, type);
    eq_buf_puts(&b, result);
    if (b.oom) {
        eq_buf_fini(&b);
        return EQ_ENOMEM;
    }
    d.mv_size = b.len;
    d.mv_data = b.data;
    rc = mdb_put(t->txn, t->s->dbi[DBI_CACHE], &k, &d, 0);
    eq_buf_fini(&b);
    if (rc)
        return store__err(rc);
    unsigned char kb[JOB_TYPE_MAX + 9 + STORE_CACHE_KEY_LEN];
    MDB_val lk = {lru_key(kb, type, now, key), kb}, e = {0, ""};
    if ((rc = mdb_put(t->txn, t->s->dbi[DBI_CACHE_LRU], &lk, &e, 0)))
        return store__err(rc);
    return count_add(t, type, 1);
}

#define CACHE_SWEEP_BATCH 256 /* expired entries removed per pass */

eq_err store_cache_sweep(store_txn *t, int64_t now, size_t max, size_t *removed) {
    struct victim {
        unsigned char key[STORE_CACHE_KEY_LEN];
        char type[JOB_TYPE_MAX];
        int64_t used;
    } *v = malloc(CACHE_SWEEP_BATCH * sizeof *v);
    MDB_cursor *c;
    MDB_val k, d;
    size_t nv = 0, seen = 0;
    *removed = 0;
    if (!v)
        return EQ_ENOMEM;
    int rc = mdb_cursor_open(t->txn, t->s->dbi[DBI_CACHE], &c);
    if (rc) {
        free(v);
        return store__err(rc);
    }
    /* First find the victims, then delete them: no deletion under the cursor. */
    for (rc = mdb_cursor_get(c, &k, &d, MDB_FIRST); rc == 0 && seen < max && nv < CACHE_SWEEP_BATCH;
         rc = mdb_cursor_get(c, &k, &d, MDB_NEXT), seen++) {
        int64_t created, expires, used;
        const char *ty, *res;
        size_t tl, rl;
        if (k.mv_size != STORE_CACHE_KEY_LEN ||
            !parse_rec(&d, &created, &expires, &used, &ty, &tl, &res, &rl) || expires > now)
            continue;
        memcpy(v[nv].key, k.mv_data, STORE_CACHE_KEY_LEN);
        memcpy(v[nv].type, ty, tl);
        v[nv].type[tl] = '\0';
        v[nv].used = used;
        nv++;
    }
    mdb_cursor_close(c);
    eq_err err = (rc == 0 || rc == MDB_NOTFOUND) ? EQ_OK : store__err(rc);
    for (size_t i = 0; !err && i < nv; i++) {
        err = delete_entry(t, v[i].key, v[i].type, v[i].used);
        if (!err)
            (*removed)++;
    }
    free(v);
    return err;
}

eq_err store_counter_add(store_txn *t, const char *name, uint64_t delta) {
    uint64_t n = 0;
    eq_err err = store_meta_get(t, name, &n);
    if (err && err != EQ_ENOTFOUND)
        return err;
    return store_meta_put(t, name, n + delta);
}

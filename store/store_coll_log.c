/* The change log of vector collections (see store/store_coll.h): which documents each
 * generation added, replaced or deleted, so that an in-memory index can catch up instead of
 * loading the whole collection again.
 *
 *   coll_log  name NUL generation be64 → version, previous generation u64, op u8, u32 n,
 *                                        n x (u16 length, id bytes)
 *
 * The previous generation chains the entries: a reader at generation g catches up only when
 * an entry names g as its previous one, and every later entry follows on. */
#include <stdlib.h>
#include <string.h>

#include "store/store_coll.h"
#include "store/store_internal.h"

static size_t log_key(unsigned char *key, const char *coll, uint64_t gen) {
    size_t n = strlen(coll);
    memcpy(key, coll, n);
    key[n] = '\0';
    store__put_be64(key + n + 1, gen);
    return n + 9;
}

/* Deletes the oldest entries of coll beyond keep; keep 0 deletes them all. */
static eq_err trim(store_txn *t, const char *coll, size_t keep) {
    unsigned char key[STORE_COLL_NAME_MAX + 9];
    size_t plen = strlen(coll) + 1;
    log_key(key, coll, 0);
    MDB_cursor *cur;
    MDB_val k = {plen, key}, v;
    int rc = mdb_cursor_open(t->txn, t->s->dbi[DBI_COLL_LOG], &cur);
    if (rc)
        return store__err(rc);
    size_t count = 0;
    /* Count from the newest back. */
    unsigned char last[STORE_COLL_NAME_MAX + 9];
    log_key(last, coll, UINT64_MAX);
    k = (MDB_val){plen + 8, last};
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    rc = rc == MDB_NOTFOUND ? mdb_cursor_get(cur, &k, &v, MDB_LAST)
                            : mdb_cursor_get(cur, &k, &v, MDB_PREV);
    while (rc == 0 && k.mv_size == plen + 8 && memcmp(k.mv_data, key, plen) == 0) {
        if (++count > keep) {
            if ((rc = mdb_cursor_del(cur, 0)) != 0)
                break;
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
    }
    mdb_cursor_close(cur);
    return rc && rc != MDB_NOTFOUND ? store__err(rc) : EQ_OK;
}

eq_err store_coll_log_add(store_txn *t, const char *coll, uint64_t gen, uint64_t prev, int op,
                          const char *const *ids, size_t n) {
    size_t cl = strlen(coll);
    if (cl == 0 || cl > STORE_COLL_NAME_MAX || (op != STORE_COLL_PUT && op != STORE_COLL_DEL) ||
        n > STORE_COLL_LOG_MAX_IDS)
        return EQ_EINVAL;
    eq_buf b;
    eq_buf_init(&b);
    eq_buf_u8(&b, STORE_REC_VERSION);
    eq_buf_u64(&b, prev);
    eq_buf_u8(&b, (uint8_t)op);
    eq_buf_u32(&b, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(ids[i]);
        if (l == 0 || l > STORE_COLL_DOC_ID_MAX) {
            eq_buf_fini(&b);
            return EQ_EINVAL;
        }
        eq_buf_u16(&b, (uint16_t)l);
        eq_buf_put(&b, ids[i], l);
    }
    if (b.oom) {
        eq_buf_fini(&b);
        return EQ_ENOMEM;
    }
    unsigned char key[STORE_COLL_NAME_MAX + 9];
    MDB_val k = {log_key(key, coll, gen), key}, v = {b.len, b.data};
    int rc = mdb_put(t->txn, t->s->dbi[DBI_COLL_LOG], &k, &v, 0);
    eq_buf_fini(&b);
    if (rc)
        return store__err(rc);
    return trim(t, coll, STORE_COLL_LOG_KEEP);
}

eq_err store_coll_log_drop(store_txn *t, const char *coll) {
    size_t cl = strlen(coll);
    if (cl == 0 || cl > STORE_COLL_NAME_MAX)
        return EQ_EINVAL;
    return trim(t, coll, 0);
}

/* Decodes one log entry: its previous generation and op, then fn per id. EQ_ESTORE when it
 * does not decode; EQ_ECLOSED when fn stopped it. */
static eq_err log_decode(const void *val, size_t len, uint64_t *prev, int *op,
                         int (*fn)(void *arg, int op, const char *id, size_t len), void *arg) {
    eq_rd rd;
    eq_rd_init(&rd, val, len);
    if (eq_rd_u8(&rd) != STORE_REC_VERSION)
        return EQ_ESTORE;
    *prev = eq_rd_u64(&rd);
    *op = eq_rd_u8(&rd);
    uint32_t n = eq_rd_u32(&rd);
    if (rd.bad || (*op != STORE_COLL_PUT && *op != STORE_COLL_DEL) || n > STORE_COLL_LOG_MAX_IDS)
        return EQ_ESTORE;
    for (uint32_t i = 0; i < n; i++) {
        uint16_t l = eq_rd_u16(&rd);
        if (rd.bad || l == 0 || l > STORE_COLL_DOC_ID_MAX || (size_t)(rd.end - rd.p) < l)
            return EQ_ESTORE;
        const char *id = (const char *)rd.p;
        rd.p += l;
        if (fn && fn(arg, *op, id, l))
            return EQ_ECLOSED;
    }
    return rd.p == rd.end ? EQ_OK : EQ_ESTORE;
}

eq_err store_coll_log_decode(const void *val, size_t len, uint64_t *prev, int *op,
                             int (*fn)(void *arg, int op, const char *id, size_t len),
                             void *arg) {
    return log_decode(val, len, prev, op, fn, arg);
}

eq_err store_coll_log_since(store_txn *t, const char *coll, uint64_t from,
                            int (*fn)(void *arg, int op, const char *id, size_t len), void *arg,
                            uint64_t *last) {
    size_t cl = strlen(coll);
    if (cl == 0 || cl > STORE_COLL_NAME_MAX)
        return EQ_EINVAL;
    unsigned char key[STORE_COLL_NAME_MAX + 9];
    size_t plen = cl + 1;
    MDB_val k = {log_key(key, coll, from + 1), key}, v;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(t->txn, t->s->dbi[DBI_COLL_LOG], &cur);
    if (rc)
        return store__err(rc);
    *last = from;
    eq_err err = EQ_OK;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
         rc == 0 && k.mv_size == plen + 8 && memcmp(k.mv_data, key, plen) == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        uint64_t gen = store__get_be64((const unsigned char *)k.mv_data + plen), prev = 0;
        int op = 0;
        /* The chain first (a decode without fn), then the ids. */
        if ((err = log_decode(v.mv_data, v.mv_size, &prev, &op, NULL, NULL)))
            break;
        if (prev != *last) { /* a gap: trimmed, or dropped and made again */
            err = EQ_ESTALE;
            break;
        }
        if ((err = log_decode(v.mv_data, v.mv_size, &prev, &op, fn, arg)))
            break;
        *last = gen;
    }
    mdb_cursor_close(cur);
    if (!err && rc && rc != MDB_NOTFOUND)
        err = store__err(rc);
    return err;
}

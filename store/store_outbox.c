/* The webhook outbox: a delivery is written in the same transaction as the outcome it reports,
 * so a crash can delay it but never drop it.
 *
 *   outbox        msg id → delivery record
 *   outbox_due    next_at be64, msg id → ""        (pending deliveries by due time)
 *   deliveries    subject id (job or batch), msg id → ""
 *   delivery_log  msg id, try be32 → version, at i64, status i32, latency ms u32, error str */
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"

#define OUTBOX_MAX_STR (16u << 20)

void store_delivery_fini(store_delivery *d) {
    free(d->event);
    free(d->subject);
    free(d->url);
    free(d->secret);
    free(d->body);
    free(d->last_error);
    memset(d, 0, sizeof *d);
}

static void encode(const store_delivery *d, eq_buf *b) {
    eq_buf_u8(b, STORE_REC_VERSION);
    eq_buf_u8(b, d->state);
    eq_buf_u16(b, d->attempts);
    eq_buf_u32(b, d->tries);
    eq_buf_i64(b, d->created_ms);
    eq_buf_i64(b, d->next_ms);
    eq_buf_i64(b, d->last_ms);
    eq_buf_u32(b, (uint32_t)d->last_status);
    eq_buf_str(b, d->event);
    eq_buf_str(b, d->subject);
    eq_buf_str(b, d->url);
    eq_buf_str(b, d->secret);
    eq_buf_str(b, d->body);
    eq_buf_str(b, d->last_error);
}

static eq_err decode(const MDB_val *k, const MDB_val *v, store_delivery *d) {
    eq_rd rd;
    memset(d, 0, sizeof *d);
    if (k->mv_size >= sizeof d->id)
        return EQ_ESTORE;
    memcpy(d->id, k->mv_data, k->mv_size);
    d->id[k->mv_size] = '\0';
    eq_rd_init(&rd, v->mv_data, v->mv_size);
    if (eq_rd_u8(&rd) != STORE_REC_VERSION)
        return EQ_ESTORE;
    d->state = eq_rd_u8(&rd);
    d->attempts = eq_rd_u16(&rd);
    d->tries = eq_rd_u32(&rd);
    d->created_ms = eq_rd_i64(&rd);
    d->next_ms = eq_rd_i64(&rd);
    d->last_ms = eq_rd_i64(&rd);
    d->last_status = (int32_t)eq_rd_u32(&rd);
    d->event = eq_rd_str(&rd, 64);
    d->subject = eq_rd_str(&rd, 64);
    d->url = eq_rd_str(&rd, 4096);
    d->secret = eq_rd_str(&rd, 512);
    d->body = eq_rd_str(&rd, OUTBOX_MAX_STR);
    d->last_error = eq_rd_str(&rd, 4096);
    if (rd.bad || !d->event || !d->subject || !d->url || !d->body) {
        store_delivery_fini(d);
        return EQ_ESTORE;
    }
    return EQ_OK;
}

static size_t due_key(unsigned char *kb, int64_t at, const char *id) {
    size_t il = strlen(id);
    store__put_be64(kb, (uint64_t)at);
    memcpy(kb + 8, id, il);
    return 8 + il;
}

eq_err store_delivery_get(store_txn *t, const char *id, store_delivery *d) {
    MDB_val k = {strlen(id), (void *)id}, v;
    int rc = mdb_get(t->txn, t->s->dbi[DBI_OUTBOX], &k, &v);
    if (rc)
        return store__err(rc);
    return decode(&k, &v, d);
}

eq_err store_delivery_put(store_txn *t, const store_delivery *d, int64_t old_next) {
    unsigned char kb[8 + sizeof d->id];
    size_t il = strlen(d->id);
    eq_buf b;
    int rc;
    if (il == 0 || il >= sizeof d->id)
        return EQ_EINVAL;
    if (old_next >= 0) {
        MDB_val dk = {due_key(kb, old_next, d->id), kb};
        rc = mdb_del(t->txn, t->s->dbi[DBI_OUTBOX_DUE], &dk, NULL);
        if (rc && rc != MDB_NOTFOUND)
            return store__err(rc);
    }
    if (d->state == STORE_DELIVERY_PENDING) {
        MDB_val dk = {due_key(kb, d->next_ms, d->id), kb}, e = {0, ""};
        if ((rc = mdb_put(t->txn, t->s->dbi[DBI_OUTBOX_DUE], &dk, &e, 0)))
            return store__err(rc);
    }
    eq_buf_init(&b);
    encode(d, &b);
    if (b.oom) {
        eq_buf_fini(&b);
        return EQ_ENOMEM;
    }
    MDB_val k = {il, (void *)d->id}, v = {b.len, b.data};
    rc = mdb_put(t->txn, t->s->dbi[DBI_OUTBOX], &k, &v, 0);
    eq_buf_fini(&b);
    if (rc)
        return store__err(rc);
    /* The subject's index of deliveries. */
    unsigned char sk[64 + sizeof d->id];
    size_t sl = strlen(d->subject);
    if (sl > 64)
        return EQ_EINVAL;
    memcpy(sk, d->subject, sl);
    memcpy(sk + sl, d->id, il);
    MDB_val skv = {sl + il, sk}, e = {0, ""};
    return store__err(mdb_put(t->txn, t->s->dbi[DBI_DELIVERIES], &skv, &e, 0));
}

eq_err store_delivery_due(store_txn *t, int64_t now, size_t max, store_delivery_id *ids, size_t *n,
                          int64_t *next_due) {
    MDB_cursor *c;
    MDB_val k, v;
    *n = 0;
    *next_due = 0;
    int rc = mdb_cursor_open(t->txn, t->s->dbi[DBI_OUTBOX_DUE], &c);
    if (rc)
        return store__err(rc);
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size <= 8 || k.mv_size - 8 >= sizeof ids[0].id)
            continue;
        int64_t at = (int64_t)store__get_be64(k.mv_data);
        if (at > now || *n >= max) {
            if (at > now)
                *next_due = at;
            break;
        }
        memcpy(ids[*n].id, (const char *)k.mv_data + 8, k.mv_size - 8);
        ids[*n].id[k.mv_size - 8] = '\0';
        (*n)++;
    }
    mdb_cursor_close(c);
    return (rc == 0 || rc == MDB_NOTFOUND) ? EQ_OK : store__err(rc);
}

eq_err store_delivery_log_add(store_txn *t, const char *id, uint32_t try_no, int64_t at,
                              int status, uint32_t latency_ms, const char *error) {
    unsigned char kb[sizeof(((store_delivery *)0)->id) + 4];
    size_t il = strlen(id);
    if (il >= sizeof kb - 4)
        return EQ_EINVAL;
    memcpy(kb, id, il);
    for (int i = 0; i < 4; i++)
        kb[il + i] = (unsigned char)(try_no >> (24 - 8 * i));
    eq_buf b;
    eq_buf_init(&b);
    eq_buf_u8(&b, STORE_REC_VERSION);
    eq_buf_i64(&b, at);
    eq_buf_u32(&b, (uint32_t)status);
    eq_buf_u32(&b, latency_ms);
    eq_buf_str(&b, error);
    if (b.oom) {
        eq_buf_fini(&b);
        return EQ_ENOMEM;
    }
    MDB_val k = {il + 4, kb}, v = {b.len, b.data};
    int rc = mdb_put(t->txn, t->s->dbi[DBI_DELIVERY_LOG], &k, &v, 0);
    eq_buf_fini(&b);
    return store__err(rc);
}

eq_err store_delivery_log_each(store_txn *t, const char *id,
                               void (*fn)(void *arg, uint32_t try_no, int64_t at, int status,
                                          uint32_t latency_ms, const char *error),
                               void *arg) {
    MDB_cursor *c;
    size_t il = strlen(id);
    MDB_val k = {il, (void *)id}, v;
    int rc = mdb_cursor_open(t->txn, t->s->dbi[DBI_DELIVERY_LOG], &c);
    if (rc)
        return store__err(rc);
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size != il + 4 || memcmp(k.mv_data, id, il) != 0)
            break;
        const unsigned char *kp = k.mv_data;
        uint32_t try_no = (uint32_t)kp[il] << 24 | (uint32_t)kp[il + 1] << 16 |
                          (uint32_t)kp[il + 2] << 8 | kp[il + 3];
        eq_rd rd;
        eq_rd_init(&rd, v.mv_data, v.mv_size);
        if (eq_rd_u8(&rd) != STORE_REC_VERSION)
            continue;
        int64_t at = eq_rd_i64(&rd);
        int status = (int)eq_rd_u32(&rd);
        uint32_t lat = eq_rd_u32(&rd);
        char *err = eq_rd_str(&rd, 4096);
        if (!rd.bad)
            fn(arg, try_no, at, status, lat, err);
        free(err);
    }
    mdb_cursor_close(c);
    return (rc == 0 || rc == MDB_NOTFOUND) ? EQ_OK : store__err(rc);
}

eq_err store_deliveries_for(store_txn *t, const char *subject,
                            int (*fn)(void *arg, const store_delivery *d), void *arg) {
    MDB_cursor *c;
    size_t sl = strlen(subject);
    MDB_val k = {sl, (void *)subject}, v;
    int rc = mdb_cursor_open(t->txn, t->s->dbi[DBI_DELIVERIES], &c);
    if (rc)
        return store__err(rc);
    eq_err err = EQ_OK;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size <= sl || memcmp(k.mv_data, subject, sl) != 0)
            break;
        char id[sizeof(((store_delivery *)0)->id)];
        if (k.mv_size - sl >= sizeof id)
            continue;
        memcpy(id, (const char *)k.mv_data + sl, k.mv_size - sl);
        id[k.mv_size - sl] = '\0';
        store_delivery d;
        if ((err = store_delivery_get(t, id, &d))) {
            if (err == EQ_ENOTFOUND) {
                err = EQ_OK;
                continue;
            }
            break;
        }
        int stop = fn(arg, &d);
        store_delivery_fini(&d);
        if (stop)
            break;
    }
    mdb_cursor_close(c);
    return err ? err : (rc == 0 || rc == MDB_NOTFOUND) ? EQ_OK : store__err(rc);
}

eq_err store_delivery_backlog(store_txn *t, uint64_t *pending) {
    MDB_stat st;
    int rc = mdb_stat(t->txn, t->s->dbi[DBI_OUTBOX_DUE], &st);
    *pending = rc ? 0 : st.ms_entries;
    return store__err(rc);
}

eq_err store_delivery_retain(store_txn *t, int64_t before, size_t max, size_t *n) {
    MDB_cursor *c;
    MDB_val k, v;
    store_delivery_id *victims = calloc(max ? max : 1, sizeof *victims);
    size_t nv = 0;
    *n = 0;
    if (!victims)
        return EQ_ENOMEM;
    int rc = mdb_cursor_open(t->txn, t->s->dbi[DBI_OUTBOX], &c);
    if (rc) {
        free(victims);
        return store__err(rc);
    }
    /* Finished deliveries (not pending) whose last activity is older than `before`. */
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0 && nv < max;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        store_delivery d;
        if (decode(&k, &v, &d) != EQ_OK)
            continue;
        int64_t last = d.last_ms > d.created_ms ? d.last_ms : d.created_ms;
        if (d.state != STORE_DELIVERY_PENDING && last < before)
            memcpy(victims[nv++].id, d.id, sizeof victims[0].id);
        store_delivery_fini(&d);
    }
    mdb_cursor_close(c);
    eq_err err = (rc == 0 || rc == MDB_NOTFOUND) ? EQ_OK : store__err(rc);
    for (size_t i = 0; !err && i < nv; i++) {
        store_delivery d;
        if ((err = store_delivery_get(t, victims[i].id, &d))) {
            err = err == EQ_ENOTFOUND ? EQ_OK : err;
            continue;
        }
        size_t il = strlen(d.id), sl = strlen(d.subject);
        unsigned char sk[64 + sizeof d.id];
        MDB_val key = {il, d.id};
        rc = mdb_del(t->txn, t->s->dbi[DBI_OUTBOX], &key, NULL);
        if ((rc == 0 || rc == MDB_NOTFOUND) && sl <= 64) {
            memcpy(sk, d.subject, sl);
            memcpy(sk + sl, d.id, il);
            MDB_val skv = {sl + il, sk};
            rc = mdb_del(t->txn, t->s->dbi[DBI_DELIVERIES], &skv, NULL);
        }
        /* The attempts' log: every key that starts with the id. */
        for (uint32_t tr = 1; (rc == 0 || rc == MDB_NOTFOUND) && tr <= d.tries; tr++) {
            unsigned char lk[sizeof d.id + 4];
            memcpy(lk, d.id, il);
            for (int b = 0; b < 4; b++)
                lk[il + b] = (unsigned char)(tr >> (24 - 8 * b));
            MDB_val lkv = {il + 4, lk};
            rc = mdb_del(t->txn, t->s->dbi[DBI_DELIVERY_LOG], &lkv, NULL);
        }
        store_delivery_fini(&d);
        if (rc && rc != MDB_NOTFOUND)
            err = store__err(rc);
        else
            (*n)++;
    }
    free(victims);
    return err;
}

/* Datasets and batches.
 *
 *   datasets      id → version, created i64, bytes u64, hash str, name str, kind str,
 *                      description JSON str, encoded table (api/upload's codec)
 *   dataset_files id → version, the uploaded bytes
 *   dataset_hash  content hash → id          (the same upload is recognised)
 *   batches       id → version, created i64, total u32, finished u32, done_ms i64,
 *                      webhook url str, webhook secret str
 *   batch_jobs    batch id, index be32 → job id */
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"

#define DS_MAX_STR (64u << 20)

void store_dataset_fini(store_dataset *d) {
    free(d->hash);
    free(d->name);
    free(d->kind);
    free(d->description);
    free(d->table);
    memset(d, 0, sizeof *d);
}

static eq_err ds_decode(const MDB_val *v, store_dataset *d, int with_table) {
    eq_rd rd;
    memset(d, 0, sizeof *d);
    eq_rd_init(&rd, v->mv_data, v->mv_size);
    if (eq_rd_u8(&rd) != STORE_REC_VERSION)
        return EQ_ESTORE;
    d->created_ms = eq_rd_i64(&rd);
    d->bytes = eq_rd_u64(&rd);
    d->hash = eq_rd_str(&rd, 256);
    d->name = eq_rd_str(&rd, 1024);
    d->kind = eq_rd_str(&rd, 16);
    d->description = eq_rd_str(&rd, DS_MAX_STR);
    size_t tl;
    const void *tb = eq_rd_bytes(&rd, &tl, DS_MAX_STR);
    if (rd.bad || !d->hash || !d->name || !d->kind || !d->description || !tb) {
        store_dataset_fini(d);
        return EQ_ESTORE;
    }
    if (with_table) {
        d->table = malloc(tl ? tl : 1);
        if (!d->table) {
            store_dataset_fini(d);
            return EQ_ENOMEM;
        }
        memcpy(d->table, tb, tl);
        d->table_len = tl;
    }
    return EQ_OK;
}

eq_err store_dataset_get(store_txn *t, const char *id, int with_table, store_dataset *d) {
    MDB_val k = {strlen(id), (void *)id}, v;
    int rc = mdb_get(t->txn, t->s->dbi[DBI_DATASETS], &k, &v);
    if (rc)
        return store__err(rc);
    return ds_decode(&v, d, with_table);
}

eq_err store_dataset_by_hash(store_txn *t, const char *hash, char *id) {
    MDB_val k = {strlen(hash), (void *)hash}, v;
    int rc = mdb_get(t->txn, t->s->dbi[DBI_DATASET_HASH], &k, &v);
    if (rc)
        return store__err(rc);
    if (v.mv_size != EQ_ID_LEN)
        return EQ_ESTORE;
    memcpy(id, v.mv_data, EQ_ID_LEN);
    id[EQ_ID_LEN] = '\0';
    return EQ_OK;
}

eq_err store_dataset_put(store_txn *t, const char *id, const store_dataset *d, const void *file,
                         size_t file_len) {
    eq_buf b;
    eq_buf_init(&b);
    eq_buf_u8(&b, STORE_REC_VERSION);
    eq_buf_i64(&b, d->created_ms);
    eq_buf_u64(&b, d->bytes);
    eq_buf_str(&b, d->hash);
    eq_buf_str(&b, d->name);
    eq_buf_str(&b, d->kind);
    eq_buf_str(&b, d->description);
    eq_buf_bytes(&b, d->table, d->table_len);
    if (b.oom) {
        eq_buf_fini(&b);
        return EQ_ENOMEM;
    }
    MDB_val k = {EQ_ID_LEN, (void *)id}, v = {b.len, b.data};
    int rc = mdb_put(t->txn, t->s->dbi[DBI_DATASETS], &k, &v, 0);
    eq_buf_fini(&b);
    if (rc)
        return store__err(rc);
    MDB_val fv = {file_len + 1, NULL};
    if ((rc = mdb_put(t->txn, t->s->dbi[DBI_DATASET_FILES], &k, &fv, MDB_RESERVE)))
        return store__err(rc);
    ((unsigned char *)fv.mv_data)[0] = STORE_REC_VERSION;
    memcpy((unsigned char *)fv.mv_data + 1, file, file_len);
    MDB_val hk = {strlen(d->hash), d->hash}, hv = {EQ_ID_LEN, (void *)id};
    return store__err(mdb_put(t->txn, t->s->dbi[DBI_DATASET_HASH], &hk, &hv, 0));
}

eq_err store_dataset_del(store_txn *t, const char *id) {
    store_dataset d;
    eq_err err = store_dataset_get(t, id, 0, &d);
    if (err)
        return err;
    MDB_val k = {EQ_ID_LEN, (void *)id}, hk = {strlen(d.hash), d.hash};
    int rc = mdb_del(t->txn, t->s->dbi[DBI_DATASETS], &k, NULL);
    if (rc == 0 || rc == MDB_NOTFOUND)
        rc = mdb_del(t->txn, t->s->dbi[DBI_DATASET_FILES], &k, NULL);
    if (rc == 0 || rc == MDB_NOTFOUND)
        rc = mdb_del(t->txn, t->s->dbi[DBI_DATASET_HASH], &hk, NULL);
    store_dataset_fini(&d);
    if (rc && rc != MDB_NOTFOUND)
        return store__err(rc);
    /* Its columns' latest forecasts. */
    unsigned char key[EQ_ID_LEN + 1];
    memcpy(key, id, EQ_ID_LEN);
    key[EQ_ID_LEN] = '\0';
    MDB_cursor *c;
    MDB_val fk = {sizeof key, key}, fv;
    if ((rc = mdb_cursor_open(t->txn, t->s->dbi[DBI_DATASET_FC], &c)) != 0)
        return store__err(rc);
    for (rc = mdb_cursor_get(c, &fk, &fv, MDB_SET_RANGE);
         rc == 0 && fk.mv_size > sizeof key && memcmp(fk.mv_data, key, sizeof key) == 0;
         rc = mdb_cursor_get(c, &fk, &fv, MDB_NEXT)) {
        if ((rc = mdb_cursor_del(c, 0)) != 0)
            break;
    }
    mdb_cursor_close(c);
    return rc && rc != MDB_NOTFOUND ? store__err(rc) : EQ_OK;
}

/* dataset_fc: dataset id NUL column → the id of the column's latest succeeded forecast job. */
static size_t fc_key(unsigned char *key, size_t cap, const char *dataset, const char *column) {
    size_t cl = strlen(column);
    if (strlen(dataset) != EQ_ID_LEN || cl == 0 || EQ_ID_LEN + 1 + cl > cap)
        return 0;
    memcpy(key, dataset, EQ_ID_LEN);
    key[EQ_ID_LEN] = '\0';
    memcpy(key + EQ_ID_LEN + 1, column, cl);
    return EQ_ID_LEN + 1 + cl;
}

eq_err store_dataset_forecast_put(store_txn *t, const char *dataset, const char *column,
                                  const char *job_id) {
    unsigned char key[STORE_KEY_MAX];
    size_t kl = fc_key(key, sizeof key, dataset, column);
    if (!kl || strlen(job_id) != EQ_ID_LEN)
        return EQ_EINVAL;
    MDB_val k = {kl, key}, v = {EQ_ID_LEN, (void *)job_id};
    return store__err(mdb_put(t->txn, t->s->dbi[DBI_DATASET_FC], &k, &v, 0));
}

eq_err store_dataset_forecast_get(store_txn *t, const char *dataset, const char *column,
                                  char *job_id) {
    unsigned char key[STORE_KEY_MAX];
    size_t kl = fc_key(key, sizeof key, dataset, column);
    if (!kl)
        return EQ_ENOTFOUND;
    MDB_val k = {kl, key}, v;
    int rc = mdb_get(t->txn, t->s->dbi[DBI_DATASET_FC], &k, &v);
    if (rc)
        return store__err(rc);
    if (v.mv_size != EQ_ID_LEN)
        return EQ_ESTORE;
    memcpy(job_id, v.mv_data, EQ_ID_LEN);
    job_id[EQ_ID_LEN] = '\0';
    return EQ_OK;
}

eq_err store_datasets_each(store_txn *t, int (*fn)(void *arg, const char *id, const store_dataset *d),
                           void *arg) {
    MDB_cursor *c;
    MDB_val k, v;
    int rc = mdb_cursor_open(t->txn, t->s->dbi[DBI_DATASETS], &c);
    if (rc)
        return store__err(rc);
    eq_err err = EQ_OK;
    /* Newest first: ids sort by creation time. */
    for (rc = mdb_cursor_get(c, &k, &v, MDB_LAST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_PREV)) {
        char id[EQ_ID_LEN + 1];
        store_dataset d;
        if (k.mv_size != EQ_ID_LEN)
            continue;
        memcpy(id, k.mv_data, EQ_ID_LEN);
        id[EQ_ID_LEN] = '\0';
        if ((err = ds_decode(&v, &d, 0)))
            break;
        int stop = fn(arg, id, &d);
        store_dataset_fini(&d);
        if (stop)
            break;
    }
    mdb_cursor_close(c);
    return err ? err : (rc == 0 || rc == MDB_NOTFOUND) ? EQ_OK : store__err(rc);
}

/* batches */

void store_batch_fini(store_batch *b) {
    free(b->webhook_url);
    free(b->webhook_secret);
    memset(b, 0, sizeof *b);
}

eq_err store_batch_get(store_txn *t, const char *id, store_batch *b) {
    MDB_val k = {strlen(id), (void *)id}, v;
    eq_rd rd;
    memset(b, 0, sizeof *b);
    int rc = mdb_get(t->txn, t->s->dbi[DBI_BATCHES], &k, &v);
    if (rc)
        return store__err(rc);
    eq_rd_init(&rd, v.mv_data, v.mv_size);
    if (eq_rd_u8(&rd) != STORE_REC_VERSION)
        return EQ_ESTORE;
    b->created_ms = eq_rd_i64(&rd);
    b->total = eq_rd_u32(&rd);
    b->finished = eq_rd_u32(&rd);
    b->done_ms = eq_rd_i64(&rd);
    b->webhook_url = eq_rd_str(&rd, 4096);
    b->webhook_secret = eq_rd_str(&rd, 512);
    if (rd.bad) {
        store_batch_fini(b);
        return EQ_ESTORE;
    }
    return EQ_OK;
}

eq_err store_batch_put(store_txn *t, const char *id, const store_batch *b) {
    eq_buf buf;
    eq_buf_init(&buf);
    eq_buf_u8(&buf, STORE_REC_VERSION);
    eq_buf_i64(&buf, b->created_ms);
    eq_buf_u32(&buf, b->total);
    eq_buf_u32(&buf, b->finished);
    eq_buf_i64(&buf, b->done_ms);
    eq_buf_str(&buf, b->webhook_url);
    eq_buf_str(&buf, b->webhook_secret);
    if (buf.oom) {
        eq_buf_fini(&buf);
        return EQ_ENOMEM;
    }
    MDB_val k = {EQ_ID_LEN, (void *)id}, v = {buf.len, buf.data};
    int rc = mdb_put(t->txn, t->s->dbi[DBI_BATCHES], &k, &v, 0);
    eq_buf_fini(&buf);
    return store__err(rc);
}

eq_err store_batch_add_job(store_txn *t, const char *batch, uint32_t index, const char *job) {
    unsigned char kb[EQ_ID_LEN + 4];
    memcpy(kb, batch, EQ_ID_LEN);
    for (int i = 0; i < 4; i++)
        kb[EQ_ID_LEN + i] = (unsigned char)(index >> (24 - 8 * i));
    MDB_val k = {sizeof kb, kb}, v = {EQ_ID_LEN, (void *)job};
    return store__err(mdb_put(t->txn, t->s->dbi[DBI_BATCH_JOBS], &k, &v, 0));
}

eq_err store_batch_jobs(store_txn *t, const char *batch, uint32_t from, size_t max,
                        int (*fn)(void *arg, uint32_t index, const char *job_id), void *arg) {
    MDB_cursor *c;
    unsigned char kb[EQ_ID_LEN + 4];
    memcpy(kb, batch, EQ_ID_LEN);
    for (int i = 0; i < 4; i++)
        kb[EQ_ID_LEN + i] = (unsigned char)(from >> (24 - 8 * i));
    MDB_val k = {sizeof kb, kb}, v;
    int rc = mdb_cursor_open(t->txn, t->s->dbi[DBI_BATCH_JOBS], &c);
    if (rc)
        return store__err(rc);
    size_t n = 0;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0 && n < max;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT), n++) {
        const unsigned char *kp = k.mv_data;
        if (k.mv_size != EQ_ID_LEN + 4 || memcmp(kp, batch, EQ_ID_LEN) != 0 ||
            v.mv_size != EQ_ID_LEN)
            break;
        uint32_t idx = (uint32_t)kp[EQ_ID_LEN] << 24 | (uint32_t)kp[EQ_ID_LEN + 1] << 16 |
                       (uint32_t)kp[EQ_ID_LEN + 2] << 8 | kp[EQ_ID_LEN + 3];
        char id[EQ_ID_LEN + 1];
        memcpy(id, v.mv_data, EQ_ID_LEN);
        id[EQ_ID_LEN] = '\0';
        if (fn(arg, idx, id))
            break;
    }
    mdb_cursor_close(c);
    return (rc == 0 || rc == MDB_NOTFOUND) ? EQ_OK : store__err(rc);
}

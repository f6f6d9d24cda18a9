#include "store/store_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"

static const char *const dbi_names[DBI_COUNT] = {
    [DBI_META] = "meta",         [DBI_JOBS] = "jobs",   [DBI_QUEUE] = "queue",
    [DBI_LEASES] = "leases",     [DBI_BY_STATE] = "by_state", [DBI_DONE] = "done",
    [DBI_RESULTS] = "results",   [DBI_IDEM] = "idem",   [DBI_WORKERS] = "workers",
    [DBI_CACHE] = "cache",       [DBI_CACHE_LRU] = "cache_lru",
    [DBI_DATASETS] = "datasets", [DBI_DATASET_FILES] = "dataset_files",
    [DBI_DATASET_HASH] = "dataset_hash", [DBI_BATCHES] = "batches",
    [DBI_BATCH_JOBS] = "batch_jobs", [DBI_OUTBOX] = "outbox", [DBI_OUTBOX_DUE] = "outbox_due",
    [DBI_DELIVERIES] = "deliveries", [DBI_DELIVERY_LOG] = "delivery_log",
    [DBI_SCHEDULES] = "schedules", [DBI_CHARTS] = "charts",
    [DBI_COLLS] = "colls",         [DBI_COLL_DOCS] = "coll_docs", [DBI_COLL_LOG] = "coll_log",
    [DBI_DATASET_FC] = "dataset_fc",
};

eq_err store__err(int rc) {
    switch (rc) {
    case MDB_SUCCESS: return EQ_OK;
    case MDB_NOTFOUND: return EQ_ENOTFOUND;
    case MDB_KEYEXIST: return EQ_EEXIST;
    case MDB_MAP_FULL: return EQ_EFULL;
    case ENOMEM: return EQ_ENOMEM;
    case EACCES:
    case EROFS:
    case ENOSPC:
    case EIO: return EQ_EIO;
    default: return EQ_ESTORE;
    }
}

void store__put_be64(unsigned char *p, uint64_t v) {
    for (int i = 7; i >= 0; i--) {
        p[i] = (unsigned char)v;
        v >>= 8;
    }
}

uint64_t store__get_be64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

void store_opts_defaults(store_opts *o) {
    o->map_size = STORE_DEFAULT_MAP_SIZE;
    o->nosync = 0;
    o->max_readers = 256;
}

eq_err store_open(const char *dir, const store_opts *o, store **out) {
    store *s = calloc(1, sizeof *s);
    MDB_txn *txn = NULL;
    int rc;
    eq_err err = EQ_ENOMEM;
    if (!s)
        return EQ_ENOMEM;
    s->path = strdup(dir);
    if (!s->path)
        goto fail;
    if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
        eq_log(EQ_LOG_ERROR, "cannot create data directory", "path", dir, "error", strerror(errno),
               NULL);
        err = EQ_EIO;
        goto fail;
    }
    if ((rc = mdb_env_create(&s->env)) != 0)
        goto fail_rc;
    mdb_env_set_maxdbs(s->env, 32);
    if (o->map_size) /* 0: the size the environment was made with (another process's) */
        mdb_env_set_mapsize(s->env, o->map_size);
    mdb_env_set_maxreaders(s->env, o->max_readers);
    /* MDB_NOTLS: read transactions are reused across threads (the api's loop and helpers). */
    /* nosync: commits write into the map and the kernel flushes when it likes (the file's
     * apparent size becomes the map size; it is sparse). sync: every commit is fsynced. */
    unsigned flags = MDB_NOTLS | MDB_NORDAHEAD |
                     (o->nosync ? MDB_NOSYNC | MDB_WRITEMAP | MDB_MAPASYNC : 0);
    if ((rc = mdb_env_open(s->env, dir, flags, 0640)) != 0) {
        eq_log(EQ_LOG_ERROR, "cannot open store", "path", dir, "error", mdb_strerror(rc), NULL);
        goto fail_rc;
    }
    if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0)
        goto fail_rc;
    for (int i = 0; i < DBI_COUNT; i++) {
        if ((rc = mdb_dbi_open(txn, dbi_names[i], MDB_CREATE, &s->dbi[i])) != 0)
            goto fail_rc;
    }
    /* The layout version: a newer store is refused rather than misread. */
    MDB_val k = {6, "format"}, v;
    rc = mdb_get(txn, s->dbi[DBI_META], &k, &v);
    if (rc == MDB_NOTFOUND) {
        uint64_t f = STORE_FORMAT;
        v.mv_size = sizeof f;
        v.mv_data = &f;
        if ((rc = mdb_put(txn, s->dbi[DBI_META], &k, &v, 0)) != 0)
            goto fail_rc;
    } else if (rc != 0) {
        goto fail_rc;
    } else {
        uint64_t f;
        memcpy(&f, v.mv_data, v.mv_size < sizeof f ? v.mv_size : sizeof f);
        if (v.mv_size != sizeof f || f > STORE_FORMAT) {
            eq_log(EQ_LOG_ERROR, "store format is newer than this econqd", "path", dir, NULL);
            err = EQ_EUNSUPPORTED;
            goto fail;
        }
    }
    if ((rc = mdb_txn_commit(txn)) != 0) {
        txn = NULL;
        goto fail_rc;
    }
    txn = NULL;
    /* Readers left behind by a crashed process would pin old pages. */
    int dead = 0;
    mdb_reader_check(s->env, &dead);
    *out = s;
    return EQ_OK;
fail_rc:
    err = store__err(rc);
    if (err == EQ_ENOTFOUND)
        err = EQ_ESTORE;
fail:
    if (txn)
        mdb_txn_abort(txn);
    if (s->env)
        mdb_env_close(s->env);
    free(s->path);
    free(s);
    return err;
}

void store_close(store *s) {
    if (!s)
        return;
    mdb_env_sync(s->env, 1);
    mdb_env_close(s->env);
    free(s->path);
    free(s);
}

eq_err store_sync(store *s) {
    return store__err(mdb_env_sync(s->env, 1));
}

const char *store_path(const store *s) {
    return s->path;
}

eq_err store_txn_begin(store *s, int write, store_txn **out) {
    store_txn *t = malloc(sizeof *t);
    if (!t)
        return EQ_ENOMEM;
    t->s = s;
    t->write = write;
    int rc = mdb_txn_begin(s->env, NULL, write ? 0 : MDB_RDONLY, &t->txn);
    if (rc != 0) {
        free(t);
        return store__err(rc);
    }
    *out = t;
    return EQ_OK;
}

eq_err store_txn_commit(store_txn *t) {
    int rc = mdb_txn_commit(t->txn);
    free(t);
    return store__err(rc);
}

void store_txn_abort(store_txn *t) {
    if (!t)
        return;
    mdb_txn_abort(t->txn);
    free(t);
}

eq_err store_stat(store *s, store_info *out) {
    MDB_envinfo info;
    MDB_stat st;
    memset(out, 0, sizeof *out);
    int rc = mdb_env_info(s->env, &info);
    if (rc == 0)
        rc = mdb_env_stat(s->env, &st);
    if (rc != 0)
        return store__err(rc);
    out->map_size = info.me_mapsize;
    out->used_bytes = (uint64_t)(info.me_last_pgno + 1) * st.ms_psize;
    out->last_txn = info.me_last_txnid;
    out->readers = info.me_numreaders;
    out->max_readers = info.me_maxreaders;
    MDB_txn *txn;
    if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn)) != 0)
        return store__err(rc);
    if (mdb_stat(txn, s->dbi[DBI_JOBS], &st) == 0)
        out->jobs = st.ms_entries;
    if (mdb_stat(txn, s->dbi[DBI_QUEUE], &st) == 0)
        out->queued = st.ms_entries;
    if (mdb_stat(txn, s->dbi[DBI_LEASES], &st) == 0)
        out->running = st.ms_entries;
    mdb_txn_abort(txn);
    return EQ_OK;
}

#define STORE_RESERVE_MIN (2ull << 20) /* the map's reserve for deletes, at least 2 MiB... */
#define STORE_RESERVE_SHARE 20         /* ...or a twentieth (5%) of the map */

void store_space(store *s, uint64_t *used, uint64_t *map, uint64_t *reserve) {
    MDB_envinfo info;
    MDB_stat st;
    MDB_txn *txn;
    MDB_cursor *c;
    MDB_val k, v;
    *used = *map = *reserve = 0;
    if (mdb_env_info(s->env, &info) || mdb_env_stat(s->env, &st))
        return;
    *map = info.me_mapsize;
    *reserve = info.me_mapsize / STORE_RESERVE_SHARE;
    if (*reserve < STORE_RESERVE_MIN)
        *reserve = STORE_RESERVE_MIN;
    uint64_t high = (uint64_t)(info.me_last_pgno + 1) * st.ms_psize;
    *used = high;
    if (high <= info.me_mapsize / 2)
        return; /* the high-water mark is far from the end: no need to count free pages */
    /* Near the end of the map: pages on the free list can be reused. */
    uint64_t free_pages = 0;
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn))
        return;
    if (mdb_cursor_open(txn, 0, &c) == 0) {
        while (mdb_cursor_get(c, &k, &v, MDB_NEXT) == 0)
            if (v.mv_size >= sizeof(size_t))
                free_pages += *(const size_t *)v.mv_data;
        mdb_cursor_close(c);
    }
    mdb_txn_abort(txn);
    if (free_pages * st.ms_psize < high)
        *used = high - free_pages * st.ms_psize;
}

int store_space_low(store *s) {
    uint64_t used, map, reserve;
    store_space(s, &used, &map, &reserve);
    return map && used + reserve > map;
}

int store_dir_writable(store *s) {
    char p[4096];
    snprintf(p, sizeof p, "%s/.write-check", s->path);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return 0;
    int ok = write(fd, "x", 1) == 1;
    close(fd);
    unlink(p);
    return ok;
}

eq_err store_meta_get(store_txn *t, const char *name, uint64_t *v) {
    MDB_val k = {strlen(name), (void *)name}, d;
    int rc = mdb_get(t->txn, t->s->dbi[DBI_META], &k, &d);
    if (rc != 0)
        return store__err(rc);
    if (d.mv_size != sizeof *v)
        return EQ_ESTORE;
    memcpy(v, d.mv_data, sizeof *v);
    return EQ_OK;
}

eq_err store_meta_put(store_txn *t, const char *name, uint64_t v) {
    MDB_val k = {strlen(name), (void *)name}, d = {sizeof v, &v};
    return store__err(mdb_put(t->txn, t->s->dbi[DBI_META], &k, &d, 0));
}

/* results */

eq_err store_result_put(store_txn *t, const char *id, const char *json, size_t len) {
    MDB_val k = {strlen(id), (void *)id}, d = {len + 1, NULL};
    int rc = mdb_put(t->txn, t->s->dbi[DBI_RESULTS], &k, &d, MDB_RESERVE);
    if (rc != 0)
        return store__err(rc);
    unsigned char *p = d.mv_data;
    p[0] = STORE_REC_VERSION;
    memcpy(p + 1, json, len);
    return EQ_OK;
}

eq_err store_result_get(store_txn *t, const char *id, char **json) {
    MDB_val k = {strlen(id), (void *)id}, d;
    int rc = mdb_get(t->txn, t->s->dbi[DBI_RESULTS], &k, &d);
    if (rc != 0)
        return store__err(rc);
    const unsigned char *p = d.mv_data;
    if (d.mv_size < 1 || p[0] != STORE_REC_VERSION)
        return EQ_ESTORE;
    char *s = malloc(d.mv_size);
    if (!s)
        return EQ_ENOMEM;
    memcpy(s, p + 1, d.mv_size - 1);
    s[d.mv_size - 1] = '\0';
    *json = s;
    return EQ_OK;
}

eq_err store_result_del(store_txn *t, const char *id) {
    MDB_val k = {strlen(id), (void *)id};
    int rc = mdb_del(t->txn, t->s->dbi[DBI_RESULTS], &k, NULL);
    return rc == MDB_NOTFOUND ? EQ_OK : store__err(rc);
}

/* idempotency keys: version u8, hash u64, created i64, id[26] */

#define IDEM_REC_LEN (1 + 8 + 8 + EQ_ID_LEN)

eq_err store_idem_get(store_txn *t, const char *key, store_idem *out) {
    MDB_val k = {strlen(key), (void *)key}, d;
    int rc = mdb_get(t->txn, t->s->dbi[DBI_IDEM], &k, &d);
    if (rc != 0)
        return store__err(rc);
    const unsigned char *p = d.mv_data;
    if (d.mv_size != IDEM_REC_LEN || p[0] != STORE_REC_VERSION)
        return EQ_ESTORE;
    memcpy(&out->hash, p + 1, 8);
    memcpy(&out->created_ms, p + 9, 8);
    memcpy(out->job_id, p + 17, EQ_ID_LEN);
    out->job_id[EQ_ID_LEN] = '\0';
    return EQ_OK;
}

eq_err store_idem_put(store_txn *t, const char *key, const store_idem *v) {
    unsigned char rec[IDEM_REC_LEN];
    rec[0] = STORE_REC_VERSION;
    memcpy(rec + 1, &v->hash, 8);
    memcpy(rec + 9, &v->created_ms, 8);
    memcpy(rec + 17, v->job_id, EQ_ID_LEN);
    MDB_val k = {strlen(key), (void *)key}, d = {sizeof rec, rec};
    return store__err(mdb_put(t->txn, t->s->dbi[DBI_IDEM], &k, &d, 0));
}

eq_err store_idem_sweep(store_txn *t, int64_t before, char *cursor, size_t cursor_len, size_t max,
                        size_t *deleted) {
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, t->s->dbi[DBI_IDEM], &c);
    *deleted = 0;
    if (rc != 0)
        return store__err(rc);
    MDB_val k = {strlen(cursor), cursor}, d;
    rc = k.mv_size ? mdb_cursor_get(c, &k, &d, MDB_SET_RANGE) : mdb_cursor_get(c, &k, &d, MDB_FIRST);
    size_t seen = 0;
    while (rc == 0 && seen < max) {
        int64_t created;
        seen++;
        if (d.mv_size == IDEM_REC_LEN) {
            memcpy(&created, (const unsigned char *)d.mv_data + 9, 8);
            if (created < before) {
                if ((rc = mdb_cursor_del(c, 0)) != 0)
                    break;
                (*deleted)++;
                rc = mdb_cursor_get(c, &k, &d, MDB_GET_CURRENT);
                /* After deleting the last key LMDB answers EINVAL, not NOTFOUND. */
                if (rc == MDB_NOTFOUND || rc == EINVAL) {
                    rc = MDB_NOTFOUND;
                    break;
                }
                continue;
            }
        }
        rc = mdb_cursor_get(c, &k, &d, MDB_NEXT);
    }
    if (rc == 0 && k.mv_size < cursor_len) {
        memcpy(cursor, k.mv_data, k.mv_size);
        cursor[k.mv_size] = '\0';
    } else {
        cursor[0] = '\0';
    }
    mdb_cursor_close(c);
    return (rc == 0 || rc == MDB_NOTFOUND) ? EQ_OK : store__err(rc);
}

/* workers: version u8, seen i64, kinds text */

eq_err store_worker_seen(store_txn *t, const char *name, const char *kinds, int64_t now) {
    size_t kl = strlen(kinds);
    MDB_val k = {strlen(name), (void *)name}, d = {1 + 8 + kl, NULL};
    int rc = mdb_put(t->txn, t->s->dbi[DBI_WORKERS], &k, &d, MDB_RESERVE);
    if (rc != 0)
        return store__err(rc);
    unsigned char *p = d.mv_data;
    p[0] = STORE_REC_VERSION;
    memcpy(p + 1, &now, 8);
    memcpy(p + 9, kinds, kl);
    return EQ_OK;
}

eq_err store_workers_each(store_txn *t,
                          void (*fn)(void *arg, const char *name, const char *kinds, int64_t seen),
                          void *arg) {
    MDB_cursor *c;
    MDB_val k, d;
    int rc = mdb_cursor_open(t->txn, t->s->dbi[DBI_WORKERS], &c);
    if (rc != 0)
        return store__err(rc);
    for (rc = mdb_cursor_get(c, &k, &d, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
        char name[257], kinds[257];
        int64_t seen;
        if (d.mv_size < 9 || k.mv_size >= sizeof name || d.mv_size - 9 >= sizeof kinds)
            continue;
        memcpy(name, k.mv_data, k.mv_size);
        name[k.mv_size] = '\0';
        memcpy(&seen, (const unsigned char *)d.mv_data + 1, 8);
        memcpy(kinds, (const unsigned char *)d.mv_data + 9, d.mv_size - 9);
        kinds[d.mv_size - 9] = '\0';
        fn(arg, name, kinds, seen);
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? EQ_OK : store__err(rc);
}

/* The chart index and store-wide copies (see store/store_sched.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store_internal.h"
#include "store/store_sched.h"

static eq_err chart_decode(const MDB_val *v, store_chart *c) {
    eq_rd rd;
    memset(c, 0, sizeof *c);
    eq_rd_init(&rd, v->mv_data, v->mv_size);
    if (eq_rd_u8(&rd) != STORE_REC_VERSION) return EQ_ESTORE;
    c->created_ms = eq_rd_i64(&rd);
    c->accessed_ms = eq_rd_i64(&rd);
    c->size = eq_rd_u64(&rd);
    char *ct = eq_rd_str(&rd, sizeof c->content_type - 1);
    char *ext = eq_rd_str(&rd, sizeof c->ext - 1);
    char *job = eq_rd_str(&rd, EQ_ID_LEN);
    eq_err err = rd.bad || !ct || !ext ? EQ_ESTORE : EQ_OK;
    if (!err) {
        snprintf(c->content_type, sizeof c->content_type, "%s", ct);
        snprintf(c->ext, sizeof c->ext, "%s", ext);
        snprintf(c->job_id, sizeof c->job_id, "%s", job ? job : "");
    }
    free(ct);
    free(ext);
    free(job);
    return err;
}

eq_err store_chart_get(store_txn *t, const char *id, store_chart *c) {
    MDB_val k = {strlen(id), (void *)id}, v;
    int rc = mdb_get(t->txn, t->s->dbi[DBI_CHARTS], &k, &v);
    if (rc) return store__err(rc);
    return chart_decode(&v, c);
}

eq_err store_chart_put(store_txn *t, const char *id, const store_chart *c) {
    eq_buf b;
    eq_buf_init(&b);
    eq_buf_u8(&b, STORE_REC_VERSION);
    eq_buf_i64(&b, c->created_ms);
    eq_buf_i64(&b, c->accessed_ms);
    eq_buf_u64(&b, c->size);
    eq_buf_str(&b, c->content_type);
    eq_buf_str(&b, c->ext);
    eq_buf_str(&b, c->job_id);
    if (b.oom) {
        eq_buf_fini(&b);
        return EQ_ENOMEM;
    }
    MDB_val k = {strlen(id), (void *)id}, v = {b.len, b.data};
    int rc = mdb_put(t->txn, t->s->dbi[DBI_CHARTS], &k, &v, 0);
    eq_buf_fini(&b);
    return store__err(rc);
}

eq_err store_chart_del(store_txn *t, const char *id) {
    MDB_val k = {strlen(id), (void *)id};
    return store__err(mdb_del(t->txn, t->s->dbi[DBI_CHARTS], &k, NULL));
}

eq_err store_charts_each(store_txn *t, int (*fn)(void *arg, const char *id, const store_chart *c),
                         void *arg) {
    MDB_cursor *cur;
    MDB_val k, v;
    char id[EQ_ID_LEN + 1];
    int rc = mdb_cursor_open(t->txn, t->s->dbi[DBI_CHARTS], &cur);
    if (rc) return store__err(rc);
    eq_err err = EQ_OK;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        store_chart c;
        if (k.mv_size != EQ_ID_LEN) continue;
        memcpy(id, k.mv_data, EQ_ID_LEN);
        id[EQ_ID_LEN] = '\0';
        if ((err = chart_decode(&v, &c))) break;
        if (fn(arg, id, &c)) break;
    }
    if (!err && rc != 0 && rc != MDB_NOTFOUND) err = store__err(rc);
    mdb_cursor_close(cur);
    return err;
}

/* mdb_env_copyfd2 rather than mdb_env_copy2: the latter writes <path>/data.mdb into a
 * directory, and a backup is one file. The copy goes to a temporary name, is fsynced and then
 * renamed, so a backup that exists is whole. */
eq_err store_backup(store *s, const char *path) {
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) return EQ_EINVAL;
    if (access(path, F_OK) == 0) return EQ_EEXIST;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0) return EQ_EIO;
    int rc = mdb_env_copyfd2(s->env, fd, MDB_CP_COMPACT);
    eq_err err = rc ? store__err(rc) : EQ_OK;
    if (!err && fsync(fd) != 0) err = EQ_EIO;
    if (close(fd) != 0 && !err) err = EQ_EIO;
    if (!err && rename(tmp, path) != 0) err = EQ_EIO;
    if (err) unlink(tmp);
    return err;
}

/* LMDB holds a shared fcntl lock on the first byte of lock.mdb in every process that has the
 * environment open; asking whether an exclusive lock could be taken tells whether one does. */
int store_in_use(const char *dir) {
    char path[4096];
    if (snprintf(path, sizeof path, "%s/lock.mdb", dir) >= (int)sizeof path) return 0;
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) return 0;
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
    int busy = fcntl(fd, F_GETLK, &fl) == 0 ? fl.l_type != F_UNLCK : 1;
    close(fd);
    return busy;
}

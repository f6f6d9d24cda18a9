/* The jobs table and the indexes that follow a job's state: queue, leases, by_state, done. */
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"

#define JOB_REC_MAX_STR (16u << 20) /* a stored string (params) is never larger than a message */

void store_job_encode(const eq_job *j, eq_buf *b) {
    eq_buf_u8(b, STORE_REC_VERSION);
    eq_buf_put(b, j->id, EQ_ID_LEN);
    eq_buf_str(b, j->type);
    eq_buf_u8(b, j->state);
    eq_buf_u8(b, j->priority);
    eq_buf_u8(b, (uint8_t)(j->cached | j->cancel_requested << 1));
    eq_buf_u16(b, j->attempt);
    eq_buf_u16(b, j->max_attempts);
    eq_buf_u16(b, j->attempt_base);
    eq_buf_u64(b, j->seq);
    eq_buf_i64(b, j->created_ms);
    eq_buf_i64(b, j->run_at_ms);
    eq_buf_i64(b, j->started_ms);
    eq_buf_i64(b, j->finished_ms);
    eq_buf_i64(b, j->updated_ms);
    eq_buf_i64(b, j->lease_deadline_ms);
    eq_buf_str(b, j->params);
    eq_buf_str(b, j->error_code);
    eq_buf_str(b, j->error_message);
    eq_buf_str(b, j->worker);
    eq_buf_str(b, j->idem_key);
    eq_buf_str(b, j->batch_id);
    eq_buf_str(b, j->schedule);
    eq_buf_str(b, j->webhook_url);
    eq_buf_str(b, j->webhook_secret);
}

eq_err store_job_decode(const void *buf, size_t len, eq_job *j) {
    eq_rd rd;
    eq_job_init(j);
    eq_rd_init(&rd, buf, len);
    if (eq_rd_u8(&rd) != STORE_REC_VERSION || len < 1 + EQ_ID_LEN)
        return EQ_ESTORE;
    memcpy(j->id, rd.p, EQ_ID_LEN);
    j->id[EQ_ID_LEN] = '\0';
    rd.p += EQ_ID_LEN;
    char *type = eq_rd_str(&rd, JOB_TYPE_MAX - 1);
    if (type) {
        strcpy(j->type, type);
        free(type);
    }
    j->state = eq_rd_u8(&rd);
    j->priority = eq_rd_u8(&rd);
    uint8_t flags = eq_rd_u8(&rd);
    j->cached = flags & 1;
    j->cancel_requested = (flags >> 1) & 1;
    j->attempt = eq_rd_u16(&rd);
    j->max_attempts = eq_rd_u16(&rd);
    j->attempt_base = eq_rd_u16(&rd);
    j->seq = eq_rd_u64(&rd);
    j->created_ms = eq_rd_i64(&rd);
    j->run_at_ms = eq_rd_i64(&rd);
    j->started_ms = eq_rd_i64(&rd);
    j->finished_ms = eq_rd_i64(&rd);
    j->updated_ms = eq_rd_i64(&rd);
    j->lease_deadline_ms = eq_rd_i64(&rd);
    j->params = eq_rd_str(&rd, JOB_REC_MAX_STR);
    j->error_code = eq_rd_str(&rd, JOB_REC_MAX_STR);
    j->error_message = eq_rd_str(&rd, JOB_REC_MAX_STR);
    j->worker = eq_rd_str(&rd, JOB_REC_MAX_STR);
    j->idem_key = eq_rd_str(&rd, JOB_REC_MAX_STR);
    j->batch_id = eq_rd_str(&rd, JOB_REC_MAX_STR);
    j->schedule = eq_rd_str(&rd, JOB_REC_MAX_STR);
    j->webhook_url = eq_rd_str(&rd, JOB_REC_MAX_STR);
    j->webhook_secret = eq_rd_str(&rd, JOB_REC_MAX_STR);
    if (rd.bad || rd.p != rd.end || !type || j->state == 0 || j->state >= JOB_STATE_MAX) {
        eq_job_fini(j);
        return EQ_ESTORE;
    }
    return EQ_OK;
}

eq_err store_job_get(store_txn *t, const char *id, eq_job *j) {
    MDB_val k = {strlen(id), (void *)id}, d;
    int rc = mdb_get(t->txn, t->s->dbi[DBI_JOBS], &k, &d);
    if (rc != 0)
        return store__err(rc);
    return store_job_decode(d.mv_data, d.mv_size, j);
}

eq_err store_job_put(store_txn *t, const eq_job *j) {
    eq_buf b;
    eq_buf_init(&b);
    store_job_encode(j, &b);
    if (b.oom) {
        eq_buf_fini(&b);
        return EQ_ENOMEM;
    }
    MDB_val k = {EQ_ID_LEN, (void *)j->id}, d = {b.len, b.data};
    int rc = mdb_put(t->txn, t->s->dbi[DBI_JOBS], &k, &d, 0);
    eq_buf_fini(&b);
    return store__err(rc);
}

eq_err store_job_del(store_txn *t, const char *id) {
    MDB_val k = {strlen(id), (void *)id};
    int rc = mdb_del(t->txn, t->s->dbi[DBI_JOBS], &k, NULL);
    return rc == MDB_NOTFOUND ? EQ_OK : store__err(rc);
}

/* queue key: type NUL prio u8 run_at be64 seq be64 */
static size_t queue_key(unsigned char *k, const char *type, int prio, int64_t run_at, uint64_t seq) {
    size_t tl = strlen(type);
    memcpy(k, type, tl);
    k[tl] = '\0';
    k[tl + 1] = (unsigned char)prio;
    /* Offset run_at so that times before 1970 still sort as unsigned. */
    store__put_be64(k + tl + 2, (uint64_t)run_at ^ (1ull << 63));
    store__put_be64(k + tl + 10, seq);
    return tl + 18;
}

eq_err store_queue_put(store_txn *t, const eq_job *j) {
    if (strlen(j->type) >= JOB_TYPE_MAX)
        return EQ_EINVAL;
    unsigned char kb[JOB_TYPE_MAX + 18];
    MDB_val k = {queue_key(kb, j->type, j->priority, j->run_at_ms, j->seq), kb};
    MDB_val d = {EQ_ID_LEN, (void *)j->id};
    return store__err(mdb_put(t->txn, t->s->dbi[DBI_QUEUE], &k, &d, 0));
}

eq_err store_queue_del(store_txn *t, const eq_job *j) {
    unsigned char kb[JOB_TYPE_MAX + 18];
    MDB_val k = {queue_key(kb, j->type, j->priority, j->run_at_ms, j->seq), kb};
    int rc = mdb_del(t->txn, t->s->dbi[DBI_QUEUE], &k, NULL);
    return rc == MDB_NOTFOUND ? EQ_OK : store__err(rc);
}

eq_err store_queue_peek(store_txn *t, const char *type, int64_t now, char *id, int *prio,
                        int64_t *run_at, uint64_t *seq, int64_t *next_ms) {
    MDB_cursor *c;
    size_t tl = strlen(type);
    if (tl >= JOB_TYPE_MAX)
        return EQ_ENOTFOUND;
    int rc = mdb_cursor_open(t->txn, t->s->dbi[DBI_QUEUE], &c);
    if (rc != 0)
        return store__err(rc);
    eq_err err = EQ_ENOTFOUND;
    for (int p = 0; p <= JOB_PRIORITY_MAX; p++) {
        unsigned char kb[JOB_TYPE_MAX + 18];
        MDB_val k = {queue_key(kb, type, p, INT64_MIN, 0), kb}, d;
        rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
        if (rc == MDB_NOTFOUND)
            break;
        if (rc != 0) {
            err = store__err(rc);
            break;
        }
        const unsigned char *kp = k.mv_data;
        if (k.mv_size != tl + 18 || memcmp(kp, type, tl) != 0 || kp[tl] != '\0')
            break; /* past this type */
        if (kp[tl + 1] != p) {
            p = kp[tl + 1] - 1; /* skip empty priorities */
            continue;
        }
        int64_t ra = (int64_t)(store__get_be64(kp + tl + 2) ^ (1ull << 63));
        if (ra > now) {
            if (next_ms && ra < *next_ms)
                *next_ms = ra;
            continue;
        }
        if (d.mv_size != EQ_ID_LEN) {
            err = EQ_ESTORE;
            break;
        }
        memcpy(id, d.mv_data, EQ_ID_LEN);
        id[EQ_ID_LEN] = '\0';
        *prio = p;
        *run_at = ra;
        *seq = store__get_be64(kp + tl + 10);
        err = EQ_OK;
        break;
    }
    mdb_cursor_close(c);
    return err;
}

eq_err store_queue_depth(store_txn *t, const char *type, uint64_t *n, int64_t *oldest_ms) {
    MDB_cursor *c;
    MDB_val k, d;
    size_t tl = strlen(type);
    unsigned char kb[JOB_TYPE_MAX + 18];
    *n = 0;
    *oldest_ms = 0;
    if (tl >= JOB_TYPE_MAX)
        return EQ_OK;
    int rc = mdb_cursor_open(t->txn, t->s->dbi[DBI_QUEUE], &c);
    if (rc != 0)
        return store__err(rc);
    k.mv_size = queue_key(kb, type, 0, INT64_MIN, 0);
    k.mv_data = kb;
    /* Counting walks the type's entries; bounded so /health stays cheap on huge queues. */
    for (rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE); rc == 0 && *n < 1000000;
         rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
        const unsigned char *kp = k.mv_data;
        if (k.mv_size != tl + 18 || memcmp(kp, type, tl) != 0 || kp[tl] != '\0')
            break;
        int64_t ra = (int64_t)(store__get_be64(kp + tl + 2) ^ (1ull << 63));
        if (*oldest_ms == 0 || ra < *oldest_ms)
            *oldest_ms = ra;
        (*n)++;
    }
    mdb_cursor_close(c);
    return (rc == 0 || rc == MDB_NOTFOUND) ? EQ_OK : store__err(rc);
}

/* time-ordered indexes: be64 time, id */
static eq_err time_index_put(store_txn *t, int dbi, int64_t ms, const char *id) {
    unsigned char kb[8 + EQ_ID_LEN];
    store__put_be64(kb, (uint64_t)ms);
    memcpy(kb + 8, id, EQ_ID_LEN);
    MDB_val k = {sizeof kb, kb}, d = {0, ""};
    return store__err(mdb_put(t->txn, t->s->dbi[dbi], &k, &d, 0));
}

static eq_err time_index_del(store_txn *t, int dbi, int64_t ms, const char *id) {
    unsigned char kb[8 + EQ_ID_LEN];
    store__put_be64(kb, (uint64_t)ms);
    memcpy(kb + 8, id, EQ_ID_LEN);
    MDB_val k = {sizeof kb, kb};
    int rc = mdb_del(t->txn, t->s->dbi[dbi], &k, NULL);
    return rc == MDB_NOTFOUND ? EQ_OK : store__err(rc);
}

static eq_err time_index_before(store_txn *t, int dbi, int64_t before, char *ids, size_t max,
                                size_t *n) {
    MDB_cursor *c;
    MDB_val k, d;
    *n = 0;
    int rc = mdb_cursor_open(t->txn, t->s->dbi[dbi], &c);
    if (rc != 0)
        return store__err(rc);
    for (rc = mdb_cursor_get(c, &k, &d, MDB_FIRST); rc == 0 && *n < max;
         rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
        if (k.mv_size != 8 + EQ_ID_LEN)
            continue;
        if ((int64_t)store__get_be64(k.mv_data) >= before)
            break;
        memcpy(ids + *n * (EQ_ID_LEN + 1), (const char *)k.mv_data + 8, EQ_ID_LEN);
        ids[*n * (EQ_ID_LEN + 1) + EQ_ID_LEN] = '\0';
        (*n)++;
    }
    mdb_cursor_close(c);
    return (rc == 0 || rc == MDB_NOTFOUND) ? EQ_OK : store__err(rc);
}

eq_err store_lease_put(store_txn *t, int64_t deadline, const char *id) {
    return time_index_put(t, DBI_LEASES, deadline, id);
}

eq_err store_lease_del(store_txn *t, int64_t deadline, const char *id) {
    return time_index_del(t, DBI_LEASES, deadline, id);
}

eq_err store_lease_expired(store_txn *t, int64_t now, char *ids, size_t max, size_t *n) {
    return time_index_before(t, DBI_LEASES, now, ids, max, n);
}

eq_err store_done_put(store_txn *t, int64_t finished, const char *id) {
    return time_index_put(t, DBI_DONE, finished, id);
}

eq_err store_done_del(store_txn *t, int64_t finished, const char *id) {
    return time_index_del(t, DBI_DONE, finished, id);
}

eq_err store_done_older(store_txn *t, int64_t before, char *ids, size_t max, size_t *n) {
    return time_index_before(t, DBI_DONE, before, ids, max, n);
}

eq_err store_state_put(store_txn *t, int state, const char *id) {
    unsigned char kb[1 + EQ_ID_LEN];
    kb[0] = (unsigned char)state;
    memcpy(kb + 1, id, EQ_ID_LEN);
    MDB_val k = {sizeof kb, kb}, d = {0, ""};
    return store__err(mdb_put(t->txn, t->s->dbi[DBI_BY_STATE], &k, &d, 0));
}

eq_err store_state_del(store_txn *t, int state, const char *id) {
    unsigned char kb[1 + EQ_ID_LEN];
    kb[0] = (unsigned char)state;
    memcpy(kb + 1, id, EQ_ID_LEN);
    MDB_val k = {sizeof kb, kb};
    int rc = mdb_del(t->txn, t->s->dbi[DBI_BY_STATE], &k, NULL);
    return rc == MDB_NOTFOUND ? EQ_OK : store__err(rc);
}

eq_err store_jobs_list(store_txn *t, int state, const char *type, const char *after, size_t limit,
                       size_t scan_max, int (*fn)(void *arg, const eq_job *j), void *arg,
                       char *next) {
    MDB_cursor *c;
    MDB_val k, d;
    unsigned char kb[1 + EQ_ID_LEN];
    int dbi = state ? DBI_BY_STATE : DBI_JOBS;
    size_t prefix = state ? 1 : 0, matched = 0, scanned = 0;
    eq_err err = EQ_OK;
    next[0] = '\0';
    int rc = mdb_cursor_open(t->txn, t->s->dbi[dbi], &c);
    if (rc != 0)
        return store__err(rc);
    /* Position on the last key at or before the start, walking backwards (newest first). */
    kb[0] = (unsigned char)state;
    if (after) {
        memcpy(kb + prefix, after, EQ_ID_LEN);
        k.mv_size = prefix + EQ_ID_LEN;
        k.mv_data = kb;
        rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
        rc = rc == 0 ? mdb_cursor_get(c, &k, &d, MDB_PREV) : mdb_cursor_get(c, &k, &d, MDB_LAST);
    } else if (state) {
        kb[0] = (unsigned char)(state + 1);
        k.mv_size = 1;
        k.mv_data = kb;
        rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
        rc = rc == 0 ? mdb_cursor_get(c, &k, &d, MDB_PREV) : mdb_cursor_get(c, &k, &d, MDB_LAST);
    } else {
        rc = mdb_cursor_get(c, &k, &d, MDB_LAST);
    }
    for (; rc == 0; rc = mdb_cursor_get(c, &k, &d, MDB_PREV)) {
        const unsigned char *kp = k.mv_data;
        if (k.mv_size != prefix + EQ_ID_LEN || (state && kp[0] != state))
            break;
        char id[EQ_ID_LEN + 1];
        memcpy(id, kp + prefix, EQ_ID_LEN);
        id[EQ_ID_LEN] = '\0';
        if (++scanned > scan_max || matched >= limit) {
            break;
        }
        eq_job j;
        if (state) {
            err = store_job_get(t, id, &j);
        } else {
            err = store_job_decode(d.mv_data, d.mv_size, &j);
        }
        if (err == EQ_ENOTFOUND) {
            err = EQ_OK;
            continue;
        }
        if (err)
            break;
        memcpy(next, id, EQ_ID_LEN + 1);
        if (!type || strcmp(j.type, type) == 0) {
            matched++;
            int stop = fn(arg, &j);
            eq_job_fini(&j);
            if (stop)
                break;
        } else {
            eq_job_fini(&j);
        }
    }
    if (rc == MDB_NOTFOUND || (rc == 0 && (k.mv_size != prefix + EQ_ID_LEN ||
                                           (state && ((const unsigned char *)k.mv_data)[0] != state))))
        next[0] = '\0'; /* reached the end: no further page */
    else if (rc != 0 && err == EQ_OK)
        err = store__err(rc);
    mdb_cursor_close(c);
    return err;
}

/* Cron schedules (see store/store_sched.h). */
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"
#include "store/store_sched.h"

void store_schedule_fini(store_schedule *s) {
    free(s->cron);
    free(s->job);
    memset(s, 0, sizeof *s);
}

static eq_err sched_decode(const MDB_val *v, store_schedule *s) {
    eq_rd rd;
    size_t jl = 0;
    memset(s, 0, sizeof *s);
    eq_rd_init(&rd, v->mv_data, v->mv_size);
    if (eq_rd_u8(&rd) != STORE_REC_VERSION) return EQ_ESTORE;
    s->created_ms = eq_rd_i64(&rd);
    s->last_tick_ms = eq_rd_i64(&rd);
    s->next_tick_ms = eq_rd_i64(&rd);
    s->cron = eq_rd_str(&rd, 1024);
    const void *job = eq_rd_bytes(&rd, &jl, STORE_SCHEDULE_JOB_MAX);
    if (rd.bad || !s->cron || !job) {
        store_schedule_fini(s);
        return EQ_ESTORE;
    }
    s->job = malloc(jl ? jl : 1);
    if (!s->job) {
        store_schedule_fini(s);
        return EQ_ENOMEM;
    }
    memcpy(s->job, job, jl);
    s->job_len = jl;
    return EQ_OK;
}

eq_err store_schedule_get(store_txn *t, const char *name, store_schedule *s) {
    MDB_val k = {strlen(name), (void *)name}, v;
    int rc = mdb_get(t->txn, t->s->dbi[DBI_SCHEDULES], &k, &v);
    if (rc) return store__err(rc);
    return sched_decode(&v, s);
}

eq_err store_schedule_put(store_txn *t, const char *name, const store_schedule *s) {
    size_t nl = strlen(name);
    if (nl == 0 || nl > STORE_SCHEDULE_NAME_MAX || !s->cron || s->job_len > STORE_SCHEDULE_JOB_MAX)
        return EQ_EINVAL;
    eq_buf b;
    eq_buf_init(&b);
    eq_buf_u8(&b, STORE_REC_VERSION);
    eq_buf_i64(&b, s->created_ms);
    eq_buf_i64(&b, s->last_tick_ms);
    eq_buf_i64(&b, s->next_tick_ms);
    eq_buf_str(&b, s->cron);
    eq_buf_bytes(&b, s->job, s->job_len);
    if (b.oom) {
        eq_buf_fini(&b);
        return EQ_ENOMEM;
    }
    MDB_val k = {nl, (void *)name}, v = {b.len, b.data};
    int rc = mdb_put(t->txn, t->s->dbi[DBI_SCHEDULES], &k, &v, 0);
    eq_buf_fini(&b);
    return store__err(rc);
}

eq_err store_schedule_del(store_txn *t, const char *name) {
    MDB_val k = {strlen(name), (void *)name};
    return store__err(mdb_del(t->txn, t->s->dbi[DBI_SCHEDULES], &k, NULL));
}

eq_err store_schedules_each(store_txn *t,
                            int (*fn)(void *arg, const char *name, const store_schedule *s),
                            void *arg) {
    MDB_cursor *c;
    MDB_val k, v;
    char name[STORE_SCHEDULE_NAME_MAX + 1];
    int rc = mdb_cursor_open(t->txn, t->s->dbi[DBI_SCHEDULES], &c);
    if (rc) return store__err(rc);
    eq_err err = EQ_OK;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        store_schedule s;
        if (k.mv_size == 0 || k.mv_size > STORE_SCHEDULE_NAME_MAX) continue;
        memcpy(name, k.mv_data, k.mv_size);
        name[k.mv_size] = '\0';
        if ((err = sched_decode(&v, &s))) break;
        int stop = fn(arg, name, &s);
        store_schedule_fini(&s);
        if (stop) break;
    }
    if (!err && rc != 0 && rc != MDB_NOTFOUND) err = store__err(rc);
    mdb_cursor_close(c);
    return err;
}

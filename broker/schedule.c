/* Cron schedules and the in-broker maintenance jobs (see broker/schedule.h).
 *
 * Why maintenance runs in the broker and not in a worker: the cache sweep and retention change
 * LMDB, whose only writer is this thread, so a worker would have to send every deletion back
 * as requests; running them here, leased and completed inside one write transaction, keeps each
 * pass atomic with the job's own state. The backup must run outside any write transaction (it
 * holds a read transaction for the whole copy), so it is leased in one group, copied by a thread
 * of its own after that group commits (the writer goes on meanwhile and looks for the end every
 * SCHED_COPY_POLL_MS), and completed in a later group; a restart in between re-queues it (its
 * worker name starts with the in-process prefix). */
#include "broker/schedule.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "broker/chart_store.h"
#include "broker/cron/cron.h"
#include "common/clock.h"
#include "common/log.h"
#include "store/store_sched.h"

#define SCHED_MAINT_PER_GROUP 8 /* in-broker maintenance jobs run in one group */
#define SCHED_SWEEP_MAX 65536   /* cache entries one maintenance.cache job examines */
#define SCHED_RETAIN_ROUNDS 16  /* lc_retain passes (of up to 1024 jobs) per job */
#define SCHED_BACKUPS_DEFAULT 7
#define SCHED_BACKUPS_MAX 1000 /* backups listed when pruning */
#define SCHED_HOLD_MS 1000     /* pause after a failed transaction (a full store) */
#define SCHED_COPY_POLL_MS 100 /* how often the writer looks for the backup's end */

typedef enum { BACKUP_NONE, BACKUP_LEASED, BACKUP_COPYING, BACKUP_DONE } backup_state;

struct broker_sched {
    sched_config cfg;
    char *data_dir;
    int64_t next_due_ms;   /* scheduler clock; 0 = unknown, scan at the next group */
    int64_t maint_next_ms; /* wall clock: a delayed maintenance job becomes ready */
    int maint_poll;        /* look for maintenance jobs at the next group */
    backup_state backup;
    char backup_id[EQ_ID_LEN + 1];
    uint16_t backup_attempt;
    int backup_ok; /* written by the copy thread while COPYING */
    char backup_result[512];
    pthread_t copier;
    store *copy_store;
    int copy_done; /* set by the copy thread (atomic) */
    chart_gc_policy charts;
    chart_unlinks unlinks; /* chart files to remove once the group commits */
    int charts_at_start;   /* the start-up clean-up pass is still to run */
    int64_t hold_until;    /* wall clock: after a failed group, the scheduler waits */
};

typedef struct builtin {
    const char *name, *cron, *type;
} builtin;

static const builtin builtins[] = {
    {"maintenance.cache", "*/5 * * * *", "maintenance.cache"},
    {"maintenance.retention", "17 3 * * *", "maintenance.retention"},
    {"maintenance.backup", "41 2 * * *", "maintenance.backup"},
    {"maintenance.charts", "7 * * * *", "maintenance.charts"},
};

static const char *const broker_types[] = {"maintenance.cache", "maintenance.retention",
                                           "maintenance.backup", "maintenance.charts"};

eq_err sched_new(const sched_config *cfg, broker_sched **out) {
    broker_sched *s = calloc(1, sizeof *s);
    if (!s) return EQ_ENOMEM;
    s->cfg = *cfg;
    if (!s->cfg.backups_keep) s->cfg.backups_keep = SCHED_BACKUPS_DEFAULT;
    s->data_dir = strdup(cfg->data_dir ? cfg->data_dir : ".");
    if (!s->data_dir) {
        free(s);
        return EQ_ENOMEM;
    }
    s->cfg.data_dir = s->data_dir;
    s->charts = chart_gc_policy_default();
    if (cfg->chart_max_age_ms > 0) s->charts.max_age_ms = cfg->chart_max_age_ms;
    if (cfg->chart_keep > 0) s->charts.keep_newest = cfg->chart_keep;
    s->maint_poll = 1;
    *out = s;
    return EQ_OK;
}

void sched_free(broker_sched *s) {
    if (!s) return;
    if (s->backup == BACKUP_COPYING) pthread_join(s->copier, NULL);
    chart_unlinks_run(&s->unlinks, 0);
    free(s->data_dir);
    free(s);
}

static int64_t sched_now(const broker_sched *s, const lc_ctx *c) {
    return c->now + s->cfg.clock_offset_ms;
}

/* The first tick strictly after now (ms), or -1 when the expression has none. */
static int64_t next_tick(const char *cron, int64_t now_ms) {
    cron_expr ce;
    char why[128];
    if (cron_parse(cron, &ce, why, sizeof why) != EQ_OK) return -1;
    int64_t t = cron_next(&ce, now_ms / 1000);
    return t < 0 ? -1 : t * 1000;
}

static eq_err put_builtin(broker_sched *s, lc_ctx *c, const builtin *b) {
    store_schedule sc;
    eq_err err = store_schedule_get(c->txn, b->name, &sc);
    if (err != EQ_ENOTFOUND) {
        if (!err) store_schedule_fini(&sc);
        return err;
    }
    proto_submit_job j = {.type = (char *)b->type,
                          .params = "{}",
                          .priority = JOB_PRIORITY_DEFAULT,
                          .max_attempts = 3};
    eq_buf enc;
    eq_buf_init(&enc);
    proto_enc_submit_head(&enc, 1);
    proto_enc_submit_job(&enc, &j);
    int64_t now = sched_now(s, c);
    store_schedule ns = {.created_ms = now,
                         .next_tick_ms = next_tick(b->cron, now),
                         .cron = (char *)b->cron,
                         .job = enc.data,
                         .job_len = enc.len};
    err = enc.oom ? EQ_ENOMEM : store_schedule_put(c->txn, b->name, &ns);
    eq_buf_fini(&enc);
    if (!err)
        eq_log(EQ_LOG_INFO, "created built-in schedule", "name", b->name, "cron", b->cron, NULL);
    return err;
}

eq_err sched_startup(broker_sched *s, lc_ctx *c) {
    eq_err err = EQ_OK;
    for (size_t i = 0; s->cfg.builtins && !err && i < sizeof builtins / sizeof builtins[0]; i++)
        err = put_builtin(s, c, &builtins[i]);
    /* Chart clean-up also runs at every start, in the first group (not as a job: a job per
     * start would crowd job listings). */
    s->charts_at_start = s->cfg.builtins;
    s->next_due_ms = 0;
    return err;
}

typedef struct due_scan {
    int64_t now, next;
    char (*names)[STORE_SCHEDULE_NAME_MAX + 1];
    size_t n, cap;
} due_scan;

static int scan_one(void *arg, const char *name, const store_schedule *sc) {
    due_scan *d = arg;
    if (sc->next_tick_ms <= 0) return 0;
    if (sc->next_tick_ms > d->now) {
        if (sc->next_tick_ms < d->next) d->next = sc->next_tick_ms;
        return 0;
    }
    if (d->n == d->cap) return 1; /* the rest is found by the next scan, which comes at once */
    snprintf(d->names[d->n++], STORE_SCHEDULE_NAME_MAX + 1, "%s", name);
    return 0;
}

/* Submits the job of one due schedule and advances its next tick. */
static eq_err fire(broker_sched *s, lc_ctx *c, const char *name, int64_t now, int64_t *next_min) {
    store_schedule sc;
    proto_req r;
    eq_err err = store_schedule_get(c->txn, name, &sc);
    if (err) return err == EQ_ENOTFOUND ? EQ_OK : err;
    char id[EQ_ID_LEN + 1] = "";
    const char *why = NULL;
    if (proto_decode_req(sc.job, sc.job_len, &r) == EQ_OK && r.op == PROTO_SUBMIT && r.njobs == 1) {
        free(r.jobs[0].schedule);
        r.jobs[0].schedule = strdup(name);
        if (!r.jobs[0].schedule)
            err = EQ_ENOMEM;
        else
            err = lc_submit(c, &r.jobs[0], NULL, id, &why);
        proto_req_fini(&r);
        if (err == EQ_EINVAL || err == EQ_ECONFLICT || err == EQ_EEXIST) {
            eq_log(EQ_LOG_WARN, "a schedule's job was refused", "schedule", name, "error",
                   why ? why : eq_strerror(err), NULL);
            err = EQ_OK;
        }
    } else {
        eq_log(EQ_LOG_ERROR, "a schedule's stored job is unreadable", "schedule", name, NULL);
    }
    if (!err) {
        cron_expr ce;
        char msg[128];
        int64_t last = -1;
        if (cron_parse(sc.cron, &ce, msg, sizeof msg) == EQ_OK)
            last = cron_prev(&ce, now / 1000 + 1);
        sc.last_tick_ms = last > 0 ? last * 1000 : now;
        sc.next_tick_ms = next_tick(sc.cron, now);
        if (sc.next_tick_ms > 0 && sc.next_tick_ms < *next_min) *next_min = sc.next_tick_ms;
        err = store_schedule_put(c->txn, name, &sc);
        if (!err && id[0]) eq_log(EQ_LOG_INFO, "schedule fired", "schedule", name, "job", id, NULL);
    }
    store_schedule_fini(&sc);
    return err;
}

static eq_err fire_due(broker_sched *s, lc_ctx *c, int64_t now) {
    static _Thread_local char names[64][STORE_SCHEDULE_NAME_MAX + 1];
    due_scan d = {.now = now, .next = INT64_MAX, .names = names, .cap = 64};
    eq_err err = store_schedules_each(c->txn, scan_one, &d);
    for (size_t i = 0; !err && i < d.n; i++)
        err = fire(s, c, names[i], now, &d.next);
    /* A full list means more are due: scan again at the next group. */
    s->next_due_ms = d.n == d.cap ? now : d.next;
    return err;
}

static void complete(lc_ctx *c, const char *id, uint16_t attempt, const char *result, eq_err *err) {
    const char *why = NULL;
    proto_outcome o = {
        .worker = SCHED_WORKER, .id = (char *)id, .attempt = attempt, .result = (char *)result};
    eq_err e = lc_complete(c, &o, &why);
    if (e && e != EQ_ESTALE && e != EQ_ENOTFOUND) *err = e;
}

static eq_err run_one(broker_sched *s, lc_ctx *c, const proto_leased_job *lj) {
    char result[256];
    eq_err err = EQ_OK;
    if (strcmp(lj->type, "maintenance.cache") == 0) {
        size_t n = 0;
        if ((err = lc_cache_sweep(c, SCHED_SWEEP_MAX, &n))) return err;
        snprintf(result, sizeof result, "{\"examined_max\":%d,\"removed\":%zu}", SCHED_SWEEP_MAX,
                 n);
    } else if (strcmp(lj->type, "maintenance.retention") == 0) {
        size_t total = 0, n = 1024;
        int64_t before = c->now - s->cfg.retention_ms;
        for (int i = 0; i < SCHED_RETAIN_ROUNDS && n == 1024; i++) {
            if ((err = lc_retain(c, before, 1024, &n))) return err;
            total += n;
        }
        char when[40];
        eq_time_format(before, when, sizeof when);
        snprintf(result, sizeof result, "{\"deleted\":%zu,\"finished_before\":\"%s\"}", total,
                 when);
    } else if (strcmp(lj->type, "maintenance.charts") == 0) {
        if ((err = chart_store_gc(s->data_dir, c, sched_now(s, c), &s->charts, &s->unlinks, result,
                                  sizeof result)))
            return err;
    } else {
        /* maintenance.backup: copied after the commit, completed in a later group. */
        s->backup = BACKUP_LEASED;
        snprintf(s->backup_id, sizeof s->backup_id, "%s", lj->id);
        s->backup_attempt = lj->attempt;
        return EQ_OK;
    }
    complete(c, lj->id, lj->attempt, result, &err);
    return err;
}

static eq_err run_maintenance(broker_sched *s, lc_ctx *c) {
    eq_err err = EQ_OK;
    if (s->backup == BACKUP_DONE) {
        if (s->backup_ok) {
            complete(c, s->backup_id, s->backup_attempt, s->backup_result, &err);
        } else {
            const char *why = NULL;
            proto_outcome o = {.worker = SCHED_WORKER,
                               .id = s->backup_id,
                               .attempt = s->backup_attempt,
                               .failed = 1,
                               .code = "backup_failed",
                               .message = s->backup_result,
                               .retryable = 1};
            eq_err e = lc_fail(c, &o, &why);
            if (e && e != EQ_ESTALE && e != EQ_ENOTFOUND) err = e;
        }
        if (err) return err;
        s->backup = BACKUP_NONE;
    }
    s->maint_next_ms = 0;
    for (int i = 0; i < SCHED_MAINT_PER_GROUP && !err; i++) {
        proto_lease_req lr = {.worker = SCHED_WORKER, .max = 1};
        uint16_t nt = 0;
        for (size_t k = 0; k < sizeof broker_types / sizeof broker_types[0]; k++)
            if (s->backup == BACKUP_NONE || strcmp(broker_types[k], "maintenance.backup") != 0)
                lr.types[nt++] = (char *)broker_types[k];
        lr.ntypes = nt;
        eq_buf out;
        uint32_t n = 0;
        int64_t next = INT64_MAX;
        eq_buf_init(&out);
        err = lc_lease(c, &lr, &out, &n, &next);
        if (next != INT64_MAX && (!s->maint_next_ms || next < s->maint_next_ms))
            s->maint_next_ms = next;
        if (!err && n == 1) {
            eq_rd rd;
            proto_leased_job lj;
            eq_rd_init(&rd, out.data, out.len);
            if (proto_dec_leased(&rd, &lj) == EQ_OK) {
                err = run_one(s, c, &lj);
                proto_leased_job_fini(&lj);
            }
        }
        eq_buf_fini(&out);
        if (n == 0) break;
    }
    return err;
}

eq_err sched_run(broker_sched *s, lc_ctx *c) {
    int64_t now = sched_now(s, c);
    eq_err err = EQ_OK;
    /* After a failed group the scheduler sits out a while, so that a store that keeps failing
     * (full) neither spins the writer nor poisons every client's group. */
    if (c->now < s->hold_until) return EQ_OK;
    if (s->backup == BACKUP_COPYING && __atomic_load_n(&s->copy_done, __ATOMIC_ACQUIRE)) {
        pthread_join(s->copier, NULL);
        s->backup = BACKUP_DONE;
    }
    if (s->charts_at_start) {
        char result[256];
        s->charts_at_start = 0;
        err = chart_store_gc(s->data_dir, c, now, &s->charts, &s->unlinks, result, sizeof result);
        if (!err) eq_log(EQ_LOG_INFO, "chart clean-up at start", "result", result, NULL);
    }
    if (!err && now >= s->next_due_ms) err = fire_due(s, c, now);
    if (!err && (c->fx->queue_changed || s->maint_poll || s->backup == BACKUP_DONE ||
                 (s->maint_next_ms && c->now >= s->maint_next_ms))) {
        s->maint_poll = 0;
        err = run_maintenance(s, c);
    }
    return err;
}

static int name_cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Deletes all but the newest `keep` backups (names sort by time). */
static void prune_backups(const char *dir, unsigned keep) {
    DIR *d = opendir(dir);
    char *names[SCHED_BACKUPS_MAX];
    size_t n = 0;
    if (!d) return;
    for (struct dirent *e; (e = readdir(d)) && n < SCHED_BACKUPS_MAX;) {
        size_t l = strlen(e->d_name);
        if (strncmp(e->d_name, "econq-", 6) == 0 && l > 10 &&
            strcmp(e->d_name + l - 4, ".mdb") == 0)
            if ((names[n] = strdup(e->d_name))) n++;
    }
    closedir(d);
    qsort(names, n, sizeof names[0], name_cmp);
    for (size_t i = 0; i < n; i++) {
        if (i + keep < n) {
            char path[4096];
            if (snprintf(path, sizeof path, "%s/%s", dir, names[i]) >= (int)sizeof path) continue;
            if (unlink(path) != 0)
                eq_log(EQ_LOG_WARN, "cannot remove an old backup", "path", path, NULL);
        }
        free(names[i]);
    }
}

static void do_backup(broker_sched *s, store *st) {
    char dir[4096], path[4200], stamp[40];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(dir, sizeof dir, "%s/backups", s->data_dir);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%S", &tm);
    snprintf(path, sizeof path, "%s/econq-%s.%03ldZ.mdb", dir, stamp, ts.tv_nsec / 1000000);
    eq_err err = mkdir(dir, 0750) == 0 || errno == EEXIST ? EQ_OK : EQ_EIO;
    if (!err) err = store_backup(st, path);
    struct stat sb;
    if (!err && stat(path, &sb) == 0) {
        s->backup_ok = 1;
        prune_backups(dir, s->cfg.backups_keep);
        snprintf(s->backup_result, sizeof s->backup_result,
                 "{\"file\":\"backups/econq-%s.%03ldZ.mdb\",\"bytes\":%lld,\"kept\":%u}", stamp,
                 ts.tv_nsec / 1000000, (long long)sb.st_size, s->cfg.backups_keep);
        eq_log(EQ_LOG_INFO, "backup written", "path", path, NULL);
    } else {
        s->backup_ok = 0;
        snprintf(s->backup_result, sizeof s->backup_result, "the copy to %.300s failed: %s", path,
                 eq_strerror(err ? err : EQ_EIO));
        eq_log(EQ_LOG_ERROR, "backup failed", "path", path, "error", eq_strerror(err), NULL);
    }
}

static void *copy_main(void *arg) {
    broker_sched *s = arg;
    do_backup(s, s->copy_store);
    __atomic_store_n(&s->copy_done, 1, __ATOMIC_RELEASE);
    return NULL;
}

void sched_after_commit(broker_sched *s, store *st, int committed) {
    chart_unlinks_run(&s->unlinks, committed);
    if (!committed) {
        s->next_due_ms = 0;
        s->maint_poll = 1;
        s->hold_until = eq_now_ms() + SCHED_HOLD_MS;
        if (s->backup == BACKUP_LEASED) s->backup = BACKUP_NONE;
        return;
    }
    if (s->backup == BACKUP_LEASED) {
        s->copy_store = st;
        s->copy_done = 0;
        s->backup = BACKUP_COPYING;
        if (pthread_create(&s->copier, NULL, copy_main, s) != 0) {
            do_backup(s, st);
            s->backup = BACKUP_DONE;
        }
    }
}

eq_err sched_chart_outcome(broker_sched *s, lc_ctx *c, proto_outcome *o) {
    return chart_store_outcome(s->data_dir, c, o);
}

int64_t sched_wake_ms(const broker_sched *s) {
    if (s->hold_until && eq_now_ms() < s->hold_until) return s->hold_until;
    if (s->backup == BACKUP_DONE || s->maint_poll) return 0;
    if (s->backup == BACKUP_COPYING) return eq_now_ms() + SCHED_COPY_POLL_MS;
    int64_t w = INT64_MAX;
    if (s->next_due_ms <= 0)
        w = 0;
    else if (s->next_due_ms != INT64_MAX)
        w = s->next_due_ms - s->cfg.clock_offset_ms;
    if (s->maint_next_ms && s->maint_next_ms < w) w = s->maint_next_ms;
    return w;
}

typedef struct count_arg {
    size_t n;
} count_arg;

static int count_one(void *arg, const char *name, const store_schedule *sc) {
    (void)name;
    (void)sc;
    ((count_arg *)arg)->n++;
    return 0;
}

eq_err sched_handle(broker_sched *s, lc_ctx *c, const proto_req *r, eq_buf *out) {
    eq_err err;
    if (r->op == PROTO_SCHEDULE_DEL) {
        err = store_schedule_del(c->txn, r->id);
        if (err && err != EQ_ENOTFOUND) return err;
        proto_enc_reply(out, err, NULL);
        return EQ_OK;
    }
    cron_expr ce;
    char why[160];
    if (cron_parse(r->sched_cron, &ce, why, sizeof why) != EQ_OK) {
        proto_enc_reply(out, EQ_EINVAL, why);
        return EQ_OK;
    }
    int64_t now = sched_now(s, c);
    store_schedule old, ns = {.created_ms = now, .cron = r->sched_cron};
    int replaced = 0;
    err = store_schedule_get(c->txn, r->id, &old);
    if (err == EQ_OK) {
        replaced = 1;
        ns.created_ms = old.created_ms;
        ns.last_tick_ms = old.last_tick_ms;
        store_schedule_fini(&old);
    } else if (err != EQ_ENOTFOUND) {
        return err;
    } else {
        count_arg ca = {0};
        if ((err = store_schedules_each(c->txn, count_one, &ca))) return err;
        if (ca.n >= SCHED_MAX_SCHEDULES) {
            proto_enc_reply(out, EQ_EFULL, "too many schedules; delete one first");
            return EQ_OK;
        }
    }
    ns.next_tick_ms = next_tick(r->sched_cron, now);
    if (ns.next_tick_ms < 0) {
        proto_enc_reply(out, EQ_EINVAL, "the expression has no tick in the next years");
        return EQ_OK;
    }
    proto_submit_job j = r->jobs[0];
    j.schedule = NULL;
    eq_buf enc;
    eq_buf_init(&enc);
    proto_enc_submit_head(&enc, 1);
    proto_enc_submit_job(&enc, &j);
    ns.job = enc.data;
    ns.job_len = enc.len;
    err = enc.oom ? EQ_ENOMEM : store_schedule_put(c->txn, r->id, &ns);
    eq_buf_fini(&enc);
    if (err == EQ_EINVAL) {
        proto_enc_reply(out, EQ_EINVAL, "the schedule's name or job is too long");
        return EQ_OK;
    }
    if (err) return err;
    if (s->next_due_ms != 0 && ns.next_tick_ms < s->next_due_ms) s->next_due_ms = ns.next_tick_ms;
    proto_enc_reply(out, replaced ? EQ_EEXIST : EQ_OK, NULL);
    eq_buf_i64(out, ns.next_tick_ms);
    return EQ_OK;
}

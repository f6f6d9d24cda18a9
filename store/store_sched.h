/* Cron schedules and the chart index (store/store_sched.c, store/store_chart.c).
 *
 *   schedules  name → version, created i64, last tick i64, next tick i64 (unix ms), cron str,
 *                     job bytes (an encoded one-job PROTO_SUBMIT request; decode it with
 *                     proto_decode_req)
 *   charts     id → version, created i64, accessed i64, size u64, content type str,
 *                   extension str, job id str */
#ifndef ECONQ_STORE_STORE_SCHED_H
#define ECONQ_STORE_STORE_SCHED_H
#include "store/store.h"
#include <stddef.h>
#include <stdint.h>

#define STORE_SCHEDULE_NAME_MAX 64        /* bytes of a schedule name (schemas/schedule.json) */
#define STORE_SCHEDULE_JOB_MAX (1u << 20) /* an encoded job: params of a submit body at most */

typedef struct store_schedule {
    int64_t created_ms, last_tick_ms, next_tick_ms; /* last 0 before the first run */
    char *cron;
    unsigned char *job; /* encoded submit request */
    size_t job_len;
} store_schedule;

void store_schedule_fini(store_schedule *s);
/* Fills s (caller calls store_schedule_fini); EQ_ENOTFOUND when absent. */
eq_err store_schedule_get(store_txn *t, const char *name, store_schedule *s);
/* Creates or replaces. EQ_EINVAL for a name or job past the limits above. */
eq_err store_schedule_put(store_txn *t, const char *name, const store_schedule *s);
eq_err store_schedule_del(store_txn *t, const char *name);
/* Calls fn for each schedule in name order; s is borrowed for the call. fn returns non-zero to
 * stop. */
eq_err store_schedules_each(store_txn *t,
                            int (*fn)(void *arg, const char *name, const store_schedule *s),
                            void *arg);

typedef struct store_chart {
    int64_t created_ms, accessed_ms;
    uint64_t size;
    char content_type[96];
    char ext[8]; /* "png", "svg", "xlsx" */
    char job_id[EQ_ID_LEN + 1];
} store_chart;

eq_err store_chart_get(store_txn *t, const char *id, store_chart *c);
eq_err store_chart_put(store_txn *t, const char *id, const store_chart *c);
eq_err store_chart_del(store_txn *t, const char *id);
/* Calls fn for each chart in id (creation) order; fn returns non-zero to stop. */
eq_err store_charts_each(store_txn *t, int (*fn)(void *arg, const char *id, const store_chart *c),
                         void *arg);

/* A compacting copy of the whole environment into the file `path` (which must not exist),
 * consistent as of one read transaction; readers and the writer go on meanwhile. */
eq_err store_backup(store *s, const char *path);
/* 1 when another process has the environment in dir open (its lock file is locked), 0 when
 * not or when there is no environment there. */
int store_in_use(const char *dir);

#endif

/* Cron schedules and the broker's own maintenance jobs. Everything here runs on the broker's
 * writer thread, inside the group's write transaction unless said otherwise.
 *
 * A schedule (store/store_sched.h) holds a cron expression, a job and its next tick. When a
 * group runs at or after a schedule's next tick, one ordinary job is submitted (its `schedule`
 * field names the schedule) and the next tick is advanced in the same transaction: at most one
 * job per schedule and tick, also across restarts. Ticks missed while econqd was down (or busy)
 * are run once, not once per missed tick: the next tick is computed from the present.
 *
 * The built-in schedules `maintenance.*` are created at start when absent (an operator may
 * change their cron with POST /v1/schedules or delete them; a deleted one comes back at the next
 * start). Their jobs run in the broker itself (see schedule.c for why): maintenance.cache
 * sweeps expired cache entries, maintenance.retention deletes old finished jobs,
 * maintenance.backup writes a compacting copy of the store, maintenance.charts removes old
 * charts (broker/chart_store.h; also once at every start). */
#ifndef ECONQ_BROKER_SCHEDULE_H
#define ECONQ_BROKER_SCHEDULE_H
#include "broker/lifecycle.h"
#include "common/buf.h"
#include "common/proto.h"
#include "store/store.h"
#include <stdint.h>

#define SCHED_MAX_SCHEDULES 1000                /* schedules one store holds; more are refused */
#define SCHED_WORKER "local:broker-maintenance" /* the lease holder of in-broker jobs */

typedef struct sched_config {
    int64_t clock_offset_ms;  /* added to the clock for cron decisions (tests) */
    int64_t retention_ms;     /* maintenance.retention deletes jobs finished before now - this */
    unsigned backups_keep;    /* maintenance.backup keeps this many copies (0 = 7) */
    const char *data_dir;     /* backups go to <data_dir>/backups */
    int builtins;             /* 1: create the maintenance.* schedules at start */
    int64_t chart_max_age_ms; /* maintenance.charts: older charts go (0 = 7 days) */
    size_t chart_keep;        /* maintenance.charts: at most this many newest stay (0 = 100) */
} sched_config;

typedef struct broker_sched broker_sched;

eq_err sched_new(const sched_config *cfg, broker_sched **out);
void sched_free(broker_sched *s);
/* In the start-up transaction: creates the missing built-in schedules. */
eq_err sched_startup(broker_sched *s, lc_ctx *c);
/* In every group: submits the jobs of due schedules and runs the in-broker maintenance jobs
 * that are ready. */
eq_err sched_run(broker_sched *s, lc_ctx *c);
/* After the group's transaction: committed is 0 when it was aborted. Runs the work that must
 * not happen inside a transaction (the backup copy). */
void sched_after_commit(broker_sched *s, store *st, int committed);
/* The wall-clock time (unix ms) by which sched_run wants to run again; INT64_MAX when never. */
int64_t sched_wake_ms(const broker_sched *s);
/* PROTO_SCHEDULE_PUT and PROTO_SCHEDULE_DEL: appends the reply to out. Returns a store error
 * that poisons the transaction, else EQ_OK (the request's own status is in the reply). */
eq_err sched_handle(broker_sched *s, lc_ctx *c, const proto_req *r, eq_buf *out);
/* Before a chart or report job's outcome is applied: stores its bytes (broker/chart_store.h). */
eq_err sched_chart_outcome(broker_sched *s, lc_ctx *c, proto_outcome *o);

#endif

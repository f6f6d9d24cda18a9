/* The worker runtime: threads that pull jobs from the broker over nng, run them through their
 * kind's function, send heartbeats while they run, and report the outcome. A worker never holds
 * more jobs than it asked for: each thread leases at most `lease_batch` jobs at a time, runs
 * them one after another, and reports their outcomes together with its next lease request.
 *
 * A kind is a table entry (workers/kinds.c): a name, the job types it serves and a run function.
 * Every kind also serves `noop`. */
#ifndef ECONQ_WORKERS_RUNTIME_H
#define ECONQ_WORKERS_RUNTIME_H
#include <stddef.h>
#include <stdint.h>
#include "common/eq_err.h"

typedef struct worker_job {
    const char *id, *type, *params;   /* borrowed for the run */
    uint16_t attempt;
    int64_t lease_deadline_ms;
} worker_job;

typedef struct worker_ctx worker_ctx;
/* 1 when the job should stop: cancelled by a client, its lease lost, or the worker stopping. */
int worker_ctx_cancelled(const worker_ctx *c);
/* 1 when the stop comes from the worker shutting down (the job is handed back, not failed). */
int worker_ctx_stopping(const worker_ctx *c);

typedef struct worker_error {
    char code[64];
    char message[512];
    int retryable;
    /* >0: the job could not be tried at all (an outside service is known to be down, e.g. the
     * llm circuit breaker is open): the broker re-queues it this long from now without using
     * up an attempt. */
    uint32_t retry_after_ms;
} worker_error;

/* Runs one job. On success returns EQ_OK with *result a malloc'd JSON text (caller frees).
 * On failure fills err (code, message, retryable) and returns non-zero. */
typedef eq_err (*worker_run_fn)(const worker_job *job, worker_ctx *ctx, char **result,
                                worker_error *err);

typedef struct worker_kind {
    const char *name;
    const char *const *types; /* NULL-terminated; `noop` is added by the runtime */
    /* Types served only when the process has a worker_source (workers/source.h), i.e. can read
     * the broker host's store; NULL-terminated, may be NULL. */
    const char *const *source_types;
    worker_run_fn run;
    unsigned default_threads;
    /* Writes the kind's state for /health (e.g. "llm_breaker=open"), sent with every lease
     * request; may be NULL. */
    void (*status)(char *buf, size_t len);
    /* Milliseconds the kind's threads should wait before leasing again (its outside service
     * is known to be down), 0 to lease now; may be NULL. Jobs then stay queued instead of
     * being leased only to be handed back. */
    uint32_t (*pause_ms)(void);
} worker_kind;

/* The kinds this build has; NULL-terminated. */
extern const worker_kind *const worker_kinds[];
const worker_kind *worker_kind_find(const char *name);
/* noop: params sleep_ms, fail ("retryable" | "permanent"), payload; served by every kind. */
eq_err worker_noop_run(const worker_job *job, worker_ctx *ctx, char **result, worker_error *err);

typedef struct worker_pool worker_pool;

typedef struct worker_pool_config {
    const char *url;            /* the broker, e.g. inproc://econq-broker or tcp://host:7070 */
    const char *kinds[8];       /* kind names; NULL-terminated */
    unsigned threads;           /* per kind; 0 = the kind's default */
    const char *name_prefix;    /* worker names are "<prefix><kind>-<n>" */
    int64_t lease_ms;           /* the broker's lease; heartbeats go out at a third of it */
    uint32_t lease_wait_ms;     /* how long a lease request waits at the broker */
    unsigned lease_batch;       /* jobs one thread leases at a time (1 for long jobs) */
    int64_t report_delay_ms;    /* outcomes wait at most this long for the next lease request */
} worker_pool_config;

void worker_pool_config_defaults(worker_pool_config *c);
eq_err worker_pool_start(const worker_pool_config *cfg, worker_pool **out);
/* Asks running jobs to stop (they are handed back to the queue), waits up to grace_ms for
 * them, then closes the connection and frees. Jobs still running after the grace period keep
 * their lease until it expires. */
void worker_pool_stop(worker_pool *p, int64_t grace_ms);
/* Number of jobs currently running in the pool. */
unsigned worker_pool_running(worker_pool *p);

#endif

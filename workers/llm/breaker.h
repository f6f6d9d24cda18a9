/* A circuit breaker guarding one outside backend (an LLM server).
 *
 *   closed    --N consecutive failures-->            open
 *   open      --cool-down elapsed, next allow()-->   half_open (that caller is the probe)
 *   half_open --probe succeeds-->                    closed
 *   half_open --probe fails-->                       open (a new cool-down)
 *
 * While open, and in half_open while the probe is out, breaker_allow() fails fast with
 * EQ_EBUSY and says how long to wait. Each allowed call gets a ticket and must be reported
 * with breaker_report(); reports from before the last state change are ignored, so a slow
 * call that started while closed cannot close a breaker that has since opened.
 *
 * A probe that never reports (its caller crashed) is written off after one cool-down, and
 * the next caller becomes the probe.
 *
 * Thread-safe (a mutex). The clock is injected, so tests can drive time. */
#ifndef ECONQ_WORKERS_LLM_BREAKER_H
#define ECONQ_WORKERS_LLM_BREAKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/eq_err.h"

#define BREAKER_DEFAULT_THRESHOLD 3u
#define BREAKER_DEFAULT_COOLDOWN_MS (5u * 60u * 1000u)
/* What breaker_allow() suggests waiting while a half-open probe is out. */
#define BREAKER_PROBE_RETRY_MS 1000u

/* Returns the current time in milliseconds. Only differences matter, except that
 * opened_at_ms is reported as the clock gave it (a wall clock makes it a timestamp). */
typedef uint64_t (*breaker_clock_fn)(void *ctx);

typedef struct breaker_config {
    unsigned threshold;     /* consecutive failures that open it; 0 = BREAKER_DEFAULT_THRESHOLD */
    uint64_t cooldown_ms;   /* how long it stays open; 0 = BREAKER_DEFAULT_COOLDOWN_MS */
    breaker_clock_fn clock; /* NULL = CLOCK_MONOTONIC */
    void *clock_ctx;
} breaker_config;

typedef enum breaker_state { BREAKER_CLOSED, BREAKER_OPEN, BREAKER_HALF_OPEN } breaker_state;

/* Proof that a call was allowed; pass it back to breaker_report(). */
typedef struct breaker_ticket {
    uint64_t gen;
    bool probe;
} breaker_ticket;

/* A snapshot for /health and the metrics. */
typedef struct breaker_status {
    breaker_state state;     /* open turns into half_open here once the cool-down is over */
    unsigned failures;       /* consecutive failures */
    uint64_t opened_at_ms;   /* when it last opened (clock value); 0 if never */
    uint64_t retry_after_s;  /* seconds until a probe may go, rounded up; 0 unless open */
    uint64_t retry_after_ms; /* the same in milliseconds */
    bool probing;            /* half open with a probe out: other calls are failed fast */
    uint64_t opened_total;   /* how many times it has opened */
    uint64_t rejected_total; /* calls failed fast */
} breaker_status;

typedef struct breaker {
    pthread_mutex_t mu;
    breaker_config cfg;
    breaker_state state;
    unsigned failures;
    uint64_t gen; /* bumped on every state change */
    uint64_t opened_at;
    uint64_t probe_at; /* when the current half-open probe went out */
    bool probe_out;    /* a half-open probe is out */
    uint64_t opened_total, rejected_total;
} breaker;

/* Initialises b closed. cfg may be NULL (all defaults). Errors: EQ_ENOMEM (mutex). */
eq_err breaker_init(breaker *b, const breaker_config *cfg);
void breaker_fini(breaker *b);

/* Asks to make a call. EQ_OK: go ahead, *ticket filled, report the outcome. EQ_EBUSY: fail
 * fast; *retry_after_ms (may be NULL) says when to try again. */
eq_err breaker_allow(breaker *b, breaker_ticket *ticket, uint64_t *retry_after_ms);

/* Reports an allowed call's outcome. `ok` is false only for failures of the backend
 * (unavailable, timeouts, 5xx, garbage); a 4xx answer means the backend is alive. */
void breaker_report(breaker *b, breaker_ticket ticket, bool ok);

/* Gives back an allowed call that was not made, or whose outcome says nothing about the
 * backend (a local error before sending). A probe given back lets the next caller probe. */
void breaker_cancel(breaker *b, breaker_ticket ticket);

void breaker_get_status(breaker *b, breaker_status *out);

/* "closed", "open" or "half_open". */
const char *breaker_state_name(breaker_state s);

#endif

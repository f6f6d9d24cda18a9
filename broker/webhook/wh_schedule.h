/* The retry schedule of webhook deliveries: pure functions, no clock, injectable randomness.
 *
 * A schedule is a list of delays in seconds; entry i is the wait before attempt i + 1, counted
 * from the end of the previous attempt (entry 0 from the moment the message is created). The
 * default is the Standard Webhooks schedule: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h,
 * 10 h. It is written as ECONQ_WEBHOOK_SCHEDULE="0,5,300,1800,7200,18000,36000,36000". */
#ifndef ECONQ_BROKER_WEBHOOK_WH_SCHEDULE_H
#define ECONQ_BROKER_WEBHOOK_WH_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>

#include "common/eq_err.h"

/* Most attempts a schedule may hold (a message is tried at most this many times). */
#define WH_SCHEDULE_MAX_ENTRIES 32
/* Longest single delay: 7 days, in seconds. */
#define WH_SCHEDULE_MAX_DELAY_S (7 * 24 * 3600)
/* Longest schedule string accepted (32 entries of up to 6 digits, separators and spaces). */
#define WH_SCHEDULE_MAX_CHARS 512
/* Default jitter: each non-zero delay is moved by a uniform amount within +/- 15%. */
#define WH_SCHEDULE_JITTER_DEFAULT 0.15
/* Largest jitter fraction accepted (+/- 50%). */
#define WH_SCHEDULE_JITTER_MAX 0.5
#define WH_SCHEDULE_DEFAULT "0,5,300,1800,7200,18000,36000,36000"

typedef struct wh_schedule {
    uint32_t delay_s[WH_SCHEDULE_MAX_ENTRIES];
    size_t n;      /* number of attempts, 1..WH_SCHEDULE_MAX_ENTRIES */
    double jitter; /* fraction in [0, WH_SCHEDULE_JITTER_MAX] */
} wh_schedule;

/* Returns 64 random bits; `ctx` is the caller's. */
typedef uint64_t (*wh_rng_fn)(void *ctx);

/* A wh_rng_fn over OpenSSL's RAND_bytes (ctx unused). */
uint64_t wh_rng_default(void *ctx);

/* Fills `out` with the Standard Webhooks schedule and the default jitter. */
void wh_schedule_default(wh_schedule *out);

/* Parses `len` bytes of "d0,d1,..." (decimal seconds, spaces around entries allowed) into `out`
 * with the default jitter. EQ_EINVAL on an empty list, an empty entry or a non-digit;
 * EQ_ETOOBIG beyond WH_SCHEDULE_MAX_CHARS, WH_SCHEDULE_MAX_ENTRIES or WH_SCHEDULE_MAX_DELAY_S. */
eq_err wh_schedule_parse(const char *s, size_t len, wh_schedule *out);

/* Computes when attempt number `attempts_made + 1` should run, given that `attempts_made`
 * attempts have been made (the last one ending at `now_ms`, or the message created at `now_ms`
 * when none has). The delay is delay_s[attempts_made] * (1 + u), u uniform in
 * [-jitter, +jitter] drawn from `rng` (NULL: wh_rng_default). A zero delay stays zero.
 * EQ_ENOTFOUND when the schedule is exhausted (the delivery has failed for good); EQ_EINVAL for
 * a jitter out of range or a time that would overflow. */
eq_err wh_schedule_next(const wh_schedule *s, size_t attempts_made, int64_t now_ms, wh_rng_fn rng,
                        void *rng_ctx, int64_t *next_ms);

#endif

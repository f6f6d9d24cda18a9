/* A fast fake webhook receiver in C (libuv + http_parser) for bench/webhooks: it runs its own
 * loop on its own thread, answers every request "200 OK" with keep-alive, counts deliveries and,
 * when given a secret, verifies each one's Standard Webhooks signature with wh_verify(). */
#ifndef ECONQ_TESTS_FAKES_WEBHOOK_RECEIVER_UV_H
#define ECONQ_TESTS_FAKES_WEBHOOK_RECEIVER_UV_H

#include <stdint.h>

#include "common/eq_err.h"

typedef struct fake_whrx fake_whrx;

typedef struct fake_whrx_counts {
    uint64_t requests; /* complete requests answered */
    uint64_t verified; /* of those, signatures that verified (0 without a secret) */
    uint64_t rejected; /* signatures that did not verify */
} fake_whrx_counts;

/* Starts listening on 127.0.0.1 on a free port (written to `*port`) on a new thread.
 * `secret` may be NULL (no verification); it is copied. With `close_each` every answer says
 * "Connection: close" and the connection is closed after it (so senders open one per request).
 * Caller ends it with fake_whrx_stop(). */
eq_err fake_whrx_start(const char *secret, int close_each, fake_whrx **out, int *port);

/* Reads the counters (safe from any thread). */
fake_whrx_counts fake_whrx_counts_get(fake_whrx *rx);

/* Stops the thread, closes every connection and frees `rx`. */
void fake_whrx_stop(fake_whrx *rx);

#endif

/* The webhook dispatcher: POSTs signed deliveries with libcurl's multi-socket interface driven by
 * a libuv loop (one uv_poll per socket, one uv_timer for curl's timeouts; no thread per request
 * and nothing blocking on the loop; host names resolve on libuv's thread pool).
 *
 * Each delivery goes through the SSRF guard (wh_ssrf.h): the URL's host is resolved, the first
 * permitted address is chosen and the connection is pinned to it, so DNS rebinding cannot slip
 * past; redirects are not followed, proxies from the environment are ignored, only http and
 * https are spoken. At most `max_inflight` deliveries run at once; more wait in a bounded FIFO.
 *
 * The dispatcher keeps nothing durable: retries and the outbox belong to the caller, who decides
 * from wh_result.retryable / .gone. Only the loop's thread may call these functions. */
#ifndef ECONQ_BROKER_WEBHOOK_WH_DISPATCH_H
#define ECONQ_BROKER_WEBHOOK_WH_DISPATCH_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "broker/webhook/wh_ssrf.h"
#include "common/eq_err.h"

/* Largest body accepted by wh_dispatch(). */
#define WH_BODY_MAX_BYTES (1024 * 1024)
#define WH_MAX_ROTATING_SECRETS 4  /* secrets in one delivery's secret (space-separated) */
/* Bytes of a receiver's answer kept for the delivery log. */
#define WH_RESPONSE_KEEP_BYTES 4096
/* Bytes of an answer read at most; the connection is dropped after that (the status stands). */
#define WH_RESPONSE_MAX_BYTES (64 * 1024)
/* Defaults and upper limits of wh_config. */
#define WH_INFLIGHT_DEFAULT 64
#define WH_INFLIGHT_MAX 4096
#define WH_QUEUE_DEFAULT 10000
#define WH_QUEUE_MAX 1000000
/* Host-name resolutions at once: each holds one thread of libuv's shared pool (4 by default)
 * for as long as the system resolver takes, so a slow DNS must not take the whole pool. */
#define WH_RESOLVING_DEFAULT 2
#define WH_RESOLVING_MAX 64
#define WH_CONNECT_TIMEOUT_DEFAULT_MS 5000
#define WH_TOTAL_TIMEOUT_DEFAULT_MS 15000
/* The longest timeout accepted for either setting: 10 minutes. */
#define WH_TIMEOUT_MAX_MS (10 * 60 * 1000)
#define WH_USER_AGENT "econq/0.1"
/* Longest path of a CA bundle in wh_config. */
#define WH_CA_FILE_MAX 512

typedef struct wh_config {
    size_t max_inflight;     /* deliveries resolving or transferring at once */
    size_t max_queued;       /* deliveries waiting beyond that; wh_dispatch() says EQ_EBUSY after */
    size_t max_resolving;    /* host names resolving at once; more wait (in flight) */
    long connect_timeout_ms; /* TCP (and TLS) connection */
    long total_timeout_ms;   /* whole delivery; time spent resolving counts against it, though
                                a resolution in progress is not cut short */
    wh_allowlist allow;      /* ranges the SSRF guard lets through */
    char ca_file[WH_CA_FILE_MAX]; /* PEM bundle trusted for https; "" = the system's */
} wh_config;

/* Fills `cfg` with the defaults: 64 in flight, 10,000 queued, 2 resolving, 5 s connect, 15 s
 * total, an empty allowlist, the system's CA bundle. */
void wh_config_default(wh_config *cfg);

/* Applies ECONQ_WEBHOOK_ALLOW (CIDR list) from the environment to `cfg`, if set.
 * EQ_EINVAL/EQ_ETOOBIG if the variable does not parse (then `cfg` is unchanged). */
eq_err wh_config_from_env(wh_config *cfg);

/* One delivery. Strings are NUL-terminated; wh_dispatch() copies all of them. */
typedef struct wh_delivery {
    const char *msg_id; /* webhook-id, the same on every retry */
    const char *url;    /* http:// or https:// */
    const char *secret; /* whsec_... or raw; signs the body */
    const char *body;   /* JSON */
    size_t body_len;
    int64_t timestamp; /* webhook-timestamp, Unix seconds (the attempt's time) */
    void *userdata;    /* returned as is */
} wh_delivery;

typedef struct wh_result {
    int http_status;             /* 0 if no answer was received */
    eq_err err;                  /* EQ_OK for a 2xx answer; see below */
    char error[160];             /* human-readable cause when err != EQ_OK */
    double latency_ms;           /* from leaving the queue to completion, resolution included */
    int gone;                    /* 1 for 410 Gone: stop retrying this message */
    int retryable;               /* 1 if a later attempt may succeed */
    char addr[WH_ADDR_STR_SIZE]; /* the address connected to, "" if none was chosen */
    const char *response;        /* first WH_RESPONSE_KEEP_BYTES of the answer's body; never NULL,
                                    not NUL-terminated, borrowed for the duration of the callback */
    size_t response_len;
} wh_result;
/* err values: EQ_OK (2xx); EQ_EPROTO (another status, retryable unless 410); EQ_ETIMEDOUT
 * (connect or total timeout, retryable); EQ_ENET (resolution, connection or transfer failure,
 * retryable); EQ_EINVAL (refused by the SSRF guard, not retryable); EQ_ENOMEM (retryable);
 * EQ_ECLOSED (the dispatcher closed before the delivery finished, retryable). */

/* Called on the loop's thread once per accepted delivery, never from inside wh_dispatch().
 * `d` and `res` (with the strings they point to) are valid only during the call. The callback
 * may call wh_dispatch() (e.g. to retry at once). */
typedef void (*wh_done_fn)(void *ctx, const wh_delivery *d, const wh_result *res);

typedef struct wh_dispatcher wh_dispatcher;

/* Creates a dispatcher on `loop`; `cfg` is copied (NULL: defaults). Caller ends it with
 * wh_dispatcher_close(). EQ_EINVAL for out-of-range settings, EQ_ENOMEM, EQ_EIO (libuv/curl). */
eq_err wh_dispatcher_new(uv_loop_t *loop, const wh_config *cfg, wh_done_fn done, void *ctx,
                         wh_dispatcher **out);

/* Queues a delivery; copies everything it needs. The body is signed here. On EQ_OK, `done` will
 * be called exactly once for it. Errors (and then `done` is never called): EQ_EINVAL (missing
 * field, malformed URL or secret), EQ_EUNSUPPORTED (scheme not http/https), EQ_ETOOBIG (body over
 * WH_BODY_MAX_BYTES, or URL/id over their limits), EQ_EBUSY (queue full), EQ_ECLOSED (closing),
 * EQ_ENOMEM. */
eq_err wh_dispatch(wh_dispatcher *d, const wh_delivery *delivery);

/* Deliveries resolving or transferring now. */
size_t wh_dispatcher_inflight(const wh_dispatcher *d);

/* Deliveries waiting for a free slot. */
size_t wh_dispatcher_queued(const wh_dispatcher *d);

/* Counters since wh_dispatcher_new(), for metrics. Every accepted delivery ends in exactly one
 * outcome counter. */
typedef struct wh_stats {
    uint64_t delivered;      /* 2xx */
    uint64_t http_errors;    /* any other status (gone included) */
    uint64_t gone;           /* 410 */
    uint64_t timeouts;       /* EQ_ETIMEDOUT */
    uint64_t network_errors; /* EQ_ENET */
    uint64_t refused;        /* EQ_EINVAL: the SSRF guard */
    uint64_t closed;         /* EQ_ECLOSED */
    uint64_t other;          /* EQ_ENOMEM */
    double latency_ms_sum;   /* over deliveries that left the queue */
    double latency_ms_max;
} wh_stats;

void wh_dispatcher_stats(const wh_dispatcher *d, wh_stats *out);

/* Stops the dispatcher: every queued or running delivery completes with EQ_ECLOSED (its
 * callback runs, possibly before this returns); once every handle is closed `closed(arg)` runs
 * (may be NULL) and `d` is freed. The loop must keep running until then. */
void wh_dispatcher_close(wh_dispatcher *d, void (*closed)(void *), void *arg);

#endif

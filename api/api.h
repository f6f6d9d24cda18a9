/* The api: econq's HTTP front door on a libuv loop. It validates requests, reads jobs straight
 * from the store (read transactions), and sends every change to the broker over nng
 * (common/proto.h). Long-polls wake on the broker's job events. */
#ifndef ECONQ_API_API_H
#define ECONQ_API_API_H
#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include "common/eq_err.h"
#include "store/store.h"

#define API_MAX_JSON_DEPTH 32        /* nesting of a request body */
#define API_MAX_WAIT_S 60            /* ?wait= long-poll ceiling */
#define API_MAX_LIST_LIMIT 1000      /* GET /v1/jobs?limit= ceiling */
#define API_MAX_IDEM_KEY 255         /* Idempotency-Key length */
#define API_BROKER_TIMEOUT_MS 30000  /* a broker call that takes longer is answered 503 */

typedef struct api api;

typedef struct api_config {
    const char *host;
    int port;
    store *st;                 /* borrowed, read only */
    const char *broker_url;
    const char *events_url;
    size_t max_body_bytes;
    size_t upload_max_bytes;   /* a dataset file (POST /v1/datasets) */
    int webhook_secret_set;    /* the server has a secret for webhooks that name none */
    size_t max_connections;
    unsigned header_timeout_ms, idle_timeout_ms;
    const char *const *job_types; /* the types this deployment accepts; NULL-terminated */
    int max_attempts_default;
    int64_t health_worker_window_ms; /* a worker seen within this counts as connected */
    const struct api_auth *auth;     /* borrowed; NULL: no API keys (open, for development) */
    struct api_ratelimit *rl;        /* borrowed, used on the loop thread; NULL: no limits */
    int metrics_auth;                /* 1: GET /metrics needs a key too */
    /* The in-process llm circuit breaker for /health; NULL when this process runs no llm
     * worker. Fills the state (0 closed, 1 open, 2 half-open), consecutive failures, seconds
     * until a probe may go, and how often it opened; returns 0, or -1 when unknown. */
    int (*llm_breaker)(int *state, unsigned *failures, uint64_t *retry_after_s,
                       uint64_t *opened_total, const char **url);
} api_config;

eq_err api_start(uv_loop_t *loop, const api_config *cfg, api **out);
int api_port(const api *a);
/* Stops accepting, answers what is in flight and pending long-polls, then calls done(arg). */
void api_stop(api *a, void (*done)(void *arg), void *arg);

#endif

/* The api's production guards: API keys (api/auth.c), rate limits (api/ratelimit.c), and the
 * request log, HTTP metrics and GET /metrics (api/metrics.c).
 *
 * Keys and rate limiters are built by the caller (econqd) and lent to the api through
 * api_config; everything else runs on the api's loop thread. */
#ifndef ECONQ_API_PROD_H
#define ECONQ_API_PROD_H
#include <stddef.h>
#include <stdint.h>
#include "api/http/http_server.h"
#include "common/eq_err.h"

/* ---- API keys: a file of "NAME:SHA256HEX" lines; '#' starts a comment. */
#define AUTH_MAX_KEYS 1024          /* entries in a keys file */
#define AUTH_MAX_FILE_BYTES (1u << 20) /* a keys file larger than this is refused */
#define AUTH_NAME_MAX 64            /* bytes of a key's name ([A-Za-z0-9._-]) */
#define AUTH_MAX_TOKEN 256          /* bytes of a presented bearer token */
#define AUTH_KEY_PREFIX "eqk_"      /* generated keys: the prefix and 64 hex digits */

typedef struct api_auth api_auth;

/* Loads the keys file at path. EQ_EINVAL with a message naming the line when it is malformed
 * or holds no key; EQ_EIO when it cannot be read. *out is freed with api_auth_free(). */
eq_err api_auth_load(const char *path, api_auth **out, char *err, size_t errlen);
void api_auth_free(api_auth *a);
size_t api_auth_count(const api_auth *a);
/* The name of the key presented in an Authorization header value ("Bearer KEY"), or NULL.
 * The token's SHA-256 is compared in constant time against every entry. The returned name is
 * borrowed from `a`. */
const char *api_auth_check(const api_auth *a, const char *authorization);
/* A new random key (key: at least 70 bytes) and its keys-file line for `name` (line: at least
 * AUTH_NAME_MAX + 66 bytes). EQ_EINVAL for a bad name, EQ_EIO when no randomness. */
eq_err api_auth_keygen(const char *name, char *key, size_t keylen, char *line, size_t linelen);

/* ---- Rate limits: token buckets per client (key name, or address when anonymous) and group. */
#define RL_MAX_BUCKETS 8192 /* buckets kept; the least recently used is evicted beyond */
#define RL_CLIENT_MAX 80    /* bytes of a client name kept in a bucket */

typedef enum rl_group { RL_SUBMIT, RL_READ, RL_UPLOAD, RL_NGROUPS, RL_NONE = RL_NGROUPS } rl_group;

typedef struct rl_limit {
    double rate;  /* requests per second; 0 = no limit */
    double burst; /* bucket size */
} rl_limit;

typedef struct api_ratelimit api_ratelimit;

/* Parses "RATE/BURST" ("200/400"), "RATE" (burst = rate) or "0" (off). EQ_EINVAL otherwise. */
eq_err api_rate_parse(const char *s, rl_limit *out);
/* limits: one per group. max_buckets 0 = RL_MAX_BUCKETS. Caller frees with api_rl_free(). */
eq_err api_rl_new(const rl_limit *limits, size_t max_buckets, api_ratelimit **out);
void api_rl_free(api_ratelimit *rl);
int api_rl_enabled(const api_ratelimit *rl);
/* Takes a token for client in group g at now_ms (monotonic). 1 when allowed; 0 when limited,
 * with *retry_after_s the whole seconds until a token is back (>= 1). Loop thread only. */
int api_rl_take(api_ratelimit *rl, rl_group g, const char *client, int64_t now_ms,
                unsigned *retry_after_s);
/* Buckets evicted so far (for /metrics). */
uint64_t api_rl_evictions(const api_ratelimit *rl);
/* The group of a request: POST /v1/datasets upload, other writes submit, GET/HEAD read. */
rl_group api_rl_group(int method, const char *path);

/* ---- Request log and metrics (api/metrics.c). */
struct api;
/* Runs before routing: starts the request's clock, checks the key and the rate limit. Returns
 * 1 when it answered the request itself (401, 429), else 0. */
int api_guard(struct api *a, http_request *r);
/* GET /metrics. */
void api_metrics(struct api *a, http_request *r);
/* The api's answers: they log the request once, count it, then call http_respond*. */
void api_respond(http_request *r, int status, const char *content_type, const char *extra_headers,
                 const void *body, size_t len);
void api_respond_problem(http_request *r, int status, const char *slug, const char *title,
                         const char *detail, cJSON *extra);
void api_respond_problem_headers(http_request *r, int status, const char *slug, const char *title,
                                 const char *detail, cJSON *extra, const char *extra_headers);

#endif

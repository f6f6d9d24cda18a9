/* econq's HTTP/1.1 server: libuv + http_parser, keep-alive and pipelining on one loop thread.
 *
 * Everything here runs on the loop thread that was given to http_server_start(); no function
 * may be called from another thread. Requests are handed to one handler in arrival order per
 * connection; responses are written strictly in request order whatever order the handler
 * answers them in. The server answers its own errors as application/problem+json with the
 * stable slugs below, and closes the connection when the byte stream can no longer be trusted. */
#ifndef ECONQ_API_HTTP_HTTP_SERVER_H
#define ECONQ_API_HTTP_HTTP_SERVER_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common/eq_err.h"

/* Default limits (http_server_config_defaults). Every one bounds something a client controls. */
#define HTTP_MAX_CONNECTIONS 1024                /* open connections; beyond: 503 then close */
#define HTTP_MAX_REQUEST_LINE ((size_t)8 * 1024) /* request-target bytes; beyond: 414 */
#define HTTP_MAX_HEADER_BYTES                                                                      \
    ((size_t)16 * 1024)      /* header names + values of one request; beyond: 431 */
#define HTTP_MAX_HEADERS 100 /* header fields per request; beyond: 431 */
#define HTTP_MAX_BODY_BYTES ((size_t)1024 * 1024) /* default body limit; beyond: 413 */
#define HTTP_HEADER_TIMEOUT_MS 10000              /* a request head must arrive within this; 408 */
#define HTTP_IDLE_TIMEOUT_MS 60000 /* idle keep-alive, stalled body or stalled write */
#define HTTP_MAX_PIPELINED 32      /* requests queued per connection before parsing pauses */

/* Stable problem slugs ("type": "/problems/<slug>") used by the server's own answers. */
#define HTTP_PROBLEM_MALFORMED "malformed-request"               /* 400 */
#define HTTP_PROBLEM_TIMEOUT "request-timeout"                   /* 408 */
#define HTTP_PROBLEM_TOO_LARGE "payload-too-large"               /* 413 */
#define HTTP_PROBLEM_URI_TOO_LONG "uri-too-long"                 /* 414 */
#define HTTP_PROBLEM_EXPECTATION "expectation-failed"            /* 417 */
#define HTTP_PROBLEM_HEADERS_TOO_LARGE "header-fields-too-large" /* 431 */
#define HTTP_PROBLEM_INTERNAL "internal-error" /* 500, a handler misused the API */
#define HTTP_PROBLEM_TOO_MANY_CONNECTIONS "too-many-connections" /* 503 */
#define HTTP_PROBLEM_VERSION "http-version-not-supported"        /* 505 */

typedef struct http_server http_server;
typedef struct http_request http_request;

/* Called on the loop thread once per complete request, in order per connection. The handler
 * must eventually call http_respond() (or http_respond_problem()) exactly once for `req`, now
 * or later. `req` stays valid until then, even if the connection closes meanwhile; then
 * http_request_is_closed() is 1 and http_respond() only frees it. */
typedef void (*http_handler_fn)(void *ctx, http_request *req);

typedef struct http_server_config {
    const char *host;           /* address to bind, e.g. "127.0.0.1" or "::" */
    int port;                   /* 0 = ephemeral; see http_server_port() */
    size_t max_connections;     /* beyond: 503 too-many-connections, then close */
    size_t max_request_line;    /* request-target bytes: 414 */
    size_t max_header_bytes;    /* header name + value bytes: 431 */
    size_t max_headers;         /* header fields: 431 */
    size_t max_body_bytes;      /* default body limit: 413; see body_limit_fn */
    unsigned header_timeout_ms; /* a request's head must arrive within this: 408, close; 0 = none */
    unsigned idle_timeout_ms; /* idle keep-alive, stalled body upload or stalled reader; 0 = none */
    size_t max_pipelined;     /* requests queued per connection before parsing pauses (>= 1) */
    /* Optional: called when a request's head is complete; returns the body limit for that
     * request (e.g. uploads 10 MB), 0 = max_body_bytes. Runs before any body byte is stored. */
    size_t (*body_limit_fn)(void *ctx, const http_request *head);
} http_server_config;

/* Counters since start, for /metrics. */
typedef struct http_server_stats {
    uint64_t connections_accepted; /* connections served (not counting rejected ones) */
    uint64_t connections_rejected; /* answered 503 too-many-connections */
    uint64_t requests;             /* complete requests handed to the handler */
    uint64_t client_errors;        /* requests the server itself answered with 4xx/5xx */
    uint64_t timeouts;             /* 408s and connections closed for idleness or stalls */
    uint64_t bytes_in;
    uint64_t bytes_out;
} http_server_stats;

/* Fills `c` with the defaults above, host "127.0.0.1", port 8080, no body_limit_fn. */
void http_server_config_defaults(http_server_config *c);

/* Binds, listens and starts serving on `loop`. `cfg` is copied (host too). `fn(ctx, req)`
 * handles every request; ctx is also passed to cfg->body_limit_fn. On success *out is the
 * server, owned by the caller until http_server_stop() completes.
 * Errors: EQ_EINVAL (bad config or address), EQ_EIO (bind/listen failed, e.g. port in use),
 * EQ_ENOMEM. Sets SIGPIPE to ignored, process-wide: a write to a reset connection must fail
 * with EPIPE rather than kill the process. */
eq_err http_server_start(uv_loop_t *loop, const http_server_config *cfg, http_handler_fn fn,
                         void *ctx, http_server **out);

/* The bound port (useful after port 0). */
int http_server_port(const http_server *s);

/* Stops accepting, closes idle connections, lets in-flight requests be answered (their
 * responses carry Connection: close), then calls done(arg) on the loop thread and frees `s`.
 * `done` may be NULL. The handler is not called for any new request after this. */
void http_server_stop(http_server *s, void (*done)(void *arg), void *arg);

/* Open connections being served (not counting ones being rejected with 503). */
size_t http_server_connections(const http_server *s);

void http_server_stats_get(const http_server *s, http_server_stats *out);

/* ---- Request accessors. Strings are owned by the request and valid until http_respond(). */

int http_request_method(const http_request *r);              /* enum http_method (http_parser.h) */
const char *http_request_method_name(const http_request *r); /* "GET", ... */
const char *http_request_path(const http_request *r);  /* percent-decoded, no query; never NULL */
const char *http_request_query(const http_request *r); /* raw query (after '?') or NULL */

/* Finds query parameter `name` (compared after decoding) and writes its decoded value
 * ('+' is a space, %XX a byte) NUL-terminated to out[outlen].
 * Returns 1 found, 0 absent, -1 present but malformed (bad %-escape, a NUL byte) or longer than
 * outlen - 1 (then out is ""). A parameter without '=' has the value "". */
int http_request_query_param(const http_request *r, const char *name, char *out, size_t outlen);

/* The first header field named `name` (case-insensitive), value trimmed; NULL if absent. */
const char *http_request_header(const http_request *r, const char *name);

/* Number of header fields and the i-th name/value (0 <= i < count), for logging or proxies. */
size_t http_request_header_count(const http_request *r);
void http_request_header_at(const http_request *r, size_t i, const char **name, const char **value);

/* The body (NUL-terminated for convenience; may contain NULs) and its length; never NULL
 * (an empty body is ""). */
const char *http_request_body(const http_request *r, size_t *len);

/* The per-request id, also sent as X-Request-Id: the client's X-Request-Id when it is 1-64
 * characters of [A-Za-z0-9._:-], else one generated by the server. */
const char *http_request_id(const http_request *r);

const char *http_request_remote_addr(const http_request *r); /* "127.0.0.1", "::1", ... */
int http_request_http_minor(const http_request *r);          /* 1 for HTTP/1.1, 0 for HTTP/1.0 */
int http_request_is_closed(const http_request *r);           /* 1 when the client went away */
void http_request_set_userdata(http_request *r, void *p);
void *http_request_userdata(const http_request *r);

/* Asks to be told when the client goes away while the handler still holds `r` (a long poll,
 * say): cb(arg, r) then runs once on the loop thread, from a libuv callback of its own (never
 * from inside another http_* call), and should answer r with http_respond(), which only frees
 * it. Not called when r is answered first, nor when the client was already gone when this was
 * called (check http_request_is_closed()). cb = NULL cancels. */
void http_request_on_close(http_request *r, void (*cb)(void *arg, http_request *r), void *arg);

/* ---- Responses. */

/* Answers `r` and releases it: `r` and everything borrowed from it are invalid afterwards.
 * Sends Date, Content-Length (not for 204), X-Request-Id and Connection as needed, then
 * `content_type` (may be NULL), then `extra_headers` ("Name: value\r\n..." or NULL). Copies what
 * it needs; the body is not sent for HEAD. `status` must be 200-599 and the headers well formed
 * (no bare CR/LF); otherwise a 500 internal-error problem is sent instead. If the client is gone
 * this only frees `r`. Calling it a second time for one request is a use-after-free. */
void http_respond(http_request *r, int status, const char *content_type, const char *extra_headers,
                  const void *body, size_t len);

/* Answers with an RFC 9457 application/problem+json body
 * {"type": "/problems/<slug>", "title", "status", "detail", ...extra}. `detail` may be NULL.
 * Takes ownership of `extra` (a cJSON object or NULL) in every case; its members are added
 * except ones named type, title, status or detail. */
void http_respond_problem(http_request *r, int status, const char *slug, const char *title,
                          const char *detail, cJSON *extra);

/* The same with extra response headers ("Name: value\r\n..." or NULL), e.g. Retry-After on
 * 429/503, Allow on 405, WWW-Authenticate on 401. */
void http_respond_problem_headers(http_request *r, int status, const char *slug, const char *title,
                                  const char *detail, cJSON *extra, const char *extra_headers);

#endif

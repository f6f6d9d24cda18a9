/* Incremental HTTP/1.x request parser: http_parser plus econq's limits.
 *
 * A pure function of its input (no I/O, no clock): feed bytes, get complete requests one at a
 * time, or an error that says which status and problem slug to answer with. Every limit is
 * checked before the bytes it bounds are stored. The connection code and the fuzz target both
 * drive it. */
#ifndef ECONQ_API_HTTP_HTTP_PARSE_H
#define ECONQ_API_HTTP_HTTP_PARSE_H

#include <http_parser.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/http/http_server.h"

/* Announced bodies up to this are allocated at once; larger ones grow as they arrive (glibc
 * moves large blocks with mremap, so growing does not copy them again). */
#define HTTP_BODY_PREALLOC_BYTES ((size_t)64 * 1024)

typedef struct http_parse_limits {
    size_t max_request_line;
    size_t max_header_bytes;
    size_t max_headers;
    size_t max_body_bytes;
    size_t (*body_limit_fn)(void *ctx, const http_request *head); /* may be NULL */
    void *body_limit_ctx;
} http_parse_limits;

typedef enum http_parse_status {
    HTTP_PARSE_MORE,  /* every byte was consumed; feed more */
    HTTP_PARSE_DONE,  /* one request is complete; feed the rest after `used` bytes */
    HTTP_PARSE_ERROR, /* invalid or over a limit; see http_reqparser_error(); feed no more */
} http_parse_status;

typedef struct http_parse_error {
    int status;         /* 400, 413, 414, 417, 431 or 505 */
    const char *slug;   /* HTTP_PROBLEM_* */
    const char *title;  /* static text */
    const char *detail; /* static text */
} http_parse_error;

typedef enum http_parse_phase {
    HTTP_PHASE_IDLE,
    HTTP_PHASE_HEAD,
    HTTP_PHASE_BODY
} http_parse_phase;

typedef struct http_reqparser {
    http_parser hp;
    http_parse_limits lim;
    http_parse_phase phase;
    int last;   /* which segment the previous callback appended to */
    char *text; /* url\0name\0value\0... of the head being received */
    size_t text_len, text_cap;
    uint32_t *offs; /* name, value offsets into text per header */
    size_t nhdr, offs_cap;
    size_t url_len, header_bytes;
    size_t body_limit;
    size_t body_expect; /* announced Content-Length, 0 for chunked */
    http_request *req;  /* built at headers-complete, owned until DONE */
    http_request *done; /* handed out by the next DONE */
    bool want_continue; /* Expect: 100-continue seen and the body limit allows it */
    bool failed;
    http_parse_error err;
} http_reqparser;

void http_reqparser_init(http_reqparser *p, const http_parse_limits *lim);
/* Frees a partially received request and the scratch buffers. */
void http_reqparser_fini(http_reqparser *p);

/* Parses from buf[len]. *used is how many bytes were consumed. On HTTP_PARSE_DONE *out is a
 * complete request that the caller owns (free with http__request_free() or answer it). */
http_parse_status http_reqparser_feed(http_reqparser *p, const char *buf, size_t len, size_t *used,
                                      http_request **out);

static inline http_parse_phase http_reqparser_phase(const http_reqparser *p) {
    return p->phase;
}
static inline const http_parse_error *http_reqparser_error(const http_reqparser *p) {
    return &p->err;
}

/* True once per request whose head asked for 100-continue, until http_reqparser_continue_done(). */
static inline bool http_reqparser_wants_continue(const http_reqparser *p) {
    return p->want_continue && p->phase == HTTP_PHASE_BODY;
}
static inline void http_reqparser_continue_done(http_reqparser *p) {
    p->want_continue = false;
}

/* Fuzz-friendly one-shot entry: parses the first request in buf[len]. Returns DONE with *out
 * (caller frees with http__request_free()) and *used, MORE if buf ends inside a request, or
 * ERROR with *err filled. */
http_parse_status http_parse_request(const char *buf, size_t len, const http_parse_limits *lim,
                                     http_request **out, size_t *used, http_parse_error *err);

#endif

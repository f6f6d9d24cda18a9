/* The request parser: http_parser callbacks that copy a request head into a scratch buffer
 * under the configured limits, then build one http_request allocation from it. */
#include "api/http/http_parse.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/http/http_internal.h"

enum { SEG_NONE, SEG_URL, SEG_FIELD, SEG_VALUE };

static int fail(http_reqparser *p, int status, const char *slug, const char *title,
                const char *detail) {
    if (!p->failed) {
        p->failed = true;
        p->err = (http_parse_error){status, slug, title, detail};
    }
    return -1;
}

static int fail_malformed(http_reqparser *p, const char *detail) {
    return fail(p, 400, HTTP_PROBLEM_MALFORMED, "Malformed request", detail);
}

static int fail_headers(http_reqparser *p, const char *detail) {
    return fail(p, 431, HTTP_PROBLEM_HEADERS_TOO_LARGE, "Request header fields too large", detail);
}

static int fail_body(http_reqparser *p) {
    return fail(p, 413, HTTP_PROBLEM_TOO_LARGE, "Payload too large",
                "The request body is larger than this endpoint accepts.");
}

/* Appends to the head scratch. Callers have checked the limits, which bound text_cap. */
static int text_append(http_reqparser *p, const char *s, size_t n) {
    if (p->text_len + n > p->text_cap) {
        size_t cap = p->text_cap ? p->text_cap : 1024;
        while (cap < p->text_len + n)
            cap *= 2;
        char *t = realloc(p->text, cap);
        if (!t)
            return fail(p, 503, HTTP_PROBLEM_INTERNAL, "Out of memory",
                        "The server is out of memory.");
        p->text = t;
        p->text_cap = cap;
    }
    memcpy(p->text + p->text_len, s, n);
    p->text_len += n;
    return 0;
}

/* Ends the segment the previous callback wrote and starts segment `seg`. */
static int seg_switch(http_reqparser *p, int seg) {
    if (p->last == seg) return 0;
    if (p->last == SEG_FIELD) {
        if (text_append(p, "", 1)) return -1;
        p->offs[2 * (p->nhdr - 1) + 1] = (uint32_t)p->text_len;
        if (seg != SEG_VALUE && text_append(p, "", 1)) /* a field without a value */
            return -1;
    } else if (p->last == SEG_URL || p->last == SEG_VALUE) {
        if (text_append(p, "", 1)) return -1;
    }
    if (seg == SEG_FIELD) {
        if (p->nhdr >= p->lim.max_headers)
            return fail_headers(p, "The request has too many header fields.");
        if (2 * (p->nhdr + 1) > p->offs_cap) {
            size_t cap = p->offs_cap ? 2 * p->offs_cap : 32;
            uint32_t *o = realloc(p->offs, cap * sizeof *o);
            if (!o)
                return fail(p, 503, HTTP_PROBLEM_INTERNAL, "Out of memory",
                            "The server is out of memory.");
            p->offs = o;
            p->offs_cap = cap;
        }
        p->offs[2 * p->nhdr] = (uint32_t)p->text_len;
        p->offs[2 * p->nhdr + 1] = 0;
        p->nhdr++;
    }
    p->last = seg;
    return 0;
}

static int on_message_begin(http_parser *hp) {
    http_reqparser *p = hp->data;
    p->phase = HTTP_PHASE_HEAD;
    p->last = SEG_NONE;
    p->text_len = 0;
    p->nhdr = 0;
    p->url_len = 0;
    p->header_bytes = 0;
    p->want_continue = false;
    return 0;
}

static int on_url(http_parser *hp, const char *at, size_t len) {
    http_reqparser *p = hp->data;
    if (len > p->lim.max_request_line - p->url_len)
        return fail(p, 414, HTTP_PROBLEM_URI_TOO_LONG, "URI too long",
                    "The request target is longer than the server accepts.");
    p->url_len += len;
    if (seg_switch(p, SEG_URL)) return -1;
    return text_append(p, at, len);
}

/* Header bytes are counted for trailers too (they are not stored). */
static int count_header_bytes(http_reqparser *p, size_t len) {
    if (len > p->lim.max_header_bytes - p->header_bytes)
        return fail_headers(p, "The request header fields are larger than the server accepts.");
    p->header_bytes += len;
    return 0;
}

static int on_header_field(http_parser *hp, const char *at, size_t len) {
    http_reqparser *p = hp->data;
    if (count_header_bytes(p, len)) return -1;
    if (p->phase != HTTP_PHASE_HEAD) return 0; /* a chunked trailer: counted, ignored */
    if (seg_switch(p, SEG_FIELD)) return -1;
    return text_append(p, at, len);
}

static int on_header_value(http_parser *hp, const char *at, size_t len) {
    http_reqparser *p = hp->data;
    if (count_header_bytes(p, len)) return -1;
    if (p->phase != HTTP_PHASE_HEAD) return 0;
    if (seg_switch(p, SEG_VALUE)) return -1;
    return text_append(p, at, len);
}

static bool request_id_ok(const char *s) {
    size_t n = 0;
    for (; s[n]; n++) {
        char ch = s[n];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == ':' || ch == '-';
        if (!ok || n >= HTTP_REQUEST_ID_MAX) return false;
    }
    return n > 0;
}

/* RFC 9110 token: Debian's http_parser is built without HTTP_PARSER_STRICT and lets spaces
 * into field names ("Transfer-Encoding : chunked"), a request-smuggling vector. */
static bool token_ok(const char *s) {
    if (!*s) return false;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') ||
                  (ch > ' ' && ch < 0x7f && strchr("!#$%&'*+-.^_`|~", ch));
        if (!ok) return false;
    }
    return true;
}

/* Splits the request-target into path (decoded into `pathbuf`) and raw query. */
static int split_target(http_reqparser *p, http_request *r, char *pathbuf) {
    const char *u = r->url;
    size_t n = strlen(u);
    const char *start = u;
    if (r->method == HTTP_CONNECT || strcmp(u, "*") == 0) {
        memcpy(pathbuf, u, n + 1); /* authority-form or asterisk-form, kept as is */
        r->path = pathbuf;
        return 0;
    }
    if (u[0] != '/') {
        const char *scheme_end = strstr(u, "://");
        if (!scheme_end) return fail_malformed(p, "The request target is not a path.");
        start = strchr(scheme_end + 3, '/'); /* absolute-form: skip scheme and authority */
        if (!start) start = u + n;
    }
    size_t plen = strcspn(start, "?#");
    if (start[plen] == '?') {
        char *q = (char *)start + plen + 1;
        q[strcspn(q, "#")] = '\0';
        r->query = q;
    }
    long dn = http__percent_decode(start, plen, pathbuf, false);
    if (dn < 0) return fail_malformed(p, "The request path has an invalid percent-escape.");
    if (dn == 0) {
        pathbuf[0] = '/';
        pathbuf[1] = '\0';
    }
    r->path = pathbuf;
    return 0;
}

/* Builds the request from the scratch: one allocation for the struct, header index, text and
 * decoded path. */
static http_request *build_request(http_reqparser *p) {
    size_t hdrs = p->nhdr * sizeof(http_header);
    size_t pathcap = p->url_len + 2;
    http_request *r = malloc(sizeof *r + hdrs + p->text_len + pathcap);
    if (!r) return NULL;
    memset(r, 0, sizeof *r);
    r->headers = (http_header *)(r + 1);
    char *text = (char *)(r + 1) + hdrs;
    memcpy(text, p->text, p->text_len);
    r->nheaders = p->nhdr;
    for (size_t i = 0; i < p->nhdr; i++) {
        if (!token_ok(text + p->offs[2 * i])) {
            free(r);
            fail_malformed(p, "A header field name is not a token.");
            return NULL;
        }
        char *v = text + p->offs[2 * i + 1];
        size_t vl = strlen(v);
        while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
            v[--vl] = '\0';
        r->headers[i].name = text + p->offs[2 * i];
        r->headers[i].value = v;
    }
    r->url = text;
    r->method = p->hp.method;
    r->http_major = p->hp.http_major;
    r->http_minor = p->hp.http_minor;
    r->keep_alive = http_should_keep_alive(&p->hp) != 0;
    if (split_target(p, r, text + p->text_len)) {
        free(r);
        return NULL;
    }
    const char *rid = http_request_header(r, "X-Request-Id");
    if (rid && request_id_ok(rid)) memcpy(r->id, rid, strlen(rid) + 1);
    return r;
}

static int on_headers_complete(http_parser *hp) {
    http_reqparser *p = hp->data;
    if (seg_switch(p, SEG_NONE)) return -1;
    if (p->text_len == 0 && text_append(p, "", 1)) /* no request-target at all */
        return -1;
    if (hp->http_major != 1)
        return fail(p, 505, HTTP_PROBLEM_VERSION, "HTTP version not supported",
                    "Only HTTP/1.0 and HTTP/1.1 are served.");
    http_request *r = build_request(p);
    if (!r)
        return p->failed ? -1
                         : fail(p, 503, HTTP_PROBLEM_INTERNAL, "Out of memory",
                                "The server is out of memory.");
    p->req = r;

    const char *expect = http_request_header(r, "Expect");
    if (expect) {
        if (strcasecmp(expect, "100-continue") != 0)
            return fail(p, 417, HTTP_PROBLEM_EXPECTATION, "Expectation failed",
                        "Only the expectation 100-continue is supported.");
        p->want_continue = r->http_minor >= 1;
    }

    p->body_expect = 0;
    size_t limit = p->lim.body_limit_fn ? p->lim.body_limit_fn(p->lim.body_limit_ctx, r) : 0;
    p->body_limit = limit ? limit : p->lim.max_body_bytes;
    if (hp->flags & F_CHUNKED) {
        /* grown as chunks arrive, never beyond the limit */
    } else if ((hp->flags & F_CONTENTLENGTH) && hp->content_length > 0) {
        if (hp->content_length > p->body_limit) return fail_body(p);
        /* Small bodies get their exact size at once; larger ones grow as bytes arrive, so a
         * client that announces megabytes and sends nothing holds little memory. */
        p->body_expect = (size_t)hp->content_length;
        r->body_cap = (p->body_expect < HTTP_BODY_PREALLOC_BYTES ? p->body_expect
                                                                 : HTTP_BODY_PREALLOC_BYTES) +
                      1;
        r->body = malloc(r->body_cap);
        if (!r->body)
            return fail(p, 503, HTTP_PROBLEM_INTERNAL, "Out of memory",
                        "The server is out of memory.");
    }
    p->phase = HTTP_PHASE_BODY;
    return 0;
}

static int on_body(http_parser *hp, const char *at, size_t len) {
    http_reqparser *p = hp->data;
    http_request *r = p->req;
    p->want_continue = false; /* the client did not wait for 100 Continue */
    if (len > p->body_limit - r->body_len) return fail_body(p);
    if (r->body_len + len + 1 > r->body_cap) {
        size_t need = r->body_len + len + 1;
        size_t cap = r->body_cap ? 2 * r->body_cap : 4096;
        if (cap < need) cap = need;
        size_t most = (p->body_expect ? p->body_expect : p->body_limit) + 1;
        if (cap > most) cap = most;
        char *b = realloc(r->body, cap);
        if (!b)
            return fail(p, 503, HTTP_PROBLEM_INTERNAL, "Out of memory",
                        "The server is out of memory.");
        r->body = b;
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, at, len);
    r->body_len += len;
    return 0;
}

static int on_message_complete(http_parser *hp) {
    http_reqparser *p = hp->data;
    http_request *r = p->req;
    if (r->body) r->body[r->body_len] = '\0';
    if (hp->upgrade)
        r->keep_alive = false; /* protocol switches are not served; the connection ends here */
    p->done = r;
    p->req = NULL;
    p->phase = HTTP_PHASE_IDLE;
    p->want_continue = false;
    http_parser_pause(hp, 1);
    return 0;
}

static const http_parser_settings parse_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

void http_reqparser_init(http_reqparser *p, const http_parse_limits *lim) {
    memset(p, 0, sizeof *p);
    p->lim = *lim;
    http_parser_init(&p->hp, HTTP_REQUEST);
    p->hp.data = p;
}

void http_reqparser_fini(http_reqparser *p) {
    http__request_free(p->req);
    http__request_free(p->done);
    free(p->text);
    free(p->offs);
    p->req = p->done = NULL;
    p->text = NULL;
    p->offs = NULL;
}

static void map_parser_error(http_reqparser *p, enum http_errno e) {
    if (p->failed) return;
    switch (e) {
    case HPE_HEADER_OVERFLOW:
        fail_headers(p, "The request head is larger than the server accepts.");
        break;
    case HPE_INVALID_VERSION:
        fail_malformed(p, "The HTTP version is malformed.");
        break;
    case HPE_INVALID_METHOD:
        fail_malformed(p, "The request method is unknown.");
        break;
    case HPE_INVALID_CONTENT_LENGTH:
    case HPE_UNEXPECTED_CONTENT_LENGTH:
        fail_malformed(p, "The Content-Length is invalid or conflicts with Transfer-Encoding.");
        break;
    case HPE_INVALID_TRANSFER_ENCODING:
    case HPE_INVALID_CHUNK_SIZE:
        fail_malformed(p, "The chunked transfer coding is invalid.");
        break;
    default:
        fail_malformed(p, "The request is not valid HTTP/1.1.");
        break;
    }
}

http_parse_status http_reqparser_feed(http_reqparser *p, const char *buf, size_t len, size_t *used,
                                      http_request **out) {
    *out = NULL;
    *used = 0;
    if (p->failed) return HTTP_PARSE_ERROR;
    if (len == 0) return HTTP_PARSE_MORE; /* zero length would mean EOF to http_parser */
    size_t n = http_parser_execute(&p->hp, &parse_settings, buf, len);
    enum http_errno e = HTTP_PARSER_ERRNO(&p->hp);
    *used = n;
    if (e == HPE_PAUSED) {
        http_parser_pause(&p->hp, 0);
        *out = p->done;
        p->done = NULL;
        return HTTP_PARSE_DONE;
    }
    if (e != HPE_OK || p->failed) {
        map_parser_error(p, e);
        http__request_free(p->req);
        p->req = NULL;
        return HTTP_PARSE_ERROR;
    }
    return HTTP_PARSE_MORE;
}

http_parse_status http_parse_request(const char *buf, size_t len, const http_parse_limits *lim,
                                     http_request **out, size_t *used, http_parse_error *err) {
    http_reqparser p;
    http_reqparser_init(&p, lim);
    http_parse_status st = http_reqparser_feed(&p, buf, len, used, out);
    if (st == HTTP_PARSE_ERROR && err) *err = p.err;
    http_reqparser_fini(&p);
    return st;
}

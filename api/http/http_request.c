/* Request objects and their accessors: percent-decoding, query parameters, headers. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/http/http_internal.h"

http_request *http__request_new_bare(void) {
    http_request *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->method = -1;
    r->url = r->path = "";
    r->headers = (http_header *)(r + 1);
    return r;
}

void http__request_free(http_request *r) {
    if (!r) return;
    free(r->body);
    free(r->out);
    free(r);
}

static int hexval(char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

long http__percent_decode(const char *s, size_t len, char *out, bool plus_space) {
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (ch == '%') {
            if (i + 2 >= len) return -1;
            int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0) return -1;
            ch = (char)(hi * 16 + lo);
            i += 2;
        } else if (ch == '+' && plus_space) {
            ch = ' ';
        }
        if (ch == '\0') return -1;
        out[o++] = ch;
    }
    out[o] = '\0';
    return (long)o;
}

int http_request_method(const http_request *r) {
    return r->method;
}

const char *http_request_method_name(const http_request *r) {
    return r->method < 0 ? "" : http_method_str((enum http_method)r->method);
}

const char *http_request_path(const http_request *r) {
    return r->path;
}
const char *http_request_query(const http_request *r) {
    return r->query;
}
const char *http_request_id(const http_request *r) {
    return r->id;
}
const char *http_request_remote_addr(const http_request *r) {
    return r->remote;
}
int http_request_http_minor(const http_request *r) {
    return r->http_minor;
}
int http_request_is_closed(const http_request *r) {
    return r->closed || !r->conn;
}
void http_request_set_userdata(http_request *r, void *p) {
    r->userdata = p;
}
void http_request_on_close(http_request *r, void (*cb)(void *arg, http_request *r), void *arg) {
    r->close_cb = cb;
    r->close_arg = arg;
}

void *http_request_userdata(const http_request *r) {
    return r->userdata;
}

const char *http_request_header(const http_request *r, const char *name) {
    for (size_t i = 0; i < r->nheaders; i++)
        if (strcasecmp(r->headers[i].name, name) == 0) return r->headers[i].value;
    return NULL;
}

size_t http_request_header_count(const http_request *r) {
    return r->nheaders;
}

void http_request_header_at(const http_request *r, size_t i, const char **name,
                            const char **value) {
    *name = i < r->nheaders ? r->headers[i].name : NULL;
    *value = i < r->nheaders ? r->headers[i].value : NULL;
}

const char *http_request_body(const http_request *r, size_t *len) {
    if (len) *len = r->body_len;
    return r->body ? r->body : "";
}

/* Compares the encoded key k[klen] with `name` after decoding, without allocating. */
static bool key_equals(const char *k, size_t klen, const char *name) {
    size_t j = 0;
    for (size_t i = 0; i < klen; i++, j++) {
        char ch = k[i];
        if (ch == '%') {
            if (i + 2 >= klen) return false;
            int hi = hexval(k[i + 1]), lo = hexval(k[i + 2]);
            if (hi < 0 || lo < 0) return false;
            ch = (char)(hi * 16 + lo);
            i += 2;
        } else if (ch == '+') {
            ch = ' ';
        }
        if (ch == '\0' || name[j] != ch) return false;
    }
    return name[j] == '\0';
}

int http_request_query_param(const http_request *r, const char *name, char *out, size_t outlen) {
    if (outlen > 0) out[0] = '\0';
    const char *q = r->query;
    if (!q) return 0;
    while (*q) {
        size_t plen = strcspn(q, "&");
        const char *eq = memchr(q, '=', plen);
        size_t klen = eq ? (size_t)(eq - q) : plen;
        if (key_equals(q, klen, name)) {
            const char *v = eq ? eq + 1 : q + plen;
            size_t vlen = (size_t)(q + plen - v);
            /* The decoded value is never longer than the encoded one. */
            if (outlen == 0) return -1;
            if (vlen >= outlen) {
                /* It may still fit once decoded: count the escapes first. */
                size_t pct = 0;
                for (size_t i = 0; i < vlen; i++)
                    pct += v[i] == '%';
                if (vlen - 2 * pct >= outlen) return -1;
                char *tmp = malloc(vlen + 1);
                if (!tmp) return -1;
                long n = http__percent_decode(v, vlen, tmp, true);
                if (n < 0 || (size_t)n >= outlen) {
                    free(tmp);
                    return -1;
                }
                memcpy(out, tmp, (size_t)n + 1);
                free(tmp);
                return 1;
            }
            if (http__percent_decode(v, vlen, out, true) < 0) {
                out[0] = '\0';
                return -1;
            }
            return 1;
        }
        q += plen;
        if (*q == '&') q++;
    }
    return 0;
}

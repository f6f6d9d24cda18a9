#include "common/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void eq_buf_init(eq_buf *b) {
    memset(b, 0, sizeof *b);
}

void eq_buf_fini(eq_buf *b) {
    free(b->data);
    memset(b, 0, sizeof *b);
}

void eq_buf_reset(eq_buf *b) {
    b->len = 0;
    b->oom = 0;
}

int eq_buf_reserve(eq_buf *b, size_t extra) {
    if (b->oom)
        return -1;
    if (b->len + extra + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    unsigned char *d = realloc(b->data, cap);
    if (!d) {
        b->oom = 1;
        return -1;
    }
    b->data = d;
    b->cap = cap;
    return 0;
}

void eq_buf_put(eq_buf *b, const void *p, size_t n) {
    if (n == 0 || eq_buf_reserve(b, n))
        return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void eq_buf_puts(eq_buf *b, const char *s) {
    eq_buf_put(b, s, strlen(s));
}

void eq_buf_printf(eq_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || eq_buf_reserve(b, (size_t)n + 1))
        return;
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void eq_buf_u8(eq_buf *b, uint8_t v) {
    eq_buf_put(b, &v, 1);
}

void eq_buf_u16(eq_buf *b, uint16_t v) {
    unsigned char t[2] = {(unsigned char)v, (unsigned char)(v >> 8)};
    eq_buf_put(b, t, 2);
}

void eq_buf_u32(eq_buf *b, uint32_t v) {
    unsigned char t[4];
    for (int i = 0; i < 4; i++)
        t[i] = (unsigned char)(v >> (8 * i));
    eq_buf_put(b, t, 4);
}

void eq_buf_u64(eq_buf *b, uint64_t v) {
    unsigned char t[8];
    for (int i = 0; i < 8; i++)
        t[i] = (unsigned char)(v >> (8 * i));
    eq_buf_put(b, t, 8);
}

void eq_buf_i64(eq_buf *b, int64_t v) {
    eq_buf_u64(b, (uint64_t)v);
}

void eq_buf_str(eq_buf *b, const char *s) {
    if (!s) {
        eq_buf_u32(b, 0xffffffffu);
        return;
    }
    eq_buf_bytes(b, s, strlen(s));
}

void eq_buf_bytes(eq_buf *b, const void *p, size_t n) {
    eq_buf_u32(b, (uint32_t)n);
    eq_buf_put(b, p, n);
}

void eq_buf_json_str(eq_buf *b, const char *s) {
    if (!s)
        eq_buf_puts(b, "null");
    else
        eq_buf_json_strn(b, s, strlen(s));
}

void eq_buf_json_strn(eq_buf *b, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    const char *end = s + n;
    eq_buf_u8(b, '"');
    const char *run = s;
    for (; s < end; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        eq_buf_put(b, run, (size_t)(s - run));
        run = s + 1;
        switch (c) {
        case '"': eq_buf_puts(b, "\\\""); break;
        case '\\': eq_buf_puts(b, "\\\\"); break;
        case '\n': eq_buf_puts(b, "\\n"); break;
        case '\r': eq_buf_puts(b, "\\r"); break;
        case '\t': eq_buf_puts(b, "\\t"); break;
        default: {
            char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            eq_buf_put(b, u, 6);
        }
        }
    }
    eq_buf_put(b, run, (size_t)(s - run));
    eq_buf_u8(b, '"');
}

char *eq_buf_take(eq_buf *b, size_t *len) {
    if (eq_buf_reserve(b, 1)) {
        eq_buf_fini(b);
        return NULL;
    }
    b->data[b->len] = '\0';
    char *d = (char *)b->data;
    if (len)
        *len = b->len;
    memset(b, 0, sizeof *b);
    return d;
}

void eq_rd_init(eq_rd *r, const void *p, size_t n) {
    r->p = p;
    r->end = r->p + n;
    r->bad = 0;
}

static const unsigned char *rd_take(eq_rd *r, size_t n) {
    if (r->bad || (size_t)(r->end - r->p) < n) {
        r->bad = 1;
        return NULL;
    }
    const unsigned char *p = r->p;
    r->p += n;
    return p;
}

uint8_t eq_rd_u8(eq_rd *r) {
    const unsigned char *p = rd_take(r, 1);
    return p ? p[0] : 0;
}

uint16_t eq_rd_u16(eq_rd *r) {
    const unsigned char *p = rd_take(r, 2);
    return p ? (uint16_t)(p[0] | p[1] << 8) : 0;
}

uint32_t eq_rd_u32(eq_rd *r) {
    const unsigned char *p = rd_take(r, 4);
    if (!p)
        return 0;
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint64_t eq_rd_u64(eq_rd *r) {
    uint64_t lo = eq_rd_u32(r), hi = eq_rd_u32(r);
    return lo | hi << 32;
}

int64_t eq_rd_i64(eq_rd *r) {
    return (int64_t)eq_rd_u64(r);
}

const void *eq_rd_bytes(eq_rd *r, size_t *n, size_t max) {
    uint32_t len = eq_rd_u32(r);
    *n = 0;
    if (r->bad || len == 0xffffffffu)
        return NULL;
    if (len > max) {
        r->bad = 1;
        return NULL;
    }
    const unsigned char *p = rd_take(r, len);
    if (p)
        *n = len;
    return p;
}

char *eq_rd_str(eq_rd *r, size_t max) {
    size_t n;
    const void *p = eq_rd_bytes(r, &n, max);
    if (!p)
        return NULL;
    if (memchr(p, '\0', n)) {
        r->bad = 1;
        return NULL;
    }
    char *s = malloc(n + 1);
    if (!s) {
        r->bad = 1;
        return NULL;
    }
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

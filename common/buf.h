/* A growable byte buffer and a bounds-checked reader, used for record and message encodings.
 * Integers are little-endian; strings are a u32 length then the bytes (no NUL on the wire). */
#ifndef ECONQ_COMMON_BUF_H
#define ECONQ_COMMON_BUF_H
#include <stddef.h>
#include <stdint.h>
#include "common/eq_err.h"

typedef struct eq_buf {
    unsigned char *data;
    size_t len, cap;
    int oom; /* set when a write failed to allocate; checked once at the end */
} eq_buf;

void eq_buf_init(eq_buf *b);
void eq_buf_fini(eq_buf *b);
void eq_buf_reset(eq_buf *b);
int eq_buf_reserve(eq_buf *b, size_t extra);
void eq_buf_put(eq_buf *b, const void *p, size_t n);
void eq_buf_puts(eq_buf *b, const char *s); /* appends s without length or NUL */
void eq_buf_printf(eq_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void eq_buf_u8(eq_buf *b, uint8_t v);
void eq_buf_u16(eq_buf *b, uint16_t v);
void eq_buf_u32(eq_buf *b, uint32_t v);
void eq_buf_u64(eq_buf *b, uint64_t v);
void eq_buf_i64(eq_buf *b, int64_t v);
void eq_buf_str(eq_buf *b, const char *s);              /* NULL is written as length 0xffffffff */
void eq_buf_bytes(eq_buf *b, const void *p, size_t n);  /* length-prefixed */
/* Appends s as a quoted, escaped JSON string. */
void eq_buf_json_str(eq_buf *b, const char *s);
/* The same for n bytes that need no NUL (a NUL byte is written as \u0000). */
void eq_buf_json_strn(eq_buf *b, const char *s, size_t n);
/* Takes the data (caller frees) and leaves b empty; NUL-terminates. */
char *eq_buf_take(eq_buf *b, size_t *len);

typedef struct eq_rd {
    const unsigned char *p, *end;
    int bad; /* set on any out-of-bounds read; all later reads return zero values */
} eq_rd;

void eq_rd_init(eq_rd *r, const void *p, size_t n);
uint8_t eq_rd_u8(eq_rd *r);
uint16_t eq_rd_u16(eq_rd *r);
uint32_t eq_rd_u32(eq_rd *r);
uint64_t eq_rd_u64(eq_rd *r);
int64_t eq_rd_i64(eq_rd *r);
/* A length-prefixed string as a new NUL-terminated copy (caller frees); NULL for a NULL string
 * or when bad. `max` bounds the accepted length. */
char *eq_rd_str(eq_rd *r, size_t max);
/* A length-prefixed byte string borrowed from the reader's buffer. */
const void *eq_rd_bytes(eq_rd *r, size_t *n, size_t max);

#endif

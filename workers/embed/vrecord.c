/* The versioned vector record; see vrecord.h for the layout. */
#include "workers/embed/vrecord.h"

#include <math.h>
#include <string.h>

#include "workers/embed/vindex.h"

#define HEADER_FIXED 6u /* version, name length, dim */

static void put_u32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)v, p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16), p[3] = (unsigned char)(v >> 24);
}

static uint32_t get_u32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

size_t vrecord_size(size_t name_len, uint32_t dim) {
    return HEADER_FIXED + name_len + (size_t)dim * 4;
}

eq_err vrecord_encode(const char *embedder, const float *vec, uint32_t dim, unsigned char *buf,
                      size_t cap, size_t *len) {
    if (!embedder || !vec || !buf || !len || dim == 0 || dim > VINDEX_MAX_DIM) return EQ_EINVAL;
    size_t nlen = strnlen(embedder, VRECORD_MAX_NAME + 1);
    if (nlen == 0 || nlen > VRECORD_MAX_NAME) return EQ_EINVAL;
    size_t need = vrecord_size(nlen, dim);
    if (cap < need) return EQ_ETOOBIG;
    unsigned char *p = buf;
    *p++ = VRECORD_VERSION;
    *p++ = (unsigned char)nlen;
    memcpy(p, embedder, nlen);
    p += nlen;
    put_u32(p, dim);
    p += 4;
    for (uint32_t i = 0; i < dim; i++, p += 4) {
        if (!isfinite(vec[i])) return EQ_EINVAL;
        uint32_t bits;
        memcpy(&bits, &vec[i], 4);
        put_u32(p, bits);
    }
    *len = need;
    return EQ_OK;
}

eq_err vrecord_decode(const void *buf, size_t len, vrecord *out) {
    const unsigned char *p = buf;
    if (!buf || !out || len < 1) return EQ_EPROTO;
    if (p[0] != VRECORD_VERSION) return EQ_EUNSUPPORTED;
    if (len < 2) return EQ_EPROTO;
    size_t nlen = p[1];
    if (nlen == 0 || nlen > VRECORD_MAX_NAME || len < HEADER_FIXED + nlen) return EQ_EPROTO;
    if (memchr(p + 2, '\0', nlen)) return EQ_EPROTO;
    uint32_t dim = get_u32(p + 2 + nlen);
    if (dim == 0 || dim > VINDEX_MAX_DIM || len != vrecord_size(nlen, dim)) return EQ_EPROTO;
    const unsigned char *raw = p + HEADER_FIXED + nlen;
    for (uint32_t i = 0; i < dim; i++) {
        uint32_t bits = get_u32(raw + 4 * (size_t)i);
        float f;
        memcpy(&f, &bits, 4);
        if (!isfinite(f)) return EQ_EPROTO;
    }
    memcpy(out->embedder, p + 2, nlen);
    out->embedder[nlen] = '\0';
    out->dim = dim;
    out->raw = raw;
    return EQ_OK;
}

void vrecord_copy_vec(const vrecord *r, float *out) {
    for (uint32_t i = 0; i < r->dim; i++) {
        uint32_t bits = get_u32(r->raw + 4 * (size_t)i);
        memcpy(&out[i], &bits, 4);
    }
}

/* Exact top-k cosine search over contiguous unit vectors; see vindex.h.
 *
 * A query scans int8 copies of the vectors first (a quarter of the memory traffic of
 * float32, and memory bandwidth is what bounds a scan of 100,000 vectors). Each document
 * keeps a proven bound on how far its int8 score can be from its float score, so a document
 * is re-scored in float32 only when its int8 score plus that bound could still reach the
 * current k-th best float score. The result is exactly the float32 top-k. */
#include "workers/embed/vindex.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

/* How a stored vector v (unit length) was quantised: v ~ scale * codes, with
 * |v - scale * codes| <= err and |scale * codes| = norm (L2 norms). */
typedef struct qmeta {
    float scale, err, norm;
} qmeta;

struct vindex {
    uint32_t dim;
    size_t count, cap; /* slots in use and allocated */
    float *vecs;       /* cap * dim floats; slot s at vecs + s * dim */
    int8_t *codes;     /* cap * dim int8 codes, same slots */
    qmeta *qm;         /* cap */
    char **ids;        /* cap ids, owned */
    /* id -> slot map: open addressing with linear probing, entries are slot + 1 (0 = empty);
     * mask + 1 is a power of two kept at least twice count. */
    uint32_t *map;
    size_t mask;
};

static uint64_t id_hash(const char *id) {
    return XXH3_64bits(id, strlen(id));
}

/* The map position holding `id`, or the empty position where it would go. */
static size_t map_find(const vindex *vi, const char *id, bool *found) {
    size_t p = (size_t)id_hash(id) & vi->mask;
    while (vi->map[p] != 0) {
        if (strcmp(vi->ids[vi->map[p] - 1], id) == 0) {
            *found = true;
            return p;
        }
        p = (p + 1) & vi->mask;
    }
    *found = false;
    return p;
}

/* Removes the entry at map position p, shifting later entries of its probe run back. */
static void map_remove_at(vindex *vi, size_t p) {
    size_t hole = p, q = (p + 1) & vi->mask;
    while (vi->map[q] != 0) {
        size_t home = (size_t)id_hash(vi->ids[vi->map[q] - 1]) & vi->mask;
        /* The entry at q may fill the hole if its home is not in (hole, q] cyclically. */
        bool movable = (hole <= q) ? (home <= hole || home > q) : (home <= hole && home > q);
        if (movable) {
            vi->map[hole] = vi->map[q];
            hole = q;
        }
        q = (q + 1) & vi->mask;
    }
    vi->map[hole] = 0;
}

/* Rebuilds the map with room for at least `docs` entries at a load of at most one half. */
static eq_err map_grow(vindex *vi, size_t docs) {
    size_t cap = vi->mask + 1;
    while (cap < 2 * docs)
        cap *= 2;
    if (cap == vi->mask + 1) return EQ_OK;
    uint32_t *map = calloc(cap, sizeof *map);
    if (!map) return EQ_ENOMEM;
    uint32_t *old = vi->map;
    vi->map = map, vi->mask = cap - 1;
    for (size_t s = 0; s < vi->count; s++) {
        bool found;
        size_t p = map_find(vi, vi->ids[s], &found);
        map[p] = (uint32_t)(s + 1);
    }
    free(old);
    return EQ_OK;
}

eq_err vindex_new(uint32_t dim, vindex **out) {
    if (!out || dim == 0 || dim > VINDEX_MAX_DIM) return EQ_EINVAL;
    vindex *vi = calloc(1, sizeof *vi);
    if (!vi) return EQ_ENOMEM;
    vi->dim = dim;
    vi->mask = 63;
    vi->map = calloc(vi->mask + 1, sizeof *vi->map);
    if (!vi->map) {
        free(vi);
        return EQ_ENOMEM;
    }
    *out = vi;
    return EQ_OK;
}

void vindex_free(vindex *vi) {
    if (!vi) return;
    for (size_t s = 0; s < vi->count; s++)
        free(vi->ids[s]);
    free(vi->ids);
    free(vi->qm);
    free(vi->codes);
    free(vi->vecs);
    free(vi->map);
    free(vi);
}

uint32_t vindex_dim(const vindex *vi) {
    return vi->dim;
}

size_t vindex_count(const vindex *vi) {
    return vi->count;
}

/* Dot product with eight independent partial sums (lanes 0-3 and 4-7 of two accumulators),
 * then ((0+4) + (1+5)) + ((2+6) + (3+7)): the SSE2 version and the portable one add in the
 * same order, so scores do not depend on the build. */
static inline float dot(const float *restrict a, const float *restrict b, size_t dim) {
    size_t i = 0;
    float s;
#if defined(__SSE2__)
    __m128 lo = _mm_setzero_ps(), hi = _mm_setzero_ps();
    for (; i + 8 <= dim; i += 8) {
        lo = _mm_add_ps(lo, _mm_mul_ps(_mm_loadu_ps(a + i), _mm_loadu_ps(b + i)));
        hi = _mm_add_ps(hi, _mm_mul_ps(_mm_loadu_ps(a + i + 4), _mm_loadu_ps(b + i + 4)));
    }
    float acc[8];
    _mm_storeu_ps(acc, lo);
    _mm_storeu_ps(acc + 4, hi);
#else
    float acc[8] = {0};
    for (; i + 8 <= dim; i += 8)
        for (size_t j = 0; j < 8; j++)
            acc[j] += a[i + j] * b[i + j];
#endif
    s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (; i < dim; i++)
        s += a[i] * b[i];
    return s;
}

/* Dot product of int8 codes (exact in int32: |sum| <= 4096 * 127 * 127). With SSE2: sixteen
 * codes widened to int16 and multiplied-and-paired by pmaddwd per step; gcc does not vectorise
 * the portable loop at -O2 or -O3 here (it stays a byte-at-a-time loop, 4x slower). */
static inline int32_t dot_i8(const int8_t *restrict a, const int8_t *restrict b, size_t dim) {
    size_t i = 0;
    int32_t s = 0;
#if defined(__SSE2__)
    __m128i acc = _mm_setzero_si128();
    for (; i + 16 <= dim; i += 16) {
        __m128i va = _mm_loadu_si128((const __m128i *)(const void *)(a + i));
        __m128i vb = _mm_loadu_si128((const __m128i *)(const void *)(b + i));
        /* Sign-extend bytes to words: unpack into the high byte, shift right arithmetically. */
        __m128i alo = _mm_srai_epi16(_mm_unpacklo_epi8(va, va), 8);
        __m128i ahi = _mm_srai_epi16(_mm_unpackhi_epi8(va, va), 8);
        __m128i blo = _mm_srai_epi16(_mm_unpacklo_epi8(vb, vb), 8);
        __m128i bhi = _mm_srai_epi16(_mm_unpackhi_epi8(vb, vb), 8);
        acc = _mm_add_epi32(acc, _mm_madd_epi16(alo, blo));
        acc = _mm_add_epi32(acc, _mm_madd_epi16(ahi, bhi));
    }
    int32_t lanes[4];
    _mm_storeu_si128((__m128i *)(void *)lanes, acc);
    s = lanes[0] + lanes[1] + lanes[2] + lanes[3];
#endif
    for (; i < dim; i++)
        s += (int32_t)a[i] * (int32_t)b[i];
    return s;
}

/* Quantises a unit vector to int8 codes in [-127, 127] with one scale, and measures the
 * error of doing so (in double, then rounded up a little so the bound stays a bound). */
static qmeta quantise(const float *v, uint32_t dim, int8_t *codes) {
    float m = 0;
    for (uint32_t i = 0; i < dim; i++)
        m = fmaxf(m, fabsf(v[i]));
    qmeta q = {.scale = m > 0 ? m / 127.0f : 1.0f};
    double e2 = 0, n2 = 0;
    for (uint32_t i = 0; i < dim; i++) {
        long c = lrintf(v[i] / q.scale);
        c = c > 127 ? 127 : c < -127 ? -127 : c;
        codes[i] = (int8_t)c;
        double r = (double)q.scale * (double)c;
        e2 += ((double)v[i] - r) * ((double)v[i] - r);
        n2 += r * r;
    }
    q.err = (float)(sqrt(e2) * (1 + 1e-6) + 1e-7);
    q.norm = (float)(sqrt(n2) * (1 + 1e-6) + 1e-7);
    return q;
}

/* The L2 norm of v, or 0 if v is zero or has a non-finite component. */
static double norm_of(const float *v, uint32_t dim) {
    double n2 = 0;
    for (uint32_t i = 0; i < dim; i++) {
        if (!isfinite(v[i])) return 0;
        n2 += (double)v[i] * v[i];
    }
    return isfinite(n2) ? sqrt(n2) : 0;
}

/* Grows the slot arrays to `cap` documents. */
static eq_err slots_grow(vindex *vi, size_t cap) {
    /* Each array that grew is kept even if a later one fails; cap moves only at the end. */
    float *vecs = realloc(vi->vecs, cap * vi->dim * sizeof *vecs);
    if (!vecs) return EQ_ENOMEM;
    vi->vecs = vecs;
    int8_t *codes = realloc(vi->codes, cap * vi->dim);
    if (!codes) return EQ_ENOMEM;
    vi->codes = codes;
    qmeta *qm = realloc(vi->qm, cap * sizeof *qm);
    if (!qm) return EQ_ENOMEM;
    vi->qm = qm;
    char **ids = realloc(vi->ids, cap * sizeof *ids);
    if (!ids) return EQ_ENOMEM;
    vi->ids = ids;
    vi->cap = cap;
    return EQ_OK;
}

eq_err vindex_put(vindex *vi, const char *id, const float *vec, bool *replaced) {
    if (!vi || !id || !vec) return EQ_EINVAL;
    size_t idlen = strnlen(id, VINDEX_MAX_ID_BYTES + 1);
    if (idlen == 0 || idlen > VINDEX_MAX_ID_BYTES) return EQ_EINVAL;
    double norm = norm_of(vec, vi->dim);
    if (norm <= 0) return EQ_EINVAL;
    bool found;
    size_t p = map_find(vi, id, &found);
    size_t slot;
    if (found) {
        slot = vi->map[p] - 1;
    } else {
        if (vi->count >= VINDEX_MAX_DOCS) return EQ_EFULL;
        eq_err err;
        size_t cap = vi->cap ? vi->cap * 2 : 64;
        if (cap > VINDEX_MAX_DOCS) cap = VINDEX_MAX_DOCS;
        if (vi->count == vi->cap && (err = slots_grow(vi, cap)) != EQ_OK) return err;
        if ((vi->count + 1) * 2 > vi->mask + 1) {
            if ((err = map_grow(vi, vi->count + 1)) != EQ_OK) return err;
            p = map_find(vi, id, &found);
        }
        char *copy = malloc(idlen + 1);
        if (!copy) return EQ_ENOMEM;
        memcpy(copy, id, idlen + 1);
        slot = vi->count++;
        vi->ids[slot] = copy;
        vi->map[p] = (uint32_t)(slot + 1);
    }
    float *dst = vi->vecs + slot * vi->dim;
    for (uint32_t i = 0; i < vi->dim; i++)
        dst[i] = (float)(vec[i] / norm);
    vi->qm[slot] = quantise(dst, vi->dim, vi->codes + slot * vi->dim);
    if (replaced) *replaced = found;
    return EQ_OK;
}

eq_err vindex_reserve(vindex *vi, size_t n) {
    if (!vi) return EQ_EINVAL;
    if (n > VINDEX_MAX_DOCS) return EQ_EFULL;
    eq_err err;
    if (n > vi->cap && (err = slots_grow(vi, n)) != EQ_OK) return err;
    return map_grow(vi, n);
}

eq_err vindex_del(vindex *vi, const char *id) {
    if (!vi || !id) return EQ_EINVAL;
    bool found;
    size_t p = map_find(vi, id, &found);
    if (!found) return EQ_ENOTFOUND;
    size_t slot = vi->map[p] - 1, last = vi->count - 1;
    map_remove_at(vi, p);
    free(vi->ids[slot]);
    if (slot != last) {
        /* Move the last document into the hole and repoint its map entry. */
        vi->ids[slot] = vi->ids[last];
        memcpy(vi->vecs + slot * vi->dim, vi->vecs + last * vi->dim, vi->dim * sizeof(float));
        memcpy(vi->codes + slot * vi->dim, vi->codes + last * vi->dim, vi->dim);
        vi->qm[slot] = vi->qm[last];
        size_t q = map_find(vi, vi->ids[slot], &found);
        vi->map[q] = (uint32_t)(slot + 1);
    }
    vi->count--;
    return EQ_OK;
}

eq_err vindex_get(const vindex *vi, const char *id, const float **vec) {
    if (!vi || !id || !vec) return EQ_EINVAL;
    bool found;
    size_t p = map_find(vi, id, &found);
    if (!found) return EQ_ENOTFOUND;
    *vec = vi->vecs + (size_t)(vi->map[p] - 1) * vi->dim;
    return EQ_OK;
}

/* Whether hit a ranks below hit b: a lower score, or an equal score and a later id. */
static bool worse(const vindex_hit *a, const vindex_hit *b) {
    if (a->score != b->score) return a->score < b->score;
    return strcmp(a->id, b->id) > 0;
}

/* The heap keeps the k best hits seen so far with the worst at h[0]. */
static void heap_sift_down(vindex_hit *h, size_t n, size_t i) {
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && worse(&h[l], &h[m])) m = l;
        if (r < n && worse(&h[r], &h[m])) m = r;
        if (m == i) return;
        vindex_hit t = h[i];
        h[i] = h[m], h[m] = t;
        i = m;
    }
}

static void heap_sift_up(vindex_hit *h, size_t i) {
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!worse(&h[i], &h[parent])) return;
        vindex_hit t = h[i];
        h[i] = h[parent], h[parent] = t;
        i = parent;
    }
}

eq_err vindex_search(const vindex *vi, const float *query, size_t k, vindex_hit *hits, size_t *n) {
    if (!vi || !query || !hits || !n || k == 0 || k > VINDEX_MAX_K) return EQ_EINVAL;
    double qnorm = norm_of(query, vi->dim);
    if (qnorm <= 0) return EQ_EINVAL;
    /* The unit query and its int8 form; on the stack so a query allocates nothing. */
    float qv[VINDEX_MAX_DIM];
    int8_t q8[VINDEX_MAX_DIM];
    for (uint32_t i = 0; i < vi->dim; i++)
        qv[i] = (float)(query[i] / qnorm);
    qmeta qq = quantise(qv, vi->dim, q8);
    /* |float score - int8 score| <= qq.err * |doc codes| + doc err (Cauchy-Schwarz on the two
     * quantisation residuals; |qv| = 1), plus slack for float rounding in both dot products. */
    const float slack = 2e-7f * (float)vi->dim + 1e-5f;
    size_t h = 0;
    for (size_t s = 0; s < vi->count; s++) {
        const qmeta *m = &vi->qm[s];
        if (h == k) {
            float approx =
                qq.scale * m->scale * (float)dot_i8(q8, vi->codes + s * vi->dim, vi->dim);
            float bound = qq.err * m->norm + m->err + slack;
            if (approx + bound < hits[0].score) continue; /* cannot reach the k-th best */
        }
        vindex_hit cand = {.id = vi->ids[s], .score = dot(qv, vi->vecs + s * vi->dim, vi->dim)};
        if (h < k) {
            hits[h] = cand;
            heap_sift_up(hits, h++);
        } else if (worse(&hits[0], &cand)) {
            hits[0] = cand;
            heap_sift_down(hits, h, 0);
        }
    }
    /* Heap sort in place: repeatedly move the worst to the end. */
    for (size_t end = h; end > 1; end--) {
        vindex_hit t = hits[0];
        hits[0] = hits[end - 1], hits[end - 1] = t;
        heap_sift_down(hits, end - 1, 0);
    }
    *n = h;
    return EQ_OK;
}

/* The fuzz target of embed_text() and vrecord_decode(); see embed_fuzz.h. */
#include "tests/embed/embed_fuzz.h"

#include <math.h>
#include <stdlib.h>

#include "workers/embed/embedder.h"
#include "workers/embed/vindex.h"
#include "workers/embed/vrecord.h"

int embed_fuzz_one(const uint8_t *data, size_t size) {
    float v[EMBED_DIM];
    size_t n = size > EMBED_MAX_TEXT_BYTES ? EMBED_MAX_TEXT_BYTES : size;
    eq_err err = embed_text((const char *)data, n, v);
    if (err != EQ_OK && err != EQ_EINVAL) return 1;
    double n2 = 0;
    for (size_t i = 0; i < EMBED_DIM; i++) {
        if (!isfinite(v[i])) return 1;
        n2 += (double)v[i] * v[i];
    }
    if (fabs(n2 - (err == EQ_OK ? 1.0 : 0.0)) > 1e-4) return 1;

    vrecord r;
    err = vrecord_decode(data, size, &r);
    if (err == EQ_OK) {
        if (r.dim == 0 || r.dim > VINDEX_MAX_DIM || r.embedder[0] == '\0') return 1;
        float *vec = malloc(r.dim * sizeof *vec);
        if (!vec) return 0;
        vrecord_copy_vec(&r, vec);
        int bad = 0;
        for (uint32_t i = 0; i < r.dim; i++)
            bad |= !isfinite(vec[i]);
        free(vec);
        return bad;
    }
    return err != EQ_EPROTO && err != EQ_EUNSUPPORTED;
}

#ifdef ECONQ_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (embed_fuzz_one(data, size)) abort();
    return 0;
}
#endif

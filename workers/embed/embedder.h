/* The built-in embedder: deterministic, L2-normalised vectors from hashed text features,
 * so that search works on a fresh machine with no model download.
 *
 * Features (all lower-cased, accents on Latin letters folded to ASCII, other letters kept):
 *   - word unigrams on a light stem ("imports", "imported" -> "import"), weight 1.0;
 *   - word bigrams on the stems, weight 0.6;
 *   - character 3-, 4- and 5-grams of each word with boundary marks ("<imp", "rts>"),
 *     weight 0.25 spread over the word's n-grams;
 *   - a small built-in table of economic concepts ("inflation", "prices", "cpi" share one);
 * each counted with sublinear term frequency (1 + ln tf), English stop words down-weighted,
 * hashed with XXH3 into EMBED_DIM buckets with a sign taken from the same hash.
 *
 * The name (EMBED_NAME) changes whenever the vectors would change, so a collection that
 * remembers its embedder can refuse to mix vectors from two of them. */
#ifndef ECONQ_WORKERS_EMBED_EMBEDDER_H
#define ECONQ_WORKERS_EMBED_EMBEDDER_H

#include <stddef.h>

#include "common/eq_err.h"

/* Dimensions of the built-in embedder's vectors. */
#define EMBED_DIM 384
/* Name and version of the built-in embedder; stored with every collection. */
#define EMBED_NAME "econq-hash-v1/384"
/* Largest text the embedder accepts (bytes of UTF-8): the embed schema's 100,000 characters
 * at up to 4 bytes each. Feature extraction needs ~14 bytes of scratch per input byte plus
 * up to 96 bytes per distinct feature: a few MiB for real text at this limit, ~40 MiB for
 * random letters (every n-gram distinct). */
#define EMBED_MAX_TEXT_BYTES 400000u

/* Returns EMBED_NAME. */
const char *embed_name(void);

/* Embeds `len` bytes of UTF-8 `text` into `out` (EMBED_DIM floats, written in full).
 * Invalid UTF-8 bytes are treated as separators. The result has unit L2 norm, or is all
 * zeros when the text has no word characters (then EQ_EINVAL is returned).
 * Errors: EQ_EINVAL (NULL arguments, or nothing to embed), EQ_ETOOBIG (len exceeds
 * EMBED_MAX_TEXT_BYTES), EQ_ENOMEM. Thread-safe: no shared state. */
eq_err embed_text(const char *text, size_t len, float *out);

/* Dot product of two `dim`-float vectors (the cosine similarity of unit vectors). */
float embed_dot(const float *a, const float *b, size_t dim);

#endif

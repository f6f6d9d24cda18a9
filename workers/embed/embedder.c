/* The built-in hashed-feature embedder; see embedder.h for the features and weights. */
#include "workers/embed/embedder.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

/* Feature classes: each hashes with its own seed so that a word and a character n-gram
 * with the same bytes land in unrelated buckets. */
enum { SEED_WORD = 0x11, SEED_BIGRAM = 0x22, SEED_CHAR = 0x33, SEED_CONCEPT = 0x44 };

#define W_WORD 1.0f      /* a content word (its stem) */
#define W_NUMBER 0.5f    /* a token made only of digits */
#define W_STOP 0.1f      /* an English stop word */
#define W_BIGRAM 0.6f    /* two consecutive content words */
#define W_CHAR_WORD 0.6f /* a word's character n-grams together (L2 energy of ~0.36) */
#define W_CONCEPT 0.8f   /* a word's entry in the concept table */
#define CHAR_MIN_N 3
#define CHAR_MAX_N 5
/* Words longer than this (code points) contribute only their first n-grams; a guard
 * against pathological inputs such as a base64 blob. */
#define CHAR_MAX_WORD_CPS 64

/* One distinct feature: how often it occurred and the sum of its weights. */
typedef struct feature {
    uint64_t hash;
    double wsum;
    uint32_t count; /* 0 = empty slot */
} feature;

typedef struct token {
    uint32_t off;  /* into the normalised text */
    uint32_t len;  /* bytes */
    uint32_t soff; /* stem, into the stem buffer */
    uint32_t slen;
    bool stop;
    bool number;
} token;

/* The distinct features of a text: open addressing on the (well mixed) XXH3 hash, kept at
 * most half full. */
typedef struct builder {
    feature *f;
    size_t mask, used;
} builder;

const char *embed_name(void) {
    return EMBED_NAME;
}

float embed_dot(const float *a, const float *b, size_t dim) {
    /* Eight independent sums let the compiler keep them in vector registers. */
    float acc[8] = {0};
    size_t i = 0;
    for (; i + 8 <= dim; i += 8)
        for (size_t j = 0; j < 8; j++)
            acc[j] += a[i + j] * b[i + j];
    float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (; i < dim; i++)
        s += a[i] * b[i];
    return s;
}

/* ---- UTF-8 and folding ---- */

/* Decodes one code point at s[*i] (len bytes total); advances *i. Returns -1 for an
 * invalid or overlong sequence (and skips one byte). */
static int32_t utf8_next(const unsigned char *s, size_t len, size_t *i) {
    unsigned char c = s[*i];
    int32_t cp;
    size_t n;
    if (c < 0x80) {
        (*i)++;
        return c;
    } else if ((c & 0xE0) == 0xC0) {
        cp = c & 0x1F, n = 1;
    } else if ((c & 0xF0) == 0xE0) {
        cp = c & 0x0F, n = 2;
    } else if ((c & 0xF8) == 0xF0) {
        cp = c & 0x07, n = 3;
    } else {
        (*i)++;
        return -1;
    }
    if (*i + n >= len) { /* truncated sequence */
        (*i)++;
        return -1;
    }
    for (size_t k = 1; k <= n; k++) {
        if ((s[*i + k] & 0xC0) != 0x80) {
            (*i)++;
            return -1;
        }
        cp = (cp << 6) | (s[*i + k] & 0x3F);
    }
    static const int32_t min_for_len[4] = {0, 0x80, 0x800, 0x10000};
    if (cp < min_for_len[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        (*i)++;
        return -1;
    }
    *i += n + 1;
    return cp;
}

static size_t utf8_put(int32_t cp, char *out) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    } else if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    } else if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* ASCII base letters of U+00C0..U+00FF ('.' marks a separator, '2' a two-letter fold). */
static const char latin1_fold[64] =
    "aaaaaa2ceeeeiiiidnooooo.ouuuuyt2aaaaaa2ceeeeiiiidnooooo.ouuuuyty";
/* ASCII base letters of U+0100..U+017F (Latin Extended-A), in runs of one letter. */
/* clang-format off */
static const char latin_ext_a_fold[128] =
    "aaaaaacccccccc" "dddd" "eeeeeeeeee" "gggggggg" "hhhh" "iiiiiiiiii" "ii" "jj" "kkk"
    "llllllllll" "nnnnnnnnn" "oooooo" "oo" "rrrrrr" "ssssssss" "tttttt" "uuuuuuuuuuuu" "ww"
    "yyy" "zzzzzz" "s";
/* clang-format on */

/* Folds one code point for indexing. Writes the folded UTF-8 to out (at most 4 bytes) and
 * returns its length, or 0 when the code point separates words. */
static size_t fold_cp(int32_t cp, char *out) {
    if (cp < 0x80) {
        if (cp >= 'A' && cp <= 'Z') {
            out[0] = (char)(cp + 32);
            return 1;
        }
        if ((cp >= 'a' && cp <= 'z') || (cp >= '0' && cp <= '9')) {
            out[0] = (char)cp;
            return 1;
        }
        return 0;
    }
    if (cp >= 0xC0 && cp <= 0xFF) {
        char c = latin1_fold[cp - 0xC0];
        if (c == '.') return 0;
        if (c == '2') { /* Æ æ -> ae, ß -> ss */
            out[0] = (cp == 0xDF) ? 's' : 'a';
            out[1] = (cp == 0xDF) ? 's' : 'e';
            return 2;
        }
        if (cp == 0xDE || cp == 0xFE) { /* Þ þ -> th */
            out[0] = 't', out[1] = 'h';
            return 2;
        }
        out[0] = c;
        return 1;
    }
    if (cp >= 0x100 && cp <= 0x17F) {
        out[0] = latin_ext_a_fold[cp - 0x100];
        return 1;
    }
    /* Separators outside ASCII: Latin-1 punctuation and symbols, general punctuation,
     * currency, arrows to miscellaneous symbols, CJK punctuation, BOM, emoji. */
    if ((cp >= 0x80 && cp <= 0xBF && cp != 0xAA && cp != 0xB5 && cp != 0xBA) ||
        (cp >= 0x2000 && cp <= 0x2BFF) || (cp >= 0x3000 && cp <= 0x303F) ||
        (cp >= 0xFE00 && cp <= 0xFE0F) || cp == 0xFEFF || (cp >= 0xFF01 && cp <= 0xFF0F) ||
        (cp >= 0x1F000 && cp <= 0x1FAFF))
        return 0;
    /* Other letters are kept; Greek and Cyrillic capitals are lower-cased. */
    if ((cp >= 0x391 && cp <= 0x3A9) || (cp >= 0x410 && cp <= 0x42F))
        cp += 0x20;
    else if (cp >= 0x400 && cp <= 0x40F)
        cp += 0x50;
    return utf8_put(cp, out);
}

/* ---- Stop words, stemming, concepts ---- */

/* Sorted for bsearch. */
static const char *const stop_words[] = {
    "a",     "about",   "after", "all",   "also",   "am",     "an",      "and",   "any",  "are",
    "as",    "at",      "be",    "been",  "before", "being",  "between", "both",  "but",  "by",
    "can",   "could",   "did",   "do",    "does",   "during", "each",    "for",   "from", "had",
    "has",   "have",    "he",    "her",   "his",    "how",    "i",       "if",    "in",   "into",
    "is",    "it",      "its",   "last",  "me",     "more",   "most",    "my",    "no",   "not",
    "of",    "on",      "or",    "other", "our",    "over",   "she",     "so",    "some", "such",
    "than",  "that",    "the",   "their", "them",   "then",   "there",   "these", "they", "this",
    "those", "through", "to",    "under", "up",     "was",    "we",      "were",  "what", "when",
    "where", "which",   "while", "who",   "why",    "will",   "with",    "would", "you",  "your",
};

static bool is_stop(const char *w, size_t n) {
    size_t lo = 0, hi = sizeof stop_words / sizeof stop_words[0];
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const char *s = stop_words[mid];
        int c = strncmp(w, s, n);
        if (c == 0) c = (s[n] == '\0') ? 0 : -1;
        if (c == 0) return true;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return false;
}

static bool ends_with(const char *w, size_t n, const char *suffix) {
    size_t k = strlen(suffix);
    return n >= k && memcmp(w + n - k, suffix, k) == 0;
}

static bool is_vowel(char c) {
    return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u';
}

/* A light English stemmer for ASCII words, enough to join inflections ("imports",
 * "imported", "importing" -> "import"; "prices", "price" -> "pric"). Writes the stem to
 * `out` (room for n bytes) and returns its length. */
static size_t stem_word(const char *w, size_t n, char *out) {
    memcpy(out, w, n);
    for (size_t i = 0; i < n; i++)
        if (!((w[i] >= 'a' && w[i] <= 'z')))
            return n; /* digits or non-ASCII letters: keep the word as it is */
    if (n < 4) return n;
    bool verbal = false;
    if (ends_with(out, n, "ies") && n > 4) {
        n -= 3;
        out[n++] = 'y';
        return n;
    } else if (ends_with(out, n, "sses")) {
        n -= 2;
    } else if (ends_with(out, n, "ing") && n - 3 >= 3) {
        n -= 3, verbal = true;
    } else if (ends_with(out, n, "ed") && n - 2 >= 3) {
        n -= 2, verbal = true;
    } else if (ends_with(out, n, "ly") && n - 2 >= 4) {
        n -= 2;
    } else if (out[n - 1] == 's' && !ends_with(out, n, "ss") && !ends_with(out, n, "us") &&
               !ends_with(out, n, "is")) {
        n -= 1;
    }
    /* "stopped" -> "stopp" -> "stop"; but "falling" keeps "fall". */
    if (verbal && n >= 3 && out[n - 1] == out[n - 2] && !is_vowel(out[n - 1]) &&
        out[n - 1] != 'l' && out[n - 1] != 's' && out[n - 1] != 'z')
        n--;
    if (n >= 4 && out[n - 1] == 'e') n--;
    return n;
}

/* A small thesaurus of economic concepts, keyed by stem: words that mean nearly the same
 * thing in economic notes ("inflation", "prices"; "rose", "increased") share a feature.
 * One group per line; a group's concept id is its index + 1. */
static const char *const concept_groups[] = {
    " inflation pric cpi deflation disinflation hicp pce cost ",
    " unemployment jobless employment job payroll labor labour worker wag hir layoff ",
    " gdp output growth recession economy production expansion ",
    " import export trade tariff shipment ",
    " interest monetary rat yield bond ",
    " ris rose increas climb grew grow jump surg gain accelerat higher soar rebound ",
    " fell fall declin drop decreas shrank shrink slump contract lower slow plung cool ",
    " hous home mortgag rent ",
    " money credit lend loan ",
    " oil energy fuel gasoline petrol crude ",
    " currency exchang dollar euro yen sterling ",
    " consumer retail spend consumption ",
};

/* The concept id of a stem, or 0. */
static uint32_t concept_of(const char *s, size_t n) {
    char key[34]; /* " stem " */
    if (n + 2 >= sizeof key) return 0;
    key[0] = ' ';
    memcpy(key + 1, s, n);
    key[n + 1] = ' ';
    key[n + 2] = '\0';
    for (size_t i = 0; i < sizeof concept_groups / sizeof concept_groups[0]; i++)
        if (strstr(concept_groups[i], key)) return (uint32_t)(i + 1);
    return 0;
}

/* ---- Features ---- */

static feature *builder_slot(feature *f, size_t mask, uint64_t hash) {
    size_t i = (size_t)hash & mask;
    while (f[i].count != 0 && f[i].hash != hash)
        i = (i + 1) & mask;
    return &f[i];
}

static bool builder_add(builder *b, uint64_t hash, float weight) {
    if (!b->f || (b->used + 1) * 2 > b->mask + 1) {
        size_t cap = b->f ? (b->mask + 1) * 2 : 1024;
        feature *f = calloc(cap, sizeof *f);
        if (!f) return false;
        for (size_t i = 0; b->f && i <= b->mask; i++)
            if (b->f[i].count) *builder_slot(f, cap - 1, b->f[i].hash) = b->f[i];
        free(b->f);
        b->f = f, b->mask = cap - 1;
    }
    feature *slot = builder_slot(b->f, b->mask, hash);
    if (slot->count == 0) slot->hash = hash, b->used++;
    slot->count++;
    slot->wsum += weight;
    return true;
}

/* Adds the character 3..5-grams of the word w (folded UTF-8) framed by '<' and '>'. */
static bool add_char_ngrams(builder *b, const char *w, size_t n) {
    char buf[4 * CHAR_MAX_WORD_CPS + 2];
    uint32_t pos[CHAR_MAX_WORD_CPS + 3]; /* byte offset of each code point, then the end */
    size_t m = 0, blen = 0;
    pos[m++] = 0;
    buf[blen++] = '<';
    for (size_t i = 0; i < n && m <= CHAR_MAX_WORD_CPS;) {
        size_t k = 1;
        while (i + k < n && ((unsigned char)w[i + k] & 0xC0) == 0x80)
            k++;
        pos[m++] = (uint32_t)blen;
        memcpy(buf + blen, w + i, k);
        blen += k, i += k;
    }
    pos[m++] = (uint32_t)blen;
    buf[blen++] = '>';
    pos[m] = (uint32_t)blen; /* m code points in buf; pos[m] is the end */
    size_t count = 0;
    for (size_t g = CHAR_MIN_N; g <= CHAR_MAX_N; g++)
        if (m >= g) count += m - g + 1;
    if (count == 0) return true;
    float weight = W_CHAR_WORD / sqrtf((float)count);
    for (size_t g = CHAR_MIN_N; g <= CHAR_MAX_N; g++)
        for (size_t s = 0; s + g <= m; s++)
            if (!builder_add(b, XXH3_64bits_withSeed(buf + pos[s], pos[s + g] - pos[s], SEED_CHAR),
                             weight))
                return false;
    return true;
}

/* Splits text into folded tokens (in norm) and their stems (in stems). */
static size_t tokenize(const char *text, size_t len, char *norm, char *stems, token *toks) {
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0, nlen = 0, slen = 0, nt = 0;
    bool in_word = false;
    while (i < len) {
        int32_t cp = utf8_next(s, len, &i);
        char folded[4];
        size_t k = cp < 0 ? 0 : fold_cp(cp, folded);
        if (k == 0) {
            in_word = false;
            continue;
        }
        if (!in_word) {
            toks[nt++] = (token){.off = (uint32_t)nlen};
            in_word = true;
        }
        memcpy(norm + nlen, folded, k);
        nlen += k;
        toks[nt - 1].len += (uint32_t)k;
    }
    for (size_t t = 0; t < nt; t++) {
        token *tk = &toks[t];
        const char *w = norm + tk->off;
        bool digits = true;
        for (size_t j = 0; j < tk->len; j++)
            digits = digits && w[j] >= '0' && w[j] <= '9';
        tk->number = digits;
        tk->stop = !digits && is_stop(w, tk->len);
        tk->soff = (uint32_t)slen;
        tk->slen = (uint32_t)stem_word(w, tk->len, stems + slen);
        slen += tk->slen;
    }
    return nt;
}

eq_err embed_text(const char *text, size_t len, float *out) {
    if (!text || !out) return EQ_EINVAL;
    memset(out, 0, EMBED_DIM * sizeof *out);
    if (len > EMBED_MAX_TEXT_BYTES) return EQ_ETOOBIG;
    eq_err err = EQ_ENOMEM;
    builder b = {0};
    char *norm = malloc(len + 1), *stems = malloc(len + 1);
    /* Tokens are separated by at least one byte, so there are at most len / 2 + 1. */
    token *toks = malloc((len / 2 + 1) * sizeof *toks);
    if (!norm || !stems || !toks) goto out;
    size_t nt = tokenize(text, len, norm, stems, toks);
    const token *prev = NULL; /* the previous content token, for bigrams */
    for (size_t t = 0; t < nt; t++) {
        const token *tk = &toks[t];
        const char *w = norm + tk->off, *st = stems + tk->soff;
        float ww = tk->number ? W_NUMBER : tk->stop ? W_STOP : W_WORD;
        if (!builder_add(&b, XXH3_64bits_withSeed(st, tk->slen, SEED_WORD), ww)) goto out;
        if (tk->stop) continue;
        if (prev) {
            uint64_t h = XXH3_64bits_withSeed(stems + prev->soff, prev->slen, SEED_BIGRAM);
            if (!builder_add(&b, XXH3_64bits_withSeed(st, tk->slen, h), W_BIGRAM)) goto out;
        }
        prev = tk;
        if (tk->number) continue;
        uint32_t c = concept_of(st, tk->slen);
        if (c && !builder_add(&b, XXH3_64bits_withSeed(&c, sizeof c, SEED_CONCEPT), W_CONCEPT))
            goto out;
        if (!add_char_ngrams(&b, w, tk->len)) goto out;
    }
    if (b.used == 0) {
        err = EQ_EINVAL;
        goto out;
    }
    /* Each distinct feature counts with sublinear term frequency: (1 + ln tf) * mean weight. */
    double acc[EMBED_DIM] = {0};
    for (size_t i = 0; i <= b.mask; i++) {
        const feature *f = &b.f[i];
        if (f->count == 0) continue;
        double tf = (double)f->count;
        double v = (f->wsum / tf) * (1.0 + log(tf));
        size_t bucket = (size_t)(((f->hash >> 32) * (uint64_t)EMBED_DIM) >> 32);
        acc[bucket] += (f->hash & 1) ? -v : v;
    }
    double norm2 = 0;
    for (size_t d = 0; d < EMBED_DIM; d++)
        norm2 += acc[d] * acc[d];
    if (norm2 <= 0) { /* every feature cancelled out: practically impossible */
        err = EQ_EINVAL;
        goto out;
    }
    double inv = 1.0 / sqrt(norm2);
    for (size_t d = 0; d < EMBED_DIM; d++)
        out[d] = (float)(acc[d] * inv);
    err = EQ_OK;
out:
    free(b.f);
    free(toks);
    free(stems);
    free(norm);
    return err;
}

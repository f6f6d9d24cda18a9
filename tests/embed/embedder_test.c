/* Tests workers/embed/embedder.c: determinism, normalisation, folding and similarity. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "workers/embed/embedder.h"

static void embed_ok(const char *text, float *v) {
    ck_assert_int_eq(embed_text(text, strlen(text), v), EQ_OK);
}

static float sim(const char *a, const char *b) {
    float va[EMBED_DIM], vb[EMBED_DIM];
    embed_ok(a, va);
    embed_ok(b, vb);
    return embed_dot(va, vb, EMBED_DIM);
}

START_TEST(test_deterministic_and_unit) {
    float a[EMBED_DIM], b[EMBED_DIM];
    const char *t = "Consumer prices rose 3.2% in March, driven by energy.";
    embed_ok(t, a);
    embed_ok(t, b);
    ck_assert_mem_eq(a, b, sizeof a);
    double n2 = 0;
    size_t nonzero = 0;
    for (size_t i = 0; i < EMBED_DIM; i++) {
        n2 += (double)a[i] * a[i];
        nonzero += a[i] != 0;
    }
    ck_assert_double_eq_tol(n2, 1.0, 1e-5);
    ck_assert_uint_gt(nonzero, 20); /* the features spread over many buckets */
    ck_assert_str_eq(embed_name(), "econq-hash-v1/384");
}
END_TEST

START_TEST(test_related_beats_unrelated) {
    const char *q = "imports rose sharply in the first quarter";
    float related = sim(q, "first-quarter imports climbed sharply");
    float unrelated = sim(q, "The football team won the cup final on Saturday");
    ck_assert_float_gt(related, unrelated + 0.3f);
    ck_assert_float_gt(
        sim("how did imports move last year", "Imports of goods fell 3% over the year"),
        sim("how did imports move last year", "Housing starts rose last year") + 0.2f);
    /* Morphology: inflected forms of one word are close. */
    ck_assert_float_gt(sim("imports", "import"), 0.6f);
    ck_assert_float_gt(sim("rising unemployment", "unemployment rises"), 0.6f);
    ck_assert_float_lt(sim("imports", "football"), 0.3f);
    /* Paraphrase through the concept table, with no word in common. */
    ck_assert_float_gt(sim("inflation rose", "consumer prices increased"),
                       sim("inflation rose", "football match ended") + 0.05f);
}
END_TEST

START_TEST(test_stop_words_down_weighted) {
    /* Stop words barely move the vector; content words do. */
    ck_assert_float_gt(sim("inflation", "the inflation of it"), 0.9f);
    ck_assert_float_lt(sim("inflation", "housing inflation"), 0.9f);
}
END_TEST

START_TEST(test_folding_and_unicode) {
    float a[EMBED_DIM], b[EMBED_DIM];
    /* Case and Latin accents fold to ASCII. */
    embed_ok("Café ÉCONOMIE Łódź straße", a);
    embed_ok("cafe economie lodz strasse", b);
    ck_assert_mem_eq(a, b, sizeof a);
    /* Other scripts keep their letters, lower-cased. */
    embed_ok("ИНФЛЯЦИЯ Ελλάδα", a);
    embed_ok("инфляция ελλάδα", b);
    ck_assert_mem_eq(a, b, sizeof a);
    ck_assert_float_lt(sim("инфляция", "безработица"), 0.5f);
    ck_assert_float_gt(sim("инфляция выросла", "инфляция"), 0.5f);
    /* Punctuation separates words, and so does an invalid UTF-8 byte. */
    embed_ok("gdp\xff"
             "growth",
             a);
    embed_ok("gdp, growth", b);
    ck_assert_mem_eq(a, b, sizeof a);
    /* A truncated multi-byte sequence at the end is dropped, not read past. */
    embed_ok("growth \xe2\x82", a);
    embed_ok("growth", b);
    ck_assert_mem_eq(a, b, sizeof a);
}
END_TEST

START_TEST(test_errors) {
    float v[EMBED_DIM];
    ck_assert_int_eq(embed_text("", 0, v), EQ_EINVAL);
    ck_assert_int_eq(embed_text(" ,.;!? — ", strlen(" ,.;!? — "), v), EQ_EINVAL);
    ck_assert_int_eq(embed_text(NULL, 3, v), EQ_EINVAL);
    static char big[EMBED_MAX_TEXT_BYTES + 1];
    memset(big, 'a', sizeof big);
    ck_assert_int_eq(embed_text(big, sizeof big, v), EQ_ETOOBIG);
    /* The largest text is accepted: one enormous word, then many words. */
    ck_assert_int_eq(embed_text(big, EMBED_MAX_TEXT_BYTES, v), EQ_OK);
    for (size_t i = 1; i < EMBED_MAX_TEXT_BYTES; i += 2)
        big[i] = ' ';
    ck_assert_int_eq(embed_text(big, EMBED_MAX_TEXT_BYTES, v), EQ_OK);
}
END_TEST

/* Random bytes (mostly invalid UTF-8, some valid multi-byte letters) never crash, and the
 * result is either a unit vector or EQ_EINVAL with zeros. */
START_TEST(test_random_bytes) {
    static const char *const pieces[] = {
        "a",    "Z",    " ", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xd0\x96",
        "\xff", "\x80", "7", "-",        "\xe2"};
    unsigned seed = 99;
    char buf[600];
    float v[EMBED_DIM];
    for (int iter = 0; iter < 1500; iter++) {
        size_t len = 0, target = (size_t)(rand_r(&seed) % 500);
        while (len < target) {
            if (rand_r(&seed) % 3 == 0) {
                buf[len++] = (char)(rand_r(&seed) & 0xFF);
            } else {
                const char *p = pieces[rand_r(&seed) % (sizeof pieces / sizeof *pieces)];
                size_t n = strlen(p);
                if (len + n > sizeof buf) break;
                memcpy(buf + len, p, n);
                len += n;
            }
        }
        eq_err err = embed_text(buf, len, v);
        ck_assert(err == EQ_OK || err == EQ_EINVAL);
        double n2 = 0;
        for (size_t i = 0; i < EMBED_DIM; i++)
            n2 += (double)v[i] * v[i];
        ck_assert_double_eq_tol(n2, err == EQ_OK ? 1.0 : 0.0, 1e-5);
    }
}
END_TEST

/* Pins the vectors of EMBED_NAME: stored collections depend on them. If this fails after a
 * deliberate change to features or weights, bump the version in EMBED_NAME and update the
 * figures here; a collection then refuses to mix old and new vectors. */
START_TEST(test_golden_vector) {
    const char *t = "Consumer prices rose 3.2% in March; Café imports fell.";
    float v[EMBED_DIM];
    embed_ok(t, v);
    static const struct {
        int i;
        float v;
    } top[] = {{79, -0.303889f}, {73, 0.268707f}, {111, -0.268707f}, {120, 0.268707f}};
    for (size_t k = 0; k < sizeof top / sizeof top[0]; k++)
        ck_assert_float_eq_tol(v[top[k].i], top[k].v, 1e-5f);
    double checksum = 0;
    int nonzero = 0;
    for (int i = 0; i < EMBED_DIM; i++) {
        checksum += (i + 1) * (double)v[i];
        nonzero += v[i] != 0;
    }
    ck_assert_int_eq(nonzero, 98);
    ck_assert_double_eq_tol(checksum, 147.513669, 1e-3);
}
END_TEST

int main(void) {
    Suite *s = suite_create("embedder");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_deterministic_and_unit);
    tcase_add_test(tc, test_related_beats_unrelated);
    tcase_add_test(tc, test_stop_words_down_weighted);
    tcase_add_test(tc, test_folding_and_unicode);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_random_bytes);
    tcase_add_test(tc, test_golden_vector);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

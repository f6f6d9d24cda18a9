/* Tests workers/embed/vindex.c and vrecord.c: ranking on a small economic corpus, replace,
 * delete, ties, and the map under random operations against a brute-force reference. */
#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/embed/embed_fuzz.h"
#include "workers/embed/embedder.h"
#include "workers/embed/vindex.h"
#include "workers/embed/vrecord.h"

/* A dozen short economic notes, written for this test. */
static const struct {
    const char *id, *text;
} corpus[] = {
    {"cpi-march", "Consumer price inflation rose to 3.2 percent in March as energy and food "
                  "prices climbed."},
    {"jobs-report", "Nonfarm payrolls added 250,000 jobs and the unemployment rate fell to "
                    "3.6 percent; wage growth stayed firm."},
    {"trade-balance", "The trade deficit narrowed as exports of machinery grew and imports of "
                      "consumer goods declined."},
    {"gdp-q1", "Real GDP grew at an annual rate of 1.1 percent in the first quarter, slowing "
               "from the previous quarter's output growth."},
    {"housing-starts", "Housing starts dropped 8 percent; mortgage rates near 7 percent cooled "
                       "new home construction."},
    {"fed-decision", "The central bank raised its policy interest rate by a quarter point to "
                     "fight persistent inflation."},
    {"oil-prices", "Crude oil prices jumped after producers cut supply, lifting gasoline costs "
                   "for drivers."},
    {"retail-sales", "Retail sales increased 0.7 percent as households spent more at "
                     "restaurants and online stores."},
    {"exchange-rate", "The euro weakened against the dollar after weak German factory data; "
                      "the exchange rate hit a six-month low."},
    {"industrial-production", "Industrial production and manufacturing output contracted for "
                              "a third month amid weak factory orders."},
    {"public-debt", "Government debt reached 120 percent of GDP and the budget deficit widened "
                    "with higher bond yields."},
    {"productivity", "Labour productivity improved as firms invested in software and "
                     "equipment, lifting output per hour."},
};
#define NCORPUS (sizeof corpus / sizeof corpus[0])

static vindex *load_corpus(void) {
    vindex *vi;
    ck_assert_int_eq(vindex_new(EMBED_DIM, &vi), EQ_OK);
    float v[EMBED_DIM];
    for (size_t i = 0; i < NCORPUS; i++) {
        ck_assert_int_eq(embed_text(corpus[i].text, strlen(corpus[i].text), v), EQ_OK);
        bool replaced = true;
        ck_assert_int_eq(vindex_put(vi, corpus[i].id, v, &replaced), EQ_OK);
        ck_assert(!replaced);
    }
    ck_assert_uint_eq(vindex_count(vi), NCORPUS);
    return vi;
}

static const char *top1(const vindex *vi, const char *query) {
    float q[EMBED_DIM];
    vindex_hit hits[3];
    size_t n = 0;
    ck_assert_int_eq(embed_text(query, strlen(query), q), EQ_OK);
    ck_assert_int_eq(vindex_search(vi, q, 3, hits, &n), EQ_OK);
    ck_assert_uint_eq(n, 3);
    ck_assert_float_ge(hits[0].score, hits[1].score);
    ck_assert_float_ge(hits[1].score, hits[2].score);
    return hits[0].id;
}

START_TEST(test_known_queries_rank_first) {
    vindex *vi = load_corpus();
    static const struct {
        const char *query, *expect;
    } cases[] = {
        {"how did imports and exports move", "trade-balance"},
        {"unemployment and jobs", "jobs-report"},
        {"consumer inflation in March", "cpi-march"},
        {"mortgage rates and home building", "housing-starts"},
        {"did the central bank raise interest rates", "fed-decision"},
        {"oil supply cuts", "oil-prices"},
        {"euro dollar exchange rate", "exchange-rate"},
        {"factory production contracting", "industrial-production"},
        {"government debt and deficits", "public-debt"},
        {"retail spending by households", "retail-sales"},
        {"quarterly GDP growth", "gdp-q1"},
        {"productivity of labour", "productivity"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *got = top1(vi, cases[i].query);
        ck_assert_msg(strcmp(got, cases[i].expect) == 0, "query '%s': got %s, want %s",
                      cases[i].query, got, cases[i].expect);
    }
    vindex_free(vi);
}
END_TEST

START_TEST(test_replace_and_delete) {
    vindex *vi = load_corpus();
    ck_assert_str_eq(top1(vi, "wheat harvest and grain exports"), "trade-balance");
    /* Rewrite a note about something else: the query now finds it. */
    const char *text = "The wheat harvest was a record and grain exports to Asia doubled.";
    float v[EMBED_DIM];
    ck_assert_int_eq(embed_text(text, strlen(text), v), EQ_OK);
    bool replaced = false;
    ck_assert_int_eq(vindex_put(vi, "oil-prices", v, &replaced), EQ_OK);
    ck_assert(replaced);
    ck_assert_uint_eq(vindex_count(vi), NCORPUS);
    ck_assert_str_eq(top1(vi, "wheat harvest and grain exports"), "oil-prices");
    ck_assert_str_ne(top1(vi, "oil supply cuts"), "oil-prices");
    /* Delete it: gone from results and from the index. */
    ck_assert_int_eq(vindex_del(vi, "oil-prices"), EQ_OK);
    ck_assert_int_eq(vindex_del(vi, "oil-prices"), EQ_ENOTFOUND);
    const float *got;
    ck_assert_int_eq(vindex_get(vi, "oil-prices", &got), EQ_ENOTFOUND);
    ck_assert_uint_eq(vindex_count(vi), NCORPUS - 1);
    ck_assert_str_eq(top1(vi, "wheat harvest and grain exports"), "trade-balance");
    float q[EMBED_DIM];
    ck_assert_int_eq(embed_text("wheat", 5, q), EQ_OK);
    vindex_hit hits[VINDEX_MAX_K];
    size_t n;
    ck_assert_int_eq(vindex_search(vi, q, 100, hits, &n), EQ_OK);
    ck_assert_uint_eq(n, NCORPUS - 1);
    for (size_t i = 0; i < n; i++)
        ck_assert_str_ne(hits[i].id, "oil-prices");
    vindex_free(vi);
}
END_TEST

START_TEST(test_topk_ties_and_order) {
    vindex *vi;
    ck_assert_int_eq(vindex_new(4, &vi), EQ_OK);
    const float a[4] = {1, 0, 0, 0}, b[4] = {0, 1, 0, 0}, ab[4] = {1, 1, 0, 0};
    /* Four documents tie with the query; two score lower. Ties order by id. */
    ck_assert_int_eq(vindex_put(vi, "d", a, NULL), EQ_OK);
    ck_assert_int_eq(vindex_put(vi, "b", a, NULL), EQ_OK);
    ck_assert_int_eq(vindex_put(vi, "x", ab, NULL), EQ_OK);
    ck_assert_int_eq(vindex_put(vi, "c", a, NULL), EQ_OK);
    ck_assert_int_eq(vindex_put(vi, "y", b, NULL), EQ_OK);
    const float big_a[4] = {5, 0, 0, 0}; /* stored normalised, so it ties too */
    ck_assert_int_eq(vindex_put(vi, "a", big_a, NULL), EQ_OK);
    vindex_hit hits[6];
    size_t n;
    ck_assert_int_eq(vindex_search(vi, a, 3, hits, &n), EQ_OK);
    ck_assert_uint_eq(n, 3);
    ck_assert_str_eq(hits[0].id, "a");
    ck_assert_str_eq(hits[1].id, "b");
    ck_assert_str_eq(hits[2].id, "c");
    ck_assert_float_eq_tol(hits[0].score, 1.0f, 1e-6f);
    ck_assert_int_eq(vindex_search(vi, a, 6, hits, &n), EQ_OK);
    ck_assert_uint_eq(n, 6);
    ck_assert_str_eq(hits[3].id, "d");
    ck_assert_str_eq(hits[4].id, "x");
    ck_assert_float_eq_tol(hits[4].score, (float)(1 / sqrt(2)), 1e-6f);
    ck_assert_str_eq(hits[5].id, "y");
    ck_assert_float_eq_tol(hits[5].score, 0.0f, 1e-6f);
    /* Errors. */
    const float zero[4] = {0}, nan4[4] = {NAN, 0, 0, 0};
    ck_assert_int_eq(vindex_search(vi, a, 0, hits, &n), EQ_EINVAL);
    ck_assert_int_eq(vindex_search(vi, a, VINDEX_MAX_K + 1, hits, &n), EQ_EINVAL);
    ck_assert_int_eq(vindex_search(vi, zero, 3, hits, &n), EQ_EINVAL);
    ck_assert_int_eq(vindex_put(vi, "z", zero, NULL), EQ_EINVAL);
    ck_assert_int_eq(vindex_put(vi, "z", nan4, NULL), EQ_EINVAL);
    ck_assert_int_eq(vindex_put(vi, "", a, NULL), EQ_EINVAL);
    char longid[VINDEX_MAX_ID_BYTES + 2];
    memset(longid, 'i', sizeof longid - 1);
    longid[sizeof longid - 1] = '\0';
    ck_assert_int_eq(vindex_put(vi, longid, a, NULL), EQ_EINVAL);
    longid[VINDEX_MAX_ID_BYTES] = '\0';
    ck_assert_int_eq(vindex_put(vi, longid, a, NULL), EQ_OK);
    ck_assert_int_eq(vindex_new(0, &vi), EQ_EINVAL);
    vindex_free(vi);
}
END_TEST

/* Random puts and deletes against a brute-force reference: exercises map growth and
 * backward-shift deletion, and checks search results exactly. */
START_TEST(test_random_ops_match_reference) {
    enum { DIM = 8, IDS = 600, OPS = 6000 };
    static float ref[IDS][DIM];
    static bool live[IDS];
    memset(live, 0, sizeof live);
    vindex *vi;
    ck_assert_int_eq(vindex_new(DIM, &vi), EQ_OK);
    ck_assert_int_eq(vindex_reserve(vi, VINDEX_MAX_DOCS + 1), EQ_EFULL);
    ck_assert_int_eq(vindex_reserve(vi, IDS / 3), EQ_OK); /* then it grows past the reserve */
    unsigned seed = 12345;
    size_t live_n = 0;
    char id[16];
    for (int op = 0; op < OPS; op++) {
        unsigned r = rand_r(&seed);
        size_t i = r % IDS;
        snprintf(id, sizeof id, "id%zu", i);
        if (r % 3 == 0) {
            ck_assert_int_eq(vindex_del(vi, id), live[i] ? EQ_OK : EQ_ENOTFOUND);
            live_n -= live[i];
            live[i] = false;
        } else {
            double n2 = 0;
            for (int d = 0; d < DIM; d++) {
                ref[i][d] = (float)((double)rand_r(&seed) / RAND_MAX) - 0.5f;
                n2 += (double)ref[i][d] * ref[i][d];
            }
            for (int d = 0; d < DIM; d++)
                ref[i][d] = (float)(ref[i][d] / sqrt(n2));
            ck_assert_int_eq(vindex_put(vi, id, ref[i], NULL), EQ_OK);
            live_n += !live[i];
            live[i] = true;
        }
        ck_assert_uint_eq(vindex_count(vi), live_n);
    }
    for (size_t i = 0; i < IDS; i++) {
        const float *v;
        snprintf(id, sizeof id, "id%zu", i);
        ck_assert_int_eq(vindex_get(vi, id, &v), live[i] ? EQ_OK : EQ_ENOTFOUND);
        if (live[i])
            for (int d = 0; d < DIM; d++)
                ck_assert_float_eq_tol(v[d], ref[i][d], 1e-6f);
    }
    /* The best hit for each live vector is itself (random vectors: no exact ties). */
    vindex_hit hits[5];
    size_t n;
    for (size_t i = 0; i < IDS; i++) {
        if (!live[i]) continue;
        snprintf(id, sizeof id, "id%zu", i);
        ck_assert_int_eq(vindex_search(vi, ref[i], 5, hits, &n), EQ_OK);
        ck_assert_str_eq(hits[0].id, id);
        ck_assert_float_eq_tol(hits[0].score, 1.0f, 1e-5f);
    }
    vindex_free(vi);
}
END_TEST

static int cmp_desc(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

/* The int8 pre-scan must never change the answer: compare every search with a brute-force
 * top-k in double precision over the stored vectors, on clustered data (like real
 * embeddings: many near neighbours, so the pruning bound is exercised). */
START_TEST(test_prefilter_is_exact) {
    enum { DIM = 96, DOCS = 2000, CLUSTERS = 12, QUERIES = 40, K = 10 };
    static float centre[CLUSTERS][DIM];
    static double ref[DOCS];
    unsigned seed = 777;
    for (int c = 0; c < CLUSTERS; c++)
        for (int d = 0; d < DIM; d++)
            centre[c][d] = (float)((double)rand_r(&seed) / RAND_MAX) - 0.5f;
    vindex *vi;
    ck_assert_int_eq(vindex_new(DIM, &vi), EQ_OK);
    char id[16];
    float v[DIM];
    for (int i = 0; i < DOCS; i++) {
        int c = rand_r(&seed) % CLUSTERS;
        for (int d = 0; d < DIM; d++)
            v[d] = centre[c][d] + 0.15f * ((float)((double)rand_r(&seed) / RAND_MAX) - 0.5f);
        if (i % 7 == 0) v[rand_r(&seed) % DIM] += 3.0f; /* a spiky vector: a coarse int8 scale */
        snprintf(id, sizeof id, "d%d", i);
        ck_assert_int_eq(vindex_put(vi, id, v, NULL), EQ_OK);
    }
    vindex_hit hits[K];
    size_t n;
    for (int q = 0; q < QUERIES; q++) {
        int c = q % CLUSTERS;
        double qn2 = 0;
        for (int d = 0; d < DIM; d++) {
            v[d] = centre[c][d] + 0.2f * ((float)((double)rand_r(&seed) / RAND_MAX) - 0.5f);
            qn2 += (double)v[d] * v[d];
        }
        for (int i = 0; i < DOCS; i++) {
            const float *dv;
            snprintf(id, sizeof id, "d%d", i);
            ck_assert_int_eq(vindex_get(vi, id, &dv), EQ_OK);
            double s = 0;
            for (int d = 0; d < DIM; d++)
                s += (double)v[d] * dv[d];
            ref[i] = s / sqrt(qn2);
        }
        qsort(ref, DOCS, sizeof *ref, cmp_desc);
        ck_assert_int_eq(vindex_search(vi, v, K, hits, &n), EQ_OK);
        ck_assert_uint_eq(n, K);
        for (int i = 0; i < K; i++)
            ck_assert_msg(fabs(hits[i].score - ref[i]) < 1e-5, "query %d rank %d: %f vs %f", q, i,
                          hits[i].score, ref[i]);
    }
    vindex_free(vi);
}
END_TEST

/* Concurrent searches share the index read-only: every thread sees the same answers. */
typedef struct reader {
    const vindex *vi;
    const char *expect[NCORPUS];
    int mismatches;
} reader;

static void *reader_run(void *arg) {
    reader *r = arg;
    float q[EMBED_DIM];
    vindex_hit hits[1];
    size_t n;
    for (int round = 0; round < 5; round++)
        for (size_t i = 0; i < NCORPUS; i++) {
            if (embed_text(corpus[i].text, strlen(corpus[i].text), q) != EQ_OK ||
                vindex_search(r->vi, q, 1, hits, &n) != EQ_OK || n != 1 ||
                strcmp(hits[0].id, r->expect[i]) != 0)
                r->mismatches++;
        }
    return NULL;
}

START_TEST(test_concurrent_readers) {
    vindex *vi = load_corpus();
    reader rd[4];
    for (int t = 0; t < 4; t++) {
        rd[t] = (reader){.vi = vi};
        for (size_t i = 0; i < NCORPUS; i++)
            rd[t].expect[i] = corpus[i].id; /* each note is its own nearest neighbour */
    }
    pthread_t th[4];
    for (int t = 0; t < 4; t++)
        ck_assert_int_eq(pthread_create(&th[t], NULL, reader_run, &rd[t]), 0);
    for (int t = 0; t < 4; t++) {
        pthread_join(th[t], NULL);
        ck_assert_int_eq(rd[t].mismatches, 0);
    }
    vindex_free(vi);
}
END_TEST

START_TEST(test_vrecord_roundtrip) {
    float v[EMBED_DIM], back[VINDEX_MAX_DIM];
    ck_assert_int_eq(embed_text("inflation", 9, v), EQ_OK);
    unsigned char buf[4096];
    size_t len;
    ck_assert_int_eq(vrecord_encode(EMBED_NAME, v, EMBED_DIM, buf, sizeof buf, &len), EQ_OK);
    ck_assert_uint_eq(len, vrecord_size(strlen(EMBED_NAME), EMBED_DIM));
    ck_assert_uint_eq(buf[0], VRECORD_VERSION);
    vrecord r;
    ck_assert_int_eq(vrecord_decode(buf, len, &r), EQ_OK);
    ck_assert_str_eq(r.embedder, EMBED_NAME);
    ck_assert_uint_eq(r.dim, EMBED_DIM);
    vrecord_copy_vec(&r, back);
    ck_assert_mem_eq(v, back, sizeof v);
    /* Every truncation fails cleanly; so does a trailing byte and another version. */
    for (size_t cut = 0; cut < len; cut++)
        ck_assert_int_eq(vrecord_decode(buf, cut, &r), EQ_EPROTO);
    ck_assert_int_eq(vrecord_decode(buf, len + 1, &r), EQ_EPROTO);
    buf[0] = 2;
    ck_assert_int_eq(vrecord_decode(buf, len, &r), EQ_EUNSUPPORTED);
    buf[0] = VRECORD_VERSION;
    /* Random corruption never reads out of bounds; what decodes is well-formed. */
    unsigned seed = 4242;
    unsigned char mut[4096];
    for (int iter = 0; iter < 3000; iter++) {
        memcpy(mut, buf, len);
        size_t mlen = len;
        for (int k = rand_r(&seed) % 4; k >= 0; k--)
            mut[rand_r(&seed) % 24] = (unsigned char)rand_r(&seed);
        if (rand_r(&seed) % 4 == 0) mlen = (size_t)rand_r(&seed) % (len + 1);
        if (vrecord_decode(mut, mlen, &r) == EQ_OK) {
            ck_assert_uint_eq(mlen, vrecord_size(strlen(r.embedder), r.dim));
            vrecord_copy_vec(&r, back);
            for (uint32_t i = 0; i < r.dim && i < EMBED_DIM; i++)
                ck_assert(isfinite(back[i]));
        }
    }
    float nan1[1] = {NAN};
    ck_assert_int_eq(vrecord_encode("x", nan1, 1, buf, sizeof buf, &len), EQ_EINVAL);
    ck_assert_int_eq(vrecord_encode("x", v, EMBED_DIM, buf, 100, &len), EQ_ETOOBIG);
    ck_assert_int_eq(vrecord_encode("", v, 1, buf, sizeof buf, &len), EQ_EINVAL);
}
END_TEST

/* The fuzz target over seeds (a record, texts) and a few thousand deterministic mutations. */
START_TEST(test_fuzz_target) {
    static uint8_t seeds[3][2048];
    size_t lens[3];
    float v[EMBED_DIM];
    ck_assert_int_eq(embed_text("imports", 7, v), EQ_OK);
    ck_assert_int_eq(vrecord_encode(EMBED_NAME, v, EMBED_DIM, seeds[0], sizeof seeds[0], &lens[0]),
                     EQ_OK);
    const char *t1 = "Consumer prices rose 3.2% in March; \xc3\xa9" "conomie \xd0\x98\xd0\xbd";
    lens[1] = strlen(t1);
    memcpy(seeds[1], t1, lens[1]);
    lens[2] = 0;
    unsigned seed = 2718;
    uint8_t buf[2100];
    for (int iter = 0; iter < 3000; iter++) {
        int s = iter % 3;
        size_t len = lens[s];
        memcpy(buf, seeds[s], len);
        for (int k = rand_r(&seed) % 6; k >= 0; k--) {
            int op = rand_r(&seed) % 3;
            if (op == 0 && len > 0)
                buf[rand_r(&seed) % len] = (uint8_t)rand_r(&seed);
            else if (op == 1 && len < sizeof buf)
                buf[len++] = (uint8_t)rand_r(&seed);
            else if (len > 0)
                len = (size_t)rand_r(&seed) % len;
        }
        ck_assert_msg(embed_fuzz_one(buf, len) == 0, "iteration %d", iter);
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("vindex");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_known_queries_rank_first);
    tcase_add_test(tc, test_replace_and_delete);
    tcase_add_test(tc, test_topk_ties_and_order);
    tcase_add_test(tc, test_random_ops_match_reference);
    tcase_add_test(tc, test_prefilter_is_exact);
    tcase_add_test(tc, test_concurrent_readers);
    tcase_add_test(tc, test_vrecord_roundtrip);
    tcase_add_test(tc, test_fuzz_target);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

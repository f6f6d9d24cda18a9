/* workers/collsearch.c over an in-memory worker_source: more collections than the cache holds,
 * searched by several threads while the test changes them; indexes catch up from the change
 * log, fall back to a whole load when the log has a gap, and every answer comes from the right
 * collection at a generation at least as new as the one the search started from. */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "workers/collsearch.h"
#include "workers/embed/embedder.h"
#include "workers/source.h"

#define NCOLL (COLLSEARCH_MAX_CACHED + 4) /* more than the cache holds: evictions */
#define NDOCS 12
#define THREADS 4
#define QUERIES 400

static const char *const topics[NDOCS] = {
    "inflation prices",  "imports exports",     "unemployment jobs", "housing starts",
    "interest rates",    "oil energy",          "wages earnings",    "retail sales",
    "public debt bonds", "exchange rate dollar", "manufacturing pmi", "productivity growth"};

typedef struct doc {
    char id[32];
    char text[128];
    float vec[EMBED_DIM];
    int live;
} doc;

typedef struct change {
    int coll;
    uint64_t gen, prev;
    int doc;
} change;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static doc docs[NCOLL][NDOCS];
static uint64_t gens[NCOLL], counter;
static change log_[4096];
static size_t nlog;
static int log_gap; /* 1: coll_changes answers EQ_ESTALE */

static int coll_of(const char *name) {
    int c;
    return sscanf(name, "c%d", &c) == 1 && c >= 0 && c < NCOLL ? c : -1;
}

static void set_doc(int c, int d, const char *topic) {
    doc *x = &docs[c][d];
    snprintf(x->id, sizeof x->id, "c%02d-d%02d", c, d);
    snprintf(x->text, sizeof x->text, "collection %d note about %s", c, topic);
    ck_assert_int_eq(embed_text(x->text, strlen(x->text), x->vec), EQ_OK);
    x->live = 1;
}

static void info_of(int c, worker_coll_info *out) {
    memset(out, 0, sizeof *out);
    snprintf(out->embedder, sizeof out->embedder, "%s", EMBED_NAME);
    out->dim = EMBED_DIM;
    out->generation = gens[c];
    for (int d = 0; d < NDOCS; d++)
        out->count += (uint64_t)docs[c][d].live;
}

static eq_err f_info(void *ctx, const char *name, worker_coll_info *out) {
    (void)ctx;
    int c = coll_of(name);
    if (c < 0)
        return EQ_ENOTFOUND;
    pthread_mutex_lock(&mu);
    info_of(c, out);
    pthread_mutex_unlock(&mu);
    return EQ_OK;
}

static eq_err f_load(void *ctx, const char *name, worker_coll_info *info, worker_coll_doc_fn fn,
                     void *arg) {
    (void)ctx;
    int c = coll_of(name);
    if (c < 0)
        return EQ_ENOTFOUND;
    pthread_mutex_lock(&mu);
    info_of(c, info);
    for (int d = 0; d < NDOCS; d++)
        if (docs[c][d].live && fn(arg, docs[c][d].id, (const unsigned char *)docs[c][d].vec,
                                  EMBED_DIM))
            break;
    pthread_mutex_unlock(&mu);
    return EQ_OK;
}

static eq_err f_changes(void *ctx, const char *name, uint64_t from, worker_coll_info *info,
                        worker_coll_doc_fn fn, void *arg) {
    (void)ctx;
    int c = coll_of(name);
    if (c < 0)
        return EQ_ENOTFOUND;
    pthread_mutex_lock(&mu);
    info_of(c, info);
    eq_err err = log_gap ? EQ_ESTALE : EQ_OK;
    uint64_t at = from;
    for (size_t i = 0; !err && i < nlog; i++) {
        if (log_[i].coll != c || log_[i].gen <= from)
            continue;
        if (log_[i].prev != at) {
            err = EQ_ESTALE;
            break;
        }
        const doc *x = &docs[c][log_[i].doc];
        fn(arg, x->id, x->live ? (const unsigned char *)x->vec : NULL, EMBED_DIM);
        at = log_[i].gen;
    }
    if (!err && at != gens[c])
        err = EQ_ESTALE;
    pthread_mutex_unlock(&mu);
    return err;
}

static eq_err f_doc(void *ctx, const char *name, const char *id, char **text, char **meta) {
    (void)ctx;
    int c = coll_of(name), d;
    if (c < 0 || sscanf(id + 4, "d%d", &d) != 1 || d < 0 || d >= NDOCS)
        return EQ_ENOTFOUND;
    pthread_mutex_lock(&mu);
    eq_err err = docs[c][d].live ? EQ_OK : EQ_ENOTFOUND;
    if (!err) {
        *text = strdup(docs[c][d].text);
        *meta = strdup("{\"n\":1}");
    }
    pthread_mutex_unlock(&mu);
    return err;
}

static const worker_source source = {.coll_info = f_info,
                                     .coll_load = f_load,
                                     .coll_changes = f_changes,
                                     .coll_doc = f_doc};

/* Changes doc d of collection c (a new topic, or deleted) as one generation. */
static void change_doc(int c, int d, const char *topic) {
    pthread_mutex_lock(&mu);
    if (topic)
        set_doc(c, d, topic);
    else
        docs[c][d].live = 0;
    ck_assert_uint_lt(nlog, sizeof log_ / sizeof log_[0]);
    log_[nlog++] = (change){.coll = c, .gen = ++counter, .prev = gens[c], .doc = d};
    gens[c] = counter;
    pthread_mutex_unlock(&mu);
}

static void setup(void) {
    nlog = 0;
    counter = 0;
    log_gap = 0;
    for (int c = 0; c < NCOLL; c++) {
        for (int d = 0; d < NDOCS; d++)
            set_doc(c, d, topics[d]);
        gens[c] = ++counter;
    }
    collsearch_reset();
    worker_source_set(&source);
}

static void teardown(void) {
    collsearch_reset();
    worker_source_set(NULL);
}

/* Searches collection c for doc d's current text; returns the top id and the generation. */
static void top(int c, const char *text, char *id, size_t len, uint64_t *gen) {
    char name[16];
    snprintf(name, sizeof name, "c%d", c);
    cJSON *res = NULL;
    worker_error err;
    memset(&err, 0, sizeof err);
    eq_err rc = collsearch_query(name, text, 3, &res, &err);
    if (rc != EQ_OK)
        ck_abort_msg("search %s: %s %s", name, err.code, err.message);
    const cJSON *hits = cJSON_GetObjectItem(res, "hits");
    const cJSON *h;
    char prefix[8];
    snprintf(prefix, sizeof prefix, "c%02d-", c);
    cJSON_ArrayForEach(h, hits) /* never another collection's document */
        ck_assert_int_eq(strncmp(cJSON_GetObjectItem(h, "id")->valuestring, prefix, 4), 0);
    snprintf(id, len, "%s", cJSON_GetObjectItem(cJSON_GetArrayItem(hits, 0), "id")->valuestring);
    *gen = (uint64_t)cJSON_GetObjectItem(res, "generation")->valuedouble;
    cJSON_Delete(res);
}

static void *searcher(void *arg) {
    unsigned seed = (unsigned)(uintptr_t)arg;
    for (int q = 0; q < QUERIES; q++) {
        seed = seed * 1103515245u + 12345u;
        int c = (int)((seed >> 8) % NCOLL), d = (int)((seed >> 16) % NDOCS);
        char text[128], id[32], want[32];
        uint64_t before, gen;
        pthread_mutex_lock(&mu);
        int live = docs[c][d].live;
        snprintf(text, sizeof text, "%s", docs[c][d].text);
        snprintf(want, sizeof want, "%s", docs[c][d].id);
        before = gens[c];
        pthread_mutex_unlock(&mu);
        top(c, text, id, sizeof id, &gen);
        ck_assert_uint_ge(gen, before); /* never an index older than the search's start */
        /* Unchanged since: the document's own text finds it first. */
        pthread_mutex_lock(&mu);
        int same = gens[c] == before;
        pthread_mutex_unlock(&mu);
        if (same && live && gen == before)
            ck_assert_str_eq(id, want);
    }
    return NULL;
}

START_TEST(many_collections_searched_while_they_change) {
    pthread_t th[THREADS];
    for (uintptr_t i = 0; i < THREADS; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, searcher, (void *)(i * 7919 + 1)), 0);
    for (int round = 0; round < 60; round++) {
        int c = round % NCOLL, d = (round * 5) % NDOCS;
        char topic[96]; /* a text no other document has */
        snprintf(topic, sizeof topic, "%s revised in round %d", topics[(d + 3) % NDOCS], round);
        change_doc(c, d, round % 3 == 0 ? NULL : topic);
        usleep(1000); /* interleave with the searches */
    }
    for (int i = 0; i < THREADS; i++)
        ck_assert_int_eq(pthread_join(th[i], NULL), 0);
    /* After it all, each collection's documents are found as they are now. */
    for (int c = 0; c < NCOLL; c++) {
        for (int d = 0; d < NDOCS; d++) {
            char id[32];
            uint64_t gen;
            if (!docs[c][d].live)
                continue;
            top(c, docs[c][d].text, id, sizeof id, &gen);
            ck_assert_uint_eq(gen, gens[c]);
            ck_assert_str_eq(id, docs[c][d].id);
        }
    }
}
END_TEST

START_TEST(catch_up_then_whole_load_when_the_log_has_a_gap) {
    char id[32];
    uint64_t gen;
    top(0, docs[0][1].text, id, sizeof id, &gen);
    ck_assert_str_eq(id, "c00-d01");
    /* A changed document is found by its new text after a catch-up. */
    change_doc(0, 1, "copper mining");
    top(0, docs[0][1].text, id, sizeof id, &gen);
    ck_assert_str_eq(id, "c00-d01");
    ck_assert_uint_eq(gen, gens[0]);
    /* A deleted one is gone. */
    change_doc(0, 2, NULL);
    char old[128];
    snprintf(old, sizeof old, "collection 0 note about %s", topics[2]);
    top(0, old, id, sizeof id, &gen);
    ck_assert_str_ne(id, "c00-d02");
    /* With the log unusable, the index loads whole and is right all the same. */
    log_gap = 1;
    change_doc(0, 3, "shipping freight");
    top(0, docs[0][3].text, id, sizeof id, &gen);
    ck_assert_str_eq(id, "c00-d03");
    ck_assert_uint_eq(gen, gens[0]);
    /* Unknown collection: a clear, permanent error. */
    cJSON *res = NULL;
    worker_error err;
    memset(&err, 0, sizeof err);
    ck_assert_int_eq(collsearch_query("nope", "x", 3, &res, &err), EQ_ENOTFOUND);
    ck_assert_str_eq(err.code, "unknown_collection");
    ck_assert_int_eq(err.retryable, 0);
}
END_TEST

int main(void) {
    Suite *s = suite_create("collsearch");
    TCase *tc = tcase_create("collsearch");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, many_collections_searched_while_they_change);
    tcase_add_test(tc, catch_up_then_whole_load_when_the_log_has_a_gap);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

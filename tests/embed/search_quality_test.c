/* Search quality of the built-in embedder with the exact index, on a fixed corpus of
 * economic notes (tests/fixtures/corpus/econ_notes.json): every analyst query must rank its
 * one right document first; replacing a document's text moves its results with it; a deleted
 * document is gone from every result. */
#include <check.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workers/embed/embedder.h"
#include "workers/embed/vindex.h"

#define CORPUS_PATH "/tests/fixtures/corpus/econ_notes.json"
/* The corpus is a few dozen short notes; anything bigger is the wrong file. */
#define CORPUS_MAX_BYTES (1u << 20)
/* How many hits a failure message shows. */
#define SHOW_HITS 3

typedef struct corpus {
    cJSON *root;
    cJSON *docs;    /* array of {"id", "text", "metadata"} */
    cJSON *queries; /* array of {"query", "expect"} */
} corpus;

static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    char *buf = malloc(CORPUS_MAX_BYTES + 1);
    ck_assert_ptr_nonnull(buf);
    size_t n = fread(buf, 1, CORPUS_MAX_BYTES + 1, f);
    fclose(f);
    ck_assert_msg(n > 0 && n <= CORPUS_MAX_BYTES, "%s: empty or over %u bytes", path,
                  CORPUS_MAX_BYTES);
    buf[n] = '\0';
    return buf;
}

static const char *str_field(const cJSON *obj, const char *name) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    ck_assert_msg(cJSON_IsString(v) && v->valuestring[0] != '\0', "missing string \"%s\"", name);
    return v->valuestring;
}

static const cJSON *find_doc(const corpus *c, const char *id) {
    const cJSON *d;
    cJSON_ArrayForEach(d, c->docs) {
        if (strcmp(str_field(d, "id"), id) == 0) return d;
    }
    return NULL;
}

/* Loads the corpus and checks its shape: unique ids, metadata on every document, and an
 * existing document behind every query. Caller frees with corpus_fini(). */
static void corpus_load(corpus *c) {
    const char *dir = getenv("ECONQ_SOURCE_DIR");
    ck_assert_msg(dir != NULL, "ECONQ_SOURCE_DIR is not set (run through ctest)");
    char path[4096];
    ck_assert_int_lt(snprintf(path, sizeof path, "%s%s", dir, CORPUS_PATH), (int)sizeof path);
    char *text = read_file(path);
    c->root = cJSON_Parse(text);
    free(text);
    ck_assert_msg(c->root != NULL, "%s is not valid JSON", path);
    c->docs = cJSON_GetObjectItemCaseSensitive(c->root, "documents");
    c->queries = cJSON_GetObjectItemCaseSensitive(c->root, "queries");
    ck_assert(cJSON_IsArray(c->docs) && cJSON_IsArray(c->queries));
    ck_assert_int_ge(cJSON_GetArraySize(c->docs), 30);
    ck_assert_int_ge(cJSON_GetArraySize(c->queries), 10);

    const cJSON *d, *q;
    cJSON_ArrayForEach(d, c->docs) {
        const char *id = str_field(d, "id");
        str_field(d, "text");
        const cJSON *meta = cJSON_GetObjectItemCaseSensitive(d, "metadata");
        ck_assert_msg(cJSON_IsObject(meta), "document %s has no metadata", id);
        str_field(meta, "topic");
        str_field(meta, "source");
        ck_assert_msg(find_doc(c, id) == d, "duplicate document id %s", id);
    }
    cJSON_ArrayForEach(q, c->queries) {
        str_field(q, "query");
        const char *want = str_field(q, "expect");
        ck_assert_msg(find_doc(c, want) != NULL, "query expects unknown document %s", want);
    }
}

/* The corpus query whose right answer is the document `id`. */
static const char *query_for(const corpus *c, const char *id) {
    const cJSON *q;
    cJSON_ArrayForEach(q, c->queries) {
        if (strcmp(str_field(q, "expect"), id) == 0) return str_field(q, "query");
    }
    ck_abort_msg("no corpus query expects %s", id);
    return NULL;
}

static void corpus_fini(corpus *c) {
    cJSON_Delete(c->root);
}

static void embed_ok(const char *text, float *v) {
    ck_assert_msg(embed_text(text, strlen(text), v) == EQ_OK, "cannot embed \"%s\"", text);
}

static void put_text(vindex *vi, const char *id, const char *text, bool *replaced) {
    float v[EMBED_DIM];
    embed_ok(text, v);
    ck_assert_int_eq(vindex_put(vi, id, v, replaced), EQ_OK);
}

/* Builds an index of every document in the corpus. Caller frees with vindex_free(). */
static vindex *index_corpus(const corpus *c) {
    vindex *vi = NULL;
    ck_assert_int_eq(vindex_new(EMBED_DIM, &vi), EQ_OK);
    ck_assert_int_eq(vindex_reserve(vi, (size_t)cJSON_GetArraySize(c->docs)), EQ_OK);
    const cJSON *d;
    cJSON_ArrayForEach(d, c->docs) {
        bool replaced = true;
        put_text(vi, str_field(d, "id"), str_field(d, "text"), &replaced);
        ck_assert(!replaced);
    }
    ck_assert_uint_eq(vindex_count(vi), (size_t)cJSON_GetArraySize(c->docs));
    return vi;
}

/* Searches for `query`; writes up to `k` hits and returns how many. */
static size_t search(const vindex *vi, const char *query, size_t k, vindex_hit *hits) {
    float v[EMBED_DIM];
    embed_ok(query, v);
    size_t n = 0;
    ck_assert_int_eq(vindex_search(vi, v, k, hits, &n), EQ_OK);
    return n;
}

static const char *top_id(const vindex *vi, const char *query) {
    vindex_hit hit;
    ck_assert_uint_eq(search(vi, query, 1, &hit), 1);
    return hit.id;
}

/* Appends "id (score), ..." of the first SHOW_HITS hits to buf. */
static void describe_hits(const vindex_hit *hits, size_t n, char *buf, size_t cap) {
    size_t used = strlen(buf);
    for (size_t i = 0; i < n && i < SHOW_HITS && used < cap; i++) {
        int w = snprintf(buf + used, cap - used, "%s%s (%.3f)", i ? ", " : "", hits[i].id,
                         (double)hits[i].score);
        if (w < 0) break;
        used += (size_t)w;
    }
}

START_TEST(test_every_query_ranks_its_document_first) {
    corpus c;
    corpus_load(&c);
    vindex *vi = index_corpus(&c);

    /* Every query is tried, so one run reports all the misses, not only the first. */
    char report[4096] = "";
    size_t failed = 0, total = 0;
    const cJSON *q;
    cJSON_ArrayForEach(q, c.queries) {
        const char *query = str_field(q, "query"), *want = str_field(q, "expect");
        vindex_hit hits[SHOW_HITS];
        size_t n = search(vi, query, SHOW_HITS, hits);
        total++;
        if (n > 0 && strcmp(hits[0].id, want) == 0) continue;
        failed++;
        size_t used = strlen(report);
        snprintf(report + used, sizeof report - used, "\n  \"%s\": expected %s, ranked: ", query,
                 want);
        describe_hits(hits, n, report, sizeof report);
    }
    ck_assert_msg(failed == 0, "%zu of %zu queries missed their document:%s", failed, total,
                  report);

    vindex_free(vi);
    corpus_fini(&c);
}
END_TEST

START_TEST(test_update_moves_results) {
    corpus c;
    corpus_load(&c);
    vindex *vi = index_corpus(&c);
    const char *id = "us-mortgage-rates";
    const char *old_query = query_for(&c, id);
    const char *new_query = "copper supply from Chilean mines";
    ck_assert_str_eq(top_id(vi, old_query), id);
    ck_assert_str_ne(top_id(vi, new_query), id);

    bool replaced = false;
    put_text(vi, id,
             "Copper prices surged after strikes at two large Chilean mines cut supply, while "
             "smelters in China reported low stocks of concentrate.",
             &replaced);
    ck_assert(replaced);
    ck_assert_uint_eq(vindex_count(vi), (size_t)cJSON_GetArraySize(c.docs));

    const char *now_old = top_id(vi, old_query);
    ck_assert_msg(strcmp(now_old, id) != 0, "\"%s\" still finds %s after its text changed",
                  old_query, id);
    ck_assert_str_eq(top_id(vi, new_query), id);

    vindex_free(vi);
    corpus_fini(&c);
}
END_TEST

START_TEST(test_delete_removes_from_results) {
    corpus c;
    corpus_load(&c);
    vindex *vi = index_corpus(&c);
    const char *id = "yen-weakness";
    const char *query = query_for(&c, id);
    ck_assert_str_eq(top_id(vi, query), id);

    ck_assert_int_eq(vindex_del(vi, id), EQ_OK);
    ck_assert_int_eq(vindex_del(vi, id), EQ_ENOTFOUND);
    const float *v = NULL;
    ck_assert_int_eq(vindex_get(vi, id, &v), EQ_ENOTFOUND);
    size_t count = vindex_count(vi);
    ck_assert_uint_eq(count, (size_t)cJSON_GetArraySize(c.docs) - 1);

    /* Asking for every document shows it nowhere, not just off the top. */
    vindex_hit *hits = calloc(count, sizeof *hits);
    ck_assert_ptr_nonnull(hits);
    ck_assert_uint_eq(search(vi, query, count, hits), count);
    for (size_t i = 0; i < count; i++)
        ck_assert_str_ne(hits[i].id, id);
    free(hits);

    vindex_free(vi);
    corpus_fini(&c);
}
END_TEST

static Suite *search_quality_suite(void) {
    Suite *s = suite_create("search_quality");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_every_query_ranks_its_document_first);
    tcase_add_test(tc, test_update_moves_results);
    tcase_add_test(tc, test_delete_removes_from_results);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    SRunner *sr = srunner_create(search_quality_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

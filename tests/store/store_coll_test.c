/* Tests for store/store_coll.c: collection records, documents, listing, drop, limits and
 * records that do not decode. */
#include <check.h>
#include <lmdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_coll.h"
#include "tests/store/store_fixture.h"

/* Writes v as dim little-endian float32 values into out (dim * 4 bytes). */
static void le_floats(unsigned char *out, const float *v, uint32_t dim) {
    for (uint32_t i = 0; i < dim; i++) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        for (int b = 0; b < 4; b++)
            out[i * 4 + b] = (unsigned char)(u >> (8 * b));
    }
}

static float le_float_at(const unsigned char *p, uint32_t i) {
    uint32_t u = 0;
    for (int b = 0; b < 4; b++)
        u |= (uint32_t)p[i * 4 + b] << (8 * b);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* Puts document id of coll with a 3-dimensional vector (x, 0, 1), text and metadata. */
static void put_doc(store_txn *t, const char *coll, const char *id, float x, const char *text,
                    const char *meta, int *replaced) {
    float v[3] = {x, 0.0f, 1.0f};
    unsigned char vec[12];
    le_floats(vec, v, 3);
    store_coll_doc d = {.id = id,
                        .id_len = strlen(id),
                        .vec = vec,
                        .dim = 3,
                        .text = text,
                        .text_len = text ? strlen(text) : 0,
                        .meta = meta,
                        .meta_len = meta ? strlen(meta) : 0};
    ck_assert_int_eq(store_coll_doc_put(t, coll, &d, replaced), EQ_OK);
}

START_TEST(coll_put_get) {
    store_txn *t = wtxn();
    store_coll c;
    ck_assert_int_eq(store_coll_get(t, "docs", &c), EQ_ENOTFOUND);
    store_coll in = {
        .dim = 384, .count = 7, .generation = 3, .created_ms = T0, .updated_ms = T0 + 5};
    snprintf(in.embedder, sizeof in.embedder, "%s", "minilm-l6");
    ck_assert_int_eq(store_coll_put(t, "docs", &in), EQ_OK);
    ck_assert_int_eq(store_txn_commit(t), EQ_OK);
    t = rtxn();
    ck_assert_int_eq(store_coll_get(t, "docs", &c), EQ_OK);
    ck_assert_str_eq(c.embedder, "minilm-l6");
    ck_assert_uint_eq(c.dim, 384);
    ck_assert_uint_eq(c.count, 7);
    ck_assert_uint_eq(c.generation, 3);
    ck_assert_int_eq(c.created_ms, T0);
    ck_assert_int_eq(c.updated_ms, T0 + 5);
    ck_assert_int_eq(store_coll_get(t, "doc", &c), EQ_ENOTFOUND);
    store_txn_abort(t);
}
END_TEST

START_TEST(doc_put_get_del) {
    store_txn *t = wtxn();
    int replaced = -1;
    put_doc(t, "c", "d1", 0.5f, "hello", "{\"k\":1}", &replaced);
    ck_assert_int_eq(replaced, 0);
    put_doc(t, "c", "d1", -2.25f, "hello again", NULL, &replaced);
    ck_assert_int_eq(replaced, 1);
    put_doc(t, "c", "d2", 1.0f, NULL, "{}", NULL);
    ck_assert_int_eq(store_txn_commit(t), EQ_OK);

    t = rtxn();
    store_coll_doc d;
    ck_assert_int_eq(store_coll_doc_get(t, "c", "d1", &d), EQ_OK);
    ck_assert_uint_eq(d.id_len, 2);
    ck_assert_mem_eq(d.id, "d1", 2);
    ck_assert_uint_eq(d.dim, 3);
    ck_assert(le_float_at(d.vec, 0) == -2.25f);
    ck_assert(le_float_at(d.vec, 1) == 0.0f);
    ck_assert(le_float_at(d.vec, 2) == 1.0f);
    ck_assert_uint_eq(d.text_len, 11);
    ck_assert_mem_eq(d.text, "hello again", 11);
    ck_assert_uint_eq(d.meta_len, 0);
    ck_assert_ptr_null(d.meta);
    ck_assert_int_eq(store_coll_doc_get(t, "c", "d2", &d), EQ_OK);
    ck_assert_uint_eq(d.text_len, 0);
    ck_assert_uint_eq(d.meta_len, 2);
    ck_assert_mem_eq(d.meta, "{}", 2);
    ck_assert_int_eq(store_coll_doc_get(t, "c", "d3", &d), EQ_ENOTFOUND);
    ck_assert_int_eq(store_coll_doc_get(t, "other", "d1", &d), EQ_ENOTFOUND);
    store_txn_abort(t);

    t = wtxn();
    ck_assert_int_eq(store_coll_doc_del(t, "c", "d1"), EQ_OK);
    ck_assert_int_eq(store_coll_doc_del(t, "c", "d1"), EQ_ENOTFOUND);
    ck_assert_int_eq(store_coll_doc_get(t, "c", "d1", &d), EQ_ENOTFOUND);
    ck_assert_int_eq(store_coll_doc_get(t, "c", "d2", &d), EQ_OK);
    ck_assert_int_eq(store_txn_commit(t), EQ_OK);
}
END_TEST

typedef struct seen {
    char ids[16][8];
    int n, stop_at;
} seen;

static int collect_doc(void *arg, const store_coll_doc *d) {
    seen *s = arg;
    ck_assert_int_lt(s->n, 16);
    ck_assert_uint_lt(d->id_len, 8);
    memcpy(s->ids[s->n], d->id, d->id_len);
    s->ids[s->n][d->id_len] = '\0';
    ck_assert_uint_eq(d->dim, 3);
    return ++s->n == s->stop_at;
}

static void docs_of(store_txn *t, const char *coll, const char *after, int stop_at, seen *s) {
    memset(s, 0, sizeof *s);
    s->stop_at = stop_at;
    ck_assert_int_eq(store_coll_docs_each(t, coll, after, collect_doc, s), EQ_OK);
}

START_TEST(docs_each_order_and_after) {
    store_txn *t = wtxn();
    /* Put out of order; "ab" is a prefix of "abc", and "b" sorts between them and "abc\1". */
    put_doc(t, "ab", "y", 1, "t", NULL, NULL);
    put_doc(t, "ab", "x", 1, "t", NULL, NULL);
    put_doc(t, "ab", "xa", 1, "t", NULL, NULL);
    put_doc(t, "abc", "a", 1, "t", NULL, NULL);
    put_doc(t, "abc", "z", 1, "t", NULL, NULL);
    put_doc(t, "a", "q", 1, "t", NULL, NULL);
    ck_assert_int_eq(store_txn_commit(t), EQ_OK);

    t = rtxn();
    seen s;
    docs_of(t, "ab", NULL, 0, &s);
    ck_assert_int_eq(s.n, 3);
    ck_assert_str_eq(s.ids[0], "x");
    ck_assert_str_eq(s.ids[1], "xa");
    ck_assert_str_eq(s.ids[2], "y");
    docs_of(t, "ab", "x", 0, &s); /* exact match skipped */
    ck_assert_int_eq(s.n, 2);
    ck_assert_str_eq(s.ids[0], "xa");
    docs_of(t, "ab", "xb", 0, &s); /* not a stored id */
    ck_assert_int_eq(s.n, 1);
    ck_assert_str_eq(s.ids[0], "y");
    docs_of(t, "ab", "y", 0, &s); /* the last: nothing, and not "abc"'s documents */
    ck_assert_int_eq(s.n, 0);
    docs_of(t, "ab", NULL, 2, &s); /* fn stops */
    ck_assert_int_eq(s.n, 2);
    docs_of(t, "abc", NULL, 0, &s);
    ck_assert_int_eq(s.n, 2);
    ck_assert_str_eq(s.ids[0], "a");
    ck_assert_str_eq(s.ids[1], "z");
    docs_of(t, "a", NULL, 0, &s);
    ck_assert_int_eq(s.n, 1);
    ck_assert_str_eq(s.ids[0], "q");
    docs_of(t, "abcd", NULL, 0, &s);
    ck_assert_int_eq(s.n, 0);
    store_txn_abort(t);
}
END_TEST

typedef struct names {
    char v[8][STORE_COLL_NAME_MAX + 1];
    uint32_t dim[8];
    int n;
} names;

static int collect_coll(void *arg, const char *name, const store_coll *c) {
    names *s = arg;
    ck_assert_int_lt(s->n, 8);
    snprintf(s->v[s->n], sizeof s->v[0], "%s", name);
    s->dim[s->n++] = c->dim;
    return 0;
}

START_TEST(each_lists_collections_in_order) {
    store_txn *t = wtxn();
    const char *in[] = {"zeta", "abc", "ab", "m"};
    for (uint32_t i = 0; i < 4; i++) {
        store_coll c = {.dim = i + 1, .created_ms = T0};
        snprintf(c.embedder, sizeof c.embedder, "e");
        ck_assert_int_eq(store_coll_put(t, in[i], &c), EQ_OK);
    }
    names s = {0};
    ck_assert_int_eq(store_coll_each(t, collect_coll, &s), EQ_OK);
    ck_assert_int_eq(s.n, 4);
    ck_assert_str_eq(s.v[0], "ab");
    ck_assert_str_eq(s.v[1], "abc");
    ck_assert_str_eq(s.v[2], "m");
    ck_assert_str_eq(s.v[3], "zeta");
    ck_assert_uint_eq(s.dim[0], 3);
    ck_assert_uint_eq(s.dim[3], 1);
    ck_assert_int_eq(store_txn_commit(t), EQ_OK);
}
END_TEST

START_TEST(drop_in_steps) {
    store_txn *t = wtxn();
    store_coll c = {.dim = 3, .count = 5};
    snprintf(c.embedder, sizeof c.embedder, "e");
    ck_assert_int_eq(store_coll_put(t, "ab", &c), EQ_OK);
    ck_assert_int_eq(store_coll_put(t, "abc", &c), EQ_OK);
    char id[8];
    for (int i = 0; i < 5; i++) {
        snprintf(id, sizeof id, "d%d", i);
        put_doc(t, "ab", id, 1, NULL, NULL, NULL);
    }
    put_doc(t, "abc", "keep", 1, NULL, NULL, NULL);
    ck_assert_int_eq(store_txn_commit(t), EQ_OK);

    size_t n;
    store_coll got;
    seen s;
    t = wtxn();
    ck_assert_int_eq(store_coll_drop(t, "ab", 2, &n), EQ_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(store_coll_get(t, "ab", &got), EQ_OK);
    docs_of(t, "ab", NULL, 0, &s);
    ck_assert_int_eq(s.n, 3);
    ck_assert_str_eq(s.ids[0], "d2");
    ck_assert_int_eq(store_coll_drop(t, "ab", 2, &n), EQ_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(store_coll_get(t, "ab", &got), EQ_OK);
    ck_assert_int_eq(store_txn_commit(t), EQ_OK);
    t = wtxn();
    ck_assert_int_eq(store_coll_drop(t, "ab", 2, &n), EQ_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(store_coll_get(t, "ab", &got), EQ_ENOTFOUND);
    docs_of(t, "ab", NULL, 0, &s);
    ck_assert_int_eq(s.n, 0);
    /* The collection whose name "ab" prefixes is untouched. */
    ck_assert_int_eq(store_coll_get(t, "abc", &got), EQ_OK);
    docs_of(t, "abc", NULL, 0, &s);
    ck_assert_int_eq(s.n, 1);
    /* Dropping again, or a collection with no documents, is fine. */
    ck_assert_int_eq(store_coll_drop(t, "ab", 2, &n), EQ_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(store_txn_commit(t), EQ_OK);
}
END_TEST

static int count_doc(void *arg, const store_coll_doc *d) {
    (void)d;
    ++*(int *)arg;
    return 0;
}

START_TEST(limits_refused) {
    store_txn *t = wtxn();
    char name[STORE_COLL_NAME_MAX + 2];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    store_coll c = {.dim = 3};
    snprintf(c.embedder, sizeof c.embedder, "e");
    ck_assert_int_eq(store_coll_put(t, name, &c), EQ_EINVAL);
    ck_assert_int_eq(store_coll_put(t, "", &c), EQ_EINVAL);
    name[STORE_COLL_NAME_MAX] = '\0'; /* exactly the limit */
    ck_assert_int_eq(store_coll_put(t, name, &c), EQ_OK);
    memset(c.embedder, 'e', sizeof c.embedder); /* not terminated within the limit */
    ck_assert_int_eq(store_coll_put(t, "x", &c), EQ_EINVAL);

    static unsigned char vec[(STORE_COLL_DIM_MAX + 1) * 4];
    static char big[STORE_COLL_TEXT_MAX + 1];
    char id[STORE_COLL_DOC_ID_MAX + 2]; /* 'i' x (limit + 1), NUL */
    memset(id, 'i', sizeof id - 1);
    id[sizeof id - 1] = '\0';
    store_coll_doc d = {.id = "a", .id_len = 1, .vec = vec, .dim = 0};
    ck_assert_int_eq(store_coll_doc_put(t, "x", &d, NULL), EQ_EINVAL);
    d.dim = STORE_COLL_DIM_MAX + 1;
    ck_assert_int_eq(store_coll_doc_put(t, "x", &d, NULL), EQ_EINVAL);
    d.dim = STORE_COLL_DIM_MAX;
    ck_assert_int_eq(store_coll_doc_put(t, "x", &d, NULL), EQ_OK);
    d.text = big;
    d.text_len = STORE_COLL_TEXT_MAX + 1;
    ck_assert_int_eq(store_coll_doc_put(t, "x", &d, NULL), EQ_EINVAL);
    d.text_len = 0;
    d.meta = big;
    d.meta_len = STORE_COLL_META_MAX + 1;
    ck_assert_int_eq(store_coll_doc_put(t, "x", &d, NULL), EQ_EINVAL);
    d.meta_len = 0;
    d.id = id;
    d.id_len = STORE_COLL_DOC_ID_MAX + 1;
    ck_assert_int_eq(store_coll_doc_put(t, "x", &d, NULL), EQ_EINVAL);
    d.id_len = 0;
    ck_assert_int_eq(store_coll_doc_put(t, "x", &d, NULL), EQ_EINVAL);
    /* The longest name with the longest id fits LMDB's key limit. */
    d.id_len = STORE_COLL_DOC_ID_MAX;
    ck_assert_int_eq(store_coll_doc_put(t, name, &d, NULL), EQ_OK);
    ck_assert_int_eq(store_coll_doc_put(t, "x", &d, NULL), EQ_OK);
    /* An `after` past the id limit still lists in order: the longest id sorts before it. */
    int n = 0;
    ck_assert_int_eq(store_coll_docs_each(t, "x", id, count_doc, &n), EQ_OK);
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(store_coll_docs_each(t, "x", "h", count_doc, &n), EQ_OK);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(store_coll_docs_each(t, "x", NULL, count_doc, &n), EQ_OK);
    ck_assert_int_eq(n, 3); /* "a" and the long id */
    ck_assert_int_eq(store_txn_commit(t), EQ_OK);
}
END_TEST

/* Writes value bytes under key in named database db, with LMDB directly while the store is
 * closed: the only way to reach records the store itself would never write. */
static void raw_put(const char *db, const void *key, size_t klen, const void *val, size_t vlen) {
    store_close(st);
    st = NULL;
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    ck_assert_int_eq(mdb_env_create(&env), 0);
    ck_assert_int_eq(mdb_env_set_maxdbs(env, 64), 0);
    ck_assert_int_eq(mdb_env_set_mapsize(env, 64u << 20), 0);
    ck_assert_int_eq(mdb_env_open(env, dir, 0, 0640), 0);
    ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    ck_assert_int_eq(mdb_dbi_open(txn, db, 0, &dbi), 0);
    MDB_val k = {klen, (void *)key}, v = {vlen, (void *)val};
    ck_assert_int_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
    ck_assert_int_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    open_store();
}

typedef struct changes {
    char ids[200][16];
    int ops[200];
    int n;
} changes;

static int collect_change(void *arg, int op, const char *id, size_t len) {
    changes *c = arg;
    ck_assert_int_lt(c->n, 200);
    ck_assert_uint_lt(len, sizeof c->ids[0]);
    memcpy(c->ids[c->n], id, len);
    c->ids[c->n][len] = '\0';
    c->ops[c->n++] = op;
    return 0;
}

START_TEST(change_log_chains_and_trims) {
    store_txn *t = wtxn();
    const char *a[] = {"d1", "d2"}, *b[] = {"d2"}, *c3[] = {"d3"};
    /* Generations 5 (new), 9 and 12 of "ab"; "abc" in between must not show. */
    ck_assert_int_eq(store_coll_log_add(t, "ab", 5, 0, STORE_COLL_PUT, a, 2), EQ_OK);
    ck_assert_int_eq(store_coll_log_add(t, "abc", 7, 0, STORE_COLL_PUT, c3, 1), EQ_OK);
    ck_assert_int_eq(store_coll_log_add(t, "ab", 9, 5, STORE_COLL_DEL, b, 1), EQ_OK);
    ck_assert_int_eq(store_coll_log_add(t, "ab", 12, 9, STORE_COLL_PUT, c3, 1), EQ_OK);
    changes ch = {0};
    uint64_t last = 0;
    ck_assert_int_eq(store_coll_log_since(t, "ab", 5, collect_change, &ch, &last), EQ_OK);
    ck_assert_uint_eq(last, 12);
    ck_assert_int_eq(ch.n, 2);
    ck_assert_str_eq(ch.ids[0], "d2");
    ck_assert_int_eq(ch.ops[0], STORE_COLL_DEL);
    ck_assert_str_eq(ch.ids[1], "d3");
    ck_assert_int_eq(ch.ops[1], STORE_COLL_PUT);
    /* From the start (0) every entry; from the last, nothing. */
    memset(&ch, 0, sizeof ch);
    ck_assert_int_eq(store_coll_log_since(t, "ab", 0, collect_change, &ch, &last), EQ_OK);
    ck_assert_int_eq(ch.n, 4);
    memset(&ch, 0, sizeof ch);
    ck_assert_int_eq(store_coll_log_since(t, "ab", 12, collect_change, &ch, &last), EQ_OK);
    ck_assert_int_eq(ch.n, 0);
    ck_assert_uint_eq(last, 12);
    /* A generation the chain does not start from (e.g. 7, another collection's): stale. */
    ck_assert_int_eq(store_coll_log_since(t, "ab", 7, collect_change, &ch, &last), EQ_ESTALE);
    /* Only the newest STORE_COLL_LOG_KEEP entries stay: an old reader is told to reload. */
    uint64_t prev = 12;
    for (uint64_t g = 13; g < 13 + STORE_COLL_LOG_KEEP; g++) {
        ck_assert_int_eq(store_coll_log_add(t, "ab", g, prev, STORE_COLL_PUT, b, 1), EQ_OK);
        prev = g;
    }
    ck_assert_int_eq(store_coll_log_since(t, "ab", 5, collect_change, &ch, &last), EQ_ESTALE);
    memset(&ch, 0, sizeof ch);
    ck_assert_int_eq(store_coll_log_since(t, "ab", 12, collect_change, &ch, &last), EQ_OK);
    ck_assert_int_eq(ch.n, STORE_COLL_LOG_KEEP);
    /* Dropped: nothing left for "ab", "abc" untouched. */
    ck_assert_int_eq(store_coll_log_drop(t, "ab"), EQ_OK);
    memset(&ch, 0, sizeof ch);
    ck_assert_int_eq(store_coll_log_since(t, "ab", 0, collect_change, &ch, &last), EQ_OK);
    ck_assert_int_eq(ch.n, 0);
    ck_assert_int_eq(store_coll_log_since(t, "abc", 0, collect_change, &ch, &last), EQ_OK);
    ck_assert_int_eq(ch.n, 1);
    ck_assert_uint_eq(last, 7);
    /* Bad input. */
    ck_assert_int_eq(store_coll_log_add(t, "ab", 99, 0, 7, b, 1), EQ_EINVAL);
    const char *empty[] = {""};
    ck_assert_int_eq(store_coll_log_add(t, "ab", 99, 0, STORE_COLL_PUT, empty, 1), EQ_EINVAL);
    store_txn_abort(t);
}
END_TEST

START_TEST(bad_records_are_estore) {
    store_txn *t = wtxn();
    put_doc(t, "c", "a", 1, "text", NULL, NULL);
    ck_assert_int_eq(store_txn_commit(t), EQ_OK);
    /* A vector longer than the value, then a wrong version byte. */
    const unsigned char short_vec[] = {1, 3, 0, 0, 0, 0, 0, 0x80, 0x3f};
    raw_put("coll_docs", "c\0b", 3, short_vec, sizeof short_vec);
    const unsigned char bad_version[] = {9, 0};
    raw_put("colls", "c", 1, bad_version, sizeof bad_version);

    t = rtxn();
    store_coll_doc d;
    store_coll c;
    ck_assert_int_eq(store_coll_doc_get(t, "c", "a", &d), EQ_OK);
    ck_assert_int_eq(store_coll_doc_get(t, "c", "b", &d), EQ_ESTORE);
    int n = 0;
    ck_assert_int_eq(store_coll_docs_each(t, "c", NULL, count_doc, &n), EQ_ESTORE);
    ck_assert_int_eq(n, 1); /* "a" was handed out before "b" failed */
    ck_assert_int_eq(store_coll_get(t, "c", &c), EQ_ESTORE);
    store_txn_abort(t);
}
END_TEST

int main(void) {
    Suite *s = suite_create("store_coll");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, coll_put_get);
    tcase_add_test(tc, doc_put_get_del);
    tcase_add_test(tc, docs_each_order_and_after);
    tcase_add_test(tc, each_lists_collections_in_order);
    tcase_add_test(tc, drop_in_steps);
    tcase_add_test(tc, limits_refused);
    tcase_add_test(tc, bad_records_are_estore);
    tcase_add_test(tc, change_log_chains_and_trims);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

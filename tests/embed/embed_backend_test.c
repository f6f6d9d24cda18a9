/* Tests workers/embed/embed_backend.c: the built-in embedder, a remote model through
 * tests/fakes/fake_llm.py with batching, and the choice from the environment. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "tests/fakes/fake_llm_spawn.h"
#include "workers/embed/embed_backend.h"
#include "workers/embed/embedder.h"

static fake_llm fake;

static void server_start(void) {
    ck_assert_int_eq(fake_llm_start(&fake, NULL), 0);
}

static void server_stop(void) {
    fake_llm_stop(&fake);
}

START_TEST(test_builtin) {
    embed_backend be;
    embed_backend_builtin(&be);
    ck_assert_str_eq(be.name, EMBED_NAME);
    ck_assert(!be.remote);
    const char *texts[] = {"imports fell", "consumer prices rose"};
    float *v, one[EMBED_DIM];
    uint32_t dim;
    llm_failure f;
    ck_assert_int_eq(embed_backend_run(&be, texts, 2, &v, &dim, &f), EQ_OK);
    ck_assert_uint_eq(dim, EMBED_DIM);
    ck_assert_int_eq(embed_text(texts[1], strlen(texts[1]), one), EQ_OK);
    ck_assert_mem_eq(v + EMBED_DIM, one, sizeof one);
    free(v);
    /* A text with no words fails and says which. */
    const char *bad[] = {"gdp", "  ...  "};
    ck_assert_int_eq(embed_backend_run(&be, bad, 2, &v, &dim, &f), EQ_EINVAL);
    ck_assert_ptr_null(v);
    ck_assert_ptr_nonnull(strstr(f.message, "text 1"));
}
END_TEST

START_TEST(test_remote_batches) {
    ck_assert_int_eq(fake_llm_reset(&fake), 0);
    llm_config cfg = {
        .api = LLM_API_OLLAMA, .base_url = fake.base_url, .model = "nomic-embed-text"};
    embed_backend be;
    ck_assert_int_eq(embed_backend_remote(&be, &cfg), EQ_OK);
    ck_assert_str_eq(be.name, "ollama:nomic-embed-text");
    /* More texts than one request takes: two batches, rows in order. */
    enum { N = LLM_MAX_EMBED_INPUTS + 44 };
    static char storage[N][24];
    const char *texts[N];
    for (int i = 0; i < N; i++) {
        snprintf(storage[i], sizeof storage[i], "note %d", i);
        texts[i] = storage[i];
    }
    float *v, *w;
    uint32_t dim, dim1;
    llm_failure f;
    ck_assert_int_eq(embed_backend_run(&be, texts, N, &v, &dim, &f), EQ_OK);
    ck_assert_uint_eq(dim, 8);
    char *json = fake_llm_requests(&fake);
    cJSON *reqs = cJSON_Parse(json);
    free(json);
    ck_assert_int_eq(cJSON_GetArraySize(reqs), 2);
    const cJSON *b0 = cJSON_GetObjectItem(cJSON_GetArrayItem(reqs, 0), "body");
    const cJSON *b1 = cJSON_GetObjectItem(cJSON_GetArrayItem(reqs, 1), "body");
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(b0, "input")), LLM_MAX_EMBED_INPUTS);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(b1, "input")), 44);
    ck_assert_str_eq(cJSON_GetObjectItem(b0, "model")->valuestring, "nomic-embed-text");
    cJSON_Delete(reqs);
    /* The last row is the last text's vector. */
    ck_assert_int_eq(embed_backend_run(&be, &texts[N - 1], 1, &w, &dim1, &f), EQ_OK);
    ck_assert_mem_eq(v + (size_t)(N - 1) * dim, w, dim * sizeof *w);
    free(w);
    free(v);
    /* A failing server fails the whole run. */
    ck_assert_int_eq(fake_llm_mode(&fake, "500", 0), 0);
    ck_assert_int_eq(embed_backend_run(&be, texts, 3, &v, &dim, &f), EQ_ENET);
    ck_assert_int_eq(f.code, LLM_UNAVAILABLE);
    ck_assert_ptr_null(v);
}
END_TEST

START_TEST(test_from_env) {
    embed_backend be;
    unsetenv("ECONQ_EMBED_MODEL");
    ck_assert_int_eq(embed_backend_from_env(&be), EQ_OK);
    ck_assert_str_eq(be.name, EMBED_NAME);
    setenv("ECONQ_EMBED_MODEL", "bge-m3", 1);
    setenv("ECONQ_LLM_API", "openai", 1);
    setenv("ECONQ_LLM_URL", "http://127.0.0.1:9", 1);
    ck_assert_int_eq(embed_backend_from_env(&be), EQ_OK);
    ck_assert(be.remote);
    ck_assert_str_eq(be.name, "openai:bge-m3");
    ck_assert_str_eq(be.llm.base_url, "http://127.0.0.1:9");
    char longmodel[VRECORD_MAX_NAME + 2];
    memset(longmodel, 'm', sizeof longmodel - 1);
    longmodel[sizeof longmodel - 1] = '\0';
    setenv("ECONQ_EMBED_MODEL", longmodel, 1);
    ck_assert_int_eq(embed_backend_from_env(&be), EQ_EINVAL);
}
END_TEST

int main(void) {
    if (llm_global_init() != EQ_OK) return 1;
    Suite *s = suite_create("embed_backend");
    TCase *pure = tcase_create("pure");
    tcase_add_test(pure, test_builtin);
    tcase_add_test(pure, test_from_env);
    suite_add_tcase(s, pure);
    TCase *tc = tcase_create("fake");
    tcase_set_timeout(tc, 30);
    tcase_add_unchecked_fixture(tc, server_start, server_stop);
    tcase_add_test(tc, test_remote_batches);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    llm_global_cleanup();
    return failed ? 1 : 0;
}

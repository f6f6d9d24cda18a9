/* Tests workers/llm/llm_prompt.c: layout, the size cap and fair truncation. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "tests/llm/llm_fuzz.h"
#include "workers/llm/llm_client.h"
#include "workers/llm/llm_prompt.h"

START_TEST(test_layout) {
    llm_section secs[] = {
        {"Dataset cpi", "columns: date, value; 2015-01..2024-06; last 3.2"},
        {"Search results", "1. [cpi-march] Consumer prices rose (score 0.61)"},
    };
    llm_prompt p;
    ck_assert_int_eq(llm_prompt_build(NULL, secs, 2, "How did prices move?", 0, &p), EQ_OK);
    ck_assert_str_eq(p.system, LLM_PROMPT_DEFAULT_SYSTEM);
    ck_assert_str_eq(p.user,
                     "Context:\n\n"
                     "### Dataset cpi\ncolumns: date, value; 2015-01..2024-06; last 3.2\n\n"
                     "### Search results\n1. [cpi-march] Consumer prices rose (score 0.61)\n\n"
                     "Question: How did prices move?");
    ck_assert(!p.truncated);
    llm_prompt_fini(&p);
    /* No sections: just the question. */
    ck_assert_int_eq(llm_prompt_build("Be brief.", NULL, 0, "Why?", 0, &p), EQ_OK);
    ck_assert_str_eq(p.system, "Be brief.");
    ck_assert_str_eq(p.user, "Question: Why?");
    llm_prompt_fini(&p);
}
END_TEST

START_TEST(test_cap_is_fair_and_respected) {
    /* One short section and two long ones under a tight cap: the short one stays whole, the
     * long ones share the rest, the total stays under the cap. */
    size_t big = 5000;
    char *a = malloc(big + 1), *b = malloc(big + 1);
    memset(a, 'a', big);
    memset(b, 'b', big);
    a[big] = b[big] = '\0';
    llm_section secs[] = {{"A", a}, {"short", "MARK_SHORT stays whole"}, {"B", b}};
    const size_t cap = 2000;
    llm_prompt p;
    ck_assert_int_eq(llm_prompt_build("sys", secs, 3, "q?", cap, &p), EQ_OK);
    ck_assert(p.truncated);
    ck_assert_uint_le(strlen(p.system) + strlen(p.user), cap);
    ck_assert_ptr_nonnull(strstr(p.user, "MARK_SHORT stays whole\n\n"));
    ck_assert_ptr_nonnull(strstr(p.user, "[truncated]"));
    size_t na = 0, nb = 0;
    for (const char *c = p.user; *c; c++)
        na += *c == 'a', nb += *c == 'b';
    ck_assert_uint_gt(na, 700);
    ck_assert_uint_gt(nb, 700);
    ck_assert_int_le(labs((long)na - (long)nb),
                     5); /* equal shares ("stays", "[truncated]" add a few) */
    ck_assert_ptr_nonnull(strstr(p.user, "Question: q?"));
    llm_prompt_fini(&p);
    free(a);
    free(b);
}
END_TEST

START_TEST(test_utf8_cut_and_errors) {
    /* A long run of 3-byte characters is cut on a character boundary. */
    char text[3 * 400 + 1];
    for (int i = 0; i < 400; i++)
        memcpy(text + 3 * i, "\xe2\x82\xac", 3); /* the euro sign */
    text[sizeof text - 1] = '\0';
    llm_section sec = {"euros", text};
    llm_prompt p;
    ck_assert_int_eq(llm_prompt_build("s", &sec, 1, "q", 300, &p), EQ_OK);
    const char *body = strstr(p.user, "### euros\n") + strlen("### euros\n");
    size_t run = strstr(body, "\n[truncated]") - body;
    ck_assert_uint_gt(run, 0);
    ck_assert_uint_eq(run % 3, 0);
    ck_assert_uint_le(strlen(p.system) + strlen(p.user), 300);
    llm_prompt_fini(&p);
    /* A section that cannot fit at all is dropped, the question kept. */
    ck_assert_int_eq(llm_prompt_build("s", &sec, 1, "question", 30, &p), EQ_OK);
    ck_assert_ptr_null(strstr(p.user, "euros"));
    ck_assert(p.truncated);
    llm_prompt_fini(&p);
    /* Errors. */
    ck_assert_int_eq(llm_prompt_build(NULL, NULL, 0, "", 0, &p), EQ_EINVAL);
    ck_assert_int_eq(llm_prompt_build(NULL, NULL, 0, NULL, 0, &p), EQ_EINVAL);
    /* With no room for context, an empty section is left out too (its header costs bytes). */
    llm_section empty[] = {{"an empty section with a long title", ""}, {"another", ""}};
    ck_assert_int_eq(llm_prompt_build("sys", empty, 2, "question?", 20, &p), EQ_OK);
    ck_assert_str_eq(p.user, "Question: question?");
    ck_assert(!p.included[0] && !p.included[1]);
    ck_assert(p.truncated);
    llm_prompt_fini(&p);
    /* With room, it is in. */
    ck_assert_int_eq(llm_prompt_build("sys", empty, 2, "question?", 0, &p), EQ_OK);
    ck_assert(p.included[0] && p.included[1]);
    ck_assert_ptr_nonnull(strstr(p.user, "### another\n\n\n"));
    ck_assert(!p.truncated);
    llm_prompt_fini(&p);
    /* The system prompt and question are kept even past the cap; the context is not. */
    ck_assert_int_eq(llm_prompt_build("a long system prompt", &sec, 1, "q", 10, &p), EQ_OK);
    ck_assert_str_eq(p.system, "a long system prompt");
    ck_assert_str_eq(p.user, "Question: q");
    ck_assert(p.truncated);
    llm_prompt_fini(&p);
    llm_section bad = {"t", NULL};
    ck_assert_int_eq(llm_prompt_build(NULL, &bad, 1, "q", 0, &p), EQ_EINVAL);
    char longq[LLM_PROMPT_MAX_QUESTION_BYTES + 2];
    memset(longq, 'q', sizeof longq - 1);
    longq[sizeof longq - 1] = '\0';
    ck_assert_int_eq(llm_prompt_build(NULL, NULL, 0, longq, 0, &p), EQ_ETOOBIG);
    longq[LLM_PROMPT_MAX_QUESTION_BYTES] = '\0'; /* the longest question is fine */
    ck_assert_int_eq(llm_prompt_build(NULL, &sec, 1, longq, 0, &p), EQ_OK);
    ck_assert_ptr_nonnull(strstr(p.user, longq));
    llm_prompt_fini(&p);
}
END_TEST

/* The fuzz target over seeds of each kind and a few thousand deterministic mutations. */
START_TEST(test_fuzz_target) {
#define SEED(x)                                                                                    \
    { x, sizeof(x) - 1 }
    /* The first byte picks the target (see llm_fuzz.h): Ollama chat, OpenAI chat, Ollama
     * embeddings of 1 input, OpenAI embeddings of 2 inputs, the prompt builder. */
    static const struct {
        const char *s;
        size_t n;
    } seeds[] = {
        SEED("\x00{\"message\":{\"content\":\"hi\"},\"prompt_eval_count\":3,\"eval_count\":1}"),
        SEED("\x05{\"choices\":[{\"message\":{\"content\":\"x\"}}],\"usage\":{\"prompt_tokens\":2}"
             "}"),
        SEED("\x02{\"embeddings\":[[0.5,-1,2e-3]]}"),
        SEED(
            "\x12{\"data\":[{\"index\":1,\"embedding\":[1,2]},{\"index\":0,\"embedding\":[3,4]}]}"),
        SEED("\x04\x03How did imports move?\0Dataset\0MARK imports fell 3%\0Search\0\0Empty\0"),
    };
#undef SEED
    /* The unmutated seeds are valid inputs. */
    llm_reply r;
    ck_assert_int_eq(llm_parse_chat(LLM_API_OLLAMA, seeds[0].s + 1, seeds[0].n - 1, &r), EQ_OK);
    llm_reply_fini(&r);
    ck_assert_int_eq(llm_parse_chat(LLM_API_OPENAI, seeds[1].s + 1, seeds[1].n - 1, &r), EQ_OK);
    llm_reply_fini(&r);
    float *v;
    uint32_t dim;
    ck_assert_int_eq(llm_parse_embed(LLM_API_OPENAI, seeds[3].s + 1, seeds[3].n - 1, 2, &v, &dim),
                     EQ_OK);
    ck_assert(dim == 2 && v[0] == 3 && v[2] == 1);
    free(v);
    unsigned seed = 1618;
    uint8_t buf[600];
    for (int iter = 0; iter < 5000; iter++) {
        int s = iter % 5;
        size_t len = seeds[s].n;
        memcpy(buf, seeds[s].s, len);
        for (int k = rand_r(&seed) % 5; k >= 0 && iter >= 5; k--) {
            int op = rand_r(&seed) % 3;
            if (op == 0 && len > 1)
                buf[1 + rand_r(&seed) % (len - 1)] = "{}[]\",:0-e.\\x\0 a"[rand_r(&seed) % 16];
            else if (op == 1 && len < sizeof buf)
                buf[len++] = (uint8_t)rand_r(&seed);
            else if (len > 1)
                len = 1 + (size_t)rand_r(&seed) % (len - 1);
        }
        ck_assert_msg(llm_fuzz_one(buf, len) == 0, "iteration %d", iter);
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("llm_prompt");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_layout);
    tcase_add_test(tc, test_cap_is_fair_and_respected);
    tcase_add_test(tc, test_utf8_cut_and_errors);
    tcase_add_test(tc, test_fuzz_target);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

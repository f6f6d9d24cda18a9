/* Tests workers/llm/llm_ask.c against tests/fakes/fake_llm.py: a question answered with the
 * dataset summary and search results in the prompt, the shape of the result, and the breaker
 * opening after three failures, failing fast, half-opening and closing on success. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fakes/fake_llm_spawn.h"
#include "workers/llm/llm_ask.h"

static fake_llm fake;
static uint64_t now_ms = 1000;

static uint64_t test_clock(void *ctx) {
    (void)ctx;
    return now_ms;
}

static void server_start(void) {
    ck_assert_int_eq(fake_llm_start(&fake, NULL), 0);
}

static void server_stop(void) {
    fake_llm_stop(&fake);
}

static const llm_section secs[] = {
    {"Dataset imports (monthly, 2019-01..2023-12)",
     "MARK_DATASET columns: date, value (USD bn); last 12 months: 251.2 ... 238.4; change -5.1%"},
    {"Search results (collection notes)",
     "1. [trade-balance] (0.62) MARK_SEARCH The trade deficit narrowed as imports declined."},
};

static llm_config config(void) {
    return (llm_config){.api = LLM_API_OLLAMA,
                        .base_url = fake.base_url,
                        .model = "qwen2.5:14b",
                        .timeout_ms = 10000};
}

static int requests_seen(void) {
    char *json = fake_llm_requests(&fake);
    ck_assert_ptr_nonnull(json);
    cJSON *r = cJSON_Parse(json);
    free(json);
    int n = cJSON_GetArraySize(r);
    cJSON_Delete(r);
    return n;
}

START_TEST(test_answer_with_context) {
    ck_assert_int_eq(fake_llm_reset(&fake), 0);
    llm_config cfg = config();
    llm_prompt p;
    ck_assert_int_eq(llm_prompt_build(NULL, secs, 2, "How did imports move last year?", 0, &p),
                     EQ_OK);
    cJSON *res;
    llm_ask_failure f;
    ck_assert_int_eq(llm_ask(&cfg, NULL, &p, secs, 2, &res, &f), EQ_OK);
    /* The fake echoes the markers it saw: both context sections reached the model. */
    const char *answer = cJSON_GetObjectItem(res, "answer")->valuestring;
    ck_assert_ptr_nonnull(strstr(answer, "How did imports move last year?"));
    ck_assert_ptr_nonnull(strstr(answer, "[context: MARK_DATASET MARK_SEARCH]"));
    ck_assert_str_eq(cJSON_GetObjectItem(res, "model")->valuestring, "qwen2.5:14b");
    ck_assert_int_gt(cJSON_GetObjectItem(res, "prompt_tokens")->valueint, 20);
    ck_assert_int_gt(cJSON_GetObjectItem(res, "completion_tokens")->valueint, 5);
    char hash[33];
    llm_prompt_hash("qwen2.5:14b", &p, hash);
    ck_assert_str_eq(cJSON_GetObjectItem(res, "prompt_hash")->valuestring, hash);
    ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(res, "context_truncated")));
    const cJSON *ctx = cJSON_GetObjectItem(res, "context");
    ck_assert_int_eq(cJSON_GetArraySize(ctx), 2);
    ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(ctx, 1), "text")->valuestring,
                     secs[1].text);
    cJSON_Delete(res);
    /* Another model, another cache key. */
    char other[33];
    llm_prompt_hash("llama3.1:8b", &p, other);
    ck_assert_str_ne(hash, other);
    ck_assert_uint_eq(strlen(other), 32);
    llm_prompt_fini(&p);
}
END_TEST

START_TEST(test_truncated_context_is_reported) {
    ck_assert_int_eq(fake_llm_reset(&fake), 0);
    llm_config cfg = config();
    llm_prompt p;
    /* A cap that fits the first section only in part and drops nothing else. */
    ck_assert_int_eq(llm_prompt_build("Be brief.", secs, 2, "Imports?", 190, &p), EQ_OK);
    ck_assert(p.truncated);
    cJSON *res;
    llm_ask_failure f;
    ck_assert_int_eq(llm_ask(&cfg, NULL, &p, secs, 2, &res, &f), EQ_OK);
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(res, "context_truncated")));
    const cJSON *ctx = cJSON_GetObjectItem(res, "context");
    const cJSON *c;
    int cut = 0;
    ck_assert_int_ge(cJSON_GetArraySize(ctx), 1);
    cJSON_ArrayForEach(c, ctx) {
        const char *text = cJSON_GetObjectItem(c, "text")->valuestring;
        ck_assert_uint_gt(strlen(text), 10);
        ck_assert_ptr_nonnull(strstr(p.user, text)); /* what is reported is what was sent */
        cut += cJSON_IsTrue(cJSON_GetObjectItem(c, "truncated"));
    }
    ck_assert_int_ge(cut, 1);
    cJSON_Delete(res);
    llm_prompt_fini(&p);
}
END_TEST

START_TEST(test_breaker_cycle) {
    ck_assert_int_eq(fake_llm_reset(&fake), 0);
    breaker b;
    breaker_config bc = {.clock = test_clock}; /* defaults: 3 failures, 5 minutes */
    ck_assert_int_eq(breaker_init(&b, &bc), EQ_OK);
    llm_config cfg = config();
    llm_prompt p;
    ck_assert_int_eq(llm_prompt_build(NULL, secs, 2, "Imports?", 0, &p), EQ_OK);
    cJSON *res;
    llm_ask_failure f;
    /* Three failures open it. */
    ck_assert_int_eq(fake_llm_mode(&fake, "500", 0), 0);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(llm_ask(&cfg, &b, &p, secs, 2, &res, &f), EQ_ENET);
        ck_assert_str_eq(llm_code_name(f.f.code), "llm_unavailable");
        ck_assert(f.retryable);
    }
    breaker_status st;
    breaker_get_status(&b, &st);
    ck_assert_str_eq(breaker_state_name(st.state), "open");
    /* While open: fail fast, nothing reaches the server. */
    ck_assert_int_eq(fake_llm_mode(&fake, "ok", 0), 0);
    now_ms += 60 * 1000;
    ck_assert_int_eq(llm_ask(&cfg, &b, &p, secs, 2, &res, &f), EQ_EBUSY);
    ck_assert_int_eq(f.f.code, LLM_UNAVAILABLE);
    ck_assert(f.retryable);
    ck_assert_uint_eq(f.retry_after_ms, 240 * 1000);
    ck_assert_ptr_nonnull(strstr(f.f.message, "circuit open"));
    ck_assert_int_eq(requests_seen(), 3);
    /* After the cool-down one probe goes through; it succeeds and closes the breaker. */
    now_ms += 240 * 1000;
    breaker_get_status(&b, &st);
    ck_assert_str_eq(breaker_state_name(st.state), "half_open");
    ck_assert_int_eq(llm_ask(&cfg, &b, &p, secs, 2, &res, &f), EQ_OK);
    cJSON_Delete(res);
    ck_assert_int_eq(requests_seen(), 4);
    breaker_get_status(&b, &st);
    ck_assert_str_eq(breaker_state_name(st.state), "closed");
    /* A 4xx is the caller's problem: it does not count against the backend. */
    llm_config bad = cfg;
    bad.model = "missing-model";
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(llm_ask(&bad, &b, &p, secs, 2, &res, &f), EQ_EINVAL);
        ck_assert_str_eq(llm_code_name(f.f.code), "llm_error");
        ck_assert(!f.retryable);
    }
    breaker_get_status(&b, &st);
    ck_assert_str_eq(breaker_state_name(st.state), "closed");
    /* A failed probe re-opens it for a new cool-down. */
    ck_assert_int_eq(fake_llm_mode(&fake, "down", 0), 0);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(llm_ask(&cfg, &b, &p, secs, 2, &res, &f), EQ_ENET);
    now_ms += BREAKER_DEFAULT_COOLDOWN_MS;
    ck_assert_int_eq(llm_ask(&cfg, &b, &p, secs, 2, &res, &f), EQ_ENET); /* the probe */
    breaker_get_status(&b, &st);
    ck_assert_str_eq(breaker_state_name(st.state), "open");
    ck_assert_uint_eq(st.retry_after_s, 300);
    /* A probe that fails before anything is sent decides nothing; the next call probes. */
    ck_assert_int_eq(fake_llm_mode(&fake, "ok", 0), 0);
    now_ms += BREAKER_DEFAULT_COOLDOWN_MS;
    llm_config broken = cfg;
    broken.base_url = NULL;
    ck_assert_int_eq(llm_ask(&broken, &b, &p, secs, 2, &res, &f), EQ_EINVAL);
    breaker_get_status(&b, &st);
    ck_assert_str_eq(breaker_state_name(st.state), "half_open");
    ck_assert_int_eq(llm_ask(&cfg, &b, &p, secs, 2, &res, &f), EQ_OK);
    cJSON_Delete(res);
    breaker_get_status(&b, &st);
    ck_assert_str_eq(breaker_state_name(st.state), "closed");
    llm_prompt_fini(&p);
    breaker_fini(&b);
}
END_TEST

int main(void) {
    if (llm_global_init() != EQ_OK) return 1;
    Suite *s = suite_create("llm_ask");
    TCase *tc = tcase_create("fake");
    tcase_set_timeout(tc, 30);
    tcase_add_unchecked_fixture(tc, server_start, server_stop);
    tcase_add_test(tc, test_answer_with_context);
    tcase_add_test(tc, test_truncated_context_is_reported);
    tcase_add_test(tc, test_breaker_cycle);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    llm_global_cleanup();
    return failed ? 1 : 0;
}

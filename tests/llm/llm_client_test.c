/* Tests workers/llm/llm_client.c against tests/fakes/fake_llm.py: both APIs, token counts,
 * the failure classes, embeddings, and the breaker in front of a failing server. */
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "tests/fakes/fake_llm_spawn.h"
#include "workers/llm/breaker.h"
#include "workers/llm/llm_client.h"
#include "workers/llm/llm_prompt.h"

static fake_llm fake;

static void server_start(void) {
    static const char *const args[] = {"--api-key", "sk-test", NULL};
    ck_assert_int_eq(fake_llm_start(&fake, args), 0);
}

static void server_stop(void) {
    fake_llm_stop(&fake);
}

static void reset(void) {
    ck_assert_int_eq(fake_llm_reset(&fake), 0);
}

static llm_config config(llm_api api) {
    return (llm_config){
        .api = api,
        .base_url = fake.base_url,
        .model = "fake-model",
        .api_key = api == LLM_API_OPENAI ? "sk-test" : NULL,
        .connect_timeout_ms = 2000,
        .timeout_ms = 10000,
    };
}

/* The recorded requests, parsed; caller deletes. */
static cJSON *recorded(void) {
    char *json = fake_llm_requests(&fake);
    ck_assert_ptr_nonnull(json);
    cJSON *r = cJSON_Parse(json);
    free(json);
    ck_assert(cJSON_IsArray(r));
    return r;
}

/* Asks a question with a dataset summary and search results as context. */
static eq_err ask(const llm_config *cfg, llm_reply *reply, llm_failure *fail) {
    llm_section secs[] = {
        {"Dataset imports (monthly)", "MARK_DATASET imports fell 3% over 2023"},
        {"Search results", "1. [trade-balance] MARK_SEARCH the deficit narrowed"},
    };
    llm_prompt p;
    ck_assert_int_eq(llm_prompt_build(NULL, secs, 2, "How did imports move last year?", 0, &p),
                     EQ_OK);
    llm_message msgs[] = {{"system", p.system}, {"user", p.user}};
    eq_err err = llm_chat(cfg, msgs, 2, reply, fail);
    llm_prompt_fini(&p);
    return err;
}

static void check_answer(const llm_reply *r) {
    ck_assert_str_eq(r->content, "fake answer from fake-model: How did imports move last year? "
                                 "[context: MARK_DATASET MARK_SEARCH]");
    ck_assert_str_eq(r->model, "fake-model");
    ck_assert_int_gt(r->prompt_tokens, 20);
    /* The fake counts the answer's words as its tokens. */
    long words = 0;
    for (const char *c = r->content; *c; c++)
        words += (c == r->content || c[-1] == ' ') && *c != ' ';
    ck_assert_int_eq(r->completion_tokens, words);
}

START_TEST(test_ollama_chat) {
    reset();
    llm_config cfg = config(LLM_API_OLLAMA);
    cfg.num_ctx = 8192;
    llm_reply r;
    llm_failure f;
    ck_assert_int_eq(ask(&cfg, &r, &f), EQ_OK);
    check_answer(&r);
    llm_reply_fini(&r);
    /* The request had Ollama's shape. */
    cJSON *reqs = recorded();
    ck_assert_int_eq(cJSON_GetArraySize(reqs), 1);
    const cJSON *req = cJSON_GetArrayItem(reqs, 0);
    ck_assert_str_eq(cJSON_GetObjectItem(req, "path")->valuestring, "/api/chat");
    ck_assert(cJSON_IsNull(cJSON_GetObjectItem(req, "auth")));
    const cJSON *body = cJSON_GetObjectItem(req, "body");
    ck_assert_str_eq(cJSON_GetObjectItem(body, "model")->valuestring, "fake-model");
    ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(body, "stream")));
    ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(body, "options"), "num_ctx")->valueint,
                     8192);
    const cJSON *msgs = cJSON_GetObjectItem(body, "messages");
    ck_assert_int_eq(cJSON_GetArraySize(msgs), 2);
    ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(msgs, 0), "role")->valuestring,
                     "system");
    ck_assert_ptr_nonnull(
        strstr(cJSON_GetObjectItem(cJSON_GetArrayItem(msgs, 1), "content")->valuestring,
               "### Dataset imports (monthly)\nMARK_DATASET"));
    cJSON_Delete(reqs);
}
END_TEST

START_TEST(test_openai_chat_and_key) {
    reset();
    llm_config cfg = config(LLM_API_OPENAI);
    cfg.base_url = strcat(strcpy((char[80]){0}, fake.base_url), "/"); /* trailing slash */
    llm_reply r;
    llm_failure f;
    ck_assert_int_eq(ask(&cfg, &r, &f), EQ_OK);
    check_answer(&r);
    llm_reply_fini(&r);
    cJSON *reqs = recorded();
    const cJSON *req = cJSON_GetArrayItem(reqs, 0);
    ck_assert_str_eq(cJSON_GetObjectItem(req, "path")->valuestring, "/v1/chat/completions");
    ck_assert_str_eq(cJSON_GetObjectItem(req, "auth")->valuestring, "Bearer sk-test");
    ck_assert_ptr_null(cJSON_GetObjectItem(cJSON_GetObjectItem(req, "body"), "options"));
    cJSON_Delete(reqs);
    /* A wrong key is the caller's problem: llm_error with the server's message. */
    cfg.api_key = "sk-wrong";
    ck_assert_int_eq(ask(&cfg, &r, &f), EQ_EINVAL);
    ck_assert_int_eq(f.code, LLM_ERROR);
    ck_assert_str_eq(llm_code_name(f.code), "llm_error");
    ck_assert_int_eq(f.http_status, 401);
    ck_assert_ptr_nonnull(strstr(f.message, "Incorrect API key"));
    ck_assert(!llm_code_is_backend_failure(f.code));
}
END_TEST

START_TEST(test_missing_model_is_llm_error) {
    reset();
    llm_config cfg = config(LLM_API_OLLAMA);
    cfg.model = "missing-model";
    llm_reply r;
    llm_failure f;
    ck_assert_int_eq(ask(&cfg, &r, &f), EQ_EINVAL);
    ck_assert_int_eq(f.code, LLM_ERROR);
    ck_assert_int_eq(f.http_status, 404);
    ck_assert_ptr_nonnull(strstr(f.message, "not found"));
}
END_TEST

START_TEST(test_failure_classes) {
    llm_reply r;
    llm_failure f;
    for (int api = 0; api < 2; api++) {
        llm_config cfg = config((llm_api)api);
        reset();
        ck_assert_int_eq(fake_llm_mode(&fake, "500", 0), 0);
        ck_assert_int_eq(ask(&cfg, &r, &f), EQ_ENET);
        ck_assert_int_eq(f.code, LLM_UNAVAILABLE);
        ck_assert_str_eq(llm_code_name(f.code), "llm_unavailable");
        ck_assert_int_eq(f.http_status, 500);
        ck_assert_ptr_nonnull(strstr(f.message, "model runner crashed"));

        ck_assert_int_eq(fake_llm_mode(&fake, "malformed", 0), 0);
        ck_assert_int_eq(ask(&cfg, &r, &f), EQ_EPROTO);
        ck_assert_int_eq(f.code, LLM_BAD_RESPONSE);
        ck_assert_str_eq(llm_code_name(f.code), "llm_bad_response");

        ck_assert_int_eq(fake_llm_mode(&fake, "down", 0), 0);
        ck_assert_int_eq(ask(&cfg, &r, &f), EQ_ENET);
        ck_assert_int_eq(f.code, LLM_UNAVAILABLE);
        ck_assert_int_eq(f.http_status, 0);
    }
}
END_TEST

START_TEST(test_slow_times_out) {
    reset();
    ck_assert_int_eq(fake_llm_mode(&fake, "slow", 2), 0);
    llm_config cfg = config(LLM_API_OLLAMA);
    cfg.timeout_ms = 300;
    llm_reply r;
    llm_failure f;
    ck_assert_int_eq(ask(&cfg, &r, &f), EQ_ETIMEDOUT);
    ck_assert_int_eq(f.code, LLM_UNAVAILABLE);
    ck_assert(llm_code_is_backend_failure(f.code));
}
END_TEST

START_TEST(test_connection_refused_and_size_cap) {
    /* A port nobody listens on: bind one, note it, close it. */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    ck_assert_int_eq(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(getsockname(s, (struct sockaddr *)&a, &alen), 0);
    close(s);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", ntohs(a.sin_port));
    llm_config cfg = config(LLM_API_OLLAMA);
    cfg.base_url = url;
    llm_reply r;
    llm_failure f;
    ck_assert_int_eq(ask(&cfg, &r, &f), EQ_ENET);
    ck_assert_int_eq(f.code, LLM_UNAVAILABLE);
    /* A response above the cap is refused, not buffered. */
    reset();
    cfg = config(LLM_API_OLLAMA);
    cfg.max_response_bytes = 64;
    ck_assert_int_eq(ask(&cfg, &r, &f), EQ_EPROTO);
    ck_assert_int_eq(f.code, LLM_BAD_RESPONSE);
    ck_assert_ptr_nonnull(strstr(f.message, "exceeds 64 bytes"));
}
END_TEST

START_TEST(test_embeddings_both_apis) {
    reset();
    const char *inputs[] = {"inflation rose", "imports fell", "inflation rose"};
    float *ov, *av;
    uint32_t od, ad;
    llm_failure f;
    llm_config cfg = config(LLM_API_OLLAMA);
    ck_assert_int_eq(llm_embed(&cfg, inputs, 3, &ov, &od, &f), EQ_OK);
    cfg = config(LLM_API_OPENAI);
    ck_assert_int_eq(llm_embed(&cfg, inputs, 3, &av, &ad, &f), EQ_OK);
    ck_assert_uint_eq(od, 8);
    ck_assert_uint_eq(ad, 8);
    /* The fake gives each text one vector; OpenAI rows came back reversed with indexes. */
    for (uint32_t i = 0; i < 3 * od; i++)
        ck_assert_float_eq(ov[i], av[i]);
    ck_assert_mem_eq(ov, ov + 2 * od, od * sizeof *ov);
    ck_assert(memcmp(ov, ov + od, od * sizeof *ov) != 0);
    free(ov);
    free(av);
    cJSON *reqs = recorded();
    const cJSON *body = cJSON_GetObjectItem(cJSON_GetArrayItem(reqs, 0), "body");
    ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(reqs, 0), "path")->valuestring,
                     "/api/embed");
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(body, "input")), 3);
    cJSON_Delete(reqs);
    ck_assert_int_eq(fake_llm_mode(&fake, "malformed", 0), 0);
    ck_assert_int_eq(llm_embed(&cfg, inputs, 3, &ov, &od, &f), EQ_EPROTO);
    ck_assert_int_eq(f.code, LLM_BAD_RESPONSE);
    /* A batch above the request cap is refused before sending. */
    size_t big = LLM_MAX_REQUEST_BYTES / 2 + 1;
    char *text = malloc(big + 1);
    ck_assert_ptr_nonnull(text);
    memset(text, 'x', big);
    text[big] = '\0';
    const char *two[] = {text, text};
    ck_assert_int_eq(llm_embed(&cfg, two, 2, &ov, &od, &f), EQ_ETOOBIG);
    ck_assert_int_eq(f.code, LLM_ERROR);
    free(text);
}
END_TEST

START_TEST(test_parsers) {
    llm_reply r;
    const char *ok = "{\"message\":{\"content\":\"hi\"}}";
    ck_assert_int_eq(llm_parse_chat(LLM_API_OLLAMA, ok, strlen(ok), &r), EQ_OK);
    ck_assert_str_eq(r.content, "hi");
    ck_assert_ptr_null(r.model);
    ck_assert_int_eq(r.prompt_tokens, -1); /* not reported */
    ck_assert_int_eq(r.completion_tokens, -1);
    llm_reply_fini(&r);
    static const char *const bad_ollama[] = {
        "", "[]", "{}", "{\"message\":{}}", "{\"message\":{\"content\":7}}", "{\"message\":",
    };
    for (size_t i = 0; i < sizeof bad_ollama / sizeof *bad_ollama; i++)
        ck_assert_int_eq(llm_parse_chat(LLM_API_OLLAMA, bad_ollama[i], strlen(bad_ollama[i]), &r),
                         EQ_EPROTO);
    const char *oa = "{\"choices\":[{\"message\":{\"content\":\"x\"}}],"
                     "\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":-2}}";
    ck_assert_int_eq(llm_parse_chat(LLM_API_OPENAI, oa, strlen(oa), &r), EQ_OK);
    ck_assert_int_eq(r.prompt_tokens, 5);
    ck_assert_int_eq(r.completion_tokens, -1); /* nonsense is dropped */
    llm_reply_fini(&r);
    const char *noch = "{\"choices\":[]}";
    ck_assert_int_eq(llm_parse_chat(LLM_API_OPENAI, noch, strlen(noch), &r), EQ_EPROTO);
    float *v;
    uint32_t d;
    static const char *const bad_embed[] = {
        "{\"embeddings\":[]}",       "{\"embeddings\":[[1,2],[3]]}", "{\"embeddings\":[[1,\"x\"]]}",
        "{\"embeddings\":[[1e39]]}", "{\"embeddings\":[1,2]}",
    };
    for (size_t i = 0; i < sizeof bad_embed / sizeof *bad_embed; i++) {
        size_t n = i == 1 ? 2 : 1;
        ck_assert_int_eq(
            llm_parse_embed(LLM_API_OLLAMA, bad_embed[i], strlen(bad_embed[i]), n, &v, &d),
            EQ_EPROTO);
    }
    const char *oob = "{\"data\":[{\"index\":3,\"embedding\":[1]}]}";
    ck_assert_int_eq(llm_parse_embed(LLM_API_OPENAI, oob, strlen(oob), 1, &v, &d), EQ_EPROTO);
}
END_TEST

/* Random corruption of real response bodies never crashes or leaks the parsers. */
START_TEST(test_parsers_random_corruption) {
    static const char *const bodies[] = {
        "{\"model\":\"m\",\"message\":{\"role\":\"assistant\",\"content\":\"Imports fell.\"},"
        "\"done\":true,\"prompt_eval_count\":31,\"eval_count\":4}",
        "{\"model\":\"m\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
        "\"content\":\"ok\"}}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1}}",
        "{\"model\":\"m\",\"embeddings\":[[0.1,-0.2,0.3],[0.4,0.5,-0.6]]}",
        "{\"data\":[{\"index\":1,\"embedding\":[1,2]},{\"index\":0,\"embedding\":[3,4]}]}",
    };
    unsigned seed = 31337;
    char buf[512];
    for (int iter = 0; iter < 4000; iter++) {
        int which = iter % 4;
        size_t len = strlen(bodies[which]);
        memcpy(buf, bodies[which], len);
        for (int k = rand_r(&seed) % 3; k >= 0; k--)
            buf[rand_r(&seed) % len] = "{}[]\",:0-e\\x"[rand_r(&seed) % 12];
        if (rand_r(&seed) % 3 == 0) len = (size_t)rand_r(&seed) % (len + 1);
        llm_api api = (which == 0 || which == 2) ? LLM_API_OLLAMA : LLM_API_OPENAI;
        if (which < 2) {
            llm_reply r;
            if (llm_parse_chat(api, buf, len, &r) == EQ_OK) {
                ck_assert_ptr_nonnull(r.content);
                llm_reply_fini(&r);
            }
        } else {
            float *v;
            uint32_t d;
            if (llm_parse_embed(api, buf, len, 2, &v, &d) == EQ_OK) {
                ck_assert_uint_gt(d, 0);
                free(v);
            }
        }
    }
}
END_TEST

static uint64_t test_clock_ms;
static uint64_t test_clock(void *ctx) {
    (void)ctx;
    return test_clock_ms;
}

/* The breaker in front of the client: three 500s open it, calls then fail fast without
 * reaching the server, and after the cool-down one probe closes it again. */
START_TEST(test_breaker_guards_client) {
    reset();
    ck_assert_int_eq(fake_llm_mode(&fake, "500", 0), 0);
    breaker b;
    breaker_config bc = {.clock = test_clock};
    ck_assert_int_eq(breaker_init(&b, &bc), EQ_OK);
    llm_config cfg = config(LLM_API_OLLAMA);
    llm_reply r;
    llm_failure f;
    int reached = 0, failed_fast = 0;
    for (int i = 0; i < 6; i++) {
        breaker_ticket t;
        if (breaker_allow(&b, &t, NULL) == EQ_EBUSY) {
            failed_fast++;
            continue;
        }
        reached++;
        ck_assert_int_ne(ask(&cfg, &r, &f), EQ_OK);
        breaker_report(&b, t, !llm_code_is_backend_failure(f.code));
    }
    ck_assert_int_eq(reached, 3);
    ck_assert_int_eq(failed_fast, 3);
    cJSON *reqs = recorded();
    ck_assert_int_eq(cJSON_GetArraySize(reqs), 3);
    cJSON_Delete(reqs);
    /* The server recovers; after the cool-down one probe succeeds and closes it. */
    ck_assert_int_eq(fake_llm_mode(&fake, "ok", 0), 0);
    test_clock_ms += BREAKER_DEFAULT_COOLDOWN_MS;
    breaker_ticket t;
    ck_assert_int_eq(breaker_allow(&b, &t, NULL), EQ_OK);
    ck_assert(t.probe);
    ck_assert_int_eq(ask(&cfg, &r, &f), EQ_OK);
    llm_reply_fini(&r);
    breaker_report(&b, t, true);
    breaker_status st;
    breaker_get_status(&b, &st);
    ck_assert_str_eq(breaker_state_name(st.state), "closed");
    breaker_fini(&b);
}
END_TEST

START_TEST(test_config_from_env) {
    llm_config cfg;
    unsetenv("ECONQ_LLM_URL");
    unsetenv("ECONQ_LLM_API");
    unsetenv("ECONQ_LLM_MODEL");
    unsetenv("ECONQ_LLM_TIMEOUT_MS");
    ck_assert_int_eq(llm_config_from_env(&cfg), EQ_OK);
    ck_assert_str_eq(cfg.base_url, LLM_DEFAULT_URL);
    ck_assert_str_eq(cfg.model, LLM_DEFAULT_MODEL);
    ck_assert_int_eq(cfg.api, LLM_API_OLLAMA);
    setenv("ECONQ_LLM_API", "openai", 1);
    setenv("ECONQ_LLM_TIMEOUT_MS", "2500", 1);
    setenv("ECONQ_LLM_NUM_CTX", "16384", 1);
    ck_assert_int_eq(llm_config_from_env(&cfg), EQ_OK);
    ck_assert_int_eq(cfg.api, LLM_API_OPENAI);
    ck_assert_int_eq(cfg.timeout_ms, 2500);
    ck_assert_int_eq(cfg.num_ctx, 16384);
    setenv("ECONQ_LLM_API", "gemini", 1);
    ck_assert_int_eq(llm_config_from_env(&cfg), EQ_EINVAL);
    setenv("ECONQ_LLM_API", "ollama", 1);
    setenv("ECONQ_LLM_TIMEOUT_MS", "soon", 1);
    ck_assert_int_eq(llm_config_from_env(&cfg), EQ_EINVAL);
}
END_TEST

int main(void) {
    if (llm_global_init() != EQ_OK) return 1;
    Suite *s = suite_create("llm_client");
    TCase *tc = tcase_create("fake");
    tcase_set_timeout(tc, 30);
    tcase_add_unchecked_fixture(tc, server_start, server_stop);
    tcase_add_test(tc, test_ollama_chat);
    tcase_add_test(tc, test_openai_chat_and_key);
    tcase_add_test(tc, test_missing_model_is_llm_error);
    tcase_add_test(tc, test_failure_classes);
    tcase_add_test(tc, test_slow_times_out);
    tcase_add_test(tc, test_connection_refused_and_size_cap);
    tcase_add_test(tc, test_embeddings_both_apis);
    tcase_add_test(tc, test_breaker_guards_client);
    suite_add_tcase(s, tc);
    TCase *pure = tcase_create("pure");
    tcase_add_test(pure, test_parsers);
    tcase_add_test(pure, test_parsers_random_corruption);
    tcase_add_test(pure, test_config_from_env);
    suite_add_tcase(s, pure);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    llm_global_cleanup();
    return failed ? 1 : 0;
}

/* The fuzz target of llm_parse_chat(), llm_parse_embed() and llm_prompt_build(); see
 * llm_fuzz.h. */
#include "tests/llm/llm_fuzz.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "workers/llm/llm_client.h"
#include "workers/llm/llm_prompt.h"

/* Inputs beyond this are cut: response bodies of interest are small. */
#define LLM_FUZZ_MAX_INPUT (256u * 1024u)

static int fuzz_prompt(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    size_t cap = 64 + (size_t)data[0] * 8; /* 64..2104 bytes */
    data++, size--;
    /* NUL-separated strings: question, then title/text pairs. */
    char *copy = malloc(size + 1);
    if (!copy) return 0;
    memcpy(copy, data, size);
    copy[size] = '\0';
    const char *parts[1 + 2 * LLM_PROMPT_MAX_SECTIONS];
    size_t np = 0;
    for (size_t i = 0; i <= size && np < sizeof parts / sizeof parts[0];) {
        parts[np++] = copy + i;
        i += strlen(copy + i) + 1;
    }
    llm_section secs[LLM_PROMPT_MAX_SECTIONS];
    size_t ns = (np - 1) / 2;
    for (size_t s = 0; s < ns; s++)
        secs[s] = (llm_section){.title = parts[1 + 2 * s], .text = parts[2 + 2 * s]};
    llm_prompt p;
    int bad = 0;
    const char *system = "sys";
    eq_err err = llm_prompt_build(system, secs, ns, parts[0], cap, &p);
    if (err == EQ_OK) {
        size_t total = strlen(p.system) + strlen(p.user);
        size_t fixed = strlen(system) + strlen("Question: ") + strlen(parts[0]);
        bad |= total > (cap > fixed ? cap : fixed);
        bad |= strstr(p.user, parts[0]) == NULL;
        char hash[33];
        llm_prompt_hash("m", &p, hash);
        bad |= strlen(hash) != 32;
        llm_prompt_fini(&p);
    } else {
        bad |= err != EQ_EINVAL && err != EQ_ETOOBIG;
    }
    free(copy);
    return bad;
}

int llm_fuzz_one(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    if (size > LLM_FUZZ_MAX_INPUT) size = LLM_FUZZ_MAX_INPUT;
    uint8_t which = data[0] % 5;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    llm_api api = (data[0] / 5) % 2 ? LLM_API_OPENAI : LLM_API_OLLAMA;
    if (which == 0 || which == 1) {
        llm_reply r;
        eq_err err = llm_parse_chat(api, body, len, &r);
        if (err != EQ_OK) return err != EQ_EPROTO && err != EQ_ENOMEM;
        int bad = r.content == NULL || r.prompt_tokens < -1 || r.completion_tokens < -1;
        llm_reply_fini(&r);
        return bad;
    }
    if (which == 2 || which == 3) {
        float *v;
        uint32_t dim;
        size_t n = 1 + (size_t)(data[0] / 10) % 4;
        eq_err err = llm_parse_embed(api, body, len, n, &v, &dim);
        if (err != EQ_OK) return err != EQ_EPROTO && err != EQ_ENOMEM;
        int bad = dim == 0 || dim > LLM_MAX_EMBED_DIM;
        for (size_t i = 0; !bad && i < n * dim; i++)
            bad |= !isfinite(v[i]);
        free(v);
        return bad;
    }
    return fuzz_prompt(data + 1, size - 1);
}

#ifdef ECONQ_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (llm_fuzz_one(data, size)) abort();
    return 0;
}
#endif

/* The llm job's call path; see llm_ask.h. */
#include "workers/llm/llm_ask.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static eq_err shape_result(const llm_config *cfg, const llm_prompt *p, const llm_section *secs,
                           size_t n, const llm_reply *r, cJSON **out) {
    char hash[33];
    llm_prompt_hash(cfg->model, p, hash);
    cJSON *res = cJSON_CreateObject(), *ctx;
    if (!res || !cJSON_AddStringToObject(res, "answer", r->content) ||
        !cJSON_AddStringToObject(res, "model", r->model ? r->model : cfg->model) ||
        (r->prompt_tokens >= 0 &&
         !cJSON_AddNumberToObject(res, "prompt_tokens", (double)r->prompt_tokens)) ||
        (r->completion_tokens >= 0 &&
         !cJSON_AddNumberToObject(res, "completion_tokens", (double)r->completion_tokens)) ||
        !cJSON_AddStringToObject(res, "prompt_hash", hash) ||
        !cJSON_AddBoolToObject(res, "context_truncated", p->truncated) ||
        !(ctx = cJSON_AddArrayToObject(res, "context")))
        goto fail;
    for (size_t i = 0; i < n && i < LLM_PROMPT_MAX_SECTIONS; i++) {
        size_t want = strlen(secs[i].text), kept = p->kept[i];
        if (!p->included[i]) continue;
        cJSON *sec = cJSON_CreateObject();
        if (!sec) goto fail;
        cJSON_AddItemToArray(ctx, sec);
        if (!cJSON_AddStringToObject(sec, "title", secs[i].title)) goto fail;
        /* The part of the text that was sent: a prefix of `kept` bytes. */
        char *part = malloc(kept + 1);
        if (!part) goto fail;
        memcpy(part, secs[i].text, kept);
        part[kept] = '\0';
        cJSON *text = cJSON_AddStringToObject(sec, "text", part);
        free(part);
        if (!text) goto fail;
        if (!cJSON_AddBoolToObject(sec, "truncated", kept < want)) goto fail;
    }
    *out = res;
    return EQ_OK;
fail:
    cJSON_Delete(res);
    return EQ_ENOMEM;
}

eq_err llm_ask(const llm_config *cfg, breaker *b, const llm_prompt *p, const llm_section *secs,
               size_t n, cJSON **result, llm_ask_failure *fail) {
    *fail = (llm_ask_failure){0};
    *result = NULL;
    if (!cfg || !cfg->model || !p || !p->system || !p->user || (n && !secs) ||
        n > LLM_PROMPT_MAX_SECTIONS) {
        fail->f.code = LLM_ERROR;
        snprintf(fail->f.message, sizeof fail->f.message, "bad llm_ask arguments");
        return EQ_EINVAL;
    }
    breaker_ticket ticket = {0};
    if (b && breaker_allow(b, &ticket, &fail->retry_after_ms) != EQ_OK) {
        fail->f.code = LLM_UNAVAILABLE;
        fail->retryable = true;
        snprintf(fail->f.message, sizeof fail->f.message,
                 "the LLM backend is failing; circuit open, next try in %llu s",
                 (unsigned long long)((fail->retry_after_ms + 999) / 1000));
        return EQ_EBUSY;
    }
    llm_message msgs[] = {{"system", p->system}, {"user", p->user}};
    llm_reply reply;
    eq_err err = llm_chat(cfg, msgs, 2, &reply, &fail->f);
    if (b && err != EQ_OK && fail->f.code == LLM_ERROR && fail->f.http_status == 0)
        breaker_cancel(b, ticket); /* failed before the server answered: no verdict */
    else if (b)
        breaker_report(b, ticket, err == EQ_OK || !llm_code_is_backend_failure(fail->f.code));
    if (err != EQ_OK) {
        fail->retryable = llm_code_is_backend_failure(fail->f.code) || err == EQ_ENOMEM;
        return err;
    }
    err = shape_result(cfg, p, secs, n, &reply, result);
    llm_reply_fini(&reply);
    if (err != EQ_OK) {
        fail->f.code = LLM_ERROR;
        fail->retryable = true;
        snprintf(fail->f.message, sizeof fail->f.message, "out of memory");
    }
    return err;
}

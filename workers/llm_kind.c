/* The llm kind: `llm` jobs. A question, with a dataset summary (resolved by the api at submit,
 * in params.dataset_context) and the top documents of a collection (searched here) as
 * context, sent to Ollama or an OpenAI-compatible server through one circuit breaker per
 * process (workers/llm/breaker). While the breaker is open a job is not tried: it goes back to
 * the queue until the cool-down ends, without using up an attempt. */
#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/metrics.h"
#include "workers/backends.h"
#include "workers/collsearch.h"
#include "workers/llm/llm_ask.h"
#include "workers/llm_kind.h"

/* Documents of a collection given to the model as context. */
#define LLM_CONTEXT_DOCS 5
/* Bytes of one document's text quoted in the context (the prompt cap cuts further). */
#define LLM_CONTEXT_DOC_BYTES 2000u

static pthread_once_t once = PTHREAD_ONCE_INIT;
static llm_config cfg;
static breaker *br; /* the server's, shared with remote embeddings to the same server */

static void init(void) {
    llm_config_from_env(&cfg); /* on a bad value cfg holds the defaults; check-config said so */
    br = backend_breaker(cfg.base_url);
    if (br)
        metrics_circuit_state("llm", BREAKER_CLOSED);
}

int worker_llm_status(breaker_status *out, const char **url) {
    pthread_once(&once, init);
    if (!br)
        return -1;
    breaker_get_status(br, out);
    if (url)
        *url = cfg.base_url;
    return 0;
}

uint32_t worker_llm_pause_ms(void) {
    pthread_once(&once, init);
    return br ? backend_pause_ms(cfg.base_url) : 0;
}

void worker_llm_status_text(char *buf, size_t len) {
    breaker_status st;
    if (worker_llm_status(&st, NULL) == 0)
        snprintf(buf, len, "llm_breaker=%s", breaker_state_name(st.state));
    else if (len)
        buf[0] = '\0';
}

static eq_err bad(worker_error *err, const char *code, const char *msg) {
    snprintf(err->code, sizeof err->code, "%s", code);
    snprintf(err->message, sizeof err->message, "%s", msg);
    err->retryable = 0;
    return EQ_EINVAL;
}

/* The collection's best documents for the question, as one context section's text. */
static eq_err search_context(const char *coll, const char *question, eq_buf *text,
                             uint64_t *generation, worker_error *err) {
    cJSON *res;
    eq_err rc = collsearch_query(coll, question, LLM_CONTEXT_DOCS, &res, err);
    if (rc != EQ_OK)
        return rc;
    const cJSON *gen = cJSON_GetObjectItemCaseSensitive(res, "generation");
    *generation = cJSON_IsNumber(gen) ? (uint64_t)gen->valuedouble : 0;
    const cJSON *h;
    cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(res, "hits")) {
        const char *id = cJSON_GetObjectItemCaseSensitive(h, "id")->valuestring;
        const char *t = cJSON_GetObjectItemCaseSensitive(h, "text")->valuestring;
        double score = cJSON_GetObjectItemCaseSensitive(h, "score")->valuedouble;
        size_t len = strlen(t);
        char head[1200];
        snprintf(head, sizeof head, "[%s] (similarity %.2f) ", id, score);
        eq_buf_put(text, head, strlen(head));
        eq_buf_put(text, t, len < LLM_CONTEXT_DOC_BYTES ? len : LLM_CONTEXT_DOC_BYTES);
        eq_buf_put(text, "\n", 1);
    }
    if (!text->len)
        eq_buf_put(text, "(the collection has no documents)\n", 34);
    eq_buf_u8(text, 0);
    cJSON_Delete(res);
    return text->oom ? EQ_ENOMEM : EQ_OK;
}

static eq_err ask(const cJSON *params, char **result, worker_error *err) {
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(params, "question");
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(params, "model");
    const cJSON *coll = cJSON_GetObjectItemCaseSensitive(params, "collection");
    const cJSON *ds = cJSON_GetObjectItemCaseSensitive(params, "dataset");
    const cJSON *dctx = cJSON_GetObjectItemCaseSensitive(params, "dataset_context");
    if (!cJSON_IsString(q))
        return bad(err, "bad_params", "llm needs a question");
    llm_section secs[2];
    size_t n = 0;
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(dctx, "title");
    const cJSON *dx = cJSON_GetObjectItemCaseSensitive(dctx, "text");
    if (cJSON_IsString(dt) && cJSON_IsString(dx))
        secs[n++] = (llm_section){.title = dt->valuestring, .text = dx->valuestring};
    eq_buf ctext;
    eq_buf_init(&ctext);
    char ctitle[160];
    uint64_t generation = 0;
    eq_err rc = EQ_OK;
    if (cJSON_IsString(coll)) {
        if ((rc = search_context(coll->valuestring, q->valuestring, &ctext, &generation, err)))
            goto out;
        snprintf(ctitle, sizeof ctitle, "Documents from collection %s", coll->valuestring);
        secs[n++] = (llm_section){.title = ctitle, .text = (const char *)ctext.data};
    }
    llm_prompt p;
    if ((rc = llm_prompt_build(NULL, secs, n, q->valuestring, 0, &p))) {
        bad(err, "bad_params", rc == EQ_ETOOBIG ? "the question is too long" : "bad question");
        goto out;
    }
    llm_config c = cfg;
    if (cJSON_IsString(model))
        c.model = model->valuestring;
    cJSON *res = NULL;
    llm_ask_failure f;
    memset(&f, 0, sizeof f);
    rc = llm_ask(&c, br, &p, secs, n, &res, &f);
    llm_prompt_fini(&p);
    breaker_status st;
    breaker_get_status(br, &st);
    metrics_circuit_state("llm", (int)st.state);
    if (rc != EQ_OK) {
        snprintf(err->code, sizeof err->code, "%s", llm_code_name(f.f.code ? f.f.code : LLM_ERROR));
        snprintf(err->message, sizeof err->message, "%s", f.f.message[0] ? f.f.message : eq_strerror(rc));
        err->retryable = f.retryable;
        if (rc == EQ_EBUSY) { /* the breaker is open: not tried */
            snprintf(err->code, sizeof err->code, "llm_unavailable");
            err->retryable = 1;
            err->retry_after_ms = (uint32_t)(f.retry_after_ms ? f.retry_after_ms : 1000);
        }
        goto out;
    }
    if (cJSON_IsString(ds))
        cJSON_AddStringToObject(res, "dataset", ds->valuestring);
    if (cJSON_IsString(coll)) {
        cJSON_AddStringToObject(res, "collection", coll->valuestring);
        cJSON_AddNumberToObject(res, "generation", (double)generation);
    }
    *result = cJSON_PrintUnformatted(res);
    cJSON_Delete(res);
    rc = *result ? EQ_OK : EQ_ENOMEM;
out:
    eq_buf_fini(&ctext);
    return rc;
}

eq_err worker_llm_run(const worker_job *job, worker_ctx *ctx, char **result, worker_error *err) {
    pthread_once(&once, init);
    if (!br)
        return bad(err, "internal", "the circuit breaker could not be set up");
    if (worker_ctx_cancelled(ctx))
        return EQ_ECLOSED;
    cJSON *params = cJSON_Parse(job->params);
    if (!params)
        return bad(err, "bad_params", "params are not valid JSON");
    eq_err rc = ask(params, result, err);
    cJSON_Delete(params);
    return rc;
}

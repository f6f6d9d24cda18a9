/* The embedder choice and batch embedding; see embed_backend.h. */
#include "workers/embed/embed_backend.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workers/embed/embedder.h"

static eq_err fail_with(llm_failure *fail, eq_err err, llm_code code, const char *fmt, ...) {
    if (fail) {
        *fail = (llm_failure){.code = code};
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(fail->message, sizeof fail->message, fmt, ap);
        va_end(ap);
    }
    return err;
}

void embed_backend_builtin(embed_backend *be) {
    *be = (embed_backend){.remote = false};
    snprintf(be->name, sizeof be->name, "%s", EMBED_NAME);
}

eq_err embed_backend_remote(embed_backend *be, const llm_config *cfg) {
    if (!cfg || !cfg->model || !*cfg->model || !cfg->base_url) return EQ_EINVAL;
    *be = (embed_backend){.remote = true, .llm = *cfg};
    const char *api = cfg->api == LLM_API_OPENAI ? "openai" : "ollama";
    int n = snprintf(be->name, sizeof be->name, "%s:%s", api, cfg->model);
    return n > 0 && (size_t)n < sizeof be->name ? EQ_OK : EQ_EINVAL;
}

eq_err embed_backend_from_env(embed_backend *be) {
    const char *model = getenv("ECONQ_EMBED_MODEL");
    if (!model || !*model) {
        embed_backend_builtin(be);
        return EQ_OK;
    }
    llm_config cfg;
    eq_err err = llm_config_from_env(&cfg);
    if (err != EQ_OK) return err;
    cfg.model = model;
    return embed_backend_remote(be, &cfg);
}

static eq_err run_builtin(const char *const *texts, size_t n, float *out, llm_failure *fail) {
    for (size_t i = 0; i < n; i++) {
        eq_err err = embed_text(texts[i], strlen(texts[i]), out + i * EMBED_DIM);
        if (err == EQ_EINVAL)
            return fail_with(fail, err, LLM_ERROR, "text %zu has no words to embed", i);
        if (err == EQ_ETOOBIG)
            return fail_with(fail, err, LLM_ERROR, "text %zu exceeds %u bytes", i,
                             EMBED_MAX_TEXT_BYTES);
        if (err != EQ_OK) return fail_with(fail, err, LLM_ERROR, "out of memory");
    }
    return EQ_OK;
}

eq_err embed_backend_run(const embed_backend *be, const char *const *texts, size_t n, float **vecs,
                         uint32_t *dim, llm_failure *fail) {
    if (fail) *fail = (llm_failure){0};
    if (!be || !texts || !vecs || !dim || n == 0)
        return fail_with(fail, EQ_EINVAL, LLM_ERROR, "bad embed arguments");
    *vecs = NULL;
    for (size_t i = 0; i < n; i++)
        if (!texts[i]) return fail_with(fail, EQ_EINVAL, LLM_ERROR, "text %zu is missing", i);
    if (!be->remote) {
        float *out = malloc(n * EMBED_DIM * sizeof *out);
        if (!out) return fail_with(fail, EQ_ENOMEM, LLM_ERROR, "out of memory");
        eq_err err = run_builtin(texts, n, out, fail);
        if (err != EQ_OK) {
            free(out);
            return err;
        }
        *vecs = out, *dim = EMBED_DIM;
        return EQ_OK;
    }
    /* Remote: consecutive batches bounded in count and bytes, rows copied into one array. */
    float *out = NULL;
    uint32_t d = 0;
    eq_err err = EQ_OK;
    for (size_t start = 0; start < n && err == EQ_OK;) {
        size_t end = start, bytes = 0;
        while (end < n && end - start < LLM_MAX_EMBED_INPUTS) {
            size_t len = strlen(texts[end]);
            if (len > EMBED_BACKEND_BATCH_BYTES) {
                err = fail_with(fail, EQ_ETOOBIG, LLM_ERROR, "text %zu exceeds %u bytes", end,
                                EMBED_BACKEND_BATCH_BYTES);
                break;
            }
            if (end > start && bytes + len > EMBED_BACKEND_BATCH_BYTES) break;
            bytes += len, end++;
        }
        if (err != EQ_OK) break;
        float *part;
        uint32_t pd;
        err = llm_embed(&be->llm, texts + start, end - start, &part, &pd, fail);
        if (err != EQ_OK) break;
        if (!out) {
            d = pd;
            if (!(out = malloc(n * (size_t)d * sizeof *out))) {
                free(part);
                err = fail_with(fail, EQ_ENOMEM, LLM_ERROR, "out of memory");
                break;
            }
        } else if (pd != d) {
            free(part);
            err = fail_with(fail, EQ_EPROTO, LLM_BAD_RESPONSE,
                            "the server gave %u dimensions, then %u", d, pd);
            break;
        }
        memcpy(out + start * d, part, (end - start) * (size_t)d * sizeof *out);
        free(part);
        start = end;
    }
    if (err != EQ_OK) {
        free(out);
        return err;
    }
    *vecs = out, *dim = d;
    return EQ_OK;
}

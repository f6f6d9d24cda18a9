/* Breakers per backend; see backends.h. */
#include "workers/backends.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/metrics.h"

typedef struct backend {
    char url[LLM_MAX_URL_BYTES + 1];
    breaker b;
} backend;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static backend *backends[BACKENDS_MAX];

static uint64_t env_u64(const char *name, uint64_t def) {
    const char *v = getenv(name);
    char *end;
    unsigned long long n = v && *v ? strtoull(v, &end, 10) : 0;
    return v && *v && !*end ? (uint64_t)n : def;
}

breaker *backend_breaker(const char *url) {
    if (!url)
        return NULL;
    size_t len = strlen(url);
    while (len && url[len - 1] == '/')
        len--;
    if (len > LLM_MAX_URL_BYTES)
        return NULL;
    pthread_mutex_lock(&mu);
    breaker *out = NULL;
    size_t i = 0;
    for (; i < BACKENDS_MAX && backends[i]; i++) {
        if (strlen(backends[i]->url) == len && strncmp(backends[i]->url, url, len) == 0) {
            out = &backends[i]->b;
            break;
        }
    }
    if (!out && i < BACKENDS_MAX) {
        backend *nb = calloc(1, sizeof *nb);
        breaker_config bc = {
            .threshold = (unsigned)env_u64("ECONQ_LLM_BREAKER_THRESHOLD", BREAKER_DEFAULT_THRESHOLD),
            .cooldown_ms = env_u64("ECONQ_LLM_BREAKER_COOLDOWN_MS", BREAKER_DEFAULT_COOLDOWN_MS),
        };
        if (nb && breaker_init(&nb->b, &bc) == EQ_OK) {
            memcpy(nb->url, url, len);
            backends[i] = nb;
            out = &nb->b;
        } else {
            free(nb);
        }
    }
    pthread_mutex_unlock(&mu);
    return out;
}

uint32_t backend_pause_ms(const char *url) {
    breaker *b = backend_breaker(url);
    if (!b)
        return 0;
    breaker_status st;
    breaker_get_status(b, &st);
    if (st.state == BREAKER_OPEN)
        return st.retry_after_ms ? (uint32_t)(st.retry_after_ms < UINT32_MAX ? st.retry_after_ms
                                                                            : UINT32_MAX)
                                 : 1;
    return st.state == BREAKER_HALF_OPEN && st.probing ? BREAKER_PROBE_RETRY_MS : 0;
}

eq_err backend_embed(const embed_backend *be, const char *const *texts, size_t n, float **vecs,
                     uint32_t *dim, llm_failure *fail, worker_error *err) {
    breaker *b = be->remote ? backend_breaker(be->llm.base_url) : NULL;
    breaker_ticket ticket = {0};
    uint64_t wait_ms = 0;
    if (b && breaker_allow(b, &ticket, &wait_ms) != EQ_OK) {
        snprintf(err->code, sizeof err->code, "llm_unavailable");
        snprintf(err->message, sizeof err->message,
                 "the embedding server is failing; circuit open, next try in %llu s",
                 (unsigned long long)((wait_ms + 999) / 1000));
        err->retryable = 1;
        err->retry_after_ms = (uint32_t)(wait_ms ? wait_ms : BREAKER_PROBE_RETRY_MS);
        return EQ_EBUSY;
    }
    eq_err rc = embed_backend_run(be, texts, n, vecs, dim, fail);
    if (b) {
        if (rc != EQ_OK && fail->code == LLM_ERROR && fail->http_status == 0)
            breaker_cancel(b, ticket); /* refused before anything was sent */
        else
            breaker_report(b, ticket, rc == EQ_OK || !llm_code_is_backend_failure(fail->code));
    }
    return rc;
}

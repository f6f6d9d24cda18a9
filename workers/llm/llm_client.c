/* The blocking LLM client; see llm_client.h. libcurl and cJSON results are translated to
 * eq_err and llm_code here and nowhere else. */
#include "workers/llm/llm_client.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

/* A response body collected up to a cap. */
typedef struct body {
    char *buf;
    size_t len, cap, max;
    bool overflow;
} body;

eq_err llm_global_init(void) {
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? EQ_OK : EQ_EIO;
}

void llm_global_cleanup(void) {
    curl_global_cleanup();
}

const char *llm_code_name(llm_code code) {
    switch (code) {
    case LLM_OK:
        return "ok";
    case LLM_UNAVAILABLE:
        return "llm_unavailable";
    case LLM_BAD_RESPONSE:
        return "llm_bad_response";
    case LLM_ERROR:
        return "llm_error";
    }
    return "llm_error";
}

bool llm_code_is_backend_failure(llm_code code) {
    return code == LLM_UNAVAILABLE || code == LLM_BAD_RESPONSE;
}

/* A positive decimal number up to max from the environment; absent leaves *out alone. */
static bool parse_env_long(const char *s, long max, long *out) {
    if (!s || !*s) return true;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v <= 0 || v > max) return false;
    *out = v;
    return true;
}

eq_err llm_config_from_env(llm_config *cfg) {
    *cfg = (llm_config){
        .api = LLM_API_OLLAMA,
        .base_url = LLM_DEFAULT_URL,
        .model = LLM_DEFAULT_MODEL,
        .connect_timeout_ms = LLM_DEFAULT_CONNECT_TIMEOUT_MS,
        .timeout_ms = LLM_DEFAULT_TIMEOUT_MS,
    };
    const char *v;
    eq_err err = EQ_OK;
    if ((v = getenv("ECONQ_LLM_URL")) && *v) cfg->base_url = v;
    if ((v = getenv("ECONQ_LLM_MODEL")) && *v) cfg->model = v;
    if ((v = getenv("ECONQ_LLM_API_KEY")) && *v) cfg->api_key = v;
    if ((v = getenv("ECONQ_LLM_API")) && *v) {
        if (strcmp(v, "openai") == 0)
            cfg->api = LLM_API_OPENAI;
        else if (strcmp(v, "ollama") != 0)
            err = EQ_EINVAL;
    }
    const long day_ms = 24L * 3600 * 1000, max_ctx = 1L << 20;
    if (!parse_env_long(getenv("ECONQ_LLM_CONNECT_TIMEOUT_MS"), day_ms, &cfg->connect_timeout_ms) ||
        !parse_env_long(getenv("ECONQ_LLM_TIMEOUT_MS"), day_ms, &cfg->timeout_ms) ||
        !parse_env_long(getenv("ECONQ_LLM_NUM_CTX"), max_ctx, &cfg->num_ctx))
        err = EQ_EINVAL;
    return err;
}

static eq_err fail_with(llm_failure *fail, eq_err err, llm_code code, long status, const char *fmt,
                        ...) {
    if (fail) {
        fail->code = code;
        fail->http_status = status;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(fail->message, sizeof fail->message, fmt, ap);
        va_end(ap);
    }
    return err;
}

static size_t body_write_cb(char *data, size_t size, size_t nmemb, void *ctx) {
    body *b = ctx;
    size_t n = size * nmemb;
    if (n > b->max - b->len) {
        b->overflow = true;
        return 0; /* libcurl aborts the transfer with CURLE_WRITE_ERROR */
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->buf, cap);
        if (!p) return 0;
        b->buf = p, b->cap = cap;
    }
    memcpy(b->buf + b->len, data, n);
    b->len += n;
    b->buf[b->len] = '\0';
    return n;
}

/* The server's own words from an error body: Ollama {"error": "..."}, OpenAI
 * {"error": {"message": "..."}}. Empty when there are none. */
static void error_message(const body *b, char *out, size_t cap) {
    out[0] = '\0';
    cJSON *root = b->buf ? cJSON_ParseWithLength(b->buf, b->len) : NULL;
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
    if (cJSON_IsObject(e)) e = cJSON_GetObjectItemCaseSensitive(e, "message");
    if (cJSON_IsString(e)) snprintf(out, cap, "%s", e->valuestring);
    cJSON_Delete(root);
}

/* POSTs a JSON body to base_url + path and collects a 2xx answer into *resp. Messages name
 * the path only: the base URL may carry credentials and is nobody's business in a job error. */
static eq_err http_post(const llm_config *cfg, const char *path, const char *json,
                        size_t default_max, body *resp, llm_failure *fail) {
    *resp = (body){.max = cfg->max_response_bytes ? cfg->max_response_bytes : default_max};
    if (strlen(json) > LLM_MAX_REQUEST_BYTES)
        return fail_with(fail, EQ_ETOOBIG, LLM_ERROR, 0, "request exceeds %u bytes",
                         LLM_MAX_REQUEST_BYTES);
    size_t blen = strnlen(cfg->base_url, LLM_MAX_URL_BYTES + 1);
    if (blen == 0 || blen > LLM_MAX_URL_BYTES)
        return fail_with(fail, EQ_EINVAL, LLM_ERROR, 0, "bad base URL");
    while (blen > 0 && cfg->base_url[blen - 1] == '/')
        blen--;
    char url[LLM_MAX_URL_BYTES + 64];
    snprintf(url, sizeof url, "%.*s%s", (int)blen, cfg->base_url, path);

    eq_err err = EQ_ENOMEM;
    struct curl_slist *headers = NULL, *h;
    char auth[1024];
    CURL *curl = curl_easy_init();
    if (!curl) {
        fail_with(fail, err, LLM_UNAVAILABLE, 0, "curl_easy_init failed");
        goto out;
    }
    if (!(h = curl_slist_append(headers, "Content-Type: application/json"))) goto out;
    headers = h;
    if (!(h = curl_slist_append(headers, "Expect:"))) /* no 100-continue round trip */
        goto out;
    headers = h;
    if (cfg->api_key && *cfg->api_key) {
        if ((size_t)snprintf(auth, sizeof auth, "Authorization: Bearer %s", cfg->api_key) >=
            sizeof auth) {
            err = fail_with(fail, EQ_EINVAL, LLM_ERROR, 0, "API key too long");
            goto out;
        }
        if (!(h = curl_slist_append(headers, auth))) goto out;
        headers = h;
    }
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, json);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                     cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms
                                                 : LLM_DEFAULT_CONNECT_TIMEOUT_MS);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
                     cfg->timeout_ms > 0 ? cfg->timeout_ms : LLM_DEFAULT_TIMEOUT_MS);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, body_write_cb);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "econq-llm/1");

    CURLcode rc = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    if (rc == CURLE_WRITE_ERROR && resp->overflow) {
        err = fail_with(fail, EQ_EPROTO, LLM_BAD_RESPONSE, status, "response exceeds %zu bytes",
                        resp->max);
    } else if (rc == CURLE_OPERATION_TIMEDOUT) {
        err = fail_with(fail, EQ_ETIMEDOUT, LLM_UNAVAILABLE, status, "%s timed out", path);
    } else if (rc != CURLE_OK) {
        err = fail_with(fail, rc == CURLE_OUT_OF_MEMORY ? EQ_ENOMEM : EQ_ENET, LLM_UNAVAILABLE,
                        status, "%s: %s", path, curl_easy_strerror(rc));
    } else if (status >= 500 || status == 429) {
        char msg[160];
        error_message(resp, msg, sizeof msg);
        err = fail_with(fail, EQ_ENET, LLM_UNAVAILABLE, status, "HTTP %ld from %s%s%s", status,
                        path, *msg ? ": " : "", msg);
    } else if (status >= 400) {
        char msg[160];
        error_message(resp, msg, sizeof msg);
        err = fail_with(fail, EQ_EINVAL, LLM_ERROR, status, "HTTP %ld from %s%s%s", status, path,
                        *msg ? ": " : "", msg);
    } else if (status < 200 || status >= 300) {
        err = fail_with(fail, EQ_EPROTO, LLM_BAD_RESPONSE, status, "unexpected HTTP %ld", status);
    } else if (!resp->buf) {
        err = fail_with(fail, EQ_EPROTO, LLM_BAD_RESPONSE, status, "empty response body");
    } else {
        err = EQ_OK;
    }
out:
    if (err == EQ_ENOMEM && fail && fail->code == LLM_OK)
        fail_with(fail, err, LLM_ERROR, 0, "out of memory");
    if (err != EQ_OK) {
        free(resp->buf);
        resp->buf = NULL;
    }
    curl_slist_free_all(headers);
    if (curl) curl_easy_cleanup(curl);
    return err;
}

/* ---- Chat ---- */

static char *chat_request(const llm_config *cfg, const llm_message *msgs, size_t n) {
    cJSON *root = cJSON_CreateObject(), *arr;
    char *out = NULL;
    if (!root || !cJSON_AddStringToObject(root, "model", cfg->model) ||
        !(arr = cJSON_AddArrayToObject(root, "messages")))
        goto out;
    for (size_t i = 0; i < n; i++) {
        cJSON *m = cJSON_CreateObject();
        if (!m) goto out;
        cJSON_AddItemToArray(arr, m);
        if (!cJSON_AddStringToObject(m, "role", msgs[i].role) ||
            !cJSON_AddStringToObject(m, "content", msgs[i].content))
            goto out;
    }
    if (!cJSON_AddFalseToObject(root, "stream")) goto out;
    if (cfg->api == LLM_API_OLLAMA && cfg->num_ctx > 0) {
        cJSON *opts = cJSON_AddObjectToObject(root, "options");
        if (!opts || !cJSON_AddNumberToObject(opts, "num_ctx", (double)cfg->num_ctx)) goto out;
    }
    out = cJSON_PrintUnformatted(root);
out:
    cJSON_Delete(root);
    return out;
}

/* A token count: a non-negative integer, or -1 when absent or odd. */
static long token_count(const cJSON *parent, const char *name) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(parent, name);
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) || v->valuedouble > 1e12 ||
        v->valuedouble != floor(v->valuedouble))
        return -1;
    return (long)v->valuedouble;
}

eq_err llm_parse_chat(llm_api api, const char *buf, size_t len, llm_reply *out) {
    *out = (llm_reply){.prompt_tokens = -1, .completion_tokens = -1};
    cJSON *root = cJSON_ParseWithLength(buf, len);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return EQ_EPROTO;
    }
    const cJSON *msg, *usage = root;
    if (api == LLM_API_OLLAMA) {
        msg = cJSON_GetObjectItemCaseSensitive(root, "message");
        out->prompt_tokens = token_count(root, "prompt_eval_count");
        out->completion_tokens = token_count(root, "eval_count");
    } else {
        const cJSON *choices = cJSON_GetObjectItemCaseSensitive(root, "choices");
        msg = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(choices, 0), "message");
        usage = cJSON_GetObjectItemCaseSensitive(root, "usage");
        out->prompt_tokens = token_count(usage, "prompt_tokens");
        out->completion_tokens = token_count(usage, "completion_tokens");
    }
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(msg, "content");
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    eq_err err = EQ_EPROTO;
    if (!cJSON_IsString(content)) goto out;
    err = EQ_ENOMEM;
    if (!(out->content = strdup(content->valuestring))) goto out;
    if (cJSON_IsString(model) && !(out->model = strdup(model->valuestring))) goto out;
    err = EQ_OK;
out:
    if (err != EQ_OK) llm_reply_fini(out);
    cJSON_Delete(root);
    return err;
}

void llm_reply_fini(llm_reply *r) {
    free(r->content);
    free(r->model);
    r->content = r->model = NULL;
}

eq_err llm_chat(const llm_config *cfg, const llm_message *msgs, size_t n, llm_reply *out,
                llm_failure *fail) {
    if (fail) *fail = (llm_failure){0};
    if (out) *out = (llm_reply){.prompt_tokens = -1, .completion_tokens = -1};
    if (!cfg || !cfg->base_url || !cfg->model || !msgs || !out || n == 0 || n > LLM_MAX_MESSAGES)
        return fail_with(fail, EQ_EINVAL, LLM_ERROR, 0, "bad chat arguments");
    for (size_t i = 0; i < n; i++)
        if (!msgs[i].role || !msgs[i].content)
            return fail_with(fail, EQ_EINVAL, LLM_ERROR, 0, "message %zu is incomplete", i);
    char *json = chat_request(cfg, msgs, n);
    if (!json) return fail_with(fail, EQ_ENOMEM, LLM_ERROR, 0, "out of memory");
    const char *path = cfg->api == LLM_API_OLLAMA ? "/api/chat" : "/v1/chat/completions";
    body resp;
    eq_err err = http_post(cfg, path, json, LLM_DEFAULT_MAX_RESPONSE_BYTES, &resp, fail);
    free(json);
    if (err != EQ_OK) return err;
    err = llm_parse_chat(cfg->api, resp.buf, resp.len, out);
    free(resp.buf);
    if (err == EQ_EPROTO)
        return fail_with(fail, err, LLM_BAD_RESPONSE, 200, "%s answer is not a chat response",
                         cfg->api == LLM_API_OLLAMA ? "Ollama" : "OpenAI-compatible");
    if (err != EQ_OK) return fail_with(fail, err, LLM_ERROR, 200, "out of memory");
    if (!out->model && !(out->model = strdup(cfg->model))) {
        llm_reply_fini(out);
        return fail_with(fail, EQ_ENOMEM, LLM_ERROR, 200, "out of memory");
    }
    return EQ_OK;
}

/* ---- Embeddings ---- */

/* Copies a JSON array of numbers into row (dim floats). */
static bool copy_row(const cJSON *arr, float *row, uint32_t dim) {
    if (!cJSON_IsArray(arr) || (uint32_t)cJSON_GetArraySize(arr) != dim) return false;
    uint32_t i = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, arr) {
        if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble) || fabs(x->valuedouble) > 1e30)
            return false;
        row[i++] = (float)x->valuedouble;
    }
    return true;
}

eq_err llm_parse_embed(llm_api api, const char *buf, size_t len, size_t n, float **vecs,
                       uint32_t *dim) {
    *vecs = NULL;
    cJSON *root = cJSON_ParseWithLength(buf, len);
    const cJSON *rows =
        cJSON_GetObjectItemCaseSensitive(root, api == LLM_API_OLLAMA ? "embeddings" : "data");
    eq_err err = EQ_EPROTO;
    float *out = NULL;
    if (!cJSON_IsArray(rows) || (size_t)cJSON_GetArraySize(rows) != n || n == 0) goto out;
    const cJSON *first = cJSON_GetArrayItem(rows, 0);
    if (api == LLM_API_OPENAI) first = cJSON_GetObjectItemCaseSensitive(first, "embedding");
    int d = cJSON_GetArraySize(first);
    if (!cJSON_IsArray(first) || d <= 0 || (unsigned)d > LLM_MAX_EMBED_DIM) goto out;
    if (!(out = calloc(n * (size_t)d, sizeof *out))) {
        err = EQ_ENOMEM;
        goto out;
    }
    size_t i = 0;
    const cJSON *row;
    cJSON_ArrayForEach(row, rows) {
        size_t at = i++;
        const cJSON *vec = row;
        if (api == LLM_API_OPENAI) {
            /* OpenAI rows carry their input's index; honour it when present. */
            const cJSON *idx = cJSON_GetObjectItemCaseSensitive(row, "index");
            if (cJSON_IsNumber(idx)) {
                if (!(idx->valuedouble >= 0 && idx->valuedouble < (double)n)) goto out;
                at = (size_t)idx->valuedouble;
            }
            vec = cJSON_GetObjectItemCaseSensitive(row, "embedding");
        }
        if (!copy_row(vec, out + at * (size_t)d, (uint32_t)d)) goto out;
    }
    *vecs = out, *dim = (uint32_t)d;
    out = NULL;
    err = EQ_OK;
out:
    free(out);
    cJSON_Delete(root);
    return err;
}

eq_err llm_embed(const llm_config *cfg, const char *const *inputs, size_t n, float **vecs,
                 uint32_t *dim, llm_failure *fail) {
    if (fail) *fail = (llm_failure){0};
    if (!cfg || !cfg->base_url || !cfg->model || !inputs || !vecs || !dim || n == 0 ||
        n > LLM_MAX_EMBED_INPUTS)
        return fail_with(fail, EQ_EINVAL, LLM_ERROR, 0, "bad embed arguments");
    cJSON *root = cJSON_CreateObject(), *arr;
    char *json = NULL;
    if (root && cJSON_AddStringToObject(root, "model", cfg->model) &&
        (arr = cJSON_AddArrayToObject(root, "input"))) {
        size_t i = 0;
        for (; i < n; i++) {
            cJSON *s = inputs[i] ? cJSON_CreateString(inputs[i]) : NULL;
            if (!s) break;
            cJSON_AddItemToArray(arr, s);
        }
        if (i == n) json = cJSON_PrintUnformatted(root);
    }
    cJSON_Delete(root);
    if (!json) return fail_with(fail, EQ_ENOMEM, LLM_ERROR, 0, "cannot build the request");
    body resp;
    const char *path = cfg->api == LLM_API_OLLAMA ? "/api/embed" : "/v1/embeddings";
    eq_err err = http_post(cfg, path, json, LLM_DEFAULT_MAX_EMBED_RESPONSE_BYTES, &resp, fail);
    free(json);
    if (err != EQ_OK) return err;
    err = llm_parse_embed(cfg->api, resp.buf, resp.len, n, vecs, dim);
    free(resp.buf);
    if (err == EQ_EPROTO)
        return fail_with(fail, err, LLM_BAD_RESPONSE, 200, "answer is not %zu embeddings", n);
    if (err != EQ_OK) return fail_with(fail, err, LLM_ERROR, 200, "out of memory");
    return EQ_OK;
}

/* /v1/jobs: submit, read (with long-poll), list, cancel, retry. */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "api/api_internal.h"
#include "common/clock.h"
#include "common/job.h"
#include "common/json_depth.h"
#include "common/log.h"
#include "common/proto.h"
#include "schemas/schemas.h"
#include "broker/webhook/wh_sign.h"
#include "broker/webhook/wh_ssrf.h"

static int is_json_type(const char *ct) {
    if (!ct)
        return 1; /* no declared type: judged by parsing */
    size_t n = strcspn(ct, ";");
    while (n > 0 && isspace((unsigned char)ct[n - 1]))
        n--;
    if (n == 16 && strncasecmp(ct, "application/json", 16) == 0)
        return 1;
    return n > 5 && strncasecmp(ct + n - 5, "+json", 5) == 0 && strncasecmp(ct, "application/", 12) == 0;
}

cJSON *api_parse_json_body(http_request *r) {
    size_t len;
    const char *body = http_request_body(r, &len);
    if (!is_json_type(http_request_header(r, "content-type"))) {
        api_problem(r, 415, "unsupported-media-type", "send the body as application/json");
        return NULL;
    }
    if (len == 0) {
        api_problem(r, 400, "malformed-json", "the request body is empty");
        return NULL;
    }
    if (eq_json_too_deep(body, len, API_MAX_JSON_DEPTH)) {
        char d[96];
        snprintf(d, sizeof d, "the body is nested deeper than %d levels", API_MAX_JSON_DEPTH);
        api_problem(r, 400, "malformed-json", d);
        return NULL;
    }
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(body, len, &end, 0);
    if (!j) {
        char d[128];
        size_t at = end && end >= body ? (size_t)(end - body) : 0;
        snprintf(d, sizeof d, "the body is not valid JSON (near byte %zu)", at);
        api_problem(r, 400, "malformed-json", d);
        return NULL;
    }
    /* Only white space may follow the value. */
    for (const char *p = end; p && p < body + len; p++) {
        if (!isspace((unsigned char)*p)) {
            cJSON_Delete(j);
            api_problem(r, 400, "malformed-json", "unexpected data after the JSON value");
            return NULL;
        }
    }
    return j;
}

static int cmp_keys(const void *a, const void *b) {
    const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
    return strcmp(x->string, y->string);
}

/* Sorts object members by name, recursively, so that equal params print equal (cache keys). */
static void params_canonicalize(cJSON *v) {
    if (!cJSON_IsObject(v) && !cJSON_IsArray(v))
        return;
    size_t n = 0;
    for (cJSON *c = v->child; c; c = c->next) {
        params_canonicalize(c);
        n++;
    }
    if (!cJSON_IsObject(v) || n < 2)
        return;
    cJSON **items = malloc(n * sizeof *items);
    if (!items)
        return; /* unsorted params only cost a cache miss */
    size_t i = 0;
    for (cJSON *c = v->child; c; c = c->next)
        items[i++] = c;
    qsort(items, n, sizeof *items, cmp_keys);
    for (i = 0; i < n; i++) {
        items[i]->prev = i ? items[i - 1] : items[n - 1]; /* cJSON: child->prev is the last */
        items[i]->next = i + 1 < n ? items[i + 1] : NULL;
    }
    v->child = items[0];
    free(items);
}

static void invalid(http_request *r, const char *slug, const char *field, const char *detail) {
    cJSON *extra = cJSON_CreateObject();
    if (extra && field) {
        cJSON *errs = cJSON_AddArrayToObject(extra, "errors");
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "field", field);
        cJSON_AddStringToObject(e, "detail", detail);
        cJSON_AddItemToArray(errs, e);
        cJSON_AddStringToObject(extra, "field", field);
    }
    http_respond_problem(r, 422, slug, "Unprocessable Content", detail, extra);
}

static int type_known(api *a, const char *type) {
    for (size_t i = 0; a->cfg.job_types && a->cfg.job_types[i]; i++)
        if (strcmp(a->cfg.job_types[i], type) == 0)
            return 1;
    return 0;
}

static char *dup_item_string(const cJSON *o, const char *name) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void submit_batch_free(submit_batch *sb) {
    eq_buf_fini(&sb->jobs);
    free(sb->reqs);
    free(sb);
}

/* The broker's answer to a batch: one status, message and job JSON per request, in order. */
static void submit_done(api *a, http_request *unused, eq_err status, const char *msg,
                        eq_rd *body, void *arg) {
    submit_batch *sb = arg;
    uint32_t n = status == EQ_OK ? eq_rd_u32(body) : 0;
    if (status == EQ_OK && (body->bad || n != sb->n))
        status = EQ_EPROTO;
    for (uint32_t i = 0; i < sb->n; i++) {
        http_request *r = sb->reqs[i];
        if (status != EQ_OK) {
            api_problem_from_err(r, status, msg);
            continue;
        }
        eq_err st = (eq_err)eq_rd_u32(body);
        char *why = eq_rd_str(body, 4096);
        size_t jl;
        const char *json = eq_rd_bytes(body, &jl, PROTO_MAX_STR);
        if (body->bad) {
            api_problem(r, 500, "internal-error", "malformed broker reply");
        } else if (st == EQ_ECONFLICT) {
            http_respond_problem(r, 422, "idempotency-key-reused", "Unprocessable Content", why,
                                 NULL);
        } else if ((st == EQ_OK || st == EQ_EEXIST) && json && jl > 7 + EQ_ID_LEN) {
            /* The Location comes from the id at the start of the job JSON: {"id":"<26>" */
            char hdr[160];
            snprintf(hdr, sizeof hdr, "Location: /v1/jobs/%.*s\r\n%s", EQ_ID_LEN, json + 7,
                     st == EQ_EEXIST ? "Idempotent-Replayed: true\r\n" : "");
            /* A cache hit is finished already: 200 with the result, not 202. */
            int done = memmem(json, jl, "\"cached\":true", 13) != NULL;
            api_json(r, done ? 200 : 202, hdr, json, jl);
        } else {
            api_problem_from_err(r, st, why);
        }
        free(why);
    }
    submit_batch_free(sb);
}

void api_submit_flush_cb(uv_check_t *h) {
    api *a = h->data;
    submit_batch *sb = a->batch;
    if (!sb)
        return;
    a->batch = NULL;
    eq_buf msg;
    eq_buf_init(&msg);
    proto_enc_submit_head(&msg, sb->n);
    eq_buf_put(&msg, sb->jobs.data, sb->jobs.len);
    api_call_broker(a, NULL, &msg, submit_done, sb);
    eq_buf_fini(&msg);
}

/* Adds one submit to the current batch; the batch goes out after this loop iteration, or now
 * when it is full. */
static void submit_enqueue(api *a, http_request *r, const proto_submit_job *job) {
    submit_batch *sb = a->batch;
    if (!sb) {
        sb = calloc(1, sizeof *sb);
        if (!sb) {
            api_problem(r, 503, "overloaded", "out of memory; retry");
            return;
        }
        eq_buf_init(&sb->jobs);
        a->batch = sb;
    }
    if (sb->n == sb->cap) {
        uint32_t cap = sb->cap ? sb->cap * 2 : 16;
        void *p = realloc(sb->reqs, cap * sizeof *sb->reqs);
        if (!p) {
            api_problem(r, 503, "overloaded", "out of memory; retry");
            return;
        }
        sb->reqs = p;
        sb->cap = cap;
    }
    proto_enc_submit_job(&sb->jobs, job);
    sb->reqs[sb->n++] = r;
    if (sb->n >= API_SUBMIT_BATCH_MAX || sb->jobs.len >= API_SUBMIT_BATCH_BYTES)
        api_submit_flush_cb(&a->flush_check);
}

void api_problem_send(http_request *r, const api_problem_t *p) {
    if (p->status == 422 && p->field[0]) {
        invalid(r, p->slug, p->field, p->detail);
        return;
    }
    api_problem(r, p->status, p->slug, p->detail);
}

int api_problem_field(api_problem_t *p, int status, const char *slug, const char *prefix,
                      const char *field, const char *detail) {
    p->status = status;
    snprintf(p->slug, sizeof p->slug, "%s", slug);
    snprintf(p->field, sizeof p->field, "%s%s", prefix, field);
    if (*prefix || *field)
        snprintf(p->detail, sizeof p->detail, "%s%s: %s", prefix, field, detail);
    else
        snprintf(p->detail, sizeof p->detail, "%s", detail);
    return -1;
}

static int fail(api_problem_t *p, int status, const char *slug, const char *prefix,
                const char *field, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static int fail(api_problem_t *p, int status, const char *slug, const char *prefix,
                const char *field, const char *fmt, ...) {
    va_list ap;
    p->status = status;
    snprintf(p->slug, sizeof p->slug, "%s", slug);
    snprintf(p->field, sizeof p->field, "%s%s", prefix, field ? field : "");
    va_start(ap, fmt);
    vsnprintf(p->detail, sizeof p->detail, fmt, ap);
    va_end(ap);
    return -1;
}

/* A forecast's {dataset, column} series becomes the inline series of that column, and the
 * reference moves to params.source. */
static int resolve_dataset_series(api *a, cJSON *params, const char *prefix, api_problem_t *p) {
    cJSON *series = cJSON_GetObjectItemCaseSensitive(params, "series");
    const cJSON *ds = cJSON_GetObjectItemCaseSensitive(series, "dataset");
    const cJSON *col = cJSON_GetObjectItemCaseSensitive(series, "column");
    if (!cJSON_IsString(ds) || !cJSON_IsString(col))
        return 0;
    cJSON *inline_series = NULL;
    int rc = api_dataset_series(a, ds->valuestring, col->valuestring, &inline_series, prefix, p);
    if (rc)
        return rc;
    cJSON *source = cJSON_CreateObject();
    cJSON_AddStringToObject(source, "dataset", ds->valuestring);
    cJSON_AddStringToObject(source, "column", col->valuestring);
    /* The series' own label first, then the column. */
    const cJSON *label = cJSON_GetObjectItemCaseSensitive(series, "name");
    if (!cJSON_GetObjectItemCaseSensitive(params, "name"))
        cJSON_AddStringToObject(params, "name",
                                cJSON_IsString(label) ? label->valuestring : col->valuestring);
    cJSON_ReplaceItemInObjectCaseSensitive(params, "series", inline_series);
    cJSON_DeleteItemFromObjectCaseSensitive(params, "source");
    cJSON_AddItemToObject(params, "source", source);
    return 0;
}

int api_webhook_check(api *a, const char *url, const char *secret, const char *prefix,
                      api_problem_t *p) {
    wh_url u;
    wh_key k;
    if (wh_url_parse(url, &u) != EQ_OK)
        return fail(p, 422, "invalid-webhook-url", prefix, "/webhook/url",
                    "%s/webhook/url: not an http or https URL", prefix);
    if (secret && wh_key_parse(secret, &k) != EQ_OK)
        return fail(p, 422, "invalid-webhook-secret", prefix, "/webhook/secret",
                    "%s/webhook/secret: not a whsec_ secret", prefix);
    if (!secret && !a->cfg.webhook_secret_set)
        return fail(p, 422, "webhook-secret-required", prefix, "/webhook/secret",
                    "%s/webhook: give a secret; this server has no default webhook secret", prefix);
    return 0;
}

int api_job_build(api *a, cJSON *env, const char *prefix, proto_submit_job *job, char **params_out,
                  api_problem_t *p) {
    js_error je;
    *params_out = NULL;
    memset(job, 0, sizeof *job);
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(env, "type");
    if (cJSON_IsString(type) && !type_known(a, type->valuestring))
        return fail(p, 422, "unknown-job-type", prefix, "/type", "unknown job type \"%.64s\"",
                    type->valuestring);
    if (!schemas_validate_job(env, &je))
        return fail(p, 422, "invalid-job", prefix, je.path[0] ? je.path : "/", "%s%s: %s", prefix,
                    je.path[0] ? je.path : "/", je.message);
    job->type = type->valuestring;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(env, "priority");
    job->priority = cJSON_IsNumber(v) ? (uint8_t)v->valueint : JOB_PRIORITY_DEFAULT;
    v = cJSON_GetObjectItemCaseSensitive(env, "max_attempts");
    job->max_attempts = cJSON_IsNumber(v) ? (uint16_t)v->valueint
                                          : (uint16_t)a->cfg.max_attempts_default;
    const char *run_at = dup_item_string(env, "run_at");
    if (run_at && eq_time_parse(run_at, &job->run_at_ms) != EQ_OK)
        return fail(p, 422, "invalid-job", prefix, "/run_at", "%s/run_at: not an RFC 3339 date-time",
                    prefix);
    v = cJSON_GetObjectItemCaseSensitive(env, "delay_ms");
    if (cJSON_IsNumber(v))
        job->run_at_ms = eq_now_ms() + (int64_t)v->valuedouble;
    const cJSON *wh = cJSON_GetObjectItemCaseSensitive(env, "webhook");
    job->webhook_url = dup_item_string(wh, "url");
    job->webhook_secret = dup_item_string(wh, "secret");
    if (job->webhook_url && api_webhook_check(a, job->webhook_url, job->webhook_secret, prefix, p))
        return -1;
    cJSON *pobj = cJSON_GetObjectItemCaseSensitive(env, "params");
    if (strcmp(job->type, "forecast") == 0) {
        char pp[96];
        snprintf(pp, sizeof pp, "%s/params", prefix);
        if (resolve_dataset_series(a, pobj, pp, p))
            return -1;
    } else if (strcmp(job->type, "chart") == 0 || strcmp(job->type, "report") == 0) {
        char pp[96];
        snprintf(pp, sizeof pp, "%s/params", prefix);
        if (api_chart_resolve(a, job->type, pobj, pp, p))
            return -1;
    } else if (strcmp(job->type, "embed") == 0 || strcmp(job->type, "search") == 0 ||
               strcmp(job->type, "llm") == 0) {
        char pp[96];
        snprintf(pp, sizeof pp, "%s/params", prefix);
        if (api_coll_job_resolve(a, job->type, pobj, pp, p))
            return -1;
    }
    params_canonicalize(pobj);
    *params_out = cJSON_PrintUnformatted(pobj);
    if (!*params_out)
        return fail(p, 500, "internal-error", "", NULL, "out of memory");
    job->params = *params_out;
    return 0;
}

void api_jobs_submit(api *a, http_request *r) {
    cJSON *body = api_parse_json_body(r);
    proto_submit_job job;
    api_problem_t p;
    char *params = NULL;
    if (!body)
        return;
    if (api_job_build(a, body, "", &job, &params, &p)) {
        api_problem_send(r, &p);
        goto done;
    }
    const char *key = http_request_header(r, "idempotency-key");
    if (key) {
        size_t kl = strlen(key);
        int ok = kl > 0 && kl <= API_MAX_IDEM_KEY;
        for (size_t i = 0; ok && i < kl; i++)
            ok = key[i] > 0x20 && key[i] < 0x7f;
        if (!ok) {
            api_problem(r, 400, "invalid-idempotency-key",
                        "Idempotency-Key must be 1-255 visible ASCII characters");
            goto done;
        }
        size_t blen;
        const char *raw = http_request_body(r, &blen);
        job.idem_key = (char *)key;
        job.idem_hash = XXH3_64bits(raw, blen);
    }
    submit_enqueue(a, r, &job);
done:
    free(params);
    cJSON_Delete(body);
}

void api_jobs_respond(api *a, http_request *r, const char *id) {
    store_txn *t;
    eq_job j;
    char *result = NULL;
    eq_err err = store_txn_begin(a->cfg.st, 0, &t);
    if (err) {
        api_problem(r, 503, "store-unavailable", "the store cannot be read");
        return;
    }
    err = store_job_get(t, id, &j);
    int have_job = err == EQ_OK;
    if (have_job && j.state == JOB_SUCCEEDED) {
        eq_err rerr = store_result_get(t, id, &result);
        if (rerr && rerr != EQ_ENOTFOUND)
            err = rerr;
    }
    store_txn_abort(t);
    if (err) {
        if (have_job)
            eq_job_fini(&j);
        free(result);
        if (err == EQ_ENOTFOUND)
            api_problem(r, 404, "job-not-found", "no job has this id");
        else
            api_problem(r, 500, "internal-error", "the job record cannot be read");
        return;
    }
    eq_buf b;
    eq_buf_init(&b);
    eq_job_to_json(&j, result, &b);
    eq_job_fini(&j);
    free(result);
    api_json(r, 200, NULL, (const char *)b.data, b.len);
    eq_buf_fini(&b);
}

void api_jobs_get(api *a, http_request *r, const char *id) {
    char w[16];
    int has = http_request_query_param(r, "wait", w, sizeof w);
    if (has == 0 || a->stopping) {
        api_jobs_respond(a, r, id);
        return;
    }
    char *end;
    double secs = has > 0 ? strtod(w, &end) : -1;
    if (has < 0 || end == w || *end || !(secs >= 0) || secs > API_MAX_WAIT_S) {
        char d[96];
        snprintf(d, sizeof d, "wait must be a number of seconds from 0 to %d", API_MAX_WAIT_S);
        api_problem(r, 400, "invalid-query", d);
        return;
    }
    /* Answer at once when the job is missing or already finished. */
    store_txn *t;
    eq_job j;
    if (store_txn_begin(a->cfg.st, 0, &t) != EQ_OK) {
        api_problem(r, 503, "store-unavailable", "the store cannot be read");
        return;
    }
    eq_err err = store_job_get(t, id, &j);
    store_txn_abort(t);
    int pending = err == EQ_OK && !job_state_terminal(j.state);
    if (err == EQ_OK)
        eq_job_fini(&j);
    if (!pending || secs < 0.001) {
        api_jobs_respond(a, r, id);
        return;
    }
    api_wait_add(a, r, id, (unsigned)ceil(secs));
}

static void change_done(api *a, http_request *r, eq_err status, const char *msg, eq_rd *body,
                        void *arg) {
    const char *what = arg;
    if (status == EQ_ENOTFOUND) {
        api_problem(r, 404, "job-not-found", "no job has this id");
        return;
    }
    if (status == EQ_ECONFLICT) {
        api_problem(r, 409, strcmp(what, "retry") == 0 ? "job-not-retryable" : "job-finished", msg);
        return;
    }
    if (status != EQ_OK) {
        api_problem_from_err(r, status, msg);
        return;
    }
    size_t jl;
    const char *json = eq_rd_bytes(body, &jl, PROTO_MAX_STR);
    if (!json) {
        api_problem(r, 500, "internal-error", "malformed broker reply");
        return;
    }
    /* A running job being cancelled answers 202: it stops at its next heartbeat. */
    int accepted = strcmp(what, "retry") == 0 || memmem(json, jl, "\"cancel_requested\":true", 23);
    api_json(r, accepted ? 202 : 200, NULL, json, jl);
}

void api_jobs_cancel(api *a, http_request *r, const char *id) {
    eq_buf msg;
    eq_buf_init(&msg);
    proto_enc_id(&msg, PROTO_CANCEL, id);
    api_call_broker(a, r, &msg, change_done, "cancel");
    eq_buf_fini(&msg);
}

void api_jobs_retry(api *a, http_request *r, const char *id) {
    eq_buf msg;
    eq_buf_init(&msg);
    proto_enc_id(&msg, PROTO_RETRY, id);
    api_call_broker(a, r, &msg, change_done, "retry");
    eq_buf_fini(&msg);
}

typedef struct list_ctx {
    eq_buf *b;
    size_t n;
} list_ctx;

static int list_one(void *arg, const eq_job *j) {
    list_ctx *c = arg;
    if (c->n++)
        eq_buf_u8(c->b, ',');
    eq_job_to_json(j, NULL, c->b);
    return 0;
}

void api_jobs_list(api *a, http_request *r) {
    char state[32] = "", type[JOB_TYPE_MAX] = "", cursor[64] = "", lim[16] = "";
    int st = 0;
    long limit = 100;
    if (http_request_query_param(r, "state", state, sizeof state) < 0 ||
        http_request_query_param(r, "type", type, sizeof type) < 0 ||
        http_request_query_param(r, "cursor", cursor, sizeof cursor) < 0 ||
        http_request_query_param(r, "limit", lim, sizeof lim) < 0) {
        api_problem(r, 400, "invalid-query", "a query parameter is malformed or too long");
        return;
    }
    if (state[0] && !(st = job_state_parse(state))) {
        api_problem(r, 400, "invalid-query",
                    "state must be queued, running, succeeded, failed or cancelled");
        return;
    }
    if (lim[0]) {
        char *end;
        limit = strtol(lim, &end, 10);
        if (*end || limit < 1 || limit > API_MAX_LIST_LIMIT) {
            api_problem(r, 400, "invalid-query", "limit must be from 1 to 1000");
            return;
        }
    }
    if (cursor[0] && !eq_id_valid(cursor)) {
        api_problem(r, 400, "invalid-query", "cursor is not one this server gave");
        return;
    }
    store_txn *t;
    if (store_txn_begin(a->cfg.st, 0, &t) != EQ_OK) {
        api_problem(r, 503, "store-unavailable", "the store cannot be read");
        return;
    }
    eq_buf b;
    eq_buf_init(&b);
    eq_buf_puts(&b, "{\"jobs\":[");
    list_ctx lc = {.b = &b};
    char next[EQ_ID_LEN + 1];
    /* Bounded work per page: a filter that matches rarely returns a short page and a cursor. */
    eq_err err = store_jobs_list(t, st, type[0] ? type : NULL, cursor[0] ? cursor : NULL,
                                 (size_t)limit, (size_t)limit * 20 + 1000, list_one, &lc, next);
    store_txn_abort(t);
    if (err) {
        eq_buf_fini(&b);
        api_problem(r, 500, "internal-error", "the job list cannot be read");
        return;
    }
    eq_buf_puts(&b, "],\"next_cursor\":");
    eq_buf_json_str(&b, next[0] ? next : NULL);
    eq_buf_puts(&b, "}");
    api_json(r, 200, NULL, (const char *)b.data, b.len);
    eq_buf_fini(&b);
}

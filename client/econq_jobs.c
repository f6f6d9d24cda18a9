/* libeconq: jobs (submit, get, wait, cancel, retry, list) and the job types the client submits
 * by name (forecast of a dataset column, embed, search, ask). */
#include "client/econq_internal.h"

#include <stdlib.h>
#include <string.h>

/* Backoff of econq_wait() between failed polls. */
#define ECONQ__BACKOFF_FIRST_MS 100
#define ECONQ__BACKOFF_MAX_MS 5000

static const char *const econq_state_names[] = {
    [EQ_JOB_UNKNOWN] = "unknown",     [EQ_JOB_QUEUED] = "queued", [EQ_JOB_RUNNING] = "running",
    [EQ_JOB_SUCCEEDED] = "succeeded", [EQ_JOB_FAILED] = "failed", [EQ_JOB_CANCELLED] = "cancelled",
};

const char *econq_job_state_name(eq_job_state s) {
    if ((unsigned)s > EQ_JOB_CANCELLED) return "unknown";
    return econq_state_names[s];
}

int econq_job_state_terminal(eq_job_state s) {
    return s == EQ_JOB_SUCCEEDED || s == EQ_JOB_FAILED || s == EQ_JOB_CANCELLED;
}

static eq_job_state econq_state_parse(const char *s) {
    for (int i = EQ_JOB_QUEUED; i <= EQ_JOB_CANCELLED; i++)
        if (strcmp(s, econq_state_names[i]) == 0) return (eq_job_state)i;
    return EQ_JOB_UNKNOWN;
}

void econq_job_fini(eq_job *j) {
    if (!j) return;
    free(j->json);
    memset(j, 0, sizeof *j);
}

void econq_job_list_fini(eq_job_list *l) {
    if (!l) return;
    for (size_t i = 0; i < l->n; i++)
        econq_job_fini(&l->jobs[i]);
    free(l->jobs);
    free(l->json);
    memset(l, 0, sizeof *l);
}

static void econq_str_field(char *dst, size_t size, const cJSON *o, const char *name) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (cJSON_IsString(v)) snprintf(dst, size, "%s", v->valuestring);
}

static int econq_int_field(const cJSON *o, const char *name) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(v) ? v->valueint : 0;
}

eq_err econq__job_from_json(eq_client *c, const cJSON *o, eq_job *out) {
    memset(out, 0, sizeof *out);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "state");
    if (!cJSON_IsObject(o) || !cJSON_IsString(id) || !cJSON_IsString(st))
        return econq__fail(c, EQ_EPROTO, "bad-answer", "the answer is not a job");
    snprintf(out->id, sizeof out->id, "%s", id->valuestring);
    econq_str_field(out->type, sizeof out->type, o, "type");
    econq_str_field(out->batch, sizeof out->batch, o, "batch");
    out->state = econq_state_parse(st->valuestring);
    out->priority = econq_int_field(o, "priority");
    out->attempt = econq_int_field(o, "attempt");
    out->max_attempts = econq_int_field(o, "max_attempts");
    out->cached = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "cached"));
    out->cancel_requested = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "cancel_requested"));
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, "error");
    if (cJSON_IsObject(e)) {
        econq_str_field(out->error_code, sizeof out->error_code, e, "code");
        econq_str_field(out->error_message, sizeof out->error_message, e, "message");
    }
    out->json = cJSON_PrintUnformatted(o);
    if (!out->json) return econq__fail(c, EQ_ENOMEM, "no-memory", "out of memory");
    return EQ_OK;
}

eq_err econq__job_parse(eq_client *c, const char *body, eq_job *out) {
    memset(out, 0, sizeof *out);
    cJSON *o = body ? cJSON_Parse(body) : NULL;
    eq_err err = econq__job_from_json(c, o, out);
    cJSON_Delete(o);
    return err;
}

int econq__id_of(const char *json, char *id_out) {
    cJSON *o = json ? cJSON_Parse(json) : NULL;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
    int rc = -1;
    if (cJSON_IsString(id)) {
        snprintf(id_out, ECONQ_ID_SIZE, "%s", id->valuestring);
        rc = 0;
    }
    cJSON_Delete(o);
    return rc;
}

static eq_err econq_add_json(eq_client *c, cJSON *into, const char *name, const char *json) {
    cJSON *v = cJSON_Parse(json);
    if (!cJSON_IsObject(v)) {
        cJSON_Delete(v);
        return econq__fail(c, EQ_EINVAL, "invalid-json", "%s is not a JSON object", name);
    }
    cJSON_AddItemToObject(into, name, v);
    return EQ_OK;
}

char *econq__envelope(eq_client *c, const char *type, cJSON *params, const eq_submit_opts *o) {
    cJSON *env = cJSON_CreateObject();
    char *s = NULL;
    if (!env || !cJSON_AddStringToObject(env, "type", type)) goto nomem;
    cJSON_AddItemToObject(env, "params", params);
    params = NULL;
    if (o) {
        if (o->priority >= 0) cJSON_AddNumberToObject(env, "priority", o->priority);
        if (o->max_attempts > 0) cJSON_AddNumberToObject(env, "max_attempts", o->max_attempts);
        if (o->delay_ms > 0) cJSON_AddNumberToObject(env, "delay_ms", (double)o->delay_ms);
        if (o->run_at) cJSON_AddStringToObject(env, "run_at", o->run_at);
        if (o->webhook_url) {
            cJSON *w = cJSON_AddObjectToObject(env, "webhook");
            if (!w) goto nomem;
            cJSON_AddStringToObject(w, "url", o->webhook_url);
            if (o->webhook_secret) cJSON_AddStringToObject(w, "secret", o->webhook_secret);
        }
        if (o->metadata_json && econq_add_json(c, env, "metadata", o->metadata_json) != EQ_OK) {
            cJSON_Delete(env);
            return NULL;
        }
    }
    s = cJSON_PrintUnformatted(env);
    cJSON_Delete(env);
    if (!s) econq__fail(c, EQ_ENOMEM, "no-memory", "out of memory");
    return s;
nomem:
    cJSON_Delete(params);
    cJSON_Delete(env);
    econq__fail(c, EQ_ENOMEM, "no-memory", "out of memory");
    return NULL;
}

/* Submits an envelope built from `params` (taken over, also on failure). */
static eq_err econq_submit_obj(eq_client *c, const char *type, cJSON *params,
                               const eq_submit_opts *opts, eq_job *out) {
    memset(out, 0, sizeof *out);
    if (!type || !*type) {
        cJSON_Delete(params);
        return econq__fail(c, EQ_EINVAL, "bad-argument", "a job needs a type");
    }
    char *body = econq__envelope(c, type, params, opts);
    if (!body) return strstr(c->problem.type, "invalid-json") ? EQ_EINVAL : EQ_ENOMEM;
    econq__req rq = {.method = "POST",
                     .path = "/v1/jobs",
                     .body = body,
                     .len = strlen(body),
                     .idempotency_key = opts ? opts->idempotency_key : NULL};
    econq__resp rs;
    eq_err err = econq__do(c, &rq, &rs);
    free(body);
    if (err == EQ_OK) {
        err = econq__job_parse(c, rs.body, out);
        out->replayed = rs.replayed;
    }
    econq__resp_fini(&rs);
    return err;
}

eq_err econq_submit(eq_client *c, const char *type, const char *params_json,
                    const eq_submit_opts *opts, eq_job *out) {
    cJSON *params = cJSON_Parse(params_json ? params_json : "{}");
    if (!cJSON_IsObject(params)) {
        memset(out, 0, sizeof *out);
        cJSON_Delete(params);
        return econq__fail(c, EQ_EINVAL, "invalid-json", "params are not a JSON object");
    }
    return econq_submit_obj(c, type, params, opts, out);
}

static eq_err econq_job_call(eq_client *c, const char *method, const char *fmt, const char *id,
                             long extra_ms, eq_job *out) {
    char path[ECONQ__MAX_PATH];
    if (out) memset(out, 0, sizeof *out);
    if (!id || !*id) return econq__fail(c, EQ_EINVAL, "bad-argument", "a job id is required");
    if (econq__path(path, sizeof path, fmt, id) != 0)
        return econq__fail(c, EQ_ETOOBIG, "bad-argument", "the job id is too long");
    econq__req rq = {.method = method, .path = path, .extra_ms = extra_ms};
    econq__resp rs;
    eq_err err = econq__do(c, &rq, &rs);
    if (err == EQ_OK && out) err = econq__job_parse(c, rs.body, out);
    econq__resp_fini(&rs);
    return err;
}

eq_err econq_get(eq_client *c, const char *id, eq_job *out) {
    return econq_job_call(c, "GET", "/v1/jobs/%e", id, 0, out);
}

eq_err econq_cancel(eq_client *c, const char *id, eq_job *out) {
    return econq_job_call(c, "DELETE", "/v1/jobs/%e", id, 0, out);
}

eq_err econq_retry(eq_client *c, const char *id, eq_job *out) {
    return econq_job_call(c, "POST", "/v1/jobs/%e/retry", id, 0, out);
}

/* A failure worth retrying inside a wait: the server was unreachable, timed out or busy. */
static int econq_transient(eq_client *c, eq_err err) {
    return err == EQ_ENET || err == EQ_ETIMEDOUT || c->problem.status == 503 ||
           c->problem.status == 502 || c->problem.status == 504;
}

eq_err econq_wait(eq_client *c, const char *id, long timeout_ms, econq_wait_cb cb, void *ctx,
                  eq_job *out) {
    memset(out, 0, sizeof *out);
    if (!id || !*id) return econq__fail(c, EQ_EINVAL, "bad-argument", "a job id is required");
    char fmt[64];
    long long deadline = timeout_ms < 0 ? -1 : econq__now_ms() + timeout_ms;
    long backoff = ECONQ__BACKOFF_FIRST_MS;
    int failures = 0;
    eq_err last = EQ_OK;
    for (;;) {
        long long left =
            deadline < 0 ? (long long)c->long_poll_s * 1000 : deadline - econq__now_ms();
        if (left <= 0) break;
        long wait_s = (long)(left / 1000);
        if (wait_s > c->long_poll_s) wait_s = c->long_poll_s;
        snprintf(fmt, sizeof fmt, "/v1/jobs/%%e?wait=%ld", wait_s);
        eq_job j;
        eq_err err = econq_job_call(c, "GET", fmt, id, wait_s * 1000, &j);
        if (err == EQ_OK) {
            failures = 0;
            backoff = ECONQ__BACKOFF_FIRST_MS;
            econq_job_fini(out);
            *out = j;
            if (cb) cb(out, ctx);
            if (econq_job_state_terminal(out->state)) return EQ_OK;
            if (wait_s == 0) /* under a second left: poll again shortly rather than spin */
                econq__sleep_ms(left < 100 ? (long)left : 100);
            continue;
        }
        if (!econq_transient(c, err) || ++failures >= ECONQ_WAIT_MAX_FAILURES) return err;
        last = err;
        long long now = econq__now_ms();
        long nap = backoff;
        if (deadline >= 0 && now + nap > deadline) nap = (long)(deadline - now);
        econq__sleep_ms(nap);
        backoff = backoff * 2 > ECONQ__BACKOFF_MAX_MS ? ECONQ__BACKOFF_MAX_MS : backoff * 2;
    }
    if (failures > 0) /* the deadline passed while the server could not answer: say why */
        return last;
    return econq__fail(c, EQ_ETIMEDOUT, "timeout", "job %s did not finish within %ld ms", id,
                       timeout_ms);
}

eq_err econq_list(eq_client *c, const eq_list_opts *opts, eq_job_list *out) {
    memset(out, 0, sizeof *out);
    char path[ECONQ__MAX_PATH] = "/v1/jobs";
    const char *sep = "?";
    struct {
        const char *name, *value;
    } q[] = {{"state", opts ? opts->state : NULL},
             {"type", opts ? opts->type : NULL},
             {"batch", opts ? opts->batch : NULL},
             {"cursor", opts ? opts->cursor : NULL}};
    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
        if (!q[i].value || !*q[i].value) continue;
        char part[ECONQ__MAX_PATH];
        if (econq__path(part, sizeof part, "%s%s=%e", sep, q[i].name, q[i].value) != 0 ||
            strlen(path) + strlen(part) >= sizeof path)
            return econq__fail(c, EQ_ETOOBIG, "bad-argument", "a list filter is too long");
        strcat(path, part);
        sep = "&";
    }
    if (opts && opts->limit > 0) {
        char part[32];
        snprintf(part, sizeof part, "%slimit=%d", sep, opts->limit);
        strcat(path, part);
    }
    char *body = NULL;
    eq_err err = econq__json(c, "GET", path, NULL, NULL, &body);
    if (err) return err;
    cJSON *o = cJSON_Parse(body);
    const cJSON *jobs = cJSON_GetObjectItemCaseSensitive(o, "jobs");
    if (!cJSON_IsArray(jobs)) {
        err = econq__fail(c, EQ_EPROTO, "bad-answer", "the answer has no job list");
        goto out;
    }
    size_t n = (size_t)cJSON_GetArraySize(jobs);
    out->jobs = calloc(n ? n : 1, sizeof *out->jobs);
    if (!out->jobs) {
        err = econq__fail(c, EQ_ENOMEM, "no-memory", "out of memory");
        goto out;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, jobs) {
        if ((err = econq__job_from_json(c, it, &out->jobs[out->n])) != EQ_OK) goto out;
        out->n++;
    }
    econq_str_field(out->next_cursor, sizeof out->next_cursor, o, "next_cursor");
    out->json = body;
    body = NULL;
out:
    cJSON_Delete(o);
    free(body);
    if (err) econq_job_list_fini(out);
    return err;
}

eq_err econq_forecast(eq_client *c, const char *dataset, const char *column, int horizon,
                      const char *method, const eq_submit_opts *opts, eq_job *out) {
    memset(out, 0, sizeof *out);
    if (!dataset || !column || horizon < 1)
        return econq__fail(c, EQ_EINVAL, "bad-argument",
                           "a forecast needs a dataset, a column and a horizon of at least 1");
    cJSON *p = cJSON_CreateObject();
    cJSON *s = p ? cJSON_AddObjectToObject(p, "series") : NULL;
    if (!s || !cJSON_AddStringToObject(s, "dataset", dataset) ||
        !cJSON_AddStringToObject(s, "column", column) ||
        !cJSON_AddNumberToObject(p, "horizon", horizon) ||
        (method && !cJSON_AddStringToObject(p, "method", method))) {
        cJSON_Delete(p);
        return econq__fail(c, EQ_ENOMEM, "no-memory", "out of memory");
    }
    return econq_submit_obj(c, "forecast", p, opts, out);
}

eq_err econq_embed(eq_client *c, const char *collection, const char *documents_json,
                   const eq_submit_opts *opts, eq_job *out) {
    memset(out, 0, sizeof *out);
    cJSON *docs = documents_json ? cJSON_Parse(documents_json) : NULL;
    if (!collection || !cJSON_IsArray(docs)) {
        cJSON_Delete(docs);
        return econq__fail(c, EQ_EINVAL, "invalid-json",
                           "embed needs a collection and a JSON array of documents");
    }
    cJSON *p = cJSON_CreateObject();
    if (!p || !cJSON_AddStringToObject(p, "collection", collection)) {
        cJSON_Delete(docs);
        cJSON_Delete(p);
        return econq__fail(c, EQ_ENOMEM, "no-memory", "out of memory");
    }
    cJSON_AddItemToObject(p, "documents", docs);
    return econq_submit_obj(c, "embed", p, opts, out);
}

eq_err econq_search(eq_client *c, const char *collection, const char *query, int k, long timeout_ms,
                    eq_job *out) {
    memset(out, 0, sizeof *out);
    if (!collection || !query)
        return econq__fail(c, EQ_EINVAL, "bad-argument", "search needs a collection and a query");
    cJSON *p = cJSON_CreateObject();
    if (!p || !cJSON_AddStringToObject(p, "collection", collection) ||
        !cJSON_AddStringToObject(p, "query", query) ||
        (k > 0 && !cJSON_AddNumberToObject(p, "k", k))) {
        cJSON_Delete(p);
        return econq__fail(c, EQ_ENOMEM, "no-memory", "out of memory");
    }
    eq_job sub;
    eq_err err = econq_submit_obj(c, "search", p, NULL, &sub);
    if (err) return err;
    err = econq_wait(c, sub.id, timeout_ms, NULL, NULL, out);
    econq_job_fini(&sub);
    return err;
}

eq_err econq_ask(eq_client *c, const char *question, const char *dataset, const char *collection,
                 const eq_submit_opts *opts, eq_job *out) {
    memset(out, 0, sizeof *out);
    if (!question || !*question)
        return econq__fail(c, EQ_EINVAL, "bad-argument", "a question is required");
    cJSON *p = cJSON_CreateObject();
    if (!p || !cJSON_AddStringToObject(p, "question", question) ||
        (dataset && !cJSON_AddStringToObject(p, "dataset", dataset)) ||
        (collection && !cJSON_AddStringToObject(p, "collection", collection))) {
        cJSON_Delete(p);
        return econq__fail(c, EQ_ENOMEM, "no-memory", "out of memory");
    }
    return econq_submit_obj(c, "llm", p, opts, out);
}

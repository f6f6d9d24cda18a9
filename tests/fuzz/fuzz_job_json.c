/* Fuzz target: the JSON handling of the job submit path (POST /v1/jobs in api/jobs.c), without
 * the HTTP server: the depth check, cJSON parsing with only white space after the value, the
 * schema validation (schemas_validate_job), the api's webhook checks (wh_url_parse,
 * wh_key_parse, as api_webhook_check does), then the conversion of a valid body to the broker's
 * submit message, as api_job_build does it (without the dataset lookup of forecast params and
 * the canonical ordering of params, which need a running api).
 *
 * Properties checked:
 *  - a refused body comes with a well-formed error (a path that is empty or starts with '/',
 *    NUL-terminated path and message);
 *  - a valid body has the fields the api then reads without further checks: a string type,
 *    an integral priority 0..9 and max_attempts 1..100 (the api casts them to uint8_t and
 *    uint16_t), a delay_ms within a year (cast to int64_t), string webhook fields;
 *  - the submit message the api builds from an accepted body decodes in the broker
 *    (proto_decode_req) to the same job: a body the api accepts must never make the broker
 *    refuse the batch it travels in. The schema counts a URL's length in characters and the
 *    broker in bytes (4096); the byte limit of wh_url_parse (WH_URL_MAX_CHARS) is what keeps
 *    a 2048-character URL of multi-byte characters out (corpus/job_json/webhook_url_4500_bytes
 *    is that case). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "common/clock.h"
#include "broker/webhook/wh_sign.h"
#include "broker/webhook/wh_ssrf.h"
#include "common/proto.h"
#include "common/json_depth.h"
#include "schemas/schemas.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The api's cap on the nesting of a request body (API_MAX_JSON_DEPTH in api/api.h). */
#define FUZZ_JOB_MAX_DEPTH 32
/* Bodies larger than this are skipped: the schema's limits are far below it and bigger inputs
 * only slow the fuzzer down. */
#define FUZZ_JOB_MAX_BODY (256u << 10)
/* The largest delay_ms the schema allows: a year. */
#define FUZZ_JOB_MAX_DELAY_MS 31536000000.0
/* An Idempotency-Key header as the api passes it (the api checks it is 1-255 visible ASCII). */
#define FUZZ_JOB_IDEM_KEY "fuzz-key-0123456789"

static int fuzz_job_is_int_in(const cJSON *v, double lo, double hi) {
    return cJSON_IsNumber(v) && v->valuedouble >= lo && v->valuedouble <= hi &&
           v->valuedouble == (double)(int64_t)v->valuedouble;
}

static const char *fuzz_job_str(const cJSON *o, const char *name) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int fuzz_job_streq(const char *a, const char *b) {
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Builds the submit message from a valid body like api_jobs_submit, and decodes it. */
static void fuzz_job_submit(const cJSON *body) {
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(body, "type");
    const cJSON *prio = cJSON_GetObjectItemCaseSensitive(body, "priority");
    const cJSON *att = cJSON_GetObjectItemCaseSensitive(body, "max_attempts");
    const cJSON *delay = cJSON_GetObjectItemCaseSensitive(body, "delay_ms");
    const cJSON *wh = cJSON_GetObjectItemCaseSensitive(body, "webhook");
    if (!cJSON_IsString(type) || !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(body, "params")))
        abort();
    if ((prio && !fuzz_job_is_int_in(prio, 0, 9)) || (att && !fuzz_job_is_int_in(att, 1, 100)) ||
        (delay && !fuzz_job_is_int_in(delay, 0, FUZZ_JOB_MAX_DELAY_MS)))
        abort();
    if (wh && (!cJSON_IsObject(wh) || !fuzz_job_str(wh, "url")))
        abort();
    proto_submit_job job;
    memset(&job, 0, sizeof job);
    job.type = type->valuestring;
    job.priority = prio ? (uint8_t)prio->valueint : 5;
    job.max_attempts = att ? (uint16_t)att->valueint : 5;
    const char *run_at = fuzz_job_str(body, "run_at");
    /* The api answers 400 when the pattern lets through a date that does not exist. */
    if (run_at && eq_time_parse(run_at, &job.run_at_ms) != EQ_OK)
        return;
    if (delay)
        job.run_at_ms = 1700000000000 + (int64_t)delay->valuedouble;
    job.webhook_url = (char *)fuzz_job_str(wh, "url");
    job.webhook_secret = (char *)fuzz_job_str(wh, "secret");
    /* api_webhook_check: the api answers 422 for a URL or secret these refuse. */
    wh_url u;
    wh_key k;
    if (job.webhook_url && wh_url_parse(job.webhook_url, &u) != EQ_OK)
        return;
    if (job.webhook_secret && wh_key_parse(job.webhook_secret, &k) != EQ_OK)
        return;
    job.idem_key = FUZZ_JOB_IDEM_KEY;
    job.idem_hash = 42;
    job.params = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(body, "params"));
    if (!job.params)
        abort();
    eq_buf msg;
    eq_buf_init(&msg);
    proto_enc_submit(&msg, &job, 1);
    proto_req r;
    if (msg.oom || proto_decode_req(msg.data, msg.len, &r) != EQ_OK)
        abort(); /* the broker would refuse the whole batch this job is in */
    const proto_submit_job *d = &r.jobs[0];
    if (r.op != PROTO_SUBMIT || r.njobs != 1 || strcmp(d->type, job.type) != 0 ||
        strcmp(d->params, job.params) != 0 || d->priority != job.priority ||
        d->max_attempts != job.max_attempts || d->run_at_ms != job.run_at_ms ||
        !fuzz_job_streq(d->webhook_url, job.webhook_url) ||
        !fuzz_job_streq(d->webhook_secret, job.webhook_secret))
        abort();
    proto_req_fini(&r);
    eq_buf_fini(&msg);
    free(job.params);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int ready;
    if (!ready) {
        if (schemas_init() != EQ_OK)
            abort();
        ready = 1;
    }
    const char *text = (const char *)data;
    if (size == 0 || size > FUZZ_JOB_MAX_BODY || eq_json_too_deep(text, size, FUZZ_JOB_MAX_DEPTH))
        return 0;
    const char *end = NULL;
    cJSON *body = cJSON_ParseWithLengthOpts(text, size, &end, 0);
    if (!body)
        return 0;
    for (const char *p = end; p < text + size; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            cJSON_Delete(body);
            return 0;
        }
    }
    js_error je;
    memset(&je, 0x55, sizeof je);
    if (schemas_validate_job(body, &je)) {
        fuzz_job_submit(body);
    } else if (!memchr(je.path, '\0', sizeof je.path) ||
               !memchr(je.message, '\0', sizeof je.message) ||
               (je.path[0] != '\0' && je.path[0] != '/') || je.message[0] == '\0') {
        abort();
    }
    cJSON_Delete(body);
    return 0;
}

/* libeconq: datasets, batches, schedules, collections and webhook verification. Routes that
 * the server does not serve yet answer 404 problems, which come back as EQ_ENOTFOUND. */
#include "client/econq_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "broker/webhook/wh_sign.h"

#define ECONQ__XLSX_TYPE "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#define ECONQ__XLS_TYPE "application/vnd.ms-excel"
/* Backoff of econq_batch_wait() after a failed poll. */
#define ECONQ__BATCH_BACKOFF_MAX_MS 5000
/* Most secrets econq_webhook_verify() takes (old and new while rotating, and a few more). */
#define ECONQ__MAX_SECRETS 16

static eq_err econq_with_id(eq_client *c, const char *what, const char *id) {
    if (!id || !*id) return econq__fail(c, EQ_EINVAL, "bad-argument", "%s is required", what);
    if (strlen(id) > 256) return econq__fail(c, EQ_ETOOBIG, "bad-argument", "%s is too long", what);
    return EQ_OK;
}

static eq_err econq_get_json(eq_client *c, const char *fmt, const char *what, const char *id,
                             char **json_out) {
    char path[ECONQ__MAX_PATH];
    eq_err err = econq_with_id(c, what, id);
    if (err) return err;
    econq__path(path, sizeof path, fmt, id);
    return econq__json(c, "GET", path, NULL, NULL, json_out);
}

static eq_err econq_delete(eq_client *c, const char *fmt, const char *what, const char *id) {
    char path[ECONQ__MAX_PATH];
    eq_err err = econq_with_id(c, what, id);
    if (err) return err;
    econq__path(path, sizeof path, fmt, id);
    return econq__json(c, "DELETE", path, NULL, NULL, NULL);
}

/* ---- Datasets ---- */

static const char *econq_sniff(const unsigned char *d, size_t len) {
    if (len >= 4 && memcmp(d, "PK\x03\x04", 4) == 0) return ECONQ__XLSX_TYPE;
    if (len >= 4 && memcmp(d, "\xD0\xCF\x11\xE0", 4) == 0) return ECONQ__XLS_TYPE;
    return "text/csv";
}

eq_err econq_dataset_upload(eq_client *c, const void *data, size_t len, const char *name,
                            const char *content_type, char **json_out, char *id_out) {
    char path[ECONQ__MAX_PATH] = "/v1/datasets";
    if (!data && len) return econq__fail(c, EQ_EINVAL, "bad-argument", "no data to upload");
    if (len > ECONQ_MAX_UPLOAD_BYTES)
        return econq__fail(c, EQ_ETOOBIG, "too-big", "the upload is over %u bytes",
                           ECONQ_MAX_UPLOAD_BYTES);
    if (name && *name && econq__path(path, sizeof path, "/v1/datasets?name=%e", name) != 0)
        return econq__fail(c, EQ_ETOOBIG, "bad-argument", "the dataset name is too long");
    econq__req rq = {.method = "POST",
                     .path = path,
                     .body = data ? data : "",
                     .len = len,
                     .content_type = content_type ? content_type : econq_sniff(data, len)};
    /* Uploads of large files take longer than an ordinary request. */
    rq.extra_ms = (long)(len / 1024);
    econq__resp rs;
    eq_err err = econq__do(c, &rq, &rs);
    if (err == EQ_OK) {
        if (id_out && econq__id_of(rs.body, id_out) != 0)
            err = econq__fail(c, EQ_EPROTO, "bad-answer", "the answer names no dataset id");
        if (err == EQ_OK && json_out) {
            *json_out = rs.body;
            rs.body = NULL;
        }
    }
    econq__resp_fini(&rs);
    return err;
}

eq_err econq_dataset_upload_file(eq_client *c, const char *path, const char *name,
                                 const char *content_type, char **json_out, char *id_out) {
    FILE *f = path ? fopen(path, "rb") : NULL;
    if (!f)
        return econq__fail(c, EQ_EIO, "read-failed", "cannot open %s: %s", path ? path : "(null)",
                           strerror(errno));
    struct stat sb;
    char *buf = NULL;
    eq_err err = EQ_OK;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        err = econq__fail(c, EQ_EIO, "read-failed", "%s is not a regular file", path);
        goto out;
    }
    if ((unsigned long long)sb.st_size > ECONQ_MAX_UPLOAD_BYTES) {
        err = econq__fail(c, EQ_ETOOBIG, "too-big", "%s is over %u bytes", path,
                          ECONQ_MAX_UPLOAD_BYTES);
        goto out;
    }
    size_t len = (size_t)sb.st_size;
    buf = malloc(len ? len : 1);
    if (!buf) {
        err = econq__fail(c, EQ_ENOMEM, "no-memory", "out of memory");
        goto out;
    }
    if (fread(buf, 1, len, f) != len) {
        err = econq__fail(c, EQ_EIO, "read-failed", "cannot read %s", path);
        goto out;
    }
    if (!name) {
        const char *slash = strrchr(path, '/');
        name = slash ? slash + 1 : path;
    }
    err = econq_dataset_upload(c, buf, len, name, content_type, json_out, id_out);
out:
    free(buf);
    fclose(f);
    return err;
}

eq_err econq_datasets(eq_client *c, char **json_out) {
    return econq__json(c, "GET", "/v1/datasets", NULL, NULL, json_out);
}

eq_err econq_dataset_get(eq_client *c, const char *id, char **json_out) {
    return econq_get_json(c, "/v1/datasets/%e", "a dataset id", id, json_out);
}

eq_err econq_dataset_delete(eq_client *c, const char *id) {
    return econq_delete(c, "/v1/datasets/%e", "a dataset id", id);
}

/* ---- Batches ---- */

eq_err econq_batch_submit(eq_client *c, const char *batch_json, const char *idempotency_key,
                          char **json_out, char *id_out) {
    cJSON *o = batch_json ? cJSON_Parse(batch_json) : NULL;
    int ok = cJSON_IsObject(o);
    cJSON_Delete(o);
    if (!ok) return econq__fail(c, EQ_EINVAL, "invalid-json", "a batch is a JSON object");
    char *body = NULL;
    eq_err err = econq__json(c, "POST", "/v1/batches", batch_json, idempotency_key, &body);
    if (err == EQ_OK && id_out && econq__id_of(body, id_out) != 0)
        err = econq__fail(c, EQ_EPROTO, "bad-answer", "the answer names no batch id");
    if (err == EQ_OK && json_out)
        *json_out = body;
    else
        free(body);
    return err;
}

eq_err econq_batch_forecast(eq_client *c, const char *dataset, const char *const *columns, size_t n,
                            int horizon, const char *method, char **json_out, char *id_out) {
    if (!dataset || horizon < 1)
        return econq__fail(c, EQ_EINVAL, "bad-argument",
                           "a batch forecast needs a dataset and a horizon of at least 1");
    cJSON *b = cJSON_CreateObject();
    cJSON *cols = b ? cJSON_AddArrayToObject(b, "columns") : NULL;
    cJSON *p = cols ? cJSON_AddObjectToObject(b, "params") : NULL;
    eq_err err = EQ_OK;
    if (!p || !cJSON_AddStringToObject(b, "type", "forecast") ||
        !cJSON_AddStringToObject(b, "dataset", dataset) ||
        !cJSON_AddNumberToObject(p, "horizon", horizon) ||
        (method && !cJSON_AddStringToObject(p, "method", method)))
        goto nomem;
    for (size_t i = 0; i < (n ? n : 1); i++) {
        cJSON *s = cJSON_CreateString(n ? columns[i] : "*");
        if (!s) goto nomem;
        cJSON_AddItemToArray(cols, s);
    }
    char *body = cJSON_PrintUnformatted(b);
    cJSON_Delete(b);
    if (!body) return econq__fail(c, EQ_ENOMEM, "no-memory", "out of memory");
    err = econq_batch_submit(c, body, NULL, json_out, id_out);
    free(body);
    return err;
nomem:
    cJSON_Delete(b);
    return econq__fail(c, EQ_ENOMEM, "no-memory", "out of memory");
}

void econq_batch_status_fini(eq_batch_status *s) {
    if (!s) return;
    free(s->json);
    memset(s, 0, sizeof *s);
}

static long econq_count(const cJSON *o, const char *name) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(v) ? (long)v->valuedouble : 0;
}

/* Reads counts from "counts" (or the top level) and `done`; a batch without a `done` flag is
 * done when every job is terminal. */
static eq_err econq_batch_parse(eq_client *c, char *body, eq_batch_status *out) {
    cJSON *o = cJSON_Parse(body);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        free(body);
        return econq__fail(c, EQ_EPROTO, "bad-answer", "the answer is not a batch");
    }
    const cJSON *counts = cJSON_GetObjectItemCaseSensitive(o, "counts");
    if (!cJSON_IsObject(counts)) counts = o;
    out->queued = econq_count(counts, "queued");
    out->running = econq_count(counts, "running");
    out->succeeded = econq_count(counts, "succeeded");
    out->failed = econq_count(counts, "failed");
    out->cancelled = econq_count(counts, "cancelled");
    out->total = econq_count(o, "total");
    if (!out->total) out->total = econq_count(counts, "total");
    if (!out->total)
        out->total = out->queued + out->running + out->succeeded + out->failed + out->cancelled;
    const cJSON *done = cJSON_GetObjectItemCaseSensitive(o, "done");
    if (cJSON_IsBool(done))
        out->done = cJSON_IsTrue(done);
    else
        out->done = out->total > 0 && out->succeeded + out->failed + out->cancelled >= out->total;
    out->json = body;
    cJSON_Delete(o);
    return EQ_OK;
}

eq_err econq_batch_get(eq_client *c, const char *id, eq_batch_status *out) {
    memset(out, 0, sizeof *out);
    char *body = NULL;
    eq_err err = econq_get_json(c, "/v1/batches/%e", "a batch id", id, &body);
    if (err) return err;
    return econq_batch_parse(c, body, out);
}

eq_err econq_batch_wait(eq_client *c, const char *id, long timeout_ms, econq_batch_cb cb, void *ctx,
                        eq_batch_status *out) {
    memset(out, 0, sizeof *out);
    long long deadline = timeout_ms < 0 ? -1 : econq__now_ms() + timeout_ms;
    long backoff = ECONQ_BATCH_POLL_MS;
    int failures = 0;
    for (;;) {
        eq_batch_status st;
        eq_err err = econq_batch_get(c, id, &st);
        long nap = ECONQ_BATCH_POLL_MS;
        if (err == EQ_OK) {
            failures = 0;
            backoff = ECONQ_BATCH_POLL_MS;
            econq_batch_status_fini(out);
            *out = st;
            if (cb) cb(out, ctx);
            if (out->done) return EQ_OK;
        } else if ((err == EQ_ENET || err == EQ_ETIMEDOUT || c->problem.status == 503) &&
                   ++failures < ECONQ_WAIT_MAX_FAILURES) {
            nap = backoff;
            backoff = backoff * 2 > ECONQ__BATCH_BACKOFF_MAX_MS ? ECONQ__BATCH_BACKOFF_MAX_MS
                                                                : backoff * 2;
        } else {
            return err;
        }
        long long now = econq__now_ms();
        if (deadline >= 0 && now >= deadline) break;
        if (deadline >= 0 && now + nap > deadline) nap = (long)(deadline - now);
        econq__sleep_ms(nap);
    }
    return econq__fail(c, EQ_ETIMEDOUT, "timeout", "batch %s was not done within %ld ms", id,
                       timeout_ms);
}

eq_err econq_batch_results(eq_client *c, const char *id, char **json_out) {
    return econq_get_json(c, "/v1/batches/%e/results", "a batch id", id, json_out);
}

eq_err econq_batch_results_xlsx(eq_client *c, const char *id, const char *path) {
    char url[ECONQ__MAX_PATH];
    eq_err err = econq_with_id(c, "a batch id", id);
    if (err) return err;
    if (!path || !*path)
        return econq__fail(c, EQ_EINVAL, "bad-argument", "a file name is required");
    econq__path(url, sizeof url, "/v1/batches/%e/results", id);
    size_t tl = strlen(path) + 16;
    char *tmp = malloc(tl);
    if (!tmp) return econq__fail(c, EQ_ENOMEM, "no-memory", "out of memory");
    snprintf(tmp, tl, "%s.part.XXXXXX", path);
    int fd = mkstemp(tmp);
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!f) {
        err = econq__fail(c, EQ_EIO, "write-failed", "cannot create %s: %s", tmp, strerror(errno));
        if (fd >= 0) close(fd), unlink(tmp);
        free(tmp);
        return err;
    }
    econq__req rq = {.method = "GET",
                     .path = url,
                     .accept = ECONQ__XLSX_TYPE,
                     .sink = f,
                     .limit = ECONQ_MAX_XLSX_BYTES};
    econq__resp rs;
    err = econq__do(c, &rq, &rs);
    econq__resp_fini(&rs);
    if (fclose(f) != 0 && err == EQ_OK)
        err = econq__fail(c, EQ_EIO, "write-failed", "cannot write %s", tmp);
    if (err == EQ_OK && rename(tmp, path) != 0)
        err = econq__fail(c, EQ_EIO, "write-failed", "cannot rename into %s: %s", path,
                          strerror(errno));
    if (err) unlink(tmp);
    free(tmp);
    return err;
}

/* ---- Schedules ---- */

eq_err econq_schedule_create(eq_client *c, const char *name, const char *cron, const char *job_json,
                             char **json_out) {
    if (!name || !cron || !job_json)
        return econq__fail(c, EQ_EINVAL, "bad-argument", "a schedule needs a name, cron, job");
    cJSON *job = cJSON_Parse(job_json);
    if (!cJSON_IsObject(job)) {
        cJSON_Delete(job);
        return econq__fail(c, EQ_EINVAL, "invalid-json", "the job is not a JSON object");
    }
    cJSON *b = cJSON_CreateObject();
    if (!b || !cJSON_AddStringToObject(b, "name", name) ||
        !cJSON_AddStringToObject(b, "cron", cron)) {
        cJSON_Delete(job);
        cJSON_Delete(b);
        return econq__fail(c, EQ_ENOMEM, "no-memory", "out of memory");
    }
    cJSON_AddItemToObject(b, "job", job);
    char *body = cJSON_PrintUnformatted(b);
    cJSON_Delete(b);
    if (!body) return econq__fail(c, EQ_ENOMEM, "no-memory", "out of memory");
    eq_err err = econq__json(c, "POST", "/v1/schedules", body, NULL, json_out);
    free(body);
    return err;
}

eq_err econq_schedules(eq_client *c, char **json_out) {
    return econq__json(c, "GET", "/v1/schedules", NULL, NULL, json_out);
}

eq_err econq_schedule_delete(eq_client *c, const char *name) {
    return econq_delete(c, "/v1/schedules/%e", "a schedule name", name);
}

/* ---- Collections ---- */

eq_err econq_collections(eq_client *c, char **json_out) {
    return econq__json(c, "GET", "/v1/collections", NULL, NULL, json_out);
}

eq_err econq_collection_get(eq_client *c, const char *name, char **json_out) {
    return econq_get_json(c, "/v1/collections/%e", "a collection name", name, json_out);
}

eq_err econq_collection_document(eq_client *c, const char *name, const char *doc_id,
                                 char **json_out) {
    char path[ECONQ__MAX_PATH];
    eq_err err = econq_with_id(c, "a collection name", name);
    if (!err)
        err = econq_with_id(c, "a document id", doc_id);
    if (err)
        return err;
    if (econq__path(path, sizeof path, "/v1/collections/%e/documents/%e", name, doc_id) != 0)
        return econq__fail(c, EQ_ETOOBIG, "bad-argument", "the document id is too long");
    return econq__json(c, "GET", path, NULL, NULL, json_out);
}

eq_err econq_collection_delete(eq_client *c, const char *name, const char *doc_id) {
    if (!doc_id)
        return econq_delete(c, "/v1/collections/%e", "a collection name", name);
    char path[ECONQ__MAX_PATH];
    eq_err err = econq_with_id(c, "a collection name", name);
    if (!err)
        err = econq_with_id(c, "a document id", doc_id);
    if (err)
        return err;
    if (econq__path(path, sizeof path, "/v1/collections/%e/documents/%e", name, doc_id) != 0)
        return econq__fail(c, EQ_ETOOBIG, "bad-argument", "the document id is too long");
    return econq__json(c, "DELETE", path, NULL, NULL, NULL);
}

/* ---- Webhooks ---- */

eq_err econq_webhook_verify(const char *const *secrets, size_t n_secrets, const char *msg_id,
                            const char *timestamp, const char *signature, const void *body,
                            size_t body_len, int64_t now, int64_t tolerance_s,
                            const char **reason) {
    wh_verify_reason why = WH_VERIFY_MALFORMED;
    eq_err err;
    if (!secrets || n_secrets == 0 || n_secrets > ECONQ__MAX_SECRETS) {
        why = WH_VERIFY_BAD_SECRET;
        err = EQ_EINVAL;
    } else if (!msg_id || !timestamp || !signature || (!body && body_len)) {
        err = EQ_EPROTO;
    } else {
        wh_delivery_headers h = {.id = msg_id,
                                 .timestamp = timestamp,
                                 .signature = signature,
                                 .body = body ? body : "",
                                 .body_len = body_len};
        err = wh_verify(&h, secrets, n_secrets, now ? now : (int64_t)time(NULL),
                        tolerance_s > 0 ? tolerance_s : ECONQ_WEBHOOK_TOLERANCE_S, &why);
    }
    if (reason) *reason = wh_verify_reason_str(why);
    return err;
}

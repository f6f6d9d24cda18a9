/* /v1/batches: many jobs in one request and one transaction (a list of jobs, or a template
 * that makes one forecast per dataset column); progress; results as JSON or an Excel workbook. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "api/upload/upload.h"
#include "common/clock.h"
#include "common/job.h"
#include "schemas/schemas.h"
#include "workers/chart/report_xlsx.h"

#define BATCH_MAX_JOBS 10000 /* jobs in one batch (the schema says the same) */
#define XLSX_TYPE "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

typedef struct built {
    proto_submit_job *jobs;
    char **params;
    uint32_t n;
} built;

static void built_fini(built *b) {
    for (uint32_t i = 0; i < b->n; i++)
        free(b->params[i]);
    free(b->params);
    free(b->jobs);
}

static void batch_done(api *a, http_request *r, eq_err status, const char *msg, eq_rd *body,
                       void *arg) {
    (void)arg;
    if (status != EQ_OK) {
        api_problem_from_err(r, status, msg);
        return;
    }
    char *id = eq_rd_str(body, 64);
    int64_t created = eq_rd_i64(body);
    uint32_t n = eq_rd_u32(body);
    char ts[32];
    eq_buf b;
    eq_buf_init(&b);
    eq_time_format(created, ts, sizeof ts);
    eq_buf_puts(&b, "{\"id\":");
    eq_buf_json_str(&b, id);
    eq_buf_printf(&b, ",\"total\":%u,\"created_at\":\"%s\",\"jobs\":[", n, ts);
    uint32_t refused = 0;
    for (uint32_t i = 0; i < n && !body->bad; i++) {
        eq_err st = (eq_err)eq_rd_u32(body);
        char *why = eq_rd_str(body, 4096), *jid = eq_rd_str(body, 64);
        if (i)
            eq_buf_u8(&b, ',');
        eq_buf_json_str(&b, jid);
        if (st != EQ_OK && st != EQ_EEXIST)
            refused++;
        free(why);
        free(jid);
    }
    eq_buf_printf(&b, "],\"refused\":%u}", refused);
    if (body->bad || !id) {
        api_problem(r, 500, "internal-error", "malformed broker reply");
    } else {
        char hdr[96];
        snprintf(hdr, sizeof hdr, "Location: /v1/batches/%s\r\n", id);
        api_json(r, 202, hdr, (const char *)b.data, b.len);
    }
    eq_buf_fini(&b);
    free(id);
}

static int add_job(api *a, built *b, cJSON *env, const char *prefix, api_problem_t *p) {
    if (b->n == 0) {
        b->jobs = calloc(BATCH_MAX_JOBS, sizeof *b->jobs);
        b->params = calloc(BATCH_MAX_JOBS, sizeof *b->params);
        if (!b->jobs || !b->params) {
            p->status = 503;
            snprintf(p->slug, sizeof p->slug, "overloaded");
            snprintf(p->detail, sizeof p->detail, "out of memory; retry");
            p->field[0] = '\0';
            return -1;
        }
    }
    if (b->n >= BATCH_MAX_JOBS) {
        p->status = 413;
        snprintf(p->slug, sizeof p->slug, "batch-too-large");
        snprintf(p->detail, sizeof p->detail, "a batch has at most %d jobs", BATCH_MAX_JOBS);
        p->field[0] = '\0';
        return -1;
    }
    if (api_job_build(a, env, prefix, &b->jobs[b->n], &b->params[b->n], p))
        return -1;
    b->n++;
    return 0;
}

/* The template form: one job per numeric column of a dataset. */
static int build_template(api *a, cJSON *body, cJSON *keep, built *b, api_problem_t *p) {
    const cJSON *ds = cJSON_GetObjectItemCaseSensitive(body, "dataset");
    const cJSON *cols = cJSON_GetObjectItemCaseSensitive(body, "columns");
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(body, "params");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(body, "type");
    store_txn *t;
    store_dataset d;
    ds_table *tab = NULL;
    int rc = -1;
    p->field[0] = '\0';
    if (!cJSON_IsString(type) || strcmp(type->valuestring, "forecast") != 0) {
        p->status = 422;
        snprintf(p->slug, sizeof p->slug, "invalid-batch");
        snprintf(p->field, sizeof p->field, "/type");
        snprintf(p->detail, sizeof p->detail, "a batch template makes forecast jobs");
        return -1;
    }
    if (!eq_id_valid(ds->valuestring) || store_txn_begin(a->cfg.st, 0, &t) != EQ_OK) {
        p->status = 422;
        snprintf(p->slug, sizeof p->slug, "dataset-not-found");
        snprintf(p->field, sizeof p->field, "/dataset");
        snprintf(p->detail, sizeof p->detail, "no dataset has this id");
        return -1;
    }
    eq_err err = store_dataset_get(t, ds->valuestring, 1, &d);
    store_txn_abort(t);
    if (err || ds_table_decode(d.table, d.table_len, &tab) != EQ_OK) {
        if (!err)
            store_dataset_fini(&d);
        p->status = 422;
        snprintf(p->slug, sizeof p->slug, "dataset-not-found");
        snprintf(p->field, sizeof p->field, "/dataset");
        snprintf(p->detail, sizeof p->detail, "no dataset has this id");
        return -1;
    }
    store_dataset_fini(&d);
    /* Every column's job reads this one decoded table. */
    a->lent_ds_id = ds->valuestring;
    a->lent_ds = tab;
    int all = cJSON_GetArraySize(cols) == 1 &&
              strcmp(cJSON_GetArrayItem(cols, 0)->valuestring, "*") == 0;
    size_t ncols = all ? tab->ncols : (size_t)cJSON_GetArraySize(cols);
    for (size_t i = 0; i < ncols; i++) {
        const char *name = all ? tab->cols[i].name : cJSON_GetArrayItem(cols, (int)i)->valuestring;
        if (all && ((int)i == tab->date_col || tab->cols[i].type != DS_TYPE_NUMBER))
            continue;
        /* Each job names its column; api_job_build resolves it like a single submit would. */
        cJSON *env = cJSON_CreateObject(), *pp = cJSON_Duplicate(params, 1);
        cJSON *series = cJSON_CreateObject();
        cJSON_AddStringToObject(series, "dataset", ds->valuestring);
        cJSON_AddStringToObject(series, "column", name);
        cJSON_DeleteItemFromObjectCaseSensitive(pp, "series");
        cJSON_AddItemToObject(pp, "series", series);
        cJSON_AddStringToObject(env, "type", "forecast");
        cJSON_AddItemToObject(env, "params", pp);
        const char *copy[] = {"priority", "max_attempts"};
        for (size_t k = 0; k < 2; k++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, copy[k]);
            if (v)
                cJSON_AddItemToObject(env, copy[k], cJSON_Duplicate(v, 1));
        }
        char prefix[64];
        snprintf(prefix, sizeof prefix, "/columns/%zu", i);
        int bad = add_job(a, b, env, prefix, p);
        /* env holds strings the built job borrows (type): keep it until the batch is sent. */
        cJSON_AddItemToArray(keep, env);
        if (bad) {
            if (!strcmp(p->field, "/columns/0/params/series/column") || strstr(p->field, "/series/"))
                snprintf(p->field, sizeof p->field, "%s", prefix);
            goto done;
        }
    }
    if (b->n == 0) {
        p->status = 422;
        snprintf(p->slug, sizeof p->slug, "no-numeric-column");
        snprintf(p->field, sizeof p->field, "/columns");
        snprintf(p->detail, sizeof p->detail, "the dataset has no numeric column to forecast");
        goto done;
    }
    rc = 0;
done:
    a->lent_ds = NULL;
    a->lent_ds_id = NULL;
    ds_table_free(tab);
    return rc;
}

void api_batches_submit(api *a, http_request *r) {
    cJSON *body = api_parse_json_body(r), *keep = cJSON_CreateArray();
    built b = {0};
    api_problem_t p;
    js_error je;
    if (!body)
        goto done;
    const js_schema *sch = schemas_get("batch");
    if (sch && !js_validate(sch, body, &je)) {
        snprintf(p.slug, sizeof p.slug, "invalid-batch");
        snprintf(p.field, sizeof p.field, "%.127s", je.path[0] ? je.path : "/");
        snprintf(p.detail, sizeof p.detail, "%s: %s", p.field, je.message);
        p.status = 422;
        api_problem_send(r, &p);
        goto done;
    }
    cJSON *jobs = cJSON_GetObjectItemCaseSensitive(body, "jobs");
    if (jobs) {
        int i = 0;
        cJSON *env;
        cJSON_ArrayForEach(env, jobs) {
            char prefix[32];
            snprintf(prefix, sizeof prefix, "/jobs/%d", i++);
            if (add_job(a, &b, env, prefix, &p)) {
                api_problem_send(r, &p);
                goto done;
            }
        }
    } else if (build_template(a, body, keep, &b, &p)) {
        api_problem_send(r, &p);
        goto done;
    }
    const cJSON *wh = cJSON_GetObjectItemCaseSensitive(body, "webhook");
    const cJSON *url = cJSON_GetObjectItemCaseSensitive(wh, "url");
    const cJSON *secret = cJSON_GetObjectItemCaseSensitive(wh, "secret");
    if (cJSON_IsString(url) &&
        api_webhook_check(a, url->valuestring, cJSON_IsString(secret) ? secret->valuestring : NULL,
                          "", &p)) {
        api_problem_send(r, &p);
        goto done;
    }
    eq_buf msg;
    eq_buf_init(&msg);
    proto_enc_batch_head(&msg, b.n, cJSON_IsString(url) ? url->valuestring : NULL,
                         cJSON_IsString(secret) ? secret->valuestring : NULL);
    for (uint32_t i = 0; i < b.n; i++)
        proto_enc_submit_job(&msg, &b.jobs[i]);
    if (msg.len > PROTO_MAX_MSG_BYTES)
        api_problem(r, 413, "batch-too-large", "the batch is larger than one broker message");
    else
        api_call_broker(a, r, &msg, batch_done, NULL);
    eq_buf_fini(&msg);
done:
    built_fini(&b);
    cJSON_Delete(keep);
    cJSON_Delete(body);
}

/* ---- reading batches */

typedef struct scan {
    store_txn *t;
    int counts[JOB_STATE_MAX];
    eq_buf *out;          /* jobs or results, when listing */
    int mode;             /* 0 count, 1 jobs, 2 results JSON, 3 results for xlsx (cJSON) */
    size_t n, limit;
    uint32_t next;
    cJSON *items;
} scan;

static const char *series_name(const cJSON *params, char *buf, size_t len, uint32_t index) {
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(params, "name");
    if (cJSON_IsString(n))
        return n->valuestring;
    n = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(params, "series"), "name");
    if (cJSON_IsString(n))
        return n->valuestring;
    snprintf(buf, len, "series %u", index + 1);
    return buf;
}

static int scan_one(void *arg, uint32_t index, const char *job_id) {
    scan *s = arg;
    eq_job j;
    if (store_job_get(s->t, job_id, &j) != EQ_OK)
        return 0;
    s->counts[j.state]++;
    if (s->mode == 1) {
        if (s->n >= s->limit) {
            s->next = index;
            eq_job_fini(&j);
            return 1;
        }
        if (s->n++)
            eq_buf_u8(s->out, ',');
        eq_job_to_json(&j, NULL, s->out);
    } else if (s->mode >= 2) {
        char *result = NULL, nb[32];
        if (j.state == JOB_SUCCEEDED)
            store_result_get(s->t, j.id, &result);
        cJSON *params = cJSON_Parse(j.params ? j.params : "{}");
        cJSON *item = cJSON_CreateObject();
        cJSON_AddStringToObject(item, "id", j.id);
        cJSON_AddStringToObject(item, "name", series_name(params, nb, sizeof nb, index));
        cJSON_AddStringToObject(item, "state", job_state_name(j.state));
        cJSON *res = result ? cJSON_Parse(result) : NULL;
        cJSON_AddItemToObject(item, "result", res ? res : cJSON_CreateNull());
        if (j.state != JOB_SUCCEEDED) {
            char e[1200];
            if (j.error_code)
                snprintf(e, sizeof e, "%s: %s", j.error_code, j.error_message ? j.error_message : "");
            else
                snprintf(e, sizeof e, "not finished (%s)", job_state_name(j.state));
            cJSON_AddStringToObject(item, "error", e);
        } else {
            cJSON_AddNullToObject(item, "error");
        }
        if (s->mode == 3) {
            cJSON *series = cJSON_DetachItemFromObjectCaseSensitive(params, "series");
            cJSON_AddItemToObject(item, "history", series ? series : cJSON_CreateNull());
        }
        cJSON_AddItemToArray(s->items, item);
        cJSON_Delete(params);
        free(result);
    }
    eq_job_fini(&j);
    return 0;
}

/* Reads the batch record and walks its jobs; answers 404 itself. 0 on success. */
static int batch_scan(api *a, http_request *r, const char *id, scan *s, uint32_t from,
                      store_batch *b) {
    if (store_txn_begin(a->cfg.st, 0, &s->t) != EQ_OK) {
        api_problem(r, 503, "store-unavailable", "the store cannot be read");
        return -1;
    }
    eq_err err = store_batch_get(s->t, id, b);
    if (err == EQ_OK)
        err = store_batch_jobs(s->t, id, from, BATCH_MAX_JOBS, scan_one, s);
    store_txn_abort(s->t);
    if (err == EQ_ENOTFOUND) {
        api_problem(r, 404, "batch-not-found", "no batch has this id");
        return -1;
    }
    if (err) {
        store_batch_fini(b);
        api_problem(r, 500, "internal-error", "the batch cannot be read");
        return -1;
    }
    return 0;
}

static void put_status(eq_buf *o, const char *id, const store_batch *b, const scan *s) {
    char ts[32];
    eq_time_format(b->created_ms, ts, sizeof ts);
    eq_buf_puts(o, "{\"id\":");
    eq_buf_json_str(o, id);
    eq_buf_printf(o, ",\"total\":%u,\"finished\":%u,\"progress\":%.4f,\"done\":%s", b->total,
                  b->finished, b->total ? (double)b->finished / b->total : 1.0,
                  b->done_ms ? "true" : "false");
    eq_buf_printf(o, ",\"created_at\":\"%s\",\"done_at\":", ts);
    if (b->done_ms) {
        eq_time_format(b->done_ms, ts, sizeof ts);
        eq_buf_json_str(o, ts);
    } else {
        eq_buf_puts(o, "null");
    }
    eq_buf_puts(o, ",\"counts\":{");
    for (int st = JOB_QUEUED; st < JOB_STATE_MAX; st++)
        eq_buf_printf(o, "%s\"%s\":%d", st == JOB_QUEUED ? "" : ",", job_state_name(st),
                      s->counts[st]);
    eq_buf_puts(o, "}");
}

void api_batches_get(api *a, http_request *r, const char *id) {
    scan s = {0};
    store_batch b;
    if (batch_scan(a, r, id, &s, 0, &b))
        return;
    eq_buf o;
    eq_buf_init(&o);
    put_status(&o, id, &b, &s);
    eq_buf_puts(&o, "}");
    api_json(r, 200, NULL, (const char *)o.data, o.len);
    eq_buf_fini(&o);
    store_batch_fini(&b);
}

void api_batches_jobs(api *a, http_request *r, const char *id) {
    char cur[16] = "", lim[16] = "";
    long from = 0, limit = 100;
    if (http_request_query_param(r, "cursor", cur, sizeof cur) < 0 ||
        http_request_query_param(r, "limit", lim, sizeof lim) < 0 ||
        (cur[0] && ((from = strtol(cur, NULL, 10)) < 0 || from > BATCH_MAX_JOBS)) ||
        (lim[0] && ((limit = strtol(lim, NULL, 10)) < 1 || limit > API_MAX_LIST_LIMIT))) {
        api_problem(r, 400, "invalid-query", "cursor is a job index, limit from 1 to 1000");
        return;
    }
    eq_buf jobs;
    eq_buf_init(&jobs);
    scan s = {.out = &jobs, .mode = 1, .limit = (size_t)limit};
    store_batch b;
    if (batch_scan(a, r, id, &s, (uint32_t)from, &b)) {
        eq_buf_fini(&jobs);
        return;
    }
    eq_buf o;
    eq_buf_init(&o);
    eq_buf_puts(&o, "{\"jobs\":[");
    eq_buf_put(&o, jobs.data, jobs.len);
    eq_buf_puts(&o, "],\"next_cursor\":");
    if (s.next)
        eq_buf_printf(&o, "\"%u\"}", s.next);
    else
        eq_buf_puts(&o, "null}");
    api_json(r, 200, NULL, (const char *)o.data, o.len);
    eq_buf_fini(&o);
    eq_buf_fini(&jobs);
    store_batch_fini(&b);
}

typedef struct xlsx_work {
    uv_work_t work;
    api *a;
    http_request *r;
    cJSON *items;
    unsigned char *out;
    size_t len;
    char err[256];
    eq_err rc;
    char id[EQ_ID_LEN + 1];
} xlsx_work;

static void xlsx_run(uv_work_t *w) {
    xlsx_work *x = w->data;
    x->rc = report_xlsx_from_json(x->items, &x->out, &x->len, x->err, sizeof x->err);
}

static void xlsx_after(uv_work_t *w, int status) {
    xlsx_work *x = w->data;
    api *a = x->a;
    if (status != 0 || x->rc != EQ_OK) {
        api_problem(x->r, 500, "report-failed", x->err[0] ? x->err : "the workbook was not written");
    } else {
        char hdr[160];
        snprintf(hdr, sizeof hdr, "Content-Disposition: attachment; filename=\"batch-%s.xlsx\"\r\n",
                 x->id);
        http_respond(x->r, 200, XLSX_TYPE, hdr, x->out, x->len);
    }
    free(x->out);
    cJSON_Delete(x->items);
    free(x);
    api_busy_end(a);
}

void api_batches_results(api *a, http_request *r, const char *id, int want_xlsx) {
    const char *accept = http_request_header(r, "accept");
    if (accept && strstr(accept, XLSX_TYPE))
        want_xlsx = 1;
    scan s = {.mode = want_xlsx ? 3 : 2, .items = cJSON_CreateArray()};
    store_batch b;
    if (!s.items || batch_scan(a, r, id, &s, 0, &b)) {
        cJSON_Delete(s.items);
        return;
    }
    if (want_xlsx) {
        xlsx_work *x = calloc(1, sizeof *x);
        if (!x) {
            cJSON_Delete(s.items);
            store_batch_fini(&b);
            api_problem(r, 503, "overloaded", "out of memory; retry");
            return;
        }
        x->r = r;
        x->a = a;
        x->items = s.items;
        memcpy(x->id, id, EQ_ID_LEN + 1);
        x->work.data = x;
        store_batch_fini(&b);
        api_busy_begin(a);
        if (uv_queue_work(a->loop, &x->work, xlsx_run, xlsx_after) != 0) {
            api_busy_end(a);
            cJSON_Delete(x->items);
            free(x);
            api_problem(r, 503, "overloaded", "cannot write the workbook now; retry");
        }
        return;
    }
    eq_buf o;
    eq_buf_init(&o);
    put_status(&o, id, &b, &s);
    char *items = cJSON_PrintUnformatted(s.items);
    eq_buf_puts(&o, ",\"results\":");
    eq_buf_puts(&o, items ? items : "[]");
    eq_buf_puts(&o, "}");
    api_json(r, 200, NULL, (const char *)o.data, o.len);
    free(items);
    eq_buf_fini(&o);
    cJSON_Delete(s.items);
    store_batch_fini(&b);
}

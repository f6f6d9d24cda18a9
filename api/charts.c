/* Charts and reports: what a `chart` or `report` job draws is resolved here at submit (the
 * worker is stateless and cannot read the store), and GET /v1/charts/{id} serves the stored
 * files (written by the broker, broker/chart_store.c). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <http_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api_internal.h"
#include "common/job.h"
#include "store/store_sched.h"

#define CHART_RESOLVE_MAX_JOBS 500         /* forecast jobs in one report (its detail sheets) */
#define CHART_SERVE_MAX_BYTES (256u << 20) /* the largest stored file served (a workbook) */


/* The forecast job `id` (succeeded) as {name, history, result}; -1 with p filled. */
static int forecast_item(store_txn *t, const char *id, const char *prefix, const char *field,
                         cJSON **out, api_problem_t *p) {
    eq_job j;
    char *result = NULL;
    if (!eq_id_valid(id) || store_job_get(t, id, &j) != EQ_OK)
        return api_problem_field(p, 422, "job-not-found", prefix, field, "no job has this id");
    int ok = strcmp(j.type, "forecast") == 0 && j.state == JOB_SUCCEEDED;
    cJSON *params = ok ? cJSON_Parse(j.params) : NULL;
    eq_job_fini(&j);
    if (!ok)
        return api_problem_field(p, 422, "not-a-succeeded-forecast", prefix, field,
                    "the job is not a succeeded forecast");
    if (!params || store_result_get(t, id, &result) != EQ_OK) {
        cJSON_Delete(params);
        return api_problem_field(p, 500, "internal-error", prefix, field, "the forecast's result is unreadable");
    }
    cJSON *res = cJSON_Parse(result);
    free(result);
    cJSON *item = cJSON_CreateObject();
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(params, "series"), "name");
    if (!cJSON_IsString(name)) name = cJSON_GetObjectItemCaseSensitive(params, "name");
    cJSON_AddStringToObject(item, "name", cJSON_IsString(name) ? name->valuestring : id);
    cJSON *hist = cJSON_DetachItemFromObjectCaseSensitive(params, "series");
    cJSON_AddItemToObject(item, "history", hist ? hist : cJSON_CreateNull());
    cJSON_AddItemToObject(item, "result", res ? res : cJSON_CreateNull());
    cJSON_Delete(params);
    *out = item;
    return 0;
}

static int resolve_chart(api *a, store_txn *t, cJSON *params, const char *prefix, cJSON *res,
                         api_problem_t *p) {
    const cJSON *job = cJSON_GetObjectItemCaseSensitive(params, "job");
    if (cJSON_IsString(job)) {
        cJSON *item;
        if (forecast_item(t, job->valuestring, prefix, "/job", &item, p)) return -1;
        cJSON_AddStringToObject(res, "kind", "forecast");
        cJSON_AddItemToObject(res, "history",
                              cJSON_DetachItemFromObjectCaseSensitive(item, "history"));
        cJSON_AddItemToObject(res, "forecast",
                              cJSON_DetachItemFromObjectCaseSensitive(item, "result"));
        if (!cJSON_GetObjectItemCaseSensitive(params, "title"))
            cJSON_AddItemToObject(params, "title",
                                  cJSON_DetachItemFromObjectCaseSensitive(item, "name"));
        cJSON_Delete(item);
        return 0;
    }
    const cJSON *ds = cJSON_GetObjectItemCaseSensitive(params, "dataset");
    const cJSON *cols = cJSON_GetObjectItemCaseSensitive(params, "columns"), *c;
    cJSON *data = cJSON_CreateObject(), *series = cJSON_AddArrayToObject(data, "series");
    cJSON_AddStringToObject(res, "kind", "lines");
    cJSON_AddItemToObject(res, "data", data);
    cJSON_ArrayForEach(c, cols) {
        cJSON *col = NULL;
        if (api_dataset_series(a, ds->valuestring, c->valuestring, &col, prefix, p)) {
            if (strstr(p->field, "/series/dataset"))
                snprintf(p->field, sizeof p->field, "%s/dataset", prefix);
            else if (strstr(p->field, "/series/column"))
                snprintf(p->field, sizeof p->field, "%s/columns", prefix);
            return -1;
        }
        if (!cJSON_GetObjectItemCaseSensitive(data, "dates"))
            cJSON_AddItemToObject(data, "dates",
                                  cJSON_DetachItemFromObjectCaseSensitive(col, "dates"));
        cJSON *s = cJSON_CreateObject();
        cJSON_AddStringToObject(s, "name", c->valuestring);
        cJSON_AddItemToObject(s, "values", cJSON_DetachItemFromObjectCaseSensitive(col, "values"));
        cJSON_AddItemToArray(series, s);
        cJSON_Delete(col);
    }
    return 0;
}

typedef struct batch_ids {
    char (*ids)[EQ_ID_LEN + 1];
    size_t n;
} batch_ids;

static int batch_one(void *arg, uint32_t index, const char *job_id) {
    (void)index;
    batch_ids *b = arg;
    if (b->n == CHART_RESOLVE_MAX_JOBS) return 1;
    snprintf(b->ids[b->n++], EQ_ID_LEN + 1, "%s", job_id);
    return 0;
}

static int resolve_report(store_txn *t, cJSON *params, const char *prefix, cJSON *res,
                          api_problem_t *p) {
    cJSON *items = cJSON_AddArrayToObject(res, "items");
    const cJSON *jobs = cJSON_GetObjectItemCaseSensitive(params, "jobs"), *j;
    if (jobs) {
        if (cJSON_GetArraySize(jobs) > CHART_RESOLVE_MAX_JOBS)
            return api_problem_field(p, 422, "too-many-jobs", prefix, "/jobs", "a report has at most 500 jobs");
        int i = 0;
        cJSON_ArrayForEach(j, jobs) {
            char field[32];
            cJSON *item;
            snprintf(field, sizeof field, "/jobs/%d", i++);
            if (forecast_item(t, j->valuestring, prefix, field, &item, p)) return -1;
            cJSON_AddItemToArray(items, item);
        }
        return 0;
    }
    const char *batch = cJSON_GetObjectItemCaseSensitive(params, "batch")->valuestring;
    static _Thread_local char ids[CHART_RESOLVE_MAX_JOBS][EQ_ID_LEN + 1];
    batch_ids b = {.ids = ids};
    store_batch sb;
    if (store_batch_get(t, batch, &sb) != EQ_OK)
        return api_problem_field(p, 422, "batch-not-found", prefix, "/batch", "no batch has this id");
    store_batch_fini(&sb);
    if (store_batch_jobs(t, batch, 0, CHART_RESOLVE_MAX_JOBS, batch_one, &b) != EQ_OK)
        return api_problem_field(p, 500, "internal-error", prefix, "/batch", "the batch is unreadable");
    for (size_t i = 0; i < b.n; i++) {
        eq_job job;
        if (store_job_get(t, ids[i], &job) != EQ_OK) continue;
        int fc = strcmp(job.type, "forecast") == 0, ok = job.state == JOB_SUCCEEDED;
        char *err = job.error_message ? strdup(job.error_message) : NULL;
        eq_job_fini(&job);
        cJSON *item = NULL;
        if (fc && ok && forecast_item(t, ids[i], prefix, "/batch", &item, p) == 0) {
            cJSON_AddItemToArray(items, item);
        } else if (fc) {
            item = cJSON_CreateObject();
            cJSON_AddStringToObject(item, "name", ids[i]);
            cJSON_AddNullToObject(item, "history");
            cJSON_AddNullToObject(item, "result");
            cJSON_AddStringToObject(item, "error", err ? err : "the forecast did not succeed");
            cJSON_AddItemToArray(items, item);
        }
        free(err);
    }
    if (cJSON_GetArraySize(items) == 0)
        return api_problem_field(p, 422, "no-forecasts", prefix, "/batch", "the batch has no forecast jobs");
    return 0;
}

int api_chart_resolve(api *a, const char *type, cJSON *params, const char *prefix,
                      api_problem_t *p) {
    store_txn *t;
    if (store_txn_begin(a->cfg.st, 0, &t) != EQ_OK)
        return api_problem_field(p, 503, "store-unavailable", prefix, "", "the store cannot be read; retry");
    cJSON *res = cJSON_CreateObject();
    int rc = strcmp(type, "report") == 0 ? resolve_report(t, params, prefix, res, p)
                                         : resolve_chart(a, t, params, prefix, res, p);
    store_txn_abort(t);
    if (rc) {
        cJSON_Delete(res);
        return rc;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(params, "resolved");
    cJSON_AddItemToObject(params, "resolved", res);
    return 0;
}

/* GET /v1/charts/{id}. The file is read on the loop thread: charts are small (a PNG of the
 * default size is tens of KB); workbooks up to CHART_SERVE_MAX_BYTES. */
static void serve(api *a, http_request *r, const char *id) {
    store_txn *t;
    store_chart c;
    char path[4096], hdr[320], etag[40];
    if (!eq_id_valid(id) || store_txn_begin(a->cfg.st, 0, &t) != EQ_OK) {
        api_problem(r, 404, "chart-not-found", "no chart has this id");
        return;
    }
    eq_err err = store_chart_get(t, id, &c);
    store_txn_abort(t);
    if (err || c.size > CHART_SERVE_MAX_BYTES) {
        api_problem(r, 404, "chart-not-found", "no chart has this id");
        return;
    }
    snprintf(etag, sizeof etag, "\"%s\"", id);
    snprintf(path, sizeof path, "%s/charts/%s.%s", store_path(a->cfg.st), id, c.ext);
    /* The access time tells the clean-up the chart was just requested (chart_gc grace). */
    struct timespec ts[2] = {{.tv_nsec = UTIME_NOW}, {.tv_nsec = UTIME_OMIT}};
    utimensat(AT_FDCWD, path, ts, 0);
    snprintf(hdr, sizeof hdr, "Cache-Control: public, max-age=31536000, immutable\r\nETag: %s\r\n",
             etag);
    const char *inm = http_request_header(r, "if-none-match");
    if (inm && strstr(inm, etag)) {
        http_respond(r, 304, NULL, hdr, NULL, 0);
        return;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    unsigned char *buf = fd >= 0 ? malloc(c.size ? c.size : 1) : NULL;
    size_t got = 0;
    while (buf && got < c.size) {
        ssize_t n = read(fd, buf + got, c.size - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += (size_t)n;
    }
    if (fd >= 0) close(fd);
    if (!buf || got != c.size) {
        free(buf);
        api_problem(r, 404, "chart-not-found", "the chart's file is gone");
        return;
    }
    http_respond(r, 200, c.content_type, hdr, buf, got);
    free(buf);
}

int api_route_charts(api *a, http_request *r, const char *path, int m) {
    if (strncmp(path, "/v1/charts/", 11) != 0) return 0;
    if (m != HTTP_GET && m != HTTP_HEAD) {
        http_respond_problem_headers(r, 405, "method-not-allowed", "Method Not Allowed",
                                     "this resource accepts GET", NULL, "Allow: GET\r\n");
        return 1;
    }
    serve(a, r, path + 11);
    return 1;
}

/* /v1/collections: list, describe, read a document, delete a document or a collection; and
 * the submit-time checks of `embed`, `search` and `llm` jobs (the collection exists, the
 * dataset summary an llm job gets as context). */
#include <cjson/cJSON.h>
#include <http_parser.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "api/upload/upload.h"
#include "common/clock.h"
#include "common/job.h"
#include "store/store_coll.h"

#define COLL_LIST_MAX 1000          /* collections listed at most */
#define COLL_DOCS_PAGE_MAX 1000     /* documents per page of GET .../documents */
#define LLM_SUMMARY_MAX_COLS 40     /* columns described in an llm job's dataset summary */
#define LLM_SUMMARY_RECENT 6        /* latest values quoted per column */


static void coll_json(eq_buf *b, const char *name, const store_coll *c) {
    char created[40], updated[40];
    eq_time_format(c->created_ms, created, sizeof created);
    eq_time_format(c->updated_ms, updated, sizeof updated);
    eq_buf_puts(b, "{\"name\":");
    eq_buf_json_str(b, name);
    eq_buf_puts(b, ",\"embedder\":");
    eq_buf_json_str(b, c->embedder);
    eq_buf_printf(b, ",\"dim\":%u,\"documents\":%llu,\"generation\":%llu,\"created_at\":\"%s\","
                     "\"updated_at\":\"%s\"}",
                  c->dim, (unsigned long long)c->count, (unsigned long long)c->generation, created,
                  updated);
}

typedef struct list_ctx {
    eq_buf *b;
    size_t n;
} list_ctx;

static int list_one(void *arg, const char *name, const store_coll *c) {
    list_ctx *l = arg;
    if (l->n++)
        eq_buf_u8(l->b, ',');
    coll_json(l->b, name, c);
    return l->n >= COLL_LIST_MAX;
}

static int begin(api *a, http_request *r, store_txn **t) {
    if (store_txn_begin(a->cfg.st, 0, t) == EQ_OK)
        return 0;
    api_problem(r, 503, "store-unavailable", "the store cannot be read");
    return -1;
}

static void list(api *a, http_request *r) {
    store_txn *t;
    if (begin(a, r, &t))
        return;
    eq_buf b;
    eq_buf_init(&b);
    eq_buf_puts(&b, "{\"collections\":[");
    list_ctx l = {.b = &b};
    eq_err err = store_coll_each(t, list_one, &l);
    store_txn_abort(t);
    eq_buf_puts(&b, "]}");
    if (err)
        api_problem(r, 500, "internal-error", "the collections cannot be read");
    else
        api_json(r, 200, NULL, (const char *)b.data, b.len);
    eq_buf_fini(&b);
}

static void doc_json(eq_buf *b, const store_coll_doc *d, int with_text) {
    eq_buf_puts(b, "{\"id\":");
    eq_buf_json_strn(b, d->id, d->id_len);
    if (with_text) {
        eq_buf_puts(b, ",\"text\":");
        eq_buf_json_strn(b, d->text ? d->text : "", d->text_len);
    }
    eq_buf_puts(b, ",\"metadata\":");
    if (d->meta_len)
        eq_buf_put(b, d->meta, d->meta_len);
    else
        eq_buf_puts(b, "{}");
    eq_buf_u8(b, '}');
}

typedef struct page_ctx {
    eq_buf *b;
    size_t n, limit;
    char last[STORE_COLL_DOC_ID_MAX + 1];
} page_ctx;

static int page_one(void *arg, const store_coll_doc *d) {
    page_ctx *pc = arg;
    if (pc->n++)
        eq_buf_u8(pc->b, ',');
    doc_json(pc->b, d, 0);
    snprintf(pc->last, sizeof pc->last, "%.*s", (int)d->id_len, d->id);
    return pc->n >= pc->limit;
}

/* GET /v1/collections/{name}: the record and a page of document ids (?after=ID&limit=N). */
static void describe(api *a, http_request *r, const char *name) {
    char after[STORE_COLL_DOC_ID_MAX + 1] = "", lim[16];
    size_t limit = 100;
    if (http_request_query_param(r, "limit", lim, sizeof lim) > 0) {
        char *end;
        long v = strtol(lim, &end, 10);
        if (*end || v < 1 || v > COLL_DOCS_PAGE_MAX) {
            api_problem(r, 400, "invalid-query", "limit must be 1 to 1000");
            return;
        }
        limit = (size_t)v;
    }
    if (http_request_query_param(r, "after", after, sizeof after) < 0) {
        api_problem(r, 400, "invalid-query", "after must be a document id");
        return;
    }
    store_txn *t;
    if (begin(a, r, &t))
        return;
    store_coll c;
    eq_err err = store_coll_get(t, name, &c);
    if (err) {
        store_txn_abort(t);
        if (err == EQ_ENOTFOUND)
            api_problem(r, 404, "collection-not-found", "no collection has this name");
        else
            api_problem(r, 500, "internal-error", "the collection cannot be read");
        return;
    }
    eq_buf b;
    eq_buf_init(&b);
    coll_json(&b, name, &c);
    b.len--; /* reopen the object */
    eq_buf_puts(&b, ",\"items\":[");
    page_ctx pc = {.b = &b, .limit = limit};
    err = store_coll_docs_each(t, name, after[0] ? after : NULL, page_one, &pc);
    store_txn_abort(t);
    eq_buf_puts(&b, "],\"next\":");
    if (pc.n == limit)
        eq_buf_json_str(&b, pc.last);
    else
        eq_buf_puts(&b, "null");
    eq_buf_u8(&b, '}');
    if (err)
        api_problem(r, 500, "internal-error", "the collection's documents cannot be read");
    else
        api_json(r, 200, NULL, (const char *)b.data, b.len);
    eq_buf_fini(&b);
}

static void doc_get(api *a, http_request *r, const char *name, const char *id) {
    store_txn *t;
    if (begin(a, r, &t))
        return;
    store_coll_doc d;
    eq_err err = store_coll_doc_get(t, name, id, &d);
    if (err) {
        store_txn_abort(t);
        if (err == EQ_ENOTFOUND || err == EQ_EINVAL)
            api_problem(r, 404, "document-not-found", "the collection has no document with this id");
        else
            api_problem(r, 500, "internal-error", "the document cannot be read");
        return;
    }
    eq_buf b;
    eq_buf_init(&b);
    doc_json(&b, &d, 1);
    store_txn_abort(t);
    api_json(r, 200, NULL, (const char *)b.data, b.len);
    eq_buf_fini(&b);
}

static void del_done(api *a, http_request *r, eq_err status, const char *msg, eq_rd *body,
                     void *arg) {
    (void)a, (void)body;
    if (status == EQ_ENOTFOUND)
        api_problem(r, 404, arg ? "document-not-found" : "collection-not-found",
                    arg ? "the collection has no document with this id"
                        : "no collection has this name");
    else if (status != EQ_OK)
        api_problem_from_err(r, status, msg);
    else
        http_respond(r, 204, NULL, NULL, NULL, 0);
}

static void del(api *a, http_request *r, const char *name, const char *id) {
    eq_buf msg;
    eq_buf_init(&msg);
    proto_enc_coll_del(&msg, name, id ? id : "");
    api_call_broker(a, r, &msg, del_done, id ? (void *)1 : NULL);
    eq_buf_fini(&msg);
}

static int name_ok(const char *s, size_t n) {
    if (n == 0 || n > STORE_COLL_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!(s[i] >= 'a' && s[i] <= 'z') && !(s[i] >= 'A' && s[i] <= 'Z') &&
            !(s[i] >= '0' && s[i] <= '9') && s[i] != '_' && s[i] != '.' && s[i] != '-')
            return 0;
    return 1;
}

int api_route_collections(api *a, http_request *r, const char *path, int m) {
    if (strcmp(path, "/v1/collections") == 0) {
        if (m == HTTP_GET || m == HTTP_HEAD)
            list(a, r);
        else
            http_respond_problem_headers(r, 405, "method-not-allowed", "Method Not Allowed",
                                         "this resource accepts GET", NULL, "Allow: GET\r\n");
        return 1;
    }
    if (strncmp(path, "/v1/collections/", 16) != 0)
        return 0;
    const char *rest = path + 16, *slash = strchr(rest, '/');
    size_t nl = slash ? (size_t)(slash - rest) : strlen(rest);
    char name[STORE_COLL_NAME_MAX + 1];
    if (!name_ok(rest, nl)) {
        api_problem(r, 404, "collection-not-found", "no collection has this name");
        return 1;
    }
    memcpy(name, rest, nl);
    name[nl] = '\0';
    const char *id = NULL;
    if (slash) {
        if (strncmp(slash, "/documents/", 11) != 0 || !slash[11]) {
            api_problem(r, 404, "not-found", "no such resource");
            return 1;
        }
        id = slash + 11;
        if (strlen(id) > STORE_COLL_DOC_ID_MAX) {
            api_problem(r, 404, "document-not-found", "the collection has no document with this id");
            return 1;
        }
    }
    if (m == HTTP_GET || m == HTTP_HEAD)
        id ? doc_get(a, r, name, id) : describe(a, r, name);
    else if (m == HTTP_DELETE)
        del(a, r, name, id);
    else
        http_respond_problem_headers(r, 405, "method-not-allowed", "Method Not Allowed",
                                     "this resource accepts GET and DELETE", NULL,
                                     "Allow: GET, DELETE\r\n");
    return 1;
}

/* The column's latest succeeded forecast, as one summary line: model and first points. */
static void forecast_line(eq_buf *b, store_txn *st, const char *ds, const char *column) {
    char job_id[EQ_ID_LEN + 1];
    eq_job j;
    char *result = NULL;
    if (store_dataset_forecast_get(st, ds, column, job_id) != EQ_OK ||
        store_job_get(st, job_id, &j) != EQ_OK)
        return; /* none, or deleted by retention since */
    int ok = j.state == JOB_SUCCEEDED && store_result_get(st, job_id, &result) == EQ_OK;
    eq_job_fini(&j);
    cJSON *r = ok ? cJSON_Parse(result) : NULL;
    free(result);
    const cJSON *dates = cJSON_GetObjectItemCaseSensitive(r, "dates");
    const cJSON *point = cJSON_GetObjectItemCaseSensitive(r, "point");
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(r, "model");
    int n = cJSON_GetArraySize(point);
    if (cJSON_IsArray(dates) && n > 0 && cJSON_GetArraySize(dates) == n) {
        eq_buf_printf(b, "  latest forecast (%s, job %s):",
                      cJSON_IsString(model) ? model->valuestring : "?", job_id);
        for (int i = 0; i < n && i < LLM_SUMMARY_RECENT; i++) {
            const cJSON *dv = cJSON_GetArrayItem(dates, i), *pv = cJSON_GetArrayItem(point, i);
            eq_buf_printf(b, " %s %.6g%s", cJSON_IsString(dv) ? dv->valuestring : "",
                          cJSON_IsNumber(pv) ? pv->valuedouble : NAN,
                          i + 1 < n && i + 1 < LLM_SUMMARY_RECENT ? "," : "");
        }
        eq_buf_puts(b, n > LLM_SUMMARY_RECENT ? " ...\n" : "\n");
    }
    cJSON_Delete(r);
}

/* A compact text summary of a dataset for the model: shape, then per column its range,
 * extremes, latest values with their dates, and its latest forecast when one succeeded. */
static char *summary_text(store_txn *st, const char *ds, const ds_table *t, const char *name) {
    eq_buf b;
    eq_buf_init(&b);
    const ds_column *dc = t->date_col >= 0 ? &t->cols[t->date_col] : NULL;
    char d0[32] = "", d1[32] = "";
    if (dc && t->nrows) {
        ds_date_format(dc->num[0], d0, sizeof d0);
        ds_date_format(dc->num[t->nrows - 1], d1, sizeof d1);
    }
    eq_buf_printf(&b, "%s: %zu rows, %zu columns, %s%s%s%s%s.\n", name, t->nrows, t->ncols,
                  t->frequency[0] ? t->frequency : "no known frequency", dc ? ", " : "",
                  d0, dc ? " to " : "", d1);
    size_t described = 0;
    for (size_t c = 0; c < t->ncols && described < LLM_SUMMARY_MAX_COLS; c++) {
        const ds_column *col = &t->cols[c];
        if (col->type != DS_TYPE_NUMBER)
            continue;
        described++;
        double lo = INFINITY, hi = -INFINITY;
        size_t ilo = 0, ihi = 0, nval = 0;
        for (size_t i = 0; i < t->nrows; i++) {
            double v = col->num[i];
            if (isnan(v))
                continue;
            nval++;
            if (v < lo)
                lo = v, ilo = i;
            if (v > hi)
                hi = v, ihi = i;
        }
        eq_buf_printf(&b, "- %s: ", col->name);
        if (!nval) {
            eq_buf_puts(&b, "no values\n");
            continue;
        }
        char dlo[32] = "", dhi[32] = "";
        if (dc) {
            ds_date_format(dc->num[ilo], dlo, sizeof dlo);
            ds_date_format(dc->num[ihi], dhi, sizeof dhi);
        }
        eq_buf_printf(&b, "min %.6g%s%s%s, max %.6g%s%s%s; latest:", lo, dc ? " (" : "", dlo,
                      dc ? ")" : "", hi, dc ? " (" : "", dhi, dc ? ")" : "");
        size_t shown = 0, i = t->nrows;
        size_t idx[LLM_SUMMARY_RECENT];
        while (i > 0 && shown < LLM_SUMMARY_RECENT) {
            i--;
            if (!isnan(col->num[i]))
                idx[shown++] = i;
        }
        while (shown > 0) {
            size_t k = idx[--shown];
            char dk[32] = "";
            if (dc)
                ds_date_format(dc->num[k], dk, sizeof dk);
            eq_buf_printf(&b, " %s%s%.6g", dk, dc ? " " : "", col->num[k]);
            eq_buf_puts(&b, shown ? "," : "\n");
        }
        forecast_line(&b, st, ds, col->name);
    }
    eq_buf_u8(&b, 0);
    if (b.oom) {
        eq_buf_fini(&b);
        return NULL;
    }
    return (char *)b.data;
}

/* llm: the dataset's summary goes into params.dataset_context {title, text}; the collection
 * must exist. search: the collection must exist. embed: ids within the store's key limit. */
int api_coll_job_resolve(api *a, const char *type, cJSON *params, const char *prefix,
                         api_problem_t *p) {
    const cJSON *coll = cJSON_GetObjectItemCaseSensitive(params, "collection");
    const cJSON *ds = cJSON_GetObjectItemCaseSensitive(params, "dataset");
    store_txn *t;
    if (strcmp(type, "embed") == 0) {
        int i = 0;
        const cJSON *d;
        cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(params, "documents")) {
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(d, "id");
            if (cJSON_IsString(id) && strlen(id->valuestring) > STORE_COLL_DOC_ID_MAX) {
                char f[64];
                snprintf(f, sizeof f, "/documents/%d/id", i);
                return api_problem_field(p, 422, "invalid-job", prefix, f, "a document id is at most 446 bytes");
            }
            i++;
        }
        return 0;
    }
    if (store_txn_begin(a->cfg.st, 0, &t) != EQ_OK)
        return api_problem_field(p, 503, "store-unavailable", "", "", "the store cannot be read");
    int rc = 0;
    store_coll c;
    if (cJSON_IsString(coll) && store_coll_get(t, coll->valuestring, &c) != EQ_OK)
        rc = api_problem_field(p, 422, "collection-not-found", prefix, "/collection",
                  "no collection has this name (embed documents into it first)");
    store_dataset d;
    ds_table *tab = NULL;
    if (!rc && strcmp(type, "llm") == 0 && cJSON_IsString(ds)) {
        eq_err err = store_dataset_get(t, ds->valuestring, 1, &d);
        if (err == EQ_ENOTFOUND)
            rc = api_problem_field(p, 422, "dataset-not-found", prefix, "/dataset", "no dataset has this id");
        else if (err || ds_table_decode(d.table, d.table_len, &tab) != EQ_OK)
            rc = api_problem_field(p, 500, "internal-error", "", "", "the dataset cannot be read");
        if (!err) {
            char *text = tab ? summary_text(t, ds->valuestring, tab, d.name) : NULL;
            if (text) {
                cJSON *ctx = cJSON_CreateObject();
                char title[160];
                snprintf(title, sizeof title, "Dataset %.100s (%s)", d.name, ds->valuestring);
                cJSON_AddStringToObject(ctx, "title", title);
                cJSON_AddStringToObject(ctx, "text", text);
                cJSON_AddItemToObject(params, "dataset_context", ctx);
            } else if (!rc) {
                rc = api_problem_field(p, 500, "internal-error", "", "", "out of memory");
            }
            free(text);
            store_dataset_fini(&d);
        }
        ds_table_free(tab);
    }
    store_txn_abort(t);
    return rc;
}

/* /v1/datasets: validated CSV, XLSX and XLS uploads (multipart or a raw body), parsed off the
 * loop thread, stored through the broker; listing, description, column values, delete. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "api/api_internal.h"
#include "api/upload/upload.h"
#include "common/clock.h"
#include "common/log.h"

#define DATASET_MAX_PARTS 8 /* parts of one multipart upload */

typedef struct upload_work {
    uv_work_t work;
    api *a;
    http_request *r;
    const unsigned char *data; /* borrowed from the request body */
    size_t len;
    char kind[8];
    char name[UPLOAD_NAME_MAX + 1];
    /* results */
    upload_error err;
    int failed;
    unsigned char *table;
    size_t table_len;
    char *description;
    char hash[40];
} upload_work;

static void upload_problem(http_request *r, const upload_error *e) {
    http_respond_problem(r, e->status, e->type, e->status == 413 ? "Payload Too Large"
                                                : e->status == 415 ? "Unsupported Media Type"
                                                                   : "Unprocessable Content",
                         e->detail, NULL);
}

static void upload_run(uv_work_t *w) {
    upload_work *u = w->data;
    upload_limits l;
    ds_table *t = NULL;
    upload_limits_defaults(&l);
    l.max_bytes = u->a->cfg.upload_max_bytes;
    if (upload_parse(u->data, u->len, u->kind, &l, &t, &u->err) != EQ_OK) {
        u->failed = 1;
        return;
    }
    cJSON *d = ds_table_describe(t, 0);
    u->description = d ? cJSON_PrintUnformatted(d) : NULL;
    cJSON_Delete(d);
    if (!u->description || ds_table_encode(t, &u->table, &u->table_len) != EQ_OK) {
        u->failed = 1;
        u->err.status = 500;
        snprintf(u->err.type, sizeof u->err.type, "out-of-memory");
        snprintf(u->err.detail, sizeof u->err.detail, "out of memory while storing the table");
    }
    XXH128_hash_t h = XXH3_128bits(u->data, u->len);
    snprintf(u->hash, sizeof u->hash, "%016llx%016llx", (unsigned long long)h.high64,
             (unsigned long long)h.low64);
    ds_table_free(t);
}

static void upload_free(upload_work *u) {
    free(u->table);
    free(u->description);
    free(u);
}

/* The dataset as the api shows it: its description plus id, name, kind, size, hash, time. */
static char *dataset_json(const char *id, const char *name, const char *kind, uint64_t bytes,
                          const char *hash, int64_t created, const char *description,
                          const cJSON *stats) {
    char ts[32];
    cJSON *o = description ? cJSON_Parse(description) : NULL;
    if (!o)
        o = cJSON_CreateObject();
    eq_time_format(created, ts, sizeof ts);
    static const char *const ours[] = {"id", "name", "kind", "bytes", "hash", "created_at"};
    for (size_t i = 0; i < sizeof ours / sizeof ours[0]; i++)
        cJSON_DeleteItemFromObjectCaseSensitive(o, ours[i]);
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddStringToObject(o, "name", name);
    cJSON_AddStringToObject(o, "kind", kind);
    cJSON_AddNumberToObject(o, "bytes", (double)bytes);
    cJSON_AddStringToObject(o, "hash", hash);
    cJSON_AddStringToObject(o, "created_at", ts);
    if (stats) {
        const cJSON *cols = cJSON_GetObjectItemCaseSensitive(stats, "columns");
        if (cols)
            cJSON_ReplaceItemInObjectCaseSensitive(o, "columns", cJSON_Duplicate(cols, 1));
    }
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

static void put_done(api *a, http_request *r, eq_err status, const char *msg, eq_rd *body,
                     void *arg) {
    upload_work *u = arg;
    if (status != EQ_OK && status != EQ_EEXIST) {
        api_problem_from_err(r, status, msg);
        upload_free(u);
        return;
    }
    char *id = eq_rd_str(body, 64);
    int64_t created = eq_rd_i64(body);
    if (!id || body->bad) {
        free(id);
        api_problem(r, 500, "internal-error", "malformed broker reply");
        upload_free(u);
        return;
    }
    char *json = NULL;
    store_txn *t;
    store_dataset d;
    /* The same content again: answer with the stored dataset (its name, time, description). */
    if (status == EQ_EEXIST && store_txn_begin(a->cfg.st, 0, &t) == EQ_OK) {
        if (store_dataset_get(t, id, 0, &d) == EQ_OK) {
            json = dataset_json(id, d.name, d.kind, d.bytes, d.hash, d.created_ms, d.description,
                                NULL);
            store_dataset_fini(&d);
        }
        store_txn_abort(t);
    }
    if (!json)
        json = dataset_json(id, u->name, u->kind, u->len, u->hash, created, u->description, NULL);
    char hdr[128];
    snprintf(hdr, sizeof hdr, "Location: /v1/datasets/%s\r\n%s", id,
             status == EQ_EEXIST ? "Dataset-Existing: true\r\n" : "");
    /* The same content again: the first dataset, 200 instead of 201. */
    api_json(r, status == EQ_EEXIST ? 200 : 201, hdr, json, strlen(json));
    free(json);
    free(id);
    upload_free(u);
}

static void upload_after(uv_work_t *w, int status) {
    upload_work *u = w->data;
    api *a = u->a;
    if (status != 0 || u->failed) {
        if (status != 0) {
            u->err.status = 503;
            snprintf(u->err.type, sizeof u->err.type, "overloaded");
            snprintf(u->err.detail, sizeof u->err.detail, "the upload was not processed; retry");
        }
        upload_problem(u->r, &u->err);
        upload_free(u);
    } else {
        eq_buf msg;
        eq_buf_init(&msg);
        proto_enc_dataset_put(&msg, u->name, u->kind, u->hash, u->len, u->description, u->table,
                              u->table_len, u->data, u->len);
        api_call_broker(a, u->r, &msg, put_done, u);
        eq_buf_fini(&msg);
    }
    /* Last: the broker call above keeps the api busy on its own. */
    api_busy_end(a);
}

void api_datasets_upload(api *a, http_request *r) {
    size_t len;
    const char *body = http_request_body(r, &len);
    const char *ct = http_request_header(r, "content-type");
    upload_error e;
    char qname[UPLOAD_NAME_MAX_INPUT + 1] = "", name_part[UPLOAD_NAME_MAX_INPUT + 1];
    /* At function scope: the chosen file name points into it until the name is cleaned. */
    multipart_part parts[DATASET_MAX_PARTS];
    upload_work *u = calloc(1, sizeof *u);
    if (!u) {
        api_problem(r, 503, "overloaded", "out of memory; retry");
        return;
    }
    u->a = a;
    u->r = r;
    if (http_request_query_param(r, "name", qname, sizeof qname) < 0) {
        free(u);
        api_problem(r, 400, "invalid-name", "the name parameter is malformed or too long");
        return;
    }
    const char *raw_name = qname[0] ? qname : NULL, *kind = NULL;
    if (ct && strncasecmp(ct, "multipart/form-data", 19) == 0) {
        size_t n = 0;
        if (multipart_parse(ct, body, len, parts, DATASET_MAX_PARTS, &n, &e) != EQ_OK) {
            free(u);
            upload_problem(r, &e);
            return;
        }
        const multipart_part *file = NULL;
        for (size_t i = 0; i < n; i++) {
            if (strcmp(parts[i].name, "file") == 0 && !file) {
                file = &parts[i];
            } else if (strcmp(parts[i].name, "name") == 0 && !raw_name &&
                       parts[i].len <= UPLOAD_NAME_MAX_INPUT) {
                memcpy(name_part, parts[i].data, parts[i].len);
                name_part[parts[i].len] = '\0';
                raw_name = name_part;
            }
        }
        if (!file) {
            free(u);
            api_problem(r, 400, "missing-file", "the multipart body has no part named \"file\"");
            return;
        }
        kind = upload_kind_from_type(file->content_type[0] ? file->content_type : NULL,
                                     file->filename[0] ? file->filename : NULL);
        if (!kind && file->filename[0])
            kind = upload_kind_from_type(NULL, file->filename);
        if (!raw_name && file->filename[0])
            raw_name = file->filename;
        u->data = file->data;
        u->len = file->len;
    } else {
        kind = upload_kind_from_type(ct, NULL);
        u->data = (const unsigned char *)body;
        u->len = len;
    }
    if (!kind) {
        free(u);
        api_problem(r, 415, "unsupported-media-type",
                    "send text/csv, an .xlsx or .xls spreadsheet, or multipart/form-data");
        return;
    }
    if (u->len > a->cfg.upload_max_bytes) {
        free(u);
        api_problem(r, 413, "upload-too-large", "the file is larger than the upload limit");
        return;
    }
    snprintf(u->kind, sizeof u->kind, "%s", kind);
    if (upload_clean_name(raw_name ? raw_name : "dataset", u->name, sizeof u->name, &e) != EQ_OK) {
        free(u);
        upload_problem(r, &e);
        return;
    }
    u->work.data = u;
    api_busy_begin(a);
    if (uv_queue_work(a->loop, &u->work, upload_run, upload_after) != 0) {
        free(u);
        api_busy_end(a);
        api_problem(r, 503, "overloaded", "cannot process the upload now; retry");
    }
}

typedef struct list_ctx {
    eq_buf *b;
    size_t n;
} list_ctx;

static int list_one(void *arg, const char *id, const store_dataset *d) {
    list_ctx *c = arg;
    char *json = dataset_json(id, d->name, d->kind, d->bytes, d->hash, d->created_ms,
                              d->description, NULL);
    if (!json)
        return 1;
    if (c->n++)
        eq_buf_u8(c->b, ',');
    eq_buf_puts(c->b, json);
    free(json);
    return c->n >= 1000; /* a page of the newest 1000 */
}

void api_datasets_list(api *a, http_request *r) {
    store_txn *t;
    if (store_txn_begin(a->cfg.st, 0, &t) != EQ_OK) {
        api_problem(r, 503, "store-unavailable", "the store cannot be read");
        return;
    }
    eq_buf b;
    eq_buf_init(&b);
    eq_buf_puts(&b, "{\"datasets\":[");
    list_ctx c = {.b = &b};
    eq_err err = store_datasets_each(t, list_one, &c);
    store_txn_abort(t);
    eq_buf_puts(&b, "]}");
    if (err)
        api_problem(r, 500, "internal-error", "the dataset list cannot be read");
    else
        api_json(r, 200, NULL, (const char *)b.data, b.len);
    eq_buf_fini(&b);
}

/* Loads a dataset and its table; answers 404 itself when absent. */
static ds_table *load(api *a, http_request *r, const char *id, store_dataset *d) {
    store_txn *t;
    ds_table *tab = NULL;
    if (store_txn_begin(a->cfg.st, 0, &t) != EQ_OK) {
        api_problem(r, 503, "store-unavailable", "the store cannot be read");
        return NULL;
    }
    eq_err err = store_dataset_get(t, id, 1, d);
    store_txn_abort(t);
    if (err == EQ_ENOTFOUND) {
        api_problem(r, 404, "dataset-not-found", "no dataset has this id");
        return NULL;
    }
    if (err || ds_table_decode(d->table, d->table_len, &tab) != EQ_OK) {
        if (!err)
            store_dataset_fini(d);
        api_problem(r, 500, "internal-error", "the dataset cannot be read");
        return NULL;
    }
    return tab;
}

void api_datasets_get(api *a, http_request *r, const char *id, const char *column) {
    store_dataset d;
    ds_table *t = load(a, r, id, &d);
    if (!t)
        return;
    char *json = NULL;
    if (column) {
        cJSON *c = ds_column_json(t, column);
        if (!c) {
            api_problem(r, 404, "column-not-found", "the dataset has no column with this name");
        } else {
            json = cJSON_PrintUnformatted(c);
            cJSON_Delete(c);
        }
    } else {
        cJSON *stats = ds_table_describe(t, 1);
        json = dataset_json(id, d.name, d.kind, d.bytes, d.hash, d.created_ms, d.description, stats);
        cJSON_Delete(stats);
    }
    if (json)
        api_json(r, 200, NULL, json, strlen(json));
    free(json);
    ds_table_free(t);
    store_dataset_fini(&d);
}

static void del_done(api *a, http_request *r, eq_err status, const char *msg, eq_rd *body,
                     void *arg) {
    if (status == EQ_ENOTFOUND)
        api_problem(r, 404, "dataset-not-found", "no dataset has this id");
    else if (status != EQ_OK)
        api_problem_from_err(r, status, msg);
    else
        http_respond(r, 204, NULL, NULL, NULL, 0);
}

void api_datasets_delete(api *a, http_request *r, const char *id) {
    eq_buf msg;
    eq_buf_init(&msg);
    proto_enc_id(&msg, PROTO_DATASET_DEL, id);
    api_call_broker(a, r, &msg, del_done, NULL);
    eq_buf_fini(&msg);
}

int api_dataset_series(api *a, const char *dataset, const char *column, cJSON **out,
                       const char *prefix, api_problem_t *p) {
    store_txn *t;
    store_dataset d;
    ds_table *tab = NULL;
    upload_error e;
    p->status = 0;
    if (a->lent_ds && strcmp(a->lent_ds_id, dataset) == 0) {
        if (ds_table_series_json(a->lent_ds, column, out, &e) != EQ_OK) {
            p->status = 422;
            snprintf(p->slug, sizeof p->slug, "%s", e.type);
            snprintf(p->field, sizeof p->field, "%s/series/column", prefix);
            snprintf(p->detail, sizeof p->detail, "%s", e.detail);
            return -1;
        }
        return 0;
    }
    if (!eq_id_valid(dataset)) {
        p->status = 422;
        snprintf(p->slug, sizeof p->slug, "dataset-not-found");
        snprintf(p->field, sizeof p->field, "%s/series/dataset", prefix);
        snprintf(p->detail, sizeof p->detail, "no dataset has the id \"%.40s\"", dataset);
        return -1;
    }
    if (store_txn_begin(a->cfg.st, 0, &t) != EQ_OK) {
        p->status = 503;
        snprintf(p->slug, sizeof p->slug, "store-unavailable");
        snprintf(p->detail, sizeof p->detail, "the store cannot be read");
        p->field[0] = '\0';
        return -1;
    }
    eq_err err = store_dataset_get(t, dataset, 1, &d);
    store_txn_abort(t);
    if (err == EQ_ENOTFOUND) {
        p->status = 422;
        snprintf(p->slug, sizeof p->slug, "dataset-not-found");
        snprintf(p->field, sizeof p->field, "%s/series/dataset", prefix);
        snprintf(p->detail, sizeof p->detail, "no dataset has the id %s", dataset);
        return -1;
    }
    if (err || ds_table_decode(d.table, d.table_len, &tab) != EQ_OK) {
        if (!err)
            store_dataset_fini(&d);
        p->status = 500;
        snprintf(p->slug, sizeof p->slug, "internal-error");
        snprintf(p->detail, sizeof p->detail, "the dataset cannot be read");
        p->field[0] = '\0';
        return -1;
    }
    store_dataset_fini(&d);
    err = ds_table_series_json(tab, column, out, &e);
    ds_table_free(tab);
    if (err) {
        p->status = 422;
        snprintf(p->slug, sizeof p->slug, "%s", e.type);
        snprintf(p->field, sizeof p->field, "%s/series/column", prefix);
        snprintf(p->detail, sizeof p->detail, "%s", e.detail);
        return -1;
    }
    return 0;
}

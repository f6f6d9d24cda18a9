/* Datasets and batches inside the broker's write transaction. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "broker/lifecycle.h"

eq_err lc_dataset_put(lc_ctx *c, const proto_req *r, char *id, int64_t *created) {
    eq_err err = store_dataset_by_hash(c->txn, r->ds_hash, id);
    if (err == EQ_OK) {
        store_dataset d;
        if ((err = store_dataset_get(c->txn, id, 0, &d)) == EQ_OK) {
            *created = d.created_ms;
            store_dataset_fini(&d);
            return EQ_EEXIST;
        }
        if (err != EQ_ENOTFOUND)
            return err;
    } else if (err != EQ_ENOTFOUND) {
        return err;
    }
    eq_id_new(c->now, id);
    store_dataset d = {
        .created_ms = c->now,
        .bytes = r->ds_bytes,
        .hash = r->ds_hash,
        .name = r->ds_name,
        .kind = r->ds_kind,
        .description = r->ds_description,
        .table = (unsigned char *)r->ds_table,
        .table_len = r->ds_table_len,
    };
    *created = c->now;
    return store_dataset_put(c->txn, id, &d, r->ds_file, r->ds_file_len);
}

eq_err lc_dataset_forecast(lc_ctx *c, const eq_job *j) {
    if (!strstr(j->params, "\"source\":")) /* an inline series */
        return EQ_OK;
    cJSON *p = cJSON_Parse(j->params);
    const cJSON *src = cJSON_GetObjectItemCaseSensitive(p, "source");
    const cJSON *ds = cJSON_GetObjectItemCaseSensitive(src, "dataset");
    const cJSON *col = cJSON_GetObjectItemCaseSensitive(src, "column");
    eq_err err = EQ_OK;
    if (cJSON_IsString(ds) && cJSON_IsString(col))
        err = store_dataset_forecast_put(c->txn, ds->valuestring, col->valuestring, j->id);
    cJSON_Delete(p);
    return err == EQ_EINVAL ? EQ_OK : err; /* a column name too long to index: no summary line */
}

eq_err lc_dataset_del(lc_ctx *c, const char *id) {
    return store_dataset_del(c->txn, id);
}

eq_err lc_batch_create(lc_ctx *c, const proto_req *r, eq_buf *out) {
    char batch_id[EQ_ID_LEN + 1];
    eq_id_new(c->now, batch_id);
    store_batch b = {.created_ms = c->now,
                     .total = r->njobs,
                     .webhook_url = r->batch_webhook_url,
                     .webhook_secret = r->batch_webhook_secret};
    eq_err err = store_batch_put(c->txn, batch_id, &b);
    if (err)
        return err;
    eq_buf_str(out, batch_id);
    eq_buf_i64(out, c->now);
    eq_buf_u32(out, r->njobs);
    for (uint32_t i = 0; i < r->njobs; i++) {
        proto_submit_job s = r->jobs[i];
        char id[EQ_ID_LEN + 1] = "";
        const char *why = NULL;
        s.batch_id = batch_id;
        err = lc_submit(c, &s, NULL, id, &why);
        if (err != EQ_OK && err != EQ_EEXIST && err != EQ_ECONFLICT && err != EQ_EINVAL)
            return err;
        if (err == EQ_OK || err == EQ_EEXIST)
            err = store_batch_add_job(c->txn, batch_id, i, id);
        if (err != EQ_OK && err != EQ_EEXIST && err != EQ_ECONFLICT && err != EQ_EINVAL)
            return err;
        eq_buf_u32(out, (uint32_t)err);
        eq_buf_str(out, why);
        eq_buf_str(out, id[0] ? id : NULL);
    }
    return EQ_OK;
}

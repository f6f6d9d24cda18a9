/* /v1/schedules: cron schedules kept by the broker (broker/schedule.h). Creating and deleting go
 * through the broker; listing reads the store. */
#include <cjson/cJSON.h>
#include <http_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "broker/cron/cron.h"
#include "common/clock.h"
#include "schemas/schemas.h"
#include "store/store_sched.h"

#define SCHED_PATH "/v1/schedules"

static void not_allowed(http_request *r, const char *allow) {
    char hdr[96];
    snprintf(hdr, sizeof hdr, "Allow: %s\r\n", allow);
    http_respond_problem_headers(r, 405, "method-not-allowed", "Method Not Allowed",
                                 "this resource does not accept the method", NULL, hdr);
}

static void invalid(http_request *r, const char *field, const char *detail) {
    api_problem_t p = {.status = 422};
    snprintf(p.slug, sizeof p.slug, "invalid-schedule");
    snprintf(p.field, sizeof p.field, "%.127s", field);
    snprintf(p.detail, sizeof p.detail, "%s: %s", field, detail);
    api_problem_send(r, &p);
}

/* The schedule as JSON: name, cron, job, created_at, last_run_at (null before the first) and
 * next_run_at. The stored job is an encoded one-job submit request. */
static cJSON *schedule_json(const char *name, const store_schedule *sc) {
    char ts[40];
    proto_req r;
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "name", name);
    cJSON_AddStringToObject(o, "cron", sc->cron);
    if (proto_decode_req(sc->job, sc->job_len, &r) == EQ_OK && r.njobs == 1) {
        cJSON *j = cJSON_AddObjectToObject(o, "job");
        cJSON_AddStringToObject(j, "type", r.jobs[0].type);
        cJSON *params = cJSON_Parse(r.jobs[0].params);
        cJSON_AddItemToObject(j, "params", params ? params : cJSON_CreateObject());
        cJSON_AddNumberToObject(j, "priority", r.jobs[0].priority);
        cJSON_AddNumberToObject(j, "max_attempts", r.jobs[0].max_attempts);
        if (r.jobs[0].webhook_url) {
            cJSON *wh = cJSON_AddObjectToObject(j, "webhook");
            cJSON_AddStringToObject(wh, "url", r.jobs[0].webhook_url);
        }
        proto_req_fini(&r);
    }
    eq_time_format(sc->created_ms, ts, sizeof ts);
    cJSON_AddStringToObject(o, "created_at", ts);
    if (sc->last_tick_ms > 0) {
        eq_time_format(sc->last_tick_ms, ts, sizeof ts);
        cJSON_AddStringToObject(o, "last_run_at", ts);
    } else {
        cJSON_AddNullToObject(o, "last_run_at");
    }
    if (sc->next_tick_ms > 0) {
        eq_time_format(sc->next_tick_ms, ts, sizeof ts);
        cJSON_AddStringToObject(o, "next_run_at", ts);
    } else {
        cJSON_AddNullToObject(o, "next_run_at");
    }
    return o;
}

static void respond_json(http_request *r, int status, const char *hdr, cJSON *o) {
    char *text = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!text) {
        api_problem(r, 500, "internal-error", "out of memory");
        return;
    }
    api_json(r, status, hdr, text, strlen(text));
    free(text);
}

static void get_one(api *a, http_request *r, const char *name) {
    store_txn *t;
    store_schedule sc;
    eq_err err = store_txn_begin(a->cfg.st, 0, &t);
    if (err) {
        api_problem_from_err(r, err, NULL);
        return;
    }
    err = store_schedule_get(t, name, &sc);
    store_txn_abort(t);
    if (err == EQ_ENOTFOUND) {
        api_problem(r, 404, "schedule-not-found", "no schedule has this name");
        return;
    }
    if (err) {
        api_problem_from_err(r, err, NULL);
        return;
    }
    cJSON *o = schedule_json(name, &sc);
    store_schedule_fini(&sc);
    respond_json(r, 200, NULL, o);
}

static int list_one(void *arg, const char *name, const store_schedule *sc) {
    cJSON *o = schedule_json(name, sc);
    if (o) cJSON_AddItemToArray(arg, o);
    return 0;
}

static void list(api *a, http_request *r) {
    store_txn *t;
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = o ? cJSON_AddArrayToObject(o, "schedules") : NULL;
    eq_err err = arr ? store_txn_begin(a->cfg.st, 0, &t) : EQ_ENOMEM;
    if (!err) {
        err = store_schedules_each(t, list_one, arr);
        store_txn_abort(t);
    }
    if (err) {
        cJSON_Delete(o);
        api_problem_from_err(r, err, NULL);
        return;
    }
    respond_json(r, 200, NULL, o);
}

typedef struct put_ctx {
    cJSON *body;
} put_ctx;

static void put_done(api *a, http_request *r, eq_err status, const char *msg, eq_rd *body,
                     void *arg) {
    (void)a;
    put_ctx *pc = arg;
    if (status == EQ_EINVAL) {
        invalid(r, "/cron", msg ? msg : "not a cron expression");
    } else if (status == EQ_EFULL) {
        api_problem(r, 409, "too-many-schedules", msg);
    } else if (status != EQ_OK && status != EQ_EEXIST) {
        api_problem_from_err(r, status, msg);
    } else {
        int64_t next = eq_rd_i64(body);
        char ts[40], hdr[160];
        eq_time_format(next, ts, sizeof ts);
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(pc->body, "name");
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", name->valuestring);
        cJSON_AddItemReferenceToObject(o, "cron",
                                       cJSON_GetObjectItemCaseSensitive(pc->body, "cron"));
        cJSON_AddItemReferenceToObject(o, "job", cJSON_GetObjectItemCaseSensitive(pc->body, "job"));
        cJSON_AddStringToObject(o, "next_run_at", ts);
        snprintf(hdr, sizeof hdr, "Location: " SCHED_PATH "/%s\r\n", name->valuestring);
        respond_json(r, status == EQ_EEXIST ? 200 : 201, hdr, o);
    }
    cJSON_Delete(pc->body);
    free(pc);
}

static void put(api *a, http_request *r) {
    cJSON *body = api_parse_json_body(r);
    js_error je;
    cron_expr ce;
    char why[160];
    if (!body) return;
    const js_schema *schema = schemas_get("schedule");
    if (!schema || !js_validate(schema, body, &je)) {
        invalid(r, schema && je.path[0] ? je.path : "/", schema ? je.message : "no schema");
        cJSON_Delete(body);
        return;
    }
    const cJSON *cron = cJSON_GetObjectItemCaseSensitive(body, "cron");
    if (cron_parse(cron->valuestring, &ce, why, sizeof why) != EQ_OK) {
        invalid(r, "/cron", why);
        cJSON_Delete(body);
        return;
    }
    cJSON *env = cJSON_GetObjectItemCaseSensitive(body, "job");
    /* A fixed time would be the same for every run. */
    if (cJSON_GetObjectItemCaseSensitive(env, "run_at") ||
        cJSON_GetObjectItemCaseSensitive(env, "delay_ms")) {
        invalid(r,
                cJSON_GetObjectItemCaseSensitive(env, "run_at") ? "/job/run_at" : "/job/delay_ms",
                "a scheduled job runs at its ticks; run_at and delay_ms are not allowed");
        cJSON_Delete(body);
        return;
    }
    proto_submit_job job;
    char *params = NULL;
    api_problem_t p;
    if (api_job_build(a, env, "/job", &job, &params, &p)) {
        api_problem_send(r, &p);
        cJSON_Delete(body);
        return;
    }
    put_ctx *pc = malloc(sizeof *pc);
    if (!pc) {
        free(params);
        cJSON_Delete(body);
        api_problem(r, 503, "overloaded", "out of memory; retry");
        return;
    }
    pc->body = body;
    eq_buf msg;
    eq_buf_init(&msg);
    proto_enc_schedule_put(&msg, cJSON_GetObjectItemCaseSensitive(body, "name")->valuestring,
                           cron->valuestring, &job);
    free(params);
    api_call_broker(a, r, &msg, put_done, pc);
    eq_buf_fini(&msg);
}

static void del_done(api *a, http_request *r, eq_err status, const char *msg, eq_rd *body,
                     void *arg) {
    (void)a;
    (void)body;
    (void)arg;
    if (status == EQ_ENOTFOUND)
        api_problem(r, 404, "schedule-not-found", "no schedule has this name");
    else if (status != EQ_OK)
        api_problem_from_err(r, status, msg);
    else
        http_respond(r, 204, NULL, NULL, NULL, 0);
}

int api_route_schedules(api *a, http_request *r, const char *path, int m) {
    size_t pl = strlen(SCHED_PATH);
    if (strncmp(path, SCHED_PATH, pl) != 0 || (path[pl] && path[pl] != '/')) return 0;
    if (!path[pl] || !path[pl + 1]) {
        if (m == HTTP_POST)
            put(a, r);
        else if (m == HTTP_GET || m == HTTP_HEAD)
            list(a, r);
        else
            not_allowed(r, "GET, POST");
        return 1;
    }
    const char *name = path + pl + 1;
    size_t nl = strlen(name);
    if (nl > STORE_SCHEDULE_NAME_MAX || strchr(name, '/')) {
        api_problem(r, 404, "schedule-not-found", "no schedule has this name");
        return 1;
    }
    if (m == HTTP_GET || m == HTTP_HEAD) {
        get_one(a, r, name);
    } else if (m == HTTP_DELETE) {
        eq_buf msg;
        eq_buf_init(&msg);
        proto_enc_id(&msg, PROTO_SCHEDULE_DEL, name);
        api_call_broker(a, r, &msg, del_done, NULL);
        eq_buf_fini(&msg);
    } else {
        not_allowed(r, "GET, DELETE");
    }
    return 1;
}

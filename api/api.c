/* The api's plumbing: the HTTP server, routing, calls to the broker and its job events. */
#include "api/api_internal.h"

#include <cjson/cJSON.h>
#include <http_parser.h>
#include <nng/protocol/pubsub0/sub.h>
#include <nng/protocol/reqrep0/req.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "common/log.h"
#include "common/proto.h"
#include "schemas/schemas.h"

struct api_call {
    api *a;
    nng_ctx ctx;
    nng_aio *aio;
    int sending;
    int rv;
    nng_msg *reply;
    http_request *req;
    api_call_cb cb;
    void *arg;
    api_call *next;
};

void api_problem(http_request *r, int status, const char *slug, const char *detail) {
    static const struct { int status; const char *title; } titles[] = {
        {400, "Bad Request"}, {401, "Unauthorized"}, {404, "Not Found"},
        {405, "Method Not Allowed"}, {409, "Conflict"}, {413, "Payload Too Large"},
        {415, "Unsupported Media Type"}, {422, "Unprocessable Content"},
        {429, "Too Many Requests"}, {500, "Internal Server Error"},
        {503, "Service Unavailable"}, {507, "Insufficient Storage"},
    };
    const char *title = "Error";
    for (size_t i = 0; i < sizeof titles / sizeof titles[0]; i++)
        if (titles[i].status == status)
            title = titles[i].title;
    http_respond_problem(r, status, slug, title, detail, NULL);
}

void api_json(http_request *r, int status, const char *extra_headers, const char *json, size_t len) {
    http_respond(r, status, "application/json", extra_headers, json, len);
}

void api_problem_from_err(http_request *r, eq_err err, const char *msg) {
    switch (err) {
    case EQ_ENOTFOUND: api_problem(r, 404, "job-not-found", msg ? msg : "no job has this id"); break;
    case EQ_ECONFLICT: api_problem(r, 409, "conflict", msg); break;
    case EQ_EFULL:
        api_problem(r, 507, "store-full", "the store has no space left; nothing was written");
        break;
    case EQ_ETIMEDOUT:
    case EQ_ECLOSED:
        api_problem(r, 503, "broker-unavailable", "the broker did not answer in time; retry");
        break;
    case EQ_EIO:
    case EQ_ESTORE: {
        char detail[160];
        snprintf(detail, sizeof detail, "the store could not write (%s); nothing was written, retry",
                 eq_strerror(err));
        http_respond_problem_headers(r, 503, "store-unavailable", "Service Unavailable", detail,
                                     NULL, "Retry-After: 5\r\n");
        break;
    }
    default: api_problem(r, 500, "internal-error", eq_strerror(err)); break;
    }
}

/* ---- calls to the broker: nng callbacks hand replies to the loop through uv_async. */

static void call_aio_cb(void *arg) {
    api_call *c = arg;
    api *a = c->a;
    int rv = nng_aio_result(c->aio);
    if (c->sending) {
        if (rv == 0) {
            c->sending = 0;
            nng_ctx_recv(c->ctx, c->aio);
            return;
        }
        nng_msg_free(nng_aio_get_msg(c->aio));
    }
    c->rv = rv;
    c->reply = rv == 0 ? nng_aio_get_msg(c->aio) : NULL;
    pthread_mutex_lock(&a->mu);
    c->next = a->done_calls;
    a->done_calls = c;
    pthread_mutex_unlock(&a->mu);
    uv_async_send(&a->async);
}

void api_call_broker(api *a, http_request *req, const eq_buf *msg, api_call_cb cb, void *arg) {
    api_call *c = a->free_calls;
    nng_msg *m = NULL;
    eq_rd empty;
    eq_rd_init(&empty, "", 0);
    if (c) {
        a->free_calls = c->next;
    } else {
        c = calloc(1, sizeof *c);
        if (!c || nng_ctx_open(&c->ctx, a->req_sock) != 0) {
            free(c);
            cb(a, req, EQ_ECLOSED, NULL, &empty, arg);
            return;
        }
        if (nng_aio_alloc(&c->aio, call_aio_cb, c) != 0) {
            nng_ctx_close(c->ctx);
            free(c);
            cb(a, req, EQ_ECLOSED, NULL, &empty, arg);
            return;
        }
        c->a = a;
    }
    if (msg->oom || nng_msg_alloc(&m, 0) != 0 || nng_msg_append(m, msg->data, msg->len) != 0) {
        if (m)
            nng_msg_free(m);
        c->next = a->free_calls;
        a->free_calls = c;
        cb(a, req, EQ_ENOMEM, NULL, &empty, arg);
        return;
    }
    c->req = req;
    c->cb = cb;
    c->arg = arg;
    c->sending = 1;
    a->busy++;
    c->reply = NULL;
    nng_aio_set_timeout(c->aio, API_BROKER_TIMEOUT_MS);
    nng_aio_set_msg(c->aio, m);
    nng_ctx_send(c->ctx, c->aio);
}

static void finish_call(api *a, api_call *c) {
    eq_err status = EQ_OK;
    char *msg = NULL;
    eq_rd rd;
    if (c->rv != 0) {
        status = c->rv == NNG_ETIMEDOUT ? EQ_ETIMEDOUT : EQ_ECLOSED;
        eq_rd_init(&rd, "", 0);
    } else {
        eq_rd_init(&rd, nng_msg_body(c->reply), nng_msg_len(c->reply));
        if (proto_dec_reply(&rd, &status, &msg) != EQ_OK)
            status = EQ_EPROTO;
    }
    c->cb(a, c->req, status, msg, &rd, c->arg);
    free(msg);
    if (c->reply)
        nng_msg_free(c->reply);
    c->reply = NULL;
    c->req = NULL;
    c->next = a->free_calls;
    a->free_calls = c;
    api_busy_end(a);
}

static void sub_aio_cb(void *arg) {
    api *a = arg;
    if (nng_aio_result(a->sub_aio) != 0)
        return; /* closed */
    nng_msg *m = nng_aio_get_msg(a->sub_aio);
    size_t len = nng_msg_len(m), n = len / BROKER_EVENT_LEN;
    const char *rec = nng_msg_body(m);
    if (n > 0 && len % BROKER_EVENT_LEN == 0) {
        pthread_mutex_lock(&a->mu);
        /* Only ids with a long-poll waiting matter; the loop thread sorts that out. */
        for (size_t k = 0; k < n; k++, rec += BROKER_EVENT_LEN) {
            if (a->nevents == a->cap_events) {
                size_t cap = a->cap_events ? a->cap_events * 2 : 256;
                void *p = realloc(a->events, cap * sizeof *a->events);
                if (!p)
                    break;
                a->events = p;
                a->cap_events = cap;
            }
            memcpy(a->events[a->nevents], rec, EQ_ID_LEN);
            a->events[a->nevents++][EQ_ID_LEN] = '\0';
        }
        pthread_mutex_unlock(&a->mu);
        uv_async_send(&a->async);
    }
    nng_msg_free(m);
    nng_recv_aio(a->sub_sock, a->sub_aio);
}

static void async_cb(uv_async_t *h) {
    api *a = h->data;
    pthread_mutex_lock(&a->mu);
    api_call *calls = a->done_calls;
    a->done_calls = NULL;
    size_t nev = a->nevents;
    char (*events)[EQ_ID_LEN + 1] = NULL;
    if (nev) {
        events = malloc(nev * sizeof *events);
        if (events)
            memcpy(events, a->events, nev * sizeof *events);
        a->nevents = 0;
    }
    pthread_mutex_unlock(&a->mu);
    /* Replies arrive newest first; answer them in the order they were made. */
    api_call *rev = NULL;
    while (calls) {
        api_call *nx = calls->next;
        calls->next = rev;
        rev = calls;
        calls = nx;
    }
    while (rev) {
        api_call *nx = rev->next;
        finish_call(a, rev);
        rev = nx;
    }
    for (size_t i = 0; events && i < nev; i++)
        api_wait_wake(a, events[i]);
    free(events);
}

/* ---- routing */

static void method_not_allowed(http_request *r, const char *allow);

#define API_MULTIPART_OVERHEAD (64u << 10) /* boundaries and part headers around a file */

static size_t body_limit(void *ctx, const http_request *head) {
    api *a = ctx;
    if (http_request_method(head) == HTTP_POST && strcmp(http_request_path(head), "/v1/datasets") == 0)
        return a->cfg.upload_max_bytes + API_MULTIPART_OVERHEAD;
    /* A batch of up to 10,000 jobs. */
    if (http_request_method(head) == HTTP_POST && strcmp(http_request_path(head), "/v1/batches") == 0)
        return a->cfg.max_body_bytes * 32;
    return a->cfg.max_body_bytes;
}

/* Splits "/prefix/ID[/rest]": copies a valid id into id and returns rest ("" or "/..."), or
 * NULL when the id is malformed. */
static const char *path_id(const char *path, size_t prefix_len, char *id) {
    const char *p = path + prefix_len, *slash = strchr(p, '/');
    size_t n = slash ? (size_t)(slash - p) : strlen(p);
    if (n != EQ_ID_LEN)
        return NULL;
    memcpy(id, p, EQ_ID_LEN);
    id[EQ_ID_LEN] = '\0';
    return eq_id_valid(id) ? (slash ? slash : "") : NULL;
}

static int route_datasets(api *a, http_request *r, const char *path, int m) {
    char id[EQ_ID_LEN + 1];
    if (strcmp(path, "/v1/datasets") == 0) {
        if (m == HTTP_POST)
            api_datasets_upload(a, r);
        else if (m == HTTP_GET || m == HTTP_HEAD)
            api_datasets_list(a, r);
        else
            method_not_allowed(r, "GET, POST");
        return 1;
    }
    if (strncmp(path, "/v1/datasets/", 13) != 0)
        return 0;
    const char *rest = path_id(path, 13, id);
    if (!rest) {
        api_problem(r, 404, "dataset-not-found", "no dataset has this id");
    } else if (!rest[0]) {
        if (m == HTTP_GET || m == HTTP_HEAD)
            api_datasets_get(a, r, id, NULL);
        else if (m == HTTP_DELETE)
            api_datasets_delete(a, r, id);
        else
            method_not_allowed(r, "GET, DELETE");
    } else if (strncmp(rest, "/columns/", 9) == 0 && rest[9]) {
        if (m == HTTP_GET || m == HTTP_HEAD)
            api_datasets_get(a, r, id, rest + 9);
        else
            method_not_allowed(r, "GET");
    } else {
        api_problem(r, 404, "not-found", "no such resource");
    }
    return 1;
}

static int route_batches(api *a, http_request *r, const char *path, int m) {
    char id[EQ_ID_LEN + 1];
    if (strcmp(path, "/v1/batches") == 0) {
        if (m == HTTP_POST)
            api_batches_submit(a, r);
        else
            method_not_allowed(r, "POST");
        return 1;
    }
    if (strncmp(path, "/v1/batches/", 12) != 0)
        return 0;
    const char *rest = path_id(path, 12, id);
    int get = m == HTTP_GET || m == HTTP_HEAD;
    if (!rest)
        api_problem(r, 404, "batch-not-found", "no batch has this id");
    else if (!get)
        method_not_allowed(r, "GET");
    else if (!rest[0])
        api_batches_get(a, r, id);
    else if (strcmp(rest, "/jobs") == 0)
        api_batches_jobs(a, r, id);
    else if (strcmp(rest, "/deliveries") == 0)
        api_deliveries_list(a, r, id);
    else if (strcmp(rest, "/results") == 0 || strcmp(rest, "/results.json") == 0)
        api_batches_results(a, r, id, 0);
    else if (strcmp(rest, "/results.xlsx") == 0)
        api_batches_results(a, r, id, 1);
    else
        api_problem(r, 404, "not-found", "no such resource");
    return 1;
}

static void method_not_allowed(http_request *r, const char *allow) {
    char hdr[128], detail[128];
    snprintf(hdr, sizeof hdr, "Allow: %s\r\n", allow);
    snprintf(detail, sizeof detail, "this resource accepts %s", allow);
    cJSON *extra = cJSON_CreateObject();
    if (extra)
        cJSON_AddStringToObject(extra, "allow", allow);
    http_respond_problem_headers(r, 405, "method-not-allowed", "Method Not Allowed", detail, extra,
                                 hdr);
}

static void handle(void *ctx, http_request *r) {
    api *a = ctx;
    const char *path = http_request_path(r);
    int m = http_request_method(r);
    if (api_guard(a, r)) /* API key and rate limit (api/metrics.c); answered when refused */
        return;
    if (strcmp(path, "/v1/jobs") == 0) {
        if (m == HTTP_POST)
            api_jobs_submit(a, r);
        else if (m == HTTP_GET || m == HTTP_HEAD)
            api_jobs_list(a, r);
        else
            method_not_allowed(r, "GET, POST");
        return;
    }
    if (strncmp(path, "/v1/jobs/", 9) == 0) {
        const char *id = path + 9;
        const char *slash = strchr(id, '/');
        char idbuf[EQ_ID_LEN + 1];
        size_t idlen = slash ? (size_t)(slash - id) : strlen(id);
        if (idlen != EQ_ID_LEN) {
            api_problem(r, 404, "job-not-found", "no job has this id");
            return;
        }
        memcpy(idbuf, id, EQ_ID_LEN);
        idbuf[EQ_ID_LEN] = '\0';
        if (!eq_id_valid(idbuf)) {
            api_problem(r, 404, "job-not-found", "no job has this id");
            return;
        }
        if (!slash) {
            if (m == HTTP_GET || m == HTTP_HEAD)
                api_jobs_get(a, r, idbuf);
            else if (m == HTTP_DELETE)
                api_jobs_cancel(a, r, idbuf);
            else
                method_not_allowed(r, "GET, DELETE");
            return;
        }
        if (strcmp(slash, "/deliveries") == 0) {
            if (m == HTTP_GET || m == HTTP_HEAD)
                api_deliveries_list(a, r, idbuf);
            else
                method_not_allowed(r, "GET");
            return;
        }
        if (strcmp(slash, "/retry") == 0) {
            if (m == HTTP_POST)
                api_jobs_retry(a, r, idbuf);
            else
                method_not_allowed(r, "POST");
            return;
        }
    } else if (strncmp(path, "/v1/deliveries/", 15) == 0) {
        const char *id = path + 15, *slash = strchr(id, '/');
        char idbuf[48];
        size_t n = slash ? (size_t)(slash - id) : strlen(id);
        if (slash && strcmp(slash, "/redeliver") == 0 && n < sizeof idbuf) {
            memcpy(idbuf, id, n);
            idbuf[n] = '\0';
            if (m == HTTP_POST)
                api_deliveries_redeliver(a, r, idbuf);
            else
                method_not_allowed(r, "POST");
            return;
        }
    } else if (route_datasets(a, r, path, m) || route_batches(a, r, path, m) ||
               api_route_schedules(a, r, path, m) || api_route_charts(a, r, path, m) ||
               api_route_collections(a, r, path, m)) {
        return;
    } else if (strcmp(path, "/openapi.json") == 0) {
        if (m == HTTP_GET || m == HTTP_HEAD) {
            const char *doc = schemas_openapi_json();
            http_respond(r, 200, "application/json", "Cache-Control: max-age=300\r\n", doc,
                         strlen(doc));
        } else {
            method_not_allowed(r, "GET");
        }
        return;
    } else if (strcmp(path, "/metrics") == 0) {
        if (m == HTTP_GET || m == HTTP_HEAD)
            api_metrics(a, r);
        else
            method_not_allowed(r, "GET");
        return;
    } else if (strcmp(path, "/health") == 0) {
        if (m == HTTP_GET || m == HTTP_HEAD)
            api_health(a, r);
        else
            method_not_allowed(r, "GET");
        return;
    }
    api_problem(r, 404, "not-found", "no such resource");
}

eq_err api_start(uv_loop_t *loop, const api_config *cfg, api **out) {
    api *a = calloc(1, sizeof *a);
    int rv;
    if (!a)
        return EQ_ENOMEM;
    a->cfg = *cfg;
    a->loop = loop;
    pthread_mutex_init(&a->mu, NULL);
    if ((rv = nng_req0_open(&a->req_sock)) != 0 || (rv = nng_sub0_open(&a->sub_sock)) != 0)
        goto fail_nng;
    nng_socket_set_ms(a->req_sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
    nng_socket_set_size(a->req_sock, NNG_OPT_RECVMAXSZ, PROTO_MAX_MSG_BYTES);
    if ((rv = nng_dial(a->req_sock, cfg->broker_url, NULL, NNG_FLAG_NONBLOCK)) != 0)
        goto fail_nng;
    nng_socket_set(a->sub_sock, NNG_OPT_SUB_SUBSCRIBE, "", 0);
    if ((rv = nng_dial(a->sub_sock, cfg->events_url, NULL, NNG_FLAG_NONBLOCK)) != 0)
        goto fail_nng;
    if ((rv = nng_aio_alloc(&a->sub_aio, sub_aio_cb, a)) != 0)
        goto fail_nng;
    uv_async_init(loop, &a->async, async_cb);
    a->async.data = a;
    uv_check_init(loop, &a->flush_check);
    a->flush_check.data = a;
    uv_check_start(&a->flush_check, api_submit_flush_cb);
    nng_recv_aio(a->sub_sock, a->sub_aio);

    http_server_config hc;
    http_server_config_defaults(&hc);
    hc.host = cfg->host;
    hc.port = cfg->port;
    if (cfg->max_body_bytes)
        hc.max_body_bytes = cfg->max_body_bytes;
    else
        a->cfg.max_body_bytes = hc.max_body_bytes;
    if (!a->cfg.upload_max_bytes)
        a->cfg.upload_max_bytes = 10u << 20;
    if (cfg->max_connections)
        hc.max_connections = cfg->max_connections;
    if (cfg->header_timeout_ms)
        hc.header_timeout_ms = cfg->header_timeout_ms;
    if (cfg->idle_timeout_ms)
        hc.idle_timeout_ms = cfg->idle_timeout_ms;
    hc.body_limit_fn = body_limit;
    eq_err err = http_server_start(loop, &hc, handle, a, &a->http);
    if (err) {
        nng_close(a->sub_sock);
        nng_close(a->req_sock);
        nng_aio_free(a->sub_aio);
        uv_close((uv_handle_t *)&a->async, NULL);
        uv_close((uv_handle_t *)&a->flush_check, NULL);
        /* The caller runs the loop to close the async handle; a is leaked only on this path
         * if the loop never runs again, which econqd does not do. */
        *out = NULL;
        return err;
    }
    *out = a;
    return EQ_OK;
fail_nng:
    eq_log(EQ_LOG_ERROR, "api cannot reach the broker", "url", cfg->broker_url, "error",
           nng_strerror(rv), NULL);
    nng_close(a->sub_sock);
    nng_close(a->req_sock);
    pthread_mutex_destroy(&a->mu);
    free(a);
    return EQ_EIO;
}

int api_port(const api *a) {
    return http_server_port(a->http);
}

static void async_closed(uv_handle_t *h) {
    api *a = h->data;
    while (a->free_calls) {
        api_call *c = a->free_calls;
        a->free_calls = c->next;
        nng_aio_free(c->aio);
        free(c);
    }
    free(a->events);
    pthread_mutex_destroy(&a->mu);
    void (*done)(void *) = a->stop_done;
    void *arg = a->stop_arg;
    free(a);
    if (done)
        done(arg);
}

static void api_close(api *a);

void api_busy_begin(api *a) {
    a->busy++;
}

void api_busy_end(api *a) {
    if (a->busy > 0)
        a->busy--;
    if (a->busy == 0 && a->http_stopped)
        api_close(a);
}

static void http_stopped(void *arg) {
    api *a = arg;
    a->http_stopped = 1;
    if (a->busy == 0)
        api_close(a);
}

/* Everything has been answered: close the broker sockets and free. */
static void api_close(api *a) {
    a->http_stopped = 0; /* once */
    /* No request is in flight any more: every broker call has been answered. */
    nng_aio_stop(a->sub_aio);
    nng_close(a->sub_sock);
    nng_close(a->req_sock);
    nng_aio_free(a->sub_aio);
    /* Calls that completed after the last async run. */
    pthread_mutex_lock(&a->mu);
    api_call *calls = a->done_calls;
    a->done_calls = NULL;
    pthread_mutex_unlock(&a->mu);
    while (calls) {
        api_call *nx = calls->next;
        if (calls->reply)
            nng_msg_free(calls->reply);
        nng_aio_free(calls->aio);
        free(calls);
        calls = nx;
    }
    uv_close((uv_handle_t *)&a->flush_check, NULL);
    uv_close((uv_handle_t *)&a->async, async_closed);
}

void api_stop(api *a, void (*done)(void *arg), void *arg) {
    a->stopping = 1;
    a->stop_done = done;
    a->stop_arg = arg;
    api_wait_cancel_all(a);
    http_server_stop(a->http, http_stopped, a);
}

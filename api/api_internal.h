/* Shared by the api's files. */
#ifndef ECONQ_API_INTERNAL_H
#define ECONQ_API_INTERNAL_H
#include <nng/nng.h>
#include <pthread.h>
#include "api/api.h"
#include "api/http/http_server.h"
#include "common/buf.h"
#include "common/id.h"
#include "common/proto.h"

typedef struct api_call api_call;
/* Called on the loop thread with the broker's reply; body is positioned after the reply
 * header. status is EQ_ETIMEDOUT or EQ_ECLOSED when the broker did not answer. */
typedef void (*api_call_cb)(api *a, http_request *req, eq_err status, const char *msg,
                            eq_rd *body, void *arg);

typedef struct api_waiter {
    api *a;
    http_request *req;
    char id[EQ_ID_LEN + 1];
    uv_timer_t timer;
    struct api_waiter *next;
} api_waiter;

#define API_WAIT_BUCKETS 1024
#define API_SUBMIT_BATCH_MAX 512              /* submits sent to the broker in one message */
#define API_SUBMIT_BATCH_BYTES (8u << 20)

/* Submits gathered during one loop iteration, sent as one broker message (see jobs.c). */
typedef struct submit_batch {
    eq_buf jobs;            /* encoded proto_submit_job records */
    http_request **reqs;
    uint32_t n, cap;
} submit_batch;

struct api {
    api_config cfg;
    uv_loop_t *loop;
    http_server *http;
    nng_socket req_sock, sub_sock;
    nng_aio *sub_aio;
    uv_async_t async;
    pthread_mutex_t mu;          /* guards done_calls and events (filled by nng threads) */
    api_call *done_calls;
    char (*events)[EQ_ID_LEN + 1];
    size_t nevents, cap_events;
    api_call *free_calls;        /* loop thread only */
    api_waiter *waiters[API_WAIT_BUCKETS];
    submit_batch *batch;         /* loop thread only; NULL when empty */
    uv_check_t flush_check;
    size_t nwaiters;
    void (*stop_done)(void *);
    void *stop_arg;
    int stopping;
    int http_stopped;            /* the HTTP server is gone; close when nothing is busy */
    size_t busy;                 /* broker calls and threadpool work not yet finished */
    /* A decoded dataset lent by a batch template while it builds its jobs (one decode for
     * every column); NULL otherwise. */
    const char *lent_ds_id;
    const struct ds_table *lent_ds;
};

/* Work that outlives its request's connection (threadpool jobs): the api is not freed until
 * every begin has its end. Loop thread only. */
void api_busy_begin(api *a);
void api_busy_end(api *a);

/* Sends msg to the broker for req; cb runs on the loop thread with the reply. */
void api_call_broker(api *a, http_request *req, const eq_buf *msg, api_call_cb cb, void *arg);

/* Problem answers with the stable slugs used across the api. */
void api_problem(http_request *r, int status, const char *slug, const char *detail);
/* Answers JSON text with the given status. */
void api_json(http_request *r, int status, const char *extra_headers, const char *json, size_t len);
/* Maps a broker or store error to its HTTP answer. */
void api_problem_from_err(http_request *r, eq_err err, const char *msg);

/* Sends the gathered submits; runs after each loop iteration's I/O. */
void api_submit_flush_cb(uv_check_t *h);

/* Route handlers (api/jobs.c, api/health.c). */
void api_jobs_submit(api *a, http_request *r);
void api_jobs_get(api *a, http_request *r, const char *id);
/* Answers the job as it is now (no long-poll). */
void api_jobs_respond(api *a, http_request *r, const char *id);
void api_jobs_cancel(api *a, http_request *r, const char *id);
void api_jobs_retry(api *a, http_request *r, const char *id);
void api_jobs_list(api *a, http_request *r);
void api_health(api *a, http_request *r);
void api_datasets_upload(api *a, http_request *r);
void api_datasets_list(api *a, http_request *r);
/* column NULL: the dataset's description with statistics; else that column's values. */
void api_datasets_get(api *a, http_request *r, const char *id, const char *column);
void api_datasets_delete(api *a, http_request *r, const char *id);
void api_deliveries_list(api *a, http_request *r, const char *subject);
void api_deliveries_redeliver(api *a, http_request *r, const char *id);
void api_batches_submit(api *a, http_request *r);
void api_batches_get(api *a, http_request *r, const char *id);
void api_batches_jobs(api *a, http_request *r, const char *id);
void api_batches_results(api *a, http_request *r, const char *id, int xlsx);
/* /v1/schedules and /v1/schedules/{name} (api/schedules.c): 1 when the path was theirs. */
int api_route_schedules(api *a, http_request *r, const char *path, int m);
/* GET /v1/charts/{id} (api/charts.c); 1 when the path was theirs. */
int api_route_charts(api *a, http_request *r, const char *path, int m);
/* /v1/collections[/{name}[/documents/{id}]] (api/collections.c); 1 when the path was theirs. */
int api_route_collections(api *a, http_request *r, const char *path, int m);

/* Long-polls: answer req when job id finishes or after wait_s seconds. */
void api_wait_add(api *a, http_request *req, const char *id, unsigned wait_s);
void api_wait_wake(api *a, const char *id);
void api_wait_cancel_all(api *a);

/* A problem to answer with, built before the answer is sent. */
typedef struct api_problem_t {
    int status;
    char slug[48];
    char field[128];     /* JSON pointer of the offending member, "" when none */
    char detail[640];
} api_problem_t;
void api_problem_send(http_request *r, const api_problem_t *p);
/* Fills p for the member `prefix field` (e.g. "/jobs/3" "/params/collection"), the detail
 * prefixed by that pointer when there is one. Returns -1, for `return api_problem_field(...)`. */
int api_problem_field(api_problem_t *p, int status, const char *slug, const char *prefix,
                      const char *field, const char *detail);

/* Turns a job envelope into a submit: validates it (errors name fields under `prefix`, e.g.
 * "/jobs/3"), resolves a forecast's dataset series, canonicalises the params. *params_out is
 * the params text (caller frees; job->params points to it; other strings are borrowed from
 * env). Returns 0, or -1 with p filled. */
int api_job_build(api *a, struct cJSON *env, const char *prefix, proto_submit_job *job,
                  char **params_out, api_problem_t *p);
/* A webhook's URL (http/https) and secret (whsec_, or the server's default) at submit. */
int api_webhook_check(api *a, const char *url, const char *secret, const char *prefix,
                      api_problem_t *p);
/* The inline series {dates, values} of a dataset's column (api/datasets.c). */
int api_dataset_series(api *a, const char *dataset, const char *column, struct cJSON **out,
                       const char *prefix, api_problem_t *p);
/* chart and report jobs: what they draw (a forecast job's history and result, dataset columns,
 * or a report's forecasts) goes into params.resolved. Returns 0, or -1 with p filled. */
int api_chart_resolve(api *a, const char *type, struct cJSON *params, const char *prefix,
                      api_problem_t *p);
/* embed, search and llm jobs at submit: the collection exists (search, llm), an llm job's
 * dataset summary goes into params.dataset_context. Returns 0, or -1 with p filled. */
int api_coll_job_resolve(api *a, const char *type, struct cJSON *params, const char *prefix,
                         api_problem_t *p);

/* Parses a JSON body with the depth and size limits; answers the problem itself and returns
 * NULL when the body is not acceptable JSON. */
struct cJSON *api_parse_json_body(http_request *r);

/* Every answer of the api is logged once and counted (api/metrics.c): the api's files answer
 * through api_respond*, which call the HTTP library's functions of the same names. */
#include "api/prod.h"
#define http_respond api_respond
#define http_respond_problem api_respond_problem
#define http_respond_problem_headers api_respond_problem_headers

#endif

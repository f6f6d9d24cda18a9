/* libeconq: the C client of econq's HTTP API (v1), over libcurl.
 *
 * One eq_client holds one libcurl easy handle, so keep-alive connections to the server are
 * reused across calls. A handle may be used from one thread at a time; use one handle per
 * thread for parallel work.
 *
 * Every fallible call returns an eq_err (EQ_OK = 0). When a call fails, econq_problem() tells
 * why: for an answer from the server its problem+json (status, type, title, detail, field); for
 * a failure before an answer (server unreachable, timeout, bad argument) status is 0 and
 * `detail` says what happened. The problem is reset at the start of every call.
 *
 * HTTP status → eq_err: 400/422 EQ_EINVAL, 401/403 EQ_EINVAL, 404 EQ_ENOTFOUND, 405
 * EQ_EUNSUPPORTED, 409 EQ_ECONFLICT, 408/504 EQ_ETIMEDOUT, 413/414/431 EQ_ETOOBIG, 415
 * EQ_EUNSUPPORTED, 429/503 EQ_EBUSY, 507 EQ_EFULL, other 4xx/5xx EQ_EIO. Without an answer:
 * EQ_ENET (connection refused, reset, DNS), EQ_ETIMEDOUT (deadline), EQ_EPROTO (an answer that
 * is not the JSON the API promises), EQ_ETOOBIG (an answer over ECONQ_MAX_RESPONSE_BYTES).
 *
 * Strings returned through `char **json_out` are malloc'ed, NUL-terminated JSON text: the
 * caller frees them with free(). Structs filled by a call (eq_job, eq_job_list,
 * eq_batch_status) are zeroed first and released with their _fini, which is safe whatever the
 * call returned. */
#ifndef ECONQ_CLIENT_ECONQ_H
#define ECONQ_CLIENT_ECONQ_H

#include <stddef.h>
#include <stdint.h>

#include "common/eq_err.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define ECONQ_API __attribute__((visibility("default")))
#else
#define ECONQ_API
#endif

/* Largest answer body kept in memory (job results, lists, batch results as JSON). */
#define ECONQ_MAX_RESPONSE_BYTES (64u * 1024 * 1024)
/* Largest workbook written by econq_batch_results_xlsx(). */
#define ECONQ_MAX_XLSX_BYTES (256u * 1024 * 1024)
/* Largest file econq_dataset_upload_file() reads (the server's own limit is lower by default). */
#define ECONQ_MAX_UPLOAD_BYTES (256u * 1024 * 1024)
/* Longest server-side long-poll: the api caps ?wait at 60 seconds. */
#define ECONQ_MAX_LONG_POLL_S 60
/* Size of a buffer that holds an econq id (26 chars) or a short name, with room to spare. */
#define ECONQ_ID_SIZE 72

typedef struct eq_client eq_client;

/* Why the last call failed. Strings are NUL-terminated and truncated to fit. */
typedef struct eq_problem {
    int status;     /* HTTP status of the answer; 0 when no answer came */
    char type[128]; /* "/problems/<slug>"; a client-side failure uses "/problems/client-<slug>" */
    char title[256];
    char detail[1024];
    char field[256]; /* JSON pointer of the offending field, or "" */
} eq_problem;

typedef enum eq_job_state {
    EQ_JOB_UNKNOWN = 0,
    EQ_JOB_QUEUED,
    EQ_JOB_RUNNING,
    EQ_JOB_SUCCEEDED,
    EQ_JOB_FAILED,
    EQ_JOB_CANCELLED,
} eq_job_state;

/* A job as the server described it. The fixed fields are copied out of `json` for convenience;
 * `json` is the whole object (params, timestamps, result or error). Release with econq_job_fini. */
typedef struct eq_job {
    char id[ECONQ_ID_SIZE];
    char type[ECONQ_ID_SIZE];
    eq_job_state state;
    int priority;
    int attempt;
    int max_attempts;
    int cached;           /* the result came from the cache */
    int cancel_requested; /* a running job was asked to stop */
    int replayed;         /* submit: an Idempotency-Key returned an earlier job */
    char batch[ECONQ_ID_SIZE];
    char error_code[64];
    char error_message[512];
    char *json; /* owned; NUL-terminated */
} eq_job;

/* A client. `base_url` like "http://127.0.0.1:8080" (a trailing '/' is ignored); `api_key`
 * may be NULL, otherwise it is sent as "Authorization: Bearer KEY". NULL on a bad argument or
 * when out of memory. Free with econq_free(). */
ECONQ_API eq_client *econq_new(const char *base_url, const char *api_key);
ECONQ_API void econq_free(eq_client *c);

/* The details of the last failure on `c` (borrowed; valid until the next call on `c`). */
ECONQ_API const eq_problem *econq_problem(const eq_client *c);
/* A static name for an eq_err; never NULL. */
ECONQ_API const char *econq_strerror(eq_err err);
ECONQ_API const char *econq_job_state_name(eq_job_state s);
/* 1 for succeeded, failed and cancelled. */
ECONQ_API int econq_job_state_terminal(eq_job_state s);

/* Connect timeout and total timeout of an ordinary request, in ms (defaults 5000 and 60000;
 * a long-poll adds its wait). 0 leaves a value unchanged. */
ECONQ_API void econq_set_timeouts(eq_client *c, long connect_ms, long request_ms);
/* Seconds of each long-poll in econq_wait() (1 to ECONQ_MAX_LONG_POLL_S, default 30). A
 * shorter poll calls the wait callback more often (a live progress display). */
ECONQ_API void econq_set_long_poll_s(eq_client *c, int seconds);

/* How many new connections this handle has opened so far (keep-alive reuse keeps it low). */
ECONQ_API long econq_connections_opened(const eq_client *c);

/* ---- Jobs ---------------------------------------------------------------------------- */

/* Options of a submit. Start from ECONQ_SUBMIT_OPTS_INIT: priority -1 means the server's
 * default (5); 0 in max_attempts and delay_ms means unset; NULL strings are left out. */
typedef struct eq_submit_opts {
    int priority;                /* 0 (most urgent) to 9, or -1 */
    int max_attempts;            /* 1 to 100, or 0 */
    int64_t delay_ms;            /* hold the job this long, or 0 */
    const char *run_at;          /* RFC 3339; excludes delay_ms */
    const char *idempotency_key; /* a repeat with the same body returns the first job */
    const char *webhook_url;
    const char *webhook_secret; /* "whsec_..."; NULL: the server's secret signs */
    const char *metadata_json;  /* a JSON object of scalar labels */
} eq_submit_opts;
#define ECONQ_SUBMIT_OPTS_INIT                                                                     \
    { .priority = -1 }

/* Submits a job of `type` with `params_json` (a JSON object; NULL means {}). On EQ_OK `out`
 * holds the new job (or, with an idempotency key seen before, the first one: out->replayed). */
ECONQ_API eq_err econq_submit(eq_client *c, const char *type, const char *params_json,
                              const eq_submit_opts *opts, eq_job *out);
ECONQ_API eq_err econq_get(eq_client *c, const char *id, eq_job *out);
/* Cancels a job. `out` (may be NULL) gets the job as the server answered: cancelled at once
 * when it was queued, cancel_requested when it is running. A finished job is EQ_ECONFLICT. */
ECONQ_API eq_err econq_cancel(eq_client *c, const char *id, eq_job *out);
/* Re-queues a failed or cancelled job (`out` may be NULL); otherwise EQ_ECONFLICT. */
ECONQ_API eq_err econq_retry(eq_client *c, const char *id, eq_job *out);

/* Called by econq_wait() after every answer (also non-terminal ones). */
typedef void (*econq_wait_cb)(const eq_job *job, void *ctx);

/* Waits until the job is terminal, long-polling GET /v1/jobs/{id}?wait=N. 503 answers and
 * network failures are retried with exponential backoff (100 ms doubling to 5 s) until the
 * deadline, giving up after ECONQ_WAIT_MAX_FAILURES failures in a row. `timeout_ms` < 0 waits
 * without a deadline. On EQ_OK `out` holds the terminal job (whatever its state); on
 * EQ_ETIMEDOUT it holds the last state seen, if any (out->json may be NULL). */
#define ECONQ_WAIT_MAX_FAILURES 8
ECONQ_API eq_err econq_wait(eq_client *c, const char *id, long timeout_ms, econq_wait_cb cb,
                            void *ctx, eq_job *out);

typedef struct eq_list_opts {
    const char *state;  /* NULL or a state name */
    const char *type;   /* NULL or a job type */
    const char *batch;  /* NULL or a batch id (when the server supports the filter) */
    const char *cursor; /* NULL or next_cursor of the previous page */
    int limit;          /* 1 to 1000; 0: the server's default (100) */
} eq_list_opts;

typedef struct eq_job_list {
    eq_job *jobs;
    size_t n;
    char next_cursor[ECONQ_ID_SIZE]; /* "" on the last page */
    char *json;                      /* the whole answer; owned */
} eq_job_list;

/* One page of jobs, newest first. `opts` may be NULL. Release with econq_job_list_fini. */
ECONQ_API eq_err econq_list(eq_client *c, const eq_list_opts *opts, eq_job_list *out);
ECONQ_API void econq_job_fini(eq_job *j);
ECONQ_API void econq_job_list_fini(eq_job_list *l);

/* ---- Datasets -------------------------------------------------------------------------- */

/* Uploads a CSV, XLSX or XLS file as a raw body (POST /v1/datasets?name=N). The media type
 * comes from the file's magic number (PK\3\4: XLSX, D0 CF 11 E0: XLS, else text/csv) unless
 * `content_type` is given. `name` may be NULL (the file's base name is used for files). On
 * EQ_OK `*json_out` is the dataset's description and `id_out` (may be NULL, ECONQ_ID_SIZE
 * bytes) its id. */
ECONQ_API eq_err econq_dataset_upload_file(eq_client *c, const char *path, const char *name,
                                           const char *content_type, char **json_out, char *id_out);
ECONQ_API eq_err econq_dataset_upload(eq_client *c, const void *data, size_t len, const char *name,
                                      const char *content_type, char **json_out, char *id_out);
ECONQ_API eq_err econq_datasets(eq_client *c, char **json_out);
ECONQ_API eq_err econq_dataset_get(eq_client *c, const char *id, char **json_out);
ECONQ_API eq_err econq_dataset_delete(eq_client *c, const char *id);

/* ---- Forecasts and batches ----------------------------------------------------------------- */

/* Submits a forecast of one dataset column: params {series: {dataset, column}, horizon,
 * method}. `method` may be NULL (auto). */
ECONQ_API eq_err econq_forecast(eq_client *c, const char *dataset, const char *column, int horizon,
                                const char *method, const eq_submit_opts *opts, eq_job *out);

/* Submits a batch: `batch_json` is the body of POST /v1/batches (a list of jobs, or a
 * template). `idempotency_key` may be NULL. `id_out` (may be NULL) gets the batch id. */
ECONQ_API eq_err econq_batch_submit(eq_client *c, const char *batch_json,
                                    const char *idempotency_key, char **json_out, char *id_out);
/* Submits a forecast template over `columns` of a dataset (`n` names; n == 0 means every
 * numeric column, ["*"]) with params {horizon, method?}. */
ECONQ_API eq_err econq_batch_forecast(eq_client *c, const char *dataset, const char *const *columns,
                                      size_t n, int horizon, const char *method, char **json_out,
                                      char *id_out);

/* A batch's progress, read from GET /v1/batches/{id}. */
typedef struct eq_batch_status {
    long total;
    long queued, running, succeeded, failed, cancelled;
    int done;   /* every job is terminal */
    char *json; /* the whole answer; owned */
} eq_batch_status;

ECONQ_API eq_err econq_batch_get(eq_client *c, const char *id, eq_batch_status *out);
ECONQ_API void econq_batch_status_fini(eq_batch_status *s);
typedef void (*econq_batch_cb)(const eq_batch_status *st, void *ctx);
/* Polls the batch (every ECONQ_BATCH_POLL_MS) until it is done or `timeout_ms` (< 0: no
 * deadline) passes; 503s and network failures are retried as in econq_wait(). */
#define ECONQ_BATCH_POLL_MS 500
ECONQ_API eq_err econq_batch_wait(eq_client *c, const char *id, long timeout_ms, econq_batch_cb cb,
                                  void *ctx, eq_batch_status *out);
/* The results as JSON (GET /v1/batches/{id}/results). */
ECONQ_API eq_err econq_batch_results(eq_client *c, const char *id, char **json_out);
/* The results as an Excel workbook written to `path` (through a temporary file renamed into
 * place, so `path` never holds half a workbook). */
ECONQ_API eq_err econq_batch_results_xlsx(eq_client *c, const char *id, const char *path);

/* ---- Schedules ----------------------------------------------------------------------------- */

/* POST /v1/schedules {name, cron, job}; `job_json` is a job envelope {type, params, ...}. */
ECONQ_API eq_err econq_schedule_create(eq_client *c, const char *name, const char *cron,
                                       const char *job_json, char **json_out);
ECONQ_API eq_err econq_schedules(eq_client *c, char **json_out);
ECONQ_API eq_err econq_schedule_delete(eq_client *c, const char *name);

/* ---- Collections, search and questions ------------------------------------------------------- */

ECONQ_API eq_err econq_collections(eq_client *c, char **json_out);
ECONQ_API eq_err econq_collection_get(eq_client *c, const char *name, char **json_out);
/* One document of a collection: {id, text, metadata}. */
ECONQ_API eq_err econq_collection_document(eq_client *c, const char *name, const char *doc_id,
                                           char **json_out);
/* Deletes a document (doc_id) or, with doc_id NULL, the whole collection. */
ECONQ_API eq_err econq_collection_delete(eq_client *c, const char *name, const char *doc_id);
/* Submits an embed job adding `documents_json` ([{id, text, metadata?}, ...]) to a collection. */
ECONQ_API eq_err econq_embed(eq_client *c, const char *collection, const char *documents_json,
                             const eq_submit_opts *opts, eq_job *out);
/* Submits a search job {collection, query, k} (k <= 0: the server's default) and waits for it
 * up to `timeout_ms`; the hits are in out->json's "result". */
ECONQ_API eq_err econq_search(eq_client *c, const char *collection, const char *query, int k,
                              long timeout_ms, eq_job *out);
/* Submits an llm job {question, dataset?, collection?}; wait for it with econq_wait(). */
ECONQ_API eq_err econq_ask(eq_client *c, const char *question, const char *dataset,
                           const char *collection, const eq_submit_opts *opts, eq_job *out);

/* ---- Health and raw requests --------------------------------------------------------------- */

/* GET /health. EQ_OK when the server is healthy or degraded; EQ_EBUSY when it answered 503
 * (unhealthy). In both cases `*json_out` holds the report. */
ECONQ_API eq_err econq_health(eq_client *c, char **json_out);

/* Any request: `path` starts with '/' and carries its query. `body` may be NULL. On an answer
 * `*status` (may be NULL) is set and `*body_out` (may be NULL) gets the body, also for errors. */
ECONQ_API eq_err econq_request(eq_client *c, const char *method, const char *path,
                               const char *content_type, const void *body, size_t len, int *status,
                               char **body_out);

/* ---- Webhooks (Standard Webhooks) ------------------------------------------------------------ */

/* Default tolerance between webhook-timestamp and the receiver's clock, in seconds. */
#define ECONQ_WEBHOOK_TOLERANCE_S 300

/* Verifies a delivery: the `webhook-id`, `webhook-timestamp` and `webhook-signature` headers
 * as received and the raw body, against any of `n_secrets` secrets ("whsec_<base64>"; several
 * while rotating). `now` is the receiver's Unix time (0: time(NULL)); `tolerance_s` <= 0 means
 * ECONQ_WEBHOOK_TOLERANCE_S. EQ_OK when verified; EQ_EINVAL for an unusable secret; EQ_EPROTO
 * for malformed headers or no matching signature; EQ_ESTALE for a timestamp out of tolerance.
 * `*reason` (may be NULL) gets a static description. Needs no eq_client. */
ECONQ_API eq_err econq_webhook_verify(const char *const *secrets, size_t n_secrets,
                                      const char *msg_id, const char *timestamp,
                                      const char *signature, const void *body, size_t body_len,
                                      int64_t now, int64_t tolerance_s, const char **reason);

#ifdef __cplusplus
}
#endif

#endif

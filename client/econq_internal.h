/* libeconq internals shared by client/econq*.c: the handle, one request over libcurl, and
 * helpers that turn answers into eq_job values. Not installed. */
#ifndef ECONQ_CLIENT_ECONQ_INTERNAL_H
#define ECONQ_CLIENT_ECONQ_INTERNAL_H

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <stdio.h>

#include "client/econq.h"

/* Longest base URL accepted by econq_new(). */
#define ECONQ__MAX_URL 2048
/* Longest path + query built for one request (ids and names are bounded far below this). */
#define ECONQ__MAX_PATH 4096

struct eq_client {
    CURL *curl;              /* one easy handle: its connection cache keeps connections */
    char *base;              /* the base URL without a trailing '/' */
    struct curl_slist *auth; /* "Authorization: Bearer KEY", or NULL */
    char *auth_line;
    long connect_ms;
    long request_ms;
    int long_poll_s;
    long connects; /* connections opened, summed over requests */
    eq_problem problem;
    char errbuf[CURL_ERROR_SIZE];
};

typedef struct econq__req {
    const char *method;       /* "GET", "POST", "DELETE" */
    const char *path;         /* '/' + path + query, already escaped */
    const char *content_type; /* of the body, or NULL */
    const void *body;
    size_t len;
    const char *idempotency_key;
    const char *accept; /* NULL: application/json */
    long extra_ms;      /* added to the request timeout (long-polls) */
    FILE *sink;         /* when set, a 2xx body is written here instead of memory */
    size_t limit;       /* body limit; 0: ECONQ_MAX_RESPONSE_BYTES */
} econq__req;

typedef struct econq__resp {
    int status;
    char *body; /* NUL-terminated when not NULL */
    size_t len;
    size_t cap;
    int replayed;
    int too_big;
    int sink_failed;
    FILE *sink;
    size_t limit;
} econq__resp;

/* Performs one request. EQ_OK for a 2xx answer. For another answer the problem is parsed from
 * the body and the mapped eq_err returned (rs still holds the answer). Without an answer the
 * problem says why (status 0). Caller releases rs with econq__resp_fini in every case. */
eq_err econq__do(eq_client *c, const econq__req *rq, econq__resp *rs);
void econq__resp_fini(econq__resp *rs);

/* A request whose answer is JSON: *json_out (may be NULL) takes the body on EQ_OK. */
eq_err econq__json(eq_client *c, const char *method, const char *path, const char *body,
                   const char *idempotency_key, char **json_out);

/* Records a client-side failure: status 0, type "/problems/client-<slug>". Returns `err`. */
eq_err econq__fail(eq_client *c, eq_err err, const char *slug, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void econq__problem_clear(eq_client *c);

/* Formats a request path into `out` (size `size`): "%s" copies a string, "%e" copies it
 * URL-escaped, "%d" prints an int. 0 on success, -1 when it does not fit. */
int econq__path(char *out, size_t size, const char *fmt, ...);
/* Appends `s` URL-escaped to the NUL-terminated `out`. 0 on success, -1 when it does not fit. */
int econq__escape_into(char *out, size_t size, const char *s);

/* Fills `out` from a job object (the text of which it copies into out->json). */
eq_err econq__job_from_json(eq_client *c, const cJSON *o, eq_job *out);
/* Parses a job answer body into `out`. */
eq_err econq__job_parse(eq_client *c, const char *body, eq_job *out);

/* Builds the body of POST /v1/jobs. Caller frees. NULL with the problem set on bad JSON. */
char *econq__envelope(eq_client *c, const char *type, cJSON *params, const eq_submit_opts *o);

/* The id of a job-like answer ({"id": ...}) copied into id_out (ECONQ_ID_SIZE); 0 if found. */
int econq__id_of(const char *json, char *id_out);

/* Milliseconds on a monotonic clock; sleeps `ms`. */
long long econq__now_ms(void);
void econq__sleep_ms(long ms);

#endif

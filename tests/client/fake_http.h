/* A scripted HTTP/1.1 server for client tests: it answers each request with the next canned
 * response and records what it received, so tests can check requests for routes that econqd
 * does not serve yet, and answers econqd does not give on demand (503, slow long-polls). */
#ifndef ECONQ_TESTS_CLIENT_FAKE_HTTP_H
#define ECONQ_TESTS_CLIENT_FAKE_HTTP_H

#include <pthread.h>
#include <stddef.h>

/* Most requests recorded; later ones are answered but not kept. */
#define FAKE_HTTP_MAX_REQS 64
/* Largest request head and body read. */
#define FAKE_HTTP_MAX_HEAD 8192
#define FAKE_HTTP_MAX_BODY (1024 * 1024)

typedef struct fake_resp {
    int status;
    const char *content_type; /* NULL: application/json (problem+json for >= 400) */
    const char *body;
    size_t len; /* 0: strlen(body) */
} fake_resp;

typedef struct fake_req {
    char method[16];
    char path[1024];
    char head[FAKE_HTTP_MAX_HEAD];
    char *body; /* NUL-terminated */
    size_t len;
} fake_req;

typedef struct fake_http {
    int fd;
    int port;
    pthread_t thread;
    pthread_mutex_t mu;
    const fake_resp *script;
    size_t n_script;
    size_t next;
    fake_req reqs[FAKE_HTTP_MAX_REQS];
    size_t n_reqs;
    volatile int stop;
} fake_http;

/* Listens on 127.0.0.1 on a free port and answers from `script` (borrowed; after it runs out,
 * every answer is a 500). 0 on success. */
int fake_http_start(fake_http *f, const fake_resp *script, size_t n);
/* Stops answering; the recorded requests stay readable until fake_http_fini(). */
void fake_http_stop(fake_http *f);
void fake_http_fini(fake_http *f);
/* The value of header `name` in a recorded request (copied into out), or NULL. */
const char *fake_req_header(const fake_req *r, const char *name, char *out, size_t outlen);
/* How many requests were answered so far. */
size_t fake_http_count(fake_http *f);

#endif
